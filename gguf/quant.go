package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Block layouts (ggml-common.h):
//
//	block_q8_0 { ggml_half d; int8_t  qs[32]; }  // x[i] = d * qs[i]
//	block_q4_0 { ggml_half d; uint8_t qs[16]; }  // x[j] = d * ((qs[j] & 0xF) - 8),
//	                                              // x[j+16] = d * ((qs[j] >> 4) - 8)
const (
	qk        = 32 // elements per Q8_0 / Q4_0 block
	q8Bytes   = 2 + qk
	q4Bytes   = 2 + qk/2
	weightStd = 0.02 // standard deviation of the random matrix weights
)

// f32ToF16 converts to IEEE half precision, rounding to nearest even
// (like F16C's _cvtss_sh, which ggml uses on x86).
func f32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00 // NaN
		}
		return sign | 0x7c00 // Inf
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 { // subnormal half (or zero)
		if e < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint(14 - e)
		h := mant >> shift
		rem := mant & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && h&1 == 1) {
			h++
		}
		return sign | uint16(h)
	}
	h := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++ // a carry into the exponent is correct, up to Inf
	}
	return sign | uint16(h)
}

// f16ToF32 converts an IEEE half to float32 exactly.
func f16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0:
		v := float32(mant) / (1 << 24)
		if sign != 0 {
			v = -v
		}
		return v
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// encodeRow appends the encoding of src in type t to dst, quantizing like
// ggml's reference quantizers (quantize_row_q8_0_ref, quantize_row_q4_0_ref).
// len(src) must be a multiple of the block size for Q8_0 and Q4_0.
func encodeRow(dst []byte, t TensorType, src []float32) ([]byte, error) {
	switch t {
	case F32:
		for _, x := range src {
			dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(x))
		}
	case F16:
		for _, x := range src {
			dst = binary.LittleEndian.AppendUint16(dst, f32ToF16(x))
		}
	case Q8_0, Q4_0:
		if len(src)%qk != 0 {
			return dst, fmt.Errorf("gguf: %s row of %d elements is not a multiple of %d", t, len(src), qk)
		}
		for i := 0; i < len(src); i += qk {
			if t == Q8_0 {
				dst = appendQ8Block(dst, src[i:i+qk])
			} else {
				dst = appendQ4Block(dst, src[i:i+qk])
			}
		}
	default:
		return dst, fmt.Errorf("gguf: cannot encode tensor type %s", t)
	}
	return dst, nil
}

func appendQ8Block(dst []byte, x []float32) []byte {
	var amax float32
	for _, v := range x {
		amax = max(amax, float32(math.Abs(float64(v))))
	}
	d := amax / 127
	var id float32
	if d != 0 {
		id = 1 / d
	}
	dst = binary.LittleEndian.AppendUint16(dst, f32ToF16(d))
	for _, v := range x {
		dst = append(dst, byte(int8(math.Round(float64(v*id)))))
	}
	return dst
}

func appendQ4Block(dst []byte, x []float32) []byte {
	var amax, mx float32 // absolute max and the value that has it
	for _, v := range x {
		if a := float32(math.Abs(float64(v))); a > amax {
			amax, mx = a, v
		}
	}
	d := mx / -8
	var id float32
	if d != 0 {
		id = 1 / d
	}
	dst = binary.LittleEndian.AppendUint16(dst, f32ToF16(d))
	for j := 0; j < qk/2; j++ {
		x0 := min(15, int8(x[j]*id+8.5))
		x1 := min(15, int8(x[j+qk/2]*id+8.5))
		dst = append(dst, byte(x0)|byte(x1)<<4)
	}
	return dst
}

// rng is splitmix64: tiny state, fast, good enough for fake weights.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// rowRNG returns the generator for one row of one tensor, so that the bytes
// do not depend on how rows are split among goroutines.
func rowRNG(seed int64, tensor int, row int64) rng {
	r := rng{uint64(seed) ^ uint64(tensor+1)*0xd1b54a32d192ed03}
	r.s = r.next() ^ uint64(row)*0x8cb92ba72f3d8dd7
	r.next()
	return r
}

// Approximately normal weights (Irwin-Hall: the sum of four random bytes) by
// table lookup: two values per random word. 1021 distinct values are plenty
// for fake weights, and the tables make F16/F32 generation cheap.
var gaussF32, gaussF16 = func() (f32 [1024]float32, f16 [1024]uint16) {
	const std4 = 147.80054 // standard deviation of the sum of 4 uniform bytes
	for s := range 1021 {
		f32[s] = float32(s-510) * (weightStd / std4)
		f16[s] = f32ToF16(f32[s])
	}
	return
}()

// byteSums4 returns the sums of the low and high four bytes of x.
func byteSums4(x uint64) (lo, hi uint64) {
	const m8, m16 = 0x00ff00ff00ff00ff, 0x0000ffff0000ffff
	a := x&m8 + x>>8&m8
	a = a&m16 + a>>16&m16
	return a & 1023, a >> 32 & 1023
}

// Scales of the random quantized blocks, chosen so that the weights have a
// standard deviation near weightStd: the RMS of Q8_0 quants uniform in
// [-127, 127] is ~73.3, that of Q4_0 quants (uniform 0..15, minus 8) ~4.64.
// A scale is base times a factor in [0.75, 1.25) with a random sign, as
// ggml's quantizer also makes (the sign keeps Q4_0's -0.5 mean quant from
// biasing the weights).
var q8Scales, q4Scales = scaleTable(weightStd / 73.3), scaleTable(weightStd / 4.64)

func scaleTable(base float32) (t [256]uint16) {
	for i := range t {
		d := base * (0.75 + 0.5*float32(i&127)/128)
		if i >= 128 {
			d = -d
		}
		t[i] = f32ToF16(d)
	}
	return t
}

const (
	lsb8 = 0x0101010101010101
	msb8 = 0x8080808080808080
)

// fillRandomRow fills dst, the encoding of one row of n elements of type t,
// with random weights of standard deviation ~weightStd. Quantized blocks get
// random quants directly (no float round trip), which is what makes writing
// multi-GB models fast.
func fillRandomRow(dst []byte, t TensorType, n int64, r *rng) {
	switch t {
	case F32:
		for b := dst[:4*n]; len(b) >= 8; b = b[8:] {
			lo, hi := byteSums4(r.next())
			binary.LittleEndian.PutUint32(b, math.Float32bits(gaussF32[lo]))
			binary.LittleEndian.PutUint32(b[4:], math.Float32bits(gaussF32[hi]))
		}
		if n%2 == 1 {
			lo, _ := byteSums4(r.next())
			binary.LittleEndian.PutUint32(dst[4*n-4:], math.Float32bits(gaussF32[lo]))
		}
	case F16:
		for b := dst[:2*n]; len(b) >= 4; b = b[4:] {
			lo, hi := byteSums4(r.next())
			binary.LittleEndian.PutUint16(b, gaussF16[lo])
			binary.LittleEndian.PutUint16(b[2:], gaussF16[hi])
		}
		if n%2 == 1 {
			lo, _ := byteSums4(r.next())
			binary.LittleEndian.PutUint16(dst[2*n-2:], gaussF16[lo])
		}
	case Q8_0:
		for b := dst[:n/qk*q8Bytes]; len(b) > 0; b = b[q8Bytes:] {
			binary.LittleEndian.PutUint16(b, q8Scales[r.next()>>56])
			for k := 0; k < qk/8; k++ {
				w := r.next()
				// ggml's quantizer never emits -128 (0x80): turn those bytes
				// into 0. (z-lsb8)&^z&msb8 flags the zero bytes of z.
				if z := w ^ msb8; (z-lsb8)&^z&msb8 != 0 {
					for s := 0; s < 64; s += 8 {
						if byte(w>>s) == 0x80 {
							w &^= 0x80 << s
						}
					}
				}
				binary.LittleEndian.PutUint64(b[2+8*k:], w)
			}
		}
	case Q4_0:
		for b := dst[:n/qk*q4Bytes]; len(b) > 0; b = b[q4Bytes:] {
			binary.LittleEndian.PutUint16(b, q4Scales[r.next()>>56])
			binary.LittleEndian.PutUint64(b[2:], r.next())
			binary.LittleEndian.PutUint64(b[10:], r.next())
		}
	default:
		panic("gguf: fillRandomRow: unsupported type " + t.String())
	}
}
