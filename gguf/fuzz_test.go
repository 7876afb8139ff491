package gguf

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// The header reader returns an error, never panics or allocates without
// bound, on any bytes; what it accepts lies within the file.
func FuzzReadInfo(f *testing.F) {
	path := filepath.Join(f.TempDir(), "seed.gguf")
	shape := LlamaShape{NLayer: 1, NEmbd: 32, NHead: 2, NHeadKV: 1, NFF: 32, NVocab: 260, NCtx: 64}
	if err := WriteRandomLlama(path, LlamaOptions{Shape: shape, Type: F32, Seed: 1}); err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2]) // truncated data
	f.Add(good[:24])          // header only
	f.Add([]byte("GGUF"))
	f.Add([]byte("not a model at all"))
	huge := bytes.Clone(good[:24])
	binary.LittleEndian.PutUint64(huge[16:], 1<<62) // a pair count that cannot fit
	f.Add(huge)
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := readInfo(bufio.NewReader(bytes.NewReader(b)), int64(len(b)))
		if err != nil {
			return
		}
		for _, ti := range in.Tensors {
			if ti.Offset < 0 || ti.Size < 0 || in.DataOffset+ti.Offset+ti.Size > int64(len(b)) {
				t.Fatalf("tensor %s at %d+%d lies outside the %d-byte file", ti.Name, ti.Offset, ti.Size, len(b))
			}
		}
	})
}
