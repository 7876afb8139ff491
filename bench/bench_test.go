package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/h2o-kv/h2o/h2o"
	"github.com/h2o-kv/h2o/internal/testmodel"
	"github.com/h2o-kv/h2o/session"
)

func TestRunAndTables(t *testing.T) {
	m := testmodel.Stories(t)
	cfg := h2o.Config{Policy: h2o.H2O, Budget: 64, HeavyHitters: 32, Rolling: true}
	rows := []Result{
		Run(context.Background(), m, session.Options{Policy: h2o.Config{Policy: h2o.Full}, Threads: 1}, Test{Gen: 16, Depth: 100}, 2, 1),
		Run(context.Background(), m, session.Options{Policy: cfg, Threads: 1}, Test{Gen: 16, Depth: 300}, 2, 1),
		Run(context.Background(), m, session.Options{Policy: cfg, Threads: 1}, Test{Prompt: 200}, 1, 1),
		Run(context.Background(), m, session.Options{Policy: h2o.Config{Policy: h2o.Full}, NCtx: 256, Threads: 1}, Test{Gen: 16, Depth: 300}, 1, 1),
	}
	for _, r := range rows[:3] {
		if r.Err != nil || len(r.TPS) == 0 || r.Mean() <= 0 {
			t.Fatalf("%s %s: %+v", r.Mode, r.Test, r)
		}
	}
	if rows[1].CacheUsed != 64 || rows[0].CacheUsed != 116 {
		t.Fatalf("cache used: h2o %d, full %d", rows[1].CacheUsed, rows[0].CacheUsed)
	}
	if rows[3].Err == nil {
		t.Fatal("full cache of 256 cells held 316 tokens")
	}
	// budget 64 + chunk 256 rounded up to 512 cells; f32 K (rolling in place on the CPU), f16 V
	if want := int64(512) * 5 * (64 / 8 * 4) * (4 + 2); rows[1].CacheCells != 512 || rows[1].KVBytes != want {
		t.Fatalf("KV bytes %d, want %d", rows[1].KVBytes, want)
	}
	var md, js bytes.Buffer
	env := NewEnv(m, 0, "note")
	WriteMarkdown(&md, env, rows)
	if !strings.Contains(md.String(), "| stories260K |") || !strings.Contains(md.String(), "tg16 @ d300") || !strings.Contains(md.String(), "failed") {
		t.Fatalf("markdown:\n%s", md.String())
	}
	if err := WriteJSON(&js, env, rows); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(js.String()), "\n")
	var row map[string]any
	if len(lines) != 4 || json.Unmarshal([]byte(lines[1]), &row) != nil || row["test"] != "tg16 @ d300" || row["avg_ts"].(float64) <= 0 {
		t.Fatalf("json: %s", js.String())
	}
}
