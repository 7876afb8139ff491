package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/h2o-kv/h2o/binding"
)

// Env describes what ran the benchmark (the columns shared by every row).
type Env struct {
	Model   string
	SizeGiB float64
	Params  float64 // billions
	Backend string
	NGL     int
	Weights string // e.g. "random weights: speed only"
}

// NewEnv fills the environment columns from the loaded model.
func NewEnv(m *binding.Model, ngl int, note string) Env {
	info := m.Info()
	backend := "CPU"
	if ngl != 0 && binding.HasGPU() {
		backend = "CUDA"
	}
	return Env{Model: strings.TrimSuffix(filepath.Base(m.Path()), ".gguf"), SizeGiB: float64(info.SizeBytes) / (1 << 30), Params: float64(info.NParams) / 1e9,
		Backend: backend, NGL: ngl, Weights: note}
}

// WriteMarkdown prints llama-bench's table with mode and memory columns.
func WriteMarkdown(w io.Writer, env Env, rows []Result) {
	fmt.Fprintln(w, "| model | size | params | backend | ngl | mode | test | t/s | KV cells | KV MiB | VRAM MiB |")
	fmt.Fprintln(w, "| --- | ---: | ---: | --- | ---: | --- | --- | ---: | ---: | ---: | ---: |")
	for _, r := range rows {
		tps := fmt.Sprintf("%.2f ± %.2f", r.Mean(), r.Std())
		if r.Err != nil {
			tps = "failed: " + firstLine(r.Err.Error())
		}
		fmt.Fprintf(w, "| %s | %.2f GiB | %.2f B | %s | %d | %s | %s | %s | %d | %.0f | %.0f |\n",
			env.Model, env.SizeGiB, env.Params, env.Backend, env.NGL, r.Mode, r.Test, tps, r.CacheCells,
			float64(r.KVBytes)/(1<<20), float64(r.VRAMBytes)/(1<<20))
	}
	if env.Weights != "" {
		fmt.Fprintf(w, "\n%s\n", env.Weights)
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, ':'); i > 0 && i < 60 {
		return s[:i]
	}
	if len(s) > 60 {
		return s[:60]
	}
	return s
}

type jsonRow struct {
	Env
	Mode       string    `json:"mode"`
	Test       string    `json:"test"`
	Prompt     int       `json:"n_prompt"`
	Gen        int       `json:"n_gen"`
	Depth      int       `json:"n_depth"`
	TPS        []float64 `json:"samples_ts"`
	Mean       float64   `json:"avg_ts"`
	Std        float64   `json:"stddev_ts"`
	CacheCells int       `json:"kv_cells"`
	KVBytes    int64     `json:"kv_bytes"`
	VRAMBytes  uint64    `json:"vram_bytes"`
	Error      string    `json:"error,omitempty"`
}

// WriteJSON prints one JSON object per row.
func WriteJSON(w io.Writer, env Env, rows []Result) error {
	enc := json.NewEncoder(w)
	for _, r := range rows {
		row := jsonRow{Env: env, Mode: r.Mode, Test: r.Test.String(), Prompt: r.Test.Prompt, Gen: r.Test.Gen, Depth: r.Test.Depth,
			TPS: r.TPS, Mean: r.Mean(), Std: r.Std(), CacheCells: r.CacheCells, KVBytes: r.KVBytes, VRAMBytes: r.VRAMBytes}
		if r.Err != nil {
			row.Error = r.Err.Error()
		}
		if err := enc.Encode(row); err != nil {
			return err
		}
	}
	return nil
}
