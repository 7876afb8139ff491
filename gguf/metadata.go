package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"
)

// GGUF file constants.
const (
	magic            = "GGUF"
	version          = 3
	defaultAlignment = 32 // GGUF_DEFAULT_ALIGNMENT; also written as general.alignment
	maxDims          = 4  // GGML_MAX_DIMS
	maxNameLen       = 64 // GGML_MAX_NAME; tensor names must be shorter
)

// ValueType is the type of a GGUF metadata value (enum gguf_type).
type ValueType uint32

// Metadata value types.
const (
	TypeUint8 ValueType = iota
	TypeInt8
	TypeUint16
	TypeInt16
	TypeUint32
	TypeInt32
	TypeFloat32
	TypeBool
	TypeString
	TypeArray
	TypeUint64
	TypeInt64
	TypeFloat64
	typeCount
)

var valueTypeNames = [...]string{"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "arr", "u64", "i64", "f64"}

func (t ValueType) String() string {
	if t < typeCount {
		return valueTypeNames[t]
	}
	return fmt.Sprintf("gguf_type(%d)", uint32(t))
}

// size is the encoded size of a fixed-size value; 0 for strings and arrays.
func (t ValueType) size() int64 {
	switch t {
	case TypeUint8, TypeInt8, TypeBool:
		return 1
	case TypeUint16, TypeInt16:
		return 2
	case TypeUint32, TypeInt32, TypeFloat32:
		return 4
	case TypeUint64, TypeInt64, TypeFloat64:
		return 8
	}
	return 0
}

// KV is one metadata key/value pair. Value holds the Go value: uint8, int8,
// uint16, int16, uint32, int32, float32, bool, string, uint64, int64 or
// float64 for scalars, and a slice of one of these for arrays (Type is then
// TypeArray, ElemType the element type and Len the number of elements).
type KV struct {
	Key      string
	Type     ValueType
	ElemType ValueType
	Len      int
	Value    any
}

// Uint returns an unsigned or non-negative signed integer scalar as uint64.
func (kv KV) Uint() (uint64, bool) {
	switch v := kv.Value.(type) {
	case uint8:
		return uint64(v), true
	case uint16:
		return uint64(v), true
	case uint32:
		return uint64(v), true
	case uint64:
		return v, true
	case int8:
		return uint64(v), v >= 0
	case int16:
		return uint64(v), v >= 0
	case int32:
		return uint64(v), v >= 0
	case int64:
		return uint64(v), v >= 0
	}
	return 0, false
}

// kv builds a KV from a Go value, inferring its GGUF type.
func kv(key string, v any) KV {
	t, elem, n := valueTypeOf(v)
	if t == typeCount {
		panic(fmt.Sprintf("gguf: unsupported metadata value type %T for %q", v, key))
	}
	return KV{Key: key, Type: t, ElemType: elem, Len: n, Value: v}
}

func valueTypeOf(v any) (t, elem ValueType, n int) {
	switch a := v.(type) {
	case uint8:
		return TypeUint8, 0, 1
	case int8:
		return TypeInt8, 0, 1
	case uint16:
		return TypeUint16, 0, 1
	case int16:
		return TypeInt16, 0, 1
	case uint32:
		return TypeUint32, 0, 1
	case int32:
		return TypeInt32, 0, 1
	case float32:
		return TypeFloat32, 0, 1
	case bool:
		return TypeBool, 0, 1
	case string:
		return TypeString, 0, 1
	case uint64:
		return TypeUint64, 0, 1
	case int64:
		return TypeInt64, 0, 1
	case float64:
		return TypeFloat64, 0, 1
	case []uint8:
		return TypeArray, TypeUint8, len(a)
	case []int8:
		return TypeArray, TypeInt8, len(a)
	case []uint16:
		return TypeArray, TypeUint16, len(a)
	case []int16:
		return TypeArray, TypeInt16, len(a)
	case []uint32:
		return TypeArray, TypeUint32, len(a)
	case []int32:
		return TypeArray, TypeInt32, len(a)
	case []float32:
		return TypeArray, TypeFloat32, len(a)
	case []bool:
		return TypeArray, TypeBool, len(a)
	case []string:
		return TypeArray, TypeString, len(a)
	case []uint64:
		return TypeArray, TypeUint64, len(a)
	case []int64:
		return TypeArray, TypeInt64, len(a)
	case []float64:
		return TypeArray, TypeFloat64, len(a)
	}
	return typeCount, 0, 0
}

// tensorHeader describes one tensor for the header: dims in ggml ne order
// (ne[0] is the row length).
type tensorHeader struct {
	name string
	typ  TensorType
	ne   []int64
}

// nbytes is the unpadded data size of the tensor.
func (th tensorHeader) nbytes() (int64, error) {
	rs, err := th.typ.RowSize(th.ne[0])
	if err != nil {
		return 0, fmt.Errorf("tensor %s of type %s: row length ne[0] = %d is not a multiple of the block size %d",
			th.name, th.typ, th.ne[0], th.typ.BlockSize())
	}
	n := rs
	for _, d := range th.ne[1:] {
		n *= d
	}
	return n, nil
}

func padTo(n, align int64) int64 { return (n + align - 1) / align * align }

// encoder writes little-endian GGUF primitives and counts bytes.
type encoder struct {
	w   *bufio.Writer
	n   int64
	buf [8]byte
}

func (e *encoder) bytes(b []byte) {
	k, _ := e.w.Write(b) // errors are sticky in bufio.Writer; checked at Flush
	e.n += int64(k)
}

func (e *encoder) u8(v uint8)   { e.bytes([]byte{v}) }
func (e *encoder) u16(v uint16) { binary.LittleEndian.PutUint16(e.buf[:], v); e.bytes(e.buf[:2]) }
func (e *encoder) u32(v uint32) { binary.LittleEndian.PutUint32(e.buf[:], v); e.bytes(e.buf[:4]) }
func (e *encoder) u64(v uint64) { binary.LittleEndian.PutUint64(e.buf[:], v); e.bytes(e.buf[:8]) }
func (e *encoder) str(s string) {
	e.u64(uint64(len(s)))
	k, _ := e.w.WriteString(s)
	e.n += int64(k)
}

func (e *encoder) pad(align int64) {
	for e.n%align != 0 {
		e.u8(0)
	}
}

func (e *encoder) scalar(v any) {
	switch x := v.(type) {
	case uint8:
		e.u8(x)
	case int8:
		e.u8(uint8(x))
	case uint16:
		e.u16(x)
	case int16:
		e.u16(uint16(x))
	case uint32:
		e.u32(x)
	case int32:
		e.u32(uint32(x))
	case float32:
		e.u32(math.Float32bits(x))
	case bool:
		if x {
			e.u8(1)
		} else {
			e.u8(0)
		}
	case string:
		e.str(x)
	case uint64:
		e.u64(x)
	case int64:
		e.u64(uint64(x))
	case float64:
		e.u64(math.Float64bits(x))
	}
}

func (e *encoder) kv(p KV) {
	e.str(p.Key)
	e.u32(uint32(p.Type))
	if p.Type != TypeArray {
		e.scalar(p.Value)
		return
	}
	e.u32(uint32(p.ElemType))
	e.u64(uint64(p.Len))
	switch a := p.Value.(type) {
	case []uint8:
		e.bytes(a)
	case []int8:
		for _, x := range a {
			e.u8(uint8(x))
		}
	case []uint16:
		for _, x := range a {
			e.u16(x)
		}
	case []int16:
		for _, x := range a {
			e.u16(uint16(x))
		}
	case []uint32:
		for _, x := range a {
			e.u32(x)
		}
	case []int32:
		for _, x := range a {
			e.u32(uint32(x))
		}
	case []float32:
		for _, x := range a {
			e.u32(math.Float32bits(x))
		}
	case []bool:
		for _, x := range a {
			e.scalar(x)
		}
	case []string:
		for _, x := range a {
			e.str(x)
		}
	case []uint64:
		for _, x := range a {
			e.u64(x)
		}
	case []int64:
		for _, x := range a {
			e.u64(uint64(x))
		}
	case []float64:
		for _, x := range a {
			e.u64(math.Float64bits(x))
		}
	}
}

// layout validates the tensors and returns each one's data offset (relative
// to the data section) and unpadded size, and the padded data section size.
func layout(tensors []tensorHeader, align int64) (offsets, sizes []int64, total int64, err error) {
	seen := make(map[string]bool, len(tensors))
	for _, t := range tensors {
		if t.name == "" || len(t.name) >= maxNameLen {
			return nil, nil, 0, fmt.Errorf("gguf: tensor name %q must have 1 to %d bytes", t.name, maxNameLen-1)
		}
		if seen[t.name] {
			return nil, nil, 0, fmt.Errorf("gguf: duplicate tensor name %q", t.name)
		}
		seen[t.name] = true
		if len(t.ne) == 0 || len(t.ne) > maxDims {
			return nil, nil, 0, fmt.Errorf("gguf: tensor %s has %d dims (want 1 to %d)", t.name, len(t.ne), maxDims)
		}
		for _, d := range t.ne {
			if d <= 0 {
				return nil, nil, 0, fmt.Errorf("gguf: tensor %s has non-positive dim in %v", t.name, t.ne)
			}
		}
		if _, ok := typeTraits[t.typ]; !ok {
			return nil, nil, 0, fmt.Errorf("gguf: tensor %s has unknown type %d", t.name, int(t.typ))
		}
		n, err := t.nbytes()
		if err != nil {
			return nil, nil, 0, fmt.Errorf("gguf: %w", err)
		}
		offsets = append(offsets, total)
		sizes = append(sizes, n)
		total += padTo(n, align)
	}
	return offsets, sizes, total, nil
}

// writeHeader writes the GGUF header, metadata, tensor infos and the padding
// up to the data section; it returns the number of bytes written.
func writeHeader(w *bufio.Writer, kvs []KV, tensors []tensorHeader, offsets []int64, align int64) int64 {
	e := &encoder{w: w}
	e.bytes([]byte(magic))
	e.u32(version)
	e.u64(uint64(len(tensors)))
	e.u64(uint64(len(kvs)))
	for _, p := range kvs {
		e.kv(p)
	}
	for i, t := range tensors {
		e.str(t.name)
		e.u32(uint32(len(t.ne)))
		for _, d := range t.ne {
			e.u64(uint64(d))
		}
		e.u32(uint32(t.typ))
		e.u64(uint64(offsets[i]))
	}
	e.pad(align)
	return e.n
}
