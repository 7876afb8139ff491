package summarize

import (
	"fmt"
	"strings"
)

// The recipe's 0-shot XSUM prompt is the request's article field verbatim:
//
//	"###\nArticle: <text>\n\nSummarize the above article in 1 sentence.\n"
//
// and the model's continuation is the summary, ended by the stop string
// "###" (the start of the next block). A K-shot prompt puts K solved blocks
// of the same shape first, each the other record's article field followed by
// its reference summary and a newline, so every block starts with "###":
//
//	"###\nArticle: A\n\nSummarize the above article in 1 sentence.\n<summary A>\n"
//	"###\nArticle: B\n\nSummarize ...\n<summary B>\n"
//	"###\nArticle: <sample>\n\nSummarize the above article in 1 sentence.\n"
//
// Using the article field verbatim keeps whatever template the file was
// built with (e.g. "in 3 sentences" for CNN/DM).

// ShotIndices picks the k solved examples of sample i deterministically: the
// last records of the file, newest first, skipping the sample itself. They
// are the same for every sample (as HELM's fixed training examples) and the
// evaluated samples, taken from the start of the file, reach them only when
// --sample_num covers almost all of it.
func ShotIndices(n, i, k int) ([]int, error) {
	if k <= 0 {
		return nil, nil
	}
	if n-1 < k {
		return nil, fmt.Errorf("%d-shot prompts need %d other records; the file has %d", k, k, n)
	}
	idx := make([]int, 0, k)
	for j := n - 1; len(idx) < k; j-- {
		if j != i {
			idx = append(idx, j)
		}
	}
	return idx, nil
}

// Prompt is the text fed for sample i with the given solved examples.
func Prompt(recs []Record, i int, shots []int) string {
	if len(shots) == 0 {
		return recs[i].Article
	}
	var b strings.Builder
	for _, j := range shots {
		b.WriteString(recs[j].Article)
		b.WriteString(recs[j].SummaryGT)
		b.WriteString("\n")
	}
	b.WriteString(recs[i].Article)
	return b.String()
}
