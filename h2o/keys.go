package h2o

import (
	"fmt"
	"math"
	"runtime"

	"github.com/h2o-kv/h2o/internal/par"
)

// Keys is the key one cached token has in every layer and KV head, as the
// cache stores it (rotated): Data[(layer*NHead + head)*Dim + i].
type Keys struct {
	NLayer, NHead, Dim int
	Data               []float32
}

type keyShape struct{ nLayer, nHead, dim int }

// SetKeys gives entry i its keys (knorm and keydiff rank by them). knorm
// keeps the sum over layers and KV heads of the keys' L2 norms (rotation
// leaves it unchanged); keydiff keeps each key normalised, to compare with
// the mean key of the cache at every eviction. Every entry must have the
// same shape of keys.
func (t *Tracker) SetKeys(i int, k Keys) error {
	if i < 0 || i >= len(t.entries) {
		return fmt.Errorf("h2o: keys for entry %d of %d", i, len(t.entries))
	}
	sh := keyShape{k.NLayer, k.NHead, k.Dim}
	if sh.nLayer < 1 || sh.nHead < 1 || sh.dim < 1 || len(k.Data) != sh.nLayer*sh.nHead*sh.dim {
		return fmt.Errorf("h2o: %d key values for %d layers x %d heads x %d", len(k.Data), sh.nLayer, sh.nHead, sh.dim)
	}
	if t.keyStats {
		return fmt.Errorf("h2o: keys for a tracker given key statistics")
	}
	if t.keys != (keyShape{}) && t.keys != sh {
		return fmt.Errorf("h2o: keys of %d x %d x %d, the cache's are %d x %d x %d", sh.nLayer, sh.nHead, sh.dim, t.keys.nLayer, t.keys.nHead, t.keys.dim)
	}
	t.keys = sh
	e := &t.entries[i]
	e.hasKey = true
	switch t.cfg.Policy {
	case Knorm:
		norm := 0.0
		for h := 0; h < sh.nLayer*sh.nHead; h++ {
			norm += l2(k.Data[h*sh.dim : (h+1)*sh.dim])
		}
		e.Score = -norm // the largest norm goes first
	case KeyDiff:
		if len(t.unit[i]) != len(k.Data) {
			t.unit[i] = make([]float32, len(k.Data))
		}
		unit := t.unit[i]
		for h := 0; h < sh.nLayer*sh.nHead; h++ {
			row, out := k.Data[h*sh.dim:(h+1)*sh.dim], unit[h*sh.dim:(h+1)*sh.dim]
			inv := 0.0
			if n := l2(row); n > 0 {
				inv = 1 / n
			}
			for j, v := range row {
				out[j] = float32(float64(v) * inv)
			}
		}
	}
	return nil
}

// SetKeyStat gives entry i the statistic its rule ranks by, computed where
// the keys live (the cache's device) instead of from the keys themselves:
// knorm's sum over layers and KV heads of the key's L2 norm, once per token;
// keydiff's sum of the cosines between the key and the anchor over every
// cached token, for every entry before each eviction (the anchor changes
// with the cache). It stands for what SetKeys computes on the host, which
// remains the specification; a tracker takes one or the other.
func (t *Tracker) SetKeyStat(i int, stat float64) error {
	if i < 0 || i >= len(t.entries) {
		return fmt.Errorf("h2o: key statistic for entry %d of %d", i, len(t.entries))
	}
	if t.keys != (keyShape{}) {
		return fmt.Errorf("h2o: a key statistic for a tracker given keys")
	}
	if !t.cfg.NeedsKeys() {
		return fmt.Errorf("h2o: %s ranks by no key statistic", t.cfg.Name())
	}
	t.keyStats = true
	e := &t.entries[i]
	e.hasKey = true
	e.Score = -stat // the largest norm, or the key most like the others, goes first
	return nil
}

// MissingKeys is the number of entries given neither keys (SetKeys) nor a
// key statistic (SetKeyStat).
func (t *Tracker) MissingKeys() int {
	n := 0
	for i := range t.entries {
		if !t.entries[i].hasKey {
			n++
		}
	}
	return n
}

func l2(v []float32) float64 {
	s := 0.0
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

// keyParallelMin is the number of cached key values (tokens x layers x KV
// heads x head size) from which keydiff's scores are computed on several
// goroutines: below it they cost more than they save.
var keyParallelMin = 1 << 20

// keyDiffScores sets every entry's score to minus the sum over layers and KV
// heads of the cosine between its key and the anchor, the mean normalised
// key of the cache (all of it: protected tokens included), so that the key
// most like the others goes first.
func (t *Tracker) keyDiffScores() {
	sh := t.keys
	heads, d := sh.nLayer*sh.nHead, sh.nLayer*sh.nHead*sh.dim
	if d == 0 {
		return
	}
	if cap(t.anchor) < d {
		t.anchor = make([]float64, d)
	}
	a := t.anchor[:d]
	workers := 1
	if len(t.entries)*d >= keyParallelMin {
		workers = min(runtime.GOMAXPROCS(0), 16)
	}
	// each head's anchor, normalised: cos(k, a) = k̂·a / |a|
	par.For(heads, workers, func(h int) {
		row := a[h*sh.dim : (h+1)*sh.dim]
		clear(row)
		for i := range t.entries {
			if t.entries[i].hasKey {
				for j, v := range t.unit[i][h*sh.dim : (h+1)*sh.dim] {
					row[j] += float64(v)
				}
			}
		}
		s := 0.0
		for _, v := range row {
			s += v * v
		}
		if s > 0 {
			inv := 1 / math.Sqrt(s)
			for j := range row {
				row[j] *= inv
			}
		}
	})
	par.For(len(t.entries), workers, func(i int) {
		e := &t.entries[i]
		cos := 0.0
		if e.hasKey {
			for j, v := range t.unit[i] {
				cos += float64(v) * a[j]
			}
		}
		e.Score = -cos
	})
}
