package summarize

import (
	"errors"
	"strings"
	"testing"
)

func TestParseBudgets(t *testing.T) {
	b, err := ParseBudgets("64, 128,FULL")
	if err != nil || len(b) != 3 || b[0].Tokens != 64 || b[1].Tokens != 128 || !b[2].Full() || b[2].String() != "full" {
		t.Fatalf("%v %v", b, err)
	}
	for _, bad := range []string{"", "64,,128", "0", "-5", "x", "64,64", "full,full"} {
		if _, err := ParseBudgets(bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func TestBudgetPath(t *testing.T) {
	for _, c := range []struct {
		path string
		b    Budget
		want string
	}{
		{"out.jsonl", Budget{64}, "out.b64.jsonl"},
		{"/tmp/x/out.jsonl", Budget{}, "/tmp/x/out.bfull.jsonl"},
		{"out", Budget{8}, "out.b8"},
		{"", Budget{8}, ""},
	} {
		if got := BudgetPath(c.path, c.b); got != c.want {
			t.Errorf("BudgetPath(%q, %s) = %q, want %q", c.path, c.b, got, c.want)
		}
	}
}

func TestTable(t *testing.T) {
	var a Averages
	a.Add(&RougeF{Rouge2: PRF{F: 0.25}})
	a.Add(&RougeF{Rouge2: PRF{F: 0.125}})
	got := Table("stories260K", []Cell{
		{Budget: Budget{64}, Summary: &Summary{Avg: a}},
		{Budget: Budget{128}, Summary: &Summary{}},
		{Budget: Budget{}, Err: errors.New("sample 0 (x:1): context full")},
		{Budget: Budget{256}, Summary: &Summary{Avg: a, Samples: 2, Truncated: 1}},
		{Budget: Budget{512}, Summary: &Summary{Avg: a}, Err: errors.New("sample 2 (x:3): boom")},
	})
	want := "| model | 64 | 128 | full | 256 | 512 |\n|---|---|---|---|---|---|\n" +
		"| stories260K | 0.187500 | - | failed [1] | 0.187500 [2] | failed [3] |\n\n" +
		"[1] full: sample 0 (x:1): context full\n" +
		"[2] 256: 1 of 2 prompts truncated to fit the context (--truncate)\n" +
		"[3] 512: sample 2 (x:3): boom (ROUGE-2 0.187500 over the 2 samples done before)\n"
	if got != want {
		t.Fatalf("table\n%s\nwant\n%s", got, want)
	}
	if strings.Contains(Table("m", []Cell{{Budget: Budget{64}, Summary: &Summary{Avg: a}}}), "[1]") {
		t.Fatal("notes without failures")
	}
}
