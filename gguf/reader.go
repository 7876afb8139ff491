package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// Info is the header of a GGUF file: metadata and tensor infos.
type Info struct {
	Version    uint32
	Alignment  int64
	KV         []KV // in file order
	Tensors    []TensorInfo
	DataOffset int64 // absolute file offset of the tensor data section
	DataSize   int64 // size of the data section: sum of padded tensor sizes
	FileSize   int64
}

// TensorInfo describes one tensor. Dims are in ggml ne order: Dims[0] is the
// row length (contiguous elements).
type TensorInfo struct {
	Name   string
	Type   TensorType
	Dims   []int64
	Offset int64 // relative to Info.DataOffset
	Size   int64 // bytes, without padding
}

// Elements returns the number of elements of the tensor.
func (t TensorInfo) Elements() int64 {
	n := int64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// Get returns the metadata pair with the given key.
func (in *Info) Get(key string) (KV, bool) {
	for _, p := range in.KV {
		if p.Key == key {
			return p, true
		}
	}
	return KV{}, false
}

// Tensor returns the tensor with the given name.
func (in *Info) Tensor(name string) (TensorInfo, bool) {
	for _, t := range in.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return TensorInfo{}, false
}

// ReadInfo reads the header of a GGUF file (v2 or v3): metadata (arrays are
// read in full) and tensor infos. It checks what llama.cpp's gguf loader
// checks (magic, version, value types, alignment, dims, types, contiguous
// aligned offsets) and that every tensor's data lies within the file; it
// returns an error, never panics, on a truncated or garbage file.
func ReadInfo(path string) (*Info, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	in, err := readInfo(bufio.NewReaderSize(f, 1<<16), st.Size())
	if err != nil {
		return nil, fmt.Errorf("gguf: %s: %w", path, err)
	}
	return in, nil
}

// decoder reads little-endian primitives, tracking the position so that
// lengths can be checked against the bytes left before allocating.
type decoder struct {
	r    *bufio.Reader
	pos  int64
	size int64
	buf  [8]byte
	err  error
}

func (d *decoder) left() int64 { return d.size - d.pos }

func (d *decoder) read(n int) []byte {
	if d.err != nil {
		return d.buf[:n]
	}
	k, err := io.ReadFull(d.r, d.buf[:n])
	d.pos += int64(k)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		d.err = fmt.Errorf("at offset %d: %w (file truncated?)", d.pos, err)
	}
	return d.buf[:n]
}

func (d *decoder) u8() uint8   { return d.read(1)[0] }
func (d *decoder) u16() uint16 { return binary.LittleEndian.Uint16(d.read(2)) }
func (d *decoder) u32() uint32 { return binary.LittleEndian.Uint32(d.read(4)) }
func (d *decoder) u64() uint64 { return binary.LittleEndian.Uint64(d.read(8)) }

func (d *decoder) str(what string) string {
	n := d.u64()
	if d.err != nil {
		return ""
	}
	if n > uint64(d.left()) {
		d.err = fmt.Errorf("at offset %d: %s has length %d but only %d bytes are left (truncated?)", d.pos, what, n, d.left())
		return ""
	}
	b := make([]byte, n)
	k, err := io.ReadFull(d.r, b)
	d.pos += int64(k)
	if err != nil {
		d.err = fmt.Errorf("at offset %d: reading %s: %w", d.pos, what, io.ErrUnexpectedEOF)
	}
	return string(b)
}

func (d *decoder) scalar(t ValueType, what string) any {
	switch t {
	case TypeUint8:
		return d.u8()
	case TypeInt8:
		return int8(d.u8())
	case TypeUint16:
		return d.u16()
	case TypeInt16:
		return int16(d.u16())
	case TypeUint32:
		return d.u32()
	case TypeInt32:
		return int32(d.u32())
	case TypeFloat32:
		return math.Float32frombits(d.u32())
	case TypeBool:
		return d.u8() != 0
	case TypeString:
		return d.str(what)
	case TypeUint64:
		return d.u64()
	case TypeInt64:
		return int64(d.u64())
	case TypeFloat64:
		return math.Float64frombits(d.u64())
	}
	d.err = fmt.Errorf("%s has invalid type %d", what, uint32(t))
	return nil
}

func readArray[T any](d *decoder, n int, t ValueType, what string) []T {
	a := make([]T, n)
	for i := range a {
		v := d.scalar(t, what)
		if d.err != nil {
			return nil
		}
		a[i] = v.(T)
	}
	return a
}

func (d *decoder) array(t ValueType, n uint64, key string) any {
	minSize := t.size()
	switch t {
	case TypeString:
		minSize = 8
	case TypeArray:
		d.err = fmt.Errorf("key %q: nested arrays are not supported", key)
		return nil
	}
	if minSize == 0 {
		d.err = fmt.Errorf("key %q: array has invalid element type %d", key, uint32(t))
		return nil
	}
	if n > uint64(d.left()/minSize) {
		d.err = fmt.Errorf("key %q: array of %d %s needs more than the %d bytes left (truncated?)", key, n, t, d.left())
		return nil
	}
	what := fmt.Sprintf("element of %q", key)
	switch t {
	case TypeUint8:
		return readArray[uint8](d, int(n), t, what)
	case TypeInt8:
		return readArray[int8](d, int(n), t, what)
	case TypeUint16:
		return readArray[uint16](d, int(n), t, what)
	case TypeInt16:
		return readArray[int16](d, int(n), t, what)
	case TypeUint32:
		return readArray[uint32](d, int(n), t, what)
	case TypeInt32:
		return readArray[int32](d, int(n), t, what)
	case TypeFloat32:
		return readArray[float32](d, int(n), t, what)
	case TypeBool:
		return readArray[bool](d, int(n), t, what)
	case TypeString:
		return readArray[string](d, int(n), t, what)
	case TypeUint64:
		return readArray[uint64](d, int(n), t, what)
	case TypeInt64:
		return readArray[int64](d, int(n), t, what)
	default: // TypeFloat64
		return readArray[float64](d, int(n), t, what)
	}
}

func readInfo(r *bufio.Reader, size int64) (*Info, error) {
	d := &decoder{r: r, size: size}
	if m := d.read(4); d.err != nil || string(m) != magic {
		if d.err != nil {
			return nil, fmt.Errorf("not a GGUF file: %w", d.err)
		}
		return nil, fmt.Errorf("not a GGUF file: magic %q, want %q", m, magic)
	}
	in := &Info{FileSize: size, Alignment: defaultAlignment}
	in.Version = d.u32()
	nTensors := d.u64()
	nKV := d.u64()
	if d.err != nil {
		return nil, fmt.Errorf("reading header: %w", d.err)
	}
	switch {
	case in.Version == 1:
		return nil, errors.New("GGUF v1 is not supported")
	case in.Version != 2 && in.Version != 3:
		return nil, fmt.Errorf("unsupported GGUF version %d (want 2 or 3)", in.Version)
	}
	// Every pair takes at least 13 bytes (key length, type, 1 byte value),
	// every tensor info at least 24 (name length, n_dims, type, offset).
	if nKV > uint64(d.left()/13) {
		return nil, fmt.Errorf("header claims %d metadata pairs, more than fit in the %d-byte file (truncated?)", nKV, size)
	}
	if nTensors > uint64(d.left()/24) {
		return nil, fmt.Errorf("header claims %d tensors, more than fit in the %d-byte file (truncated?)", nTensors, size)
	}

	keys := make(map[string]bool, nKV)
	for i := uint64(0); i < nKV; i++ {
		key := d.str(fmt.Sprintf("key %d", i))
		if d.err == nil && keys[key] {
			return nil, fmt.Errorf("duplicate metadata key %q", key)
		}
		keys[key] = true
		p := KV{Key: key, Type: ValueType(d.u32()), Len: 1}
		if d.err != nil {
			return nil, fmt.Errorf("reading metadata pair %d: %w", i, d.err)
		}
		if p.Type == TypeArray {
			p.ElemType = ValueType(d.u32())
			n := d.u64()
			if d.err == nil {
				p.Value = d.array(p.ElemType, n, key)
				p.Len = int(n)
			}
		} else {
			p.Value = d.scalar(p.Type, fmt.Sprintf("value of %q", key))
		}
		if d.err != nil {
			return nil, fmt.Errorf("reading metadata pair %d (%q): %w", i, key, d.err)
		}
		in.KV = append(in.KV, p)
	}
	if p, ok := in.Get("general.alignment"); ok {
		a, isU32 := p.Value.(uint32)
		if !isU32 {
			return nil, fmt.Errorf("general.alignment has type %s, want u32", p.Type)
		}
		if a == 0 || a&(a-1) != 0 {
			return nil, fmt.Errorf("general.alignment %d is not a power of 2", a)
		}
		in.Alignment = int64(a)
	}

	names := make(map[string]bool, nTensors)
	for i := uint64(0); i < nTensors; i++ {
		var t TensorInfo
		t.Name = d.str(fmt.Sprintf("name of tensor %d", i))
		nd := d.u32()
		if d.err != nil {
			return nil, fmt.Errorf("reading tensor info %d: %w", i, d.err)
		}
		if len(t.Name) >= maxNameLen {
			return nil, fmt.Errorf("tensor %d name is too long (%d bytes >= %d)", i, len(t.Name), maxNameLen)
		}
		if names[t.Name] {
			return nil, fmt.Errorf("duplicate tensor name %q", t.Name)
		}
		names[t.Name] = true
		if nd > maxDims {
			return nil, fmt.Errorf("tensor %q has %d dims (max %d)", t.Name, nd, maxDims)
		}
		elems := int64(1)
		for j := uint32(0); j < nd; j++ {
			v := int64(d.u64())
			if d.err == nil && v < 0 {
				return nil, fmt.Errorf("tensor %q dim %d is negative (%d)", t.Name, j, v)
			}
			if v != 0 && elems > math.MaxInt64/v {
				return nil, fmt.Errorf("tensor %q has too many elements", t.Name)
			}
			elems *= v
			t.Dims = append(t.Dims, v)
		}
		t.Type = TensorType(int32(d.u32()))
		t.Offset = int64(d.u64())
		if d.err != nil {
			return nil, fmt.Errorf("reading tensor info %d (%q): %w", i, t.Name, d.err)
		}
		tr, ok := typeTraits[t.Type]
		if !ok {
			return nil, fmt.Errorf("tensor %q has invalid ggml type %d", t.Name, int(t.Type))
		}
		row := int64(1)
		if len(t.Dims) > 0 {
			row = t.Dims[0]
		}
		if row%tr.blockSize != 0 {
			return nil, fmt.Errorf("tensor %q of type %s has %d elements per row, not a multiple of the block size %d", t.Name, tr.name, row, tr.blockSize)
		}
		if elems/tr.blockSize > math.MaxInt64/tr.typeSize {
			return nil, fmt.Errorf("tensor %q is too large", t.Name)
		}
		t.Size = elems / tr.blockSize * tr.typeSize
		if t.Offset != in.DataSize {
			return nil, fmt.Errorf("tensor %q has offset %d, expected %d", t.Name, t.Offset, in.DataSize)
		}
		padded := padTo(t.Size, in.Alignment)
		if padded < 0 || padded > math.MaxInt64-in.DataSize {
			return nil, fmt.Errorf("tensor %q: data size overflows", t.Name)
		}
		in.DataSize += padded
		in.Tensors = append(in.Tensors, t)
	}
	in.DataOffset = padTo(d.pos, in.Alignment)
	for _, t := range in.Tensors {
		if end := in.DataOffset + t.Offset + t.Size; end > size || end < 0 {
			return nil, fmt.Errorf("tensor %q data [%d, %d) extends past the end of the %d-byte file (truncated?)",
				t.Name, in.DataOffset+t.Offset, end, size)
		}
	}
	return in, nil
}
