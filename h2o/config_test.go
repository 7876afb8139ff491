package h2o

import (
	"strings"
	"testing"
)

// Resolve derives the sizes without touching the request, and every
// combination either applies or is refused.
func TestResolveSplit(t *testing.T) {
	for _, c := range []struct {
		req  Config
		want string
	}{
		{Config{Budget: 64, HeavyHitters: HalfBudget}, "h2o B=64 H=32 R=32"},
		{Config{Policy: H2O, Budget: 65, HeavyHitters: HalfBudget}, "h2o B=65 H=32 R=33"}, // the recipe's -1: B/2
		{Config{Policy: H2O, Budget: 64, HeavyRatio: 0.25}, "h2o B=64 H=16 R=48"},
		{Config{Policy: H2O, Budget: 64, Recent: 40}, "h2o B=64 H=24 R=40"},
		{Config{Policy: H2O, Budget: 64, RecentShare: 0.75}, "h2o B=64 H=16 R=48"},
		{Config{Policy: H2O, Budget: 64, HeavyHitters: 24, Recent: 40}, "h2o B=64 H=24 R=40"},
		{Config{Policy: H2O, Budget: 64, HeavyRatio: 0.5, RecentShare: 0.5}, "h2o B=64 H=32 R=32"},
		{Config{Policy: H2O, Budget: 64}, "h2o B=64 H=0 R=64"},
		{Config{Policy: Window, Budget: 64, RecentShare: 0.5}, "window B=64"},
		{Config{Policy: Sink, Budget: 64, Recent: 30}, "sink B=64 S=4 R=30"},
		{Config{Policy: Full, Budget: 64}, "full"},
	} {
		before := c.req
		r, err := c.req.Resolve()
		if err != nil || r.String() != c.want {
			t.Errorf("%s: %s %v, want %s", c.req, r, err, c.want)
		}
		if c.req != before {
			t.Errorf("Resolve changed the request %+v", c.req)
		}
		if again, err := r.Request().Resolve(); err != nil || again != r {
			t.Errorf("%s: Request resolves to %+v %v, want %+v", c.req, again, err, r)
		}
	}
}

func TestResolveRefuses(t *testing.T) {
	for _, c := range []struct {
		req  Config
		want string // part of the message
	}{
		{Config{Policy: H2O, Budget: 64, Recent: 500}, "exceeds the budget"},
		{Config{Policy: H2O, Budget: 64, HeavyHitters: 30, Recent: 40}, "do not fill the budget"},
		{Config{Policy: H2O, Budget: 64, HeavyHitters: -2}, "want a number of tokens"},
		{Config{Policy: H2O, Budget: 64, HeavyHitters: 8, HeavyRatio: 0.5}, "given twice"},
		{Config{Policy: H2O, Budget: 64, Recent: 8, RecentShare: 0.5}, "given twice"},
		{Config{Policy: H2O, Budget: 64, HeavyRatio: 1}, "0 <= ratio < 1"},
		{Config{Policy: H2O, Budget: 64, RecentShare: 1.5}, "0 < share < 1"},
		{Config{Policy: H2O, Budget: 64, Score: ScoreRule{Kind: "ema", Gamma: 2}}, "decay"},
		{Config{Policy: Window, Budget: 64, HeavyHitters: HalfBudget}, "keeps no heavy hitters"},
		{Config{Policy: Sink, Budget: 64, HeavyRatio: 0.5}, "keeps no heavy hitters"},
		{Config{Policy: Full, Recent: 8}, "full keeps every token"},
		{Config{Policy: Full, Rolling: true}, "position rolling"},
		{Config{Policy: "lru", Budget: 8}, "policy"},
	} {
		if r, err := c.req.Resolve(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %s %v, want an error with %q", c.req, r, err, c.want)
		}
	}
}

func TestSweepExpand(t *testing.T) {
	s := Sweep{
		Base:          Config{SinkTokens: 2, Rolling: true},
		Policies:      []Policy{Full, H2O, Window},
		Budgets:       []int{16, 32},
		HeavyRatios:   []float64{0.25, 0.5},
		Granularities: []Granularity{PerToken, PerHead},
		Aggregates:    []Aggregate{AggSum, AggMax},
	}
	reqs, err := s.Expand()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range reqs {
		p, err := r.Resolve()
		if err != nil {
			t.Fatalf("%s: %v", r, err)
		}
		got = append(got, p.String()+" "+string(p.Aggregate))
	}
	// per budget: 2 ratios x (token: sum, max; head: sum) for h2o, one window
	want := []string{"full sum",
		"h2o B=16 H=4 R=12 sum", "h2o B=16 H=4 R=12 max", "h2o B=16 H=4 R=12 per head sum",
		"h2o B=16 H=8 R=8 sum", "h2o B=16 H=8 R=8 max", "h2o B=16 H=8 R=8 per head sum",
		"h2o B=32 H=8 R=24 sum", "h2o B=32 H=8 R=24 max", "h2o B=32 H=8 R=24 per head sum",
		"h2o B=32 H=16 R=16 sum", "h2o B=32 H=16 R=16 max", "h2o B=32 H=16 R=16 per head sum",
		"window B=16 sum", "window B=32 sum"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("expanded\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if reqs[0].Rolling || !reqs[1].Rolling || reqs[13].SinkTokens != 2 {
		t.Fatalf("rolling and sinks: full %+v, h2o %+v, window %+v", reqs[0], reqs[1], reqs[13])
	}
	s.Aggregates = []Aggregate{AggMax}
	s.Granularities = []Granularity{PerHead}
	if _, err := s.Expand(); err == nil {
		t.Fatal("granularity head without the sum aggregation accepted")
	}
}
