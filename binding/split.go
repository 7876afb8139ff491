package binding

/*
#include <stdlib.h>
#include "glue.h"
*/
import "C"

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/h2o-kv/h2o/internal/enum"
)

// SplitMode says how a model spreads over several GPUs (llama.cpp's
// --split-mode): none keeps it on the main GPU; layer gives each GPU whole
// layers, with their KV cache; row also splits the matrices of a layer by rows.
type SplitMode string

const (
	SplitNone  SplitMode = "none"
	SplitLayer SplitMode = "layer"
	SplitRow   SplitMode = "row"
)

// ParseSplitMode accepts none, layer and row ("" = layer, llama.cpp's default).
func ParseSplitMode(s string) (SplitMode, error) {
	return enum.Parse("split mode", s, SplitLayer, SplitNone, SplitLayer, SplitRow)
}

// MaxDevices is the most GPUs a tensor split can name (llama_max_devices).
func MaxDevices() int { return int(C.llama_max_devices()) }

// CheckTensorSplit validates the shares of a tensor split as such (nil: no
// split): at most MaxDevices, each >= 0, not all 0.
func CheckTensorSplit(ts []float32) error {
	if len(ts) > MaxDevices() {
		return fmt.Errorf("%d shares, at most %d devices", len(ts), MaxDevices())
	}
	sum := float32(0)
	for i, v := range ts {
		if !(v >= 0) || math.IsInf(float64(v), 1) {
			return fmt.Errorf("share %d is %g: not a share >= 0", i, v)
		}
		sum += v
	}
	if len(ts) > 0 && sum <= 0 {
		return fmt.Errorf("the shares sum to 0")
	}
	return nil
}

// checkSplit validates a model's split against the nGPU GPUs found.
func (p ModelParams) checkSplit(nGPU int) error {
	if _, err := ParseSplitMode(string(p.Split)); err != nil {
		return err
	}
	if p.MainGPU < 0 || p.MainGPU >= max(nGPU, 1) {
		return fmt.Errorf("main GPU %d: this machine has %d GPU(s), numbered from 0", p.MainGPU, nGPU)
	}
	if err := CheckTensorSplit(p.TensorSplit); err != nil {
		return fmt.Errorf("tensor split: %w", err)
	}
	if nGPU > 0 && len(p.TensorSplit) > nGPU {
		return fmt.Errorf("tensor split of %d shares: this machine has %d GPU(s)", len(p.TensorSplit), nGPU)
	}
	return nil
}

// setSplit fills llama.cpp's split parameters; the returned C buffer holds
// the tensor split and must outlive the load (free it after).
func (p ModelParams) setSplit(mp *C.struct_llama_model_params) unsafe.Pointer {
	switch p.Split {
	case SplitNone:
		mp.split_mode = C.LLAMA_SPLIT_MODE_NONE
	case SplitRow:
		mp.split_mode = C.LLAMA_SPLIT_MODE_ROW
	default:
		mp.split_mode = C.LLAMA_SPLIT_MODE_LAYER
	}
	mp.main_gpu = C.int32_t(p.MainGPU)
	if len(p.TensorSplit) == 0 {
		return nil
	}
	buf := C.calloc(C.size_t(MaxDevices()), C.size_t(unsafe.Sizeof(C.float(0))))
	ts := unsafe.Slice((*C.float)(buf), MaxDevices())
	for i, v := range p.TensorSplit {
		ts[i] = C.float(v)
	}
	mp.tensor_split = (*C.float)(buf)
	return buf
}

// CacheGPUs are the indices (into GPUs) of the GPUs that hold the model's
// layers and so its KV cache, out of nGPU: the main GPU alone with split
// none; else every GPU with a share of the tensor split (all of them
// without one). None without GPU layers.
func (p ModelParams) CacheGPUs(nGPU int) []int {
	if p.GPULayers == 0 || nGPU == 0 {
		return nil
	}
	if p.Split == SplitNone {
		return []int{min(p.MainGPU, nGPU-1)}
	}
	var out []int
	for i := 0; i < nGPU; i++ {
		if len(p.TensorSplit) == 0 || (i < len(p.TensorSplit) && p.TensorSplit[i] > 0) {
			out = append(out, i)
		}
	}
	return out
}
