package session

import (
	"fmt"

	"github.com/h2o-kv/h2o/binding"
)

// KVBytes is the size of a KV cache of cells cells of the model.
func KVBytes(info binding.ModelInfo, cells int, typeK, typeV string) int64 {
	nEmbdKV := info.NEmbd / info.NHead * info.NHeadKV
	k, _ := binding.CacheTypeBytes(typeK, nEmbdKV)
	v, _ := binding.CacheTypeBytes(typeV, nEmbdKV)
	return int64(cells) * int64(info.NLayer) * (k + v)
}

// ParallelPlan is how many sequences of some options fit in free memory.
type ParallelPlan struct {
	Sequences   int
	CellsPerSeq int   // KV cells of each sequence (its stream, rounded up to 128 or 256)
	BytesPerSeq int64 // KV cache of one sequence plus its share of the working buffers
	Free        int64 // memory free for the caches (after the weights are loaded)
	Reserve     int64 // kept back for llama.cpp's compute buffers
	Where       string
	// Capped: more would fit in memory than llama.cpp's limit of sequences
	// in one context (binding.MaxSequences), which bounds Sequences instead.
	Capped bool
}

func (p ParallelPlan) String() string {
	s := fmt.Sprintf("%d sequences fit: %s free %.2f GiB - reserve %.2f GiB, %d cells x %.1f MiB per sequence",
		p.Sequences, p.Where, gib(p.Free), gib(p.Reserve), p.CellsPerSeq, float64(p.BytesPerSeq)/(1<<20))
	if p.Capped {
		s += fmt.Sprintf("; bounded by llama.cpp's limit of %d sequences, not memory", binding.MaxSequences())
	}
	return s
}

func gib(b int64) float64 { return float64(b) / (1 << 30) }

// PlanParallel computes how many sequences under opts fit in the memory of
// the devices that hold the model's KV cache: the free memory of the GPUs
// its split puts layers on (binding.ModelParams.CacheGPUs), else the
// host's. Each sequence needs its KV stream (Options.NCtx or, when evicting,
// the budget plus one chunk: memory follows the budget) and its logits and
// score rows; a reserve of 5% of free memory plus 512 MiB is left for
// compute buffers.
func PlanParallel(m *binding.Model, opts Options) (ParallelPlan, error) {
	p := m.Params()
	if !binding.HasGPU() {
		p.GPULayers = 0
	}
	return planParallel(m.Info(), opts, p, binding.Devices())
}

// planParallel is PlanParallel for a model loaded with p among devices.
func planParallel(info binding.ModelInfo, opts Options, mp binding.ModelParams, devices []binding.Device) (ParallelPlan, error) {
	opts, err := opts.normalize()
	if err != nil {
		return ParallelPlan{}, err
	}
	p := ParallelPlan{Where: "host memory"}
	var gpus []binding.Device
	for _, d := range devices {
		if d.IsGPU() {
			gpus = append(gpus, d)
		}
	}
	if use := mp.CacheGPUs(len(gpus)); len(use) > 0 {
		p.Where = "GPU memory"
		if len(use) > 1 {
			p.Where = fmt.Sprintf("memory of %d GPUs", len(use))
		}
		for _, i := range use {
			p.Free += int64(gpus[i].FreeBytes)
		}
	} else {
		for _, d := range devices {
			if d.Type == binding.DeviceCPU {
				p.Free += int64(d.FreeBytes)
			}
		}
	}
	p.CellsPerSeq = opts.streamCells(info.NCtxTrain)
	p.BytesPerSeq = KVBytes(info, p.CellsPerSeq, opts.TypeK, opts.TypeV) +
		int64(info.NVocab)*4 + // logits
		int64(info.NLayer*info.NHead*p.CellsPerSeq)*4 // score rows and attention of one query
	p.Reserve = p.Free/20 + 512<<20
	if p.Free > p.Reserve {
		p.Sequences = int((p.Free - p.Reserve) / p.BytesPerSeq)
	}
	if p.Sequences > binding.MaxSequences() {
		p.Sequences, p.Capped = binding.MaxSequences(), true
	}
	if p.Sequences < 1 {
		return p, fmt.Errorf("not even one sequence fits: %s", p)
	}
	return p, nil
}
