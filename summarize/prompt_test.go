package summarize

import (
	"slices"
	"strings"
	"testing"
)

func TestShotIndices(t *testing.T) {
	for _, c := range []struct {
		n, i, k int
		want    []int
	}{
		{10, 0, 3, []int{9, 8, 7}},
		{10, 8, 3, []int{9, 7, 6}},
		{10, 9, 2, []int{8, 7}},
		{4, 2, 3, []int{3, 1, 0}},
		{4, 2, 0, nil},
	} {
		got, err := ShotIndices(c.n, c.i, c.k)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("ShotIndices(%d, %d, %d) = %v, %v; want %v", c.n, c.i, c.k, got, err, c.want)
		}
		if slices.Contains(got, c.i) {
			t.Errorf("sample %d is its own example", c.i)
		}
	}
	if _, err := ShotIndices(3, 0, 3); err == nil {
		t.Error("3 shots from a file of 3 records: want an error")
	}
}

func TestPromptShape(t *testing.T) {
	art := func(s string) string {
		return "###\nArticle: " + s + "\n\nSummarize the above article in 1 sentence.\n"
	}
	recs := []Record{
		{Article: art("A."), SummaryGT: "sa"},
		{Article: art("B."), SummaryGT: "sb"},
		{Article: art("C."), SummaryGT: "sc"},
	}
	if got := Prompt(recs, 0, nil); got != recs[0].Article {
		t.Fatalf("0-shot prompt is not the article verbatim: %q", got)
	}
	shots, _ := ShotIndices(len(recs), 0, 2)
	want := art("C.") + "sc\n" + art("B.") + "sb\n" + art("A.")
	got := Prompt(recs, 0, shots)
	if got != want {
		t.Fatalf("2-shot prompt\n got %q\nwant %q", got, want)
	}
	// Every block starts with the stop string, so a continuation ends there.
	if strings.Count(got, "###\nArticle: ") != 3 || !strings.HasSuffix(got, "in 1 sentence.\n") {
		t.Fatalf("blocks: %q", got)
	}
}
