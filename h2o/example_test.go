package h2o_test

import (
	"fmt"

	"github.com/h2o-kv/h2o/h2o"
)

// A cache budget of 4 tokens: 2 heavy hitters and a recent window of 2.
// Each decode step appends a token, adds the attention every cached token
// received in that step, and evicts down to the budget: the plan says which
// positions to remove from the KV cache and, with rolling, how to shift the
// kept ones so that positions stay below the budget.
func ExampleTracker() {
	// what was asked; Resolve checks it and derives the recent window
	policy, err := h2o.Config{Policy: h2o.H2O, Budget: 4, HeavyHitters: 2, Rolling: true}.Resolve()
	if err != nil {
		panic(err)
	}
	t := h2o.NewTracker(policy)
	// attention[step][i]: what the i-th cached token received at that step
	// (a real step's rows come from the model; h2o.StepScores builds them)
	attention := [][]float64{
		{1},
		{0.7, 0.3},
		{0.5, 0.1, 0.4},
		{0.4, 0.1, 0.3, 0.2},
		{0.3, 0.1, 0.3, 0.1, 0.2}, // five tokens: one must go
		{0.3, 0.2, 0.1, 0.2, 0.2},
	}
	for step, row := range attention {
		pos := t.Append([]int32{int32(100 + step)}, nil) // token ids 100, 101, ...
		if err := t.AddStep(row); err != nil {
			panic(err)
		}
		plan := t.Evict(-1)
		fmt.Printf("step %d: token %d at position %d", step, 100+step, pos[0])
		for _, e := range plan.Evicted {
			fmt.Printf(", evict token %d (score %.1f)", e.Token, e.Score)
		}
		for _, r := range plan.Remove {
			fmt.Printf(", remove [%d,%d)", r.P0, r.P1)
		}
		for _, s := range plan.Shifts {
			fmt.Printf(", shift [%d,%d) by %d", s.P0, s.P1, s.Delta)
		}
		fmt.Println()
	}
	fmt.Print("kept:")
	for _, e := range t.Entries() {
		fmt.Printf(" %d@%d", e.Token, e.Pos)
	}
	fmt.Println()
	// Output:
	// step 0: token 100 at position 0
	// step 1: token 101 at position 1
	// step 2: token 102 at position 2
	// step 3: token 103 at position 3
	// step 4: token 104 at position 4, evict token 101 (score 0.6), remove [1,2), shift [2,5) by -1
	// step 5: token 105 at position 4, evict token 103 (score 0.4), remove [2,3), shift [3,5) by -1
	// kept: 100@0 102@1 104@2 105@3
}

// One decode step's attention as llama.cpp reports it, a row per layer and
// head over the KV cells, becomes one score per cached token: cell 2 is
// empty (-1), so what it received counts for nobody.
func ExampleStepScores() {
	att := h2o.Attention{NLayer: 2, NHead: 1, NCells: 4, NKV: 4, Data: []float32{
		0.5, 0.2, 0.1, 0.2, // layer 0
		0.1, 0.6, 0.1, 0.2, // layer 1
	}}
	cellEntry := []int{0, 2, -1, 1} // the cached token each cell holds
	for _, agg := range []h2o.Aggregate{h2o.AggSum, h2o.AggMax} {
		fmt.Printf("%s: %.2f\n", agg, h2o.StepScores(att, cellEntry, 3, agg, nil))
	}
	// Output:
	// sum: [0.60 0.40 0.80]
	// max: [0.56 0.22 0.67]
}
