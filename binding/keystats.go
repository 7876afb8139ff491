package binding

/*
#include "glue.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// KeyStat is a statistic of cached keys, reduced over layers and KV heads
// where the cache lives (patch 0009).
type KeyStat int

const (
	// KeyNorm is the sum over layers and KV heads of a key's L2 norm.
	KeyNorm KeyStat = C.LLAMA_KV_KEY_STAT_NORM
	// KeyCosine is the sum over layers and KV heads of the cosine between a
	// key and its layer and head's anchor: the normalised mean of the unit
	// keys of all the cells asked for.
	KeyCosine KeyStat = C.LLAMA_KV_KEY_STAT_COSINE
)

func (s KeyStat) String() string {
	switch s {
	case KeyNorm:
		return "key norms"
	case KeyCosine:
		return "key cosines"
	}
	return fmt.Sprintf("key statistic %d", int(s))
}

// KeyStats writes stat of the keys of cells[i] (the context's cell indices)
// into out[i], with keys as attention reads them (pending shifts applied, or
// rotated by their cells' shifts when keys are rotated on read). One graph
// on the backend holding the cache; only len(cells) floats are copied back.
func (c *Context) KeyStats(stat KeyStat, cells []int32, out []float32) error {
	if len(out) != len(cells) {
		return errors.New("key statistics: cells and output of different lengths")
	}
	if len(cells) == 0 {
		return nil
	}
	r := C.h2o_key_stats(c.c, C.enum_llama_kv_key_stat(stat), C.int32_t(len(cells)),
		(*C.int32_t)(unsafe.Pointer(&cells[0])), (*C.float)(unsafe.Pointer(&out[0])))
	if r.rc != 0 {
		return callError(fmt.Sprintf("%s of %d cells", stat, len(cells)), r.detail)
	}
	return nil
}
