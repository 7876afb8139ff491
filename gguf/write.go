package gguf

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"sync"
)

// rowFiller writes the encoding of row `row` of tensor `tensor` into dst
// (exactly one row). It is called from several goroutines at once.
type rowFiller func(tensor int, row int64, dst []byte)

// chunkTarget is the approximate size of the unit of work handed to a
// goroutine: a run of whole rows of one tensor.
const chunkTarget = 1 << 20

// writeFile writes a complete GGUF file: header, metadata, tensor infos and
// the tensor data produced row by row by fill, each tensor padded to the
// alignment. On error the partial file is removed.
func writeFile(path string, kvs []KV, tensors []tensorHeader, fill rowFiller) (err error) {
	offsets, sizes, _, err := layout(tensors, defaultAlignment)
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(path)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	writeHeader(bw, kvs, tensors, offsets, defaultAlignment)
	if err := writeData(bw, tensors, sizes, fill); err != nil {
		return fmt.Errorf("gguf: writing %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("gguf: writing %s: %w", path, err)
	}
	return nil
}

type chunk struct {
	tensor     int
	row0, row1 int64
	rowBytes   int64
	pad        int64 // zero bytes to write after this chunk (last chunk of a tensor)
	buf        []byte
	done       chan struct{}
}

// writeData fills chunks on runtime.NumCPU() goroutines and writes them in
// order; at most a few chunks per goroutine are in memory at any time.
func writeData(w *bufio.Writer, tensors []tensorHeader, sizes []int64, fill rowFiller) error {
	workers := runtime.NumCPU()
	depth := 2*workers + 2
	free := make(chan []byte, depth)
	for range depth {
		free <- nil
	}
	jobs := make(chan *chunk, depth)
	ordered := make(chan *chunk, depth)
	quit := make(chan struct{})
	var wg sync.WaitGroup

	wg.Add(1)
	go func() { // producer: split tensors into chunks of whole rows
		defer wg.Done()
		defer close(jobs)
		defer close(ordered)
		for ti, t := range tensors {
			rows := int64(1)
			for _, d := range t.ne[1:] {
				rows *= d
			}
			rowBytes := sizes[ti] / rows
			per := max(1, chunkTarget/rowBytes)
			for r := int64(0); r < rows; r += per {
				c := &chunk{tensor: ti, row0: r, row1: min(rows, r+per), rowBytes: rowBytes, done: make(chan struct{})}
				if c.row1 == rows {
					c.pad = padTo(sizes[ti], defaultAlignment) - sizes[ti]
				}
				select {
				case c.buf = <-free:
				case <-quit:
					return
				}
				if need := (c.row1 - c.row0) * rowBytes; int64(cap(c.buf)) < need {
					c.buf = make([]byte, need)
				} else {
					c.buf = c.buf[:need]
				}
				select {
				case ordered <- c:
				case <-quit:
					return
				}
				select {
				case jobs <- c:
				case <-quit:
					return
				}
			}
		}
	}()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range jobs {
				for r := c.row0; r < c.row1; r++ {
					o := (r - c.row0) * c.rowBytes
					fill(c.tensor, r, c.buf[o:o+c.rowBytes])
				}
				close(c.done)
			}
		}()
	}

	var zeros [defaultAlignment]byte
	var err error
	for c := range ordered {
		<-c.done
		if _, err = w.Write(c.buf); err == nil {
			_, err = w.Write(zeros[:c.pad])
		}
		if err != nil {
			break
		}
		free <- c.buf
	}
	close(quit)
	wg.Wait()
	return err
}
