package main

import (
	"fmt"
	"os"
	"time"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/gguf"
	"github.com/urfave/cli/v2"
)

// ggufCommand writes random-weight models of real shapes (for speed work:
// values do not change speed), converts a model's weights to another type,
// and inspects GGUF files.
func ggufCommand() *cli.Command {
	return &cli.Command{
		Name:  "gguf",
		Usage: "write random-weight Llama GGUF models of real shapes, or show a GGUF file's layout",
		Subcommands: []*cli.Command{
			{
				Name:      "random",
				Usage:     "write a Llama model with seeded random weights (speed benchmarks only: the text is noise)",
				ArgsUsage: " ",
				Flags:     flagsFor(cmdGGUFRandom),
				Before:    checkArgs,
				Action:    ggufRandomAction,
			},
			{
				Name:  "convert",
				Usage: "write a copy of a model with its weights in another type (e.g. f16: larger, for batched serving on a GPU, where f16 matrix products run faster than quantized ones)",
				Description: "Quantized weights are expanded and written in the new type: a wider type gains no precision, only speed\n" +
					"where the backend multiplies it faster, at the memory the larger weights take (printed).",
				ArgsUsage: "IN OUT",
				Flags:     flagsFor(cmdGGUFConvert),
				Before:    checkArgs,
				Action:    ggufConvertAction,
			},
			{
				Name:      "info",
				Usage:     "print a GGUF file's metadata and tensors",
				ArgsUsage: "FILE",
				Action:    ggufInfoAction,
			},
		},
	}
}

func ggufRandomAction(c *cli.Context) error {
	shape, err := gguf.Preset(c.String("preset"))
	if err != nil {
		return err
	}
	if n := c.Int("layers"); n > 0 {
		shape.NLayer = n
	}
	if n := c.Int("ctx"); n > 0 {
		shape.NCtx = n
	}
	typ, err := gguf.ParseTensorType(c.String("type"))
	if err != nil {
		return err
	}
	opts := gguf.LlamaOptions{Shape: shape, Type: typ, Seed: c.Int64("seed"), Name: "random-" + c.String("preset") + "-" + typ.String()}
	size, err := opts.FileSize()
	if err != nil {
		return err
	}
	start := time.Now()
	if err := gguf.WriteRandomLlama(c.String("output"), opts); err != nil {
		return err
	}
	fmt.Printf("wrote %s: %s, %.2f B params, %.2f GiB in %.1fs\n", c.String("output"), opts.Name,
		float64(opts.ParamCount())/1e9, float64(size)/(1<<30), time.Since(start).Seconds())
	return nil
}

func ggufInfoAction(c *cli.Context) error {
	if c.NArg() != 1 {
		return fmt.Errorf("gguf info: want one FILE")
	}
	info, err := gguf.ReadInfo(c.Args().First())
	if err != nil {
		return err
	}
	fmt.Printf("GGUF v%d, %d keys, %d tensors, data %.1f MiB at offset %d\n", info.Version, len(info.KV), len(info.Tensors),
		float64(info.DataSize)/(1<<20), info.DataOffset)
	for _, kv := range info.KV {
		v := fmt.Sprint(kv.Value)
		if kv.Type == gguf.TypeArray || len(v) > 80 {
			v = fmt.Sprintf("[%d values]", kv.Len)
		}
		fmt.Printf("  %-40s %s\n", kv.Key, v)
	}
	for _, t := range info.Tensors {
		fmt.Printf("  %-32s %-5s %v\n", t.Name, t.Type, t.Dims)
	}
	return nil
}

func ggufConvertAction(c *cli.Context) error {
	if c.NArg() != 2 {
		return fmt.Errorf("gguf convert: want IN and OUT, got %d arguments", c.NArg())
	}
	in, out := c.Args().Get(0), c.Args().Get(1)
	start := time.Now()
	if err := binding.Convert(in, out, binding.ConvertParams{Type: c.String("type"), Threads: c.Int("threads")}); err != nil {
		return err
	}
	si, err := os.Stat(in)
	if err != nil {
		return err
	}
	so, err := os.Stat(out)
	if err != nil {
		return err
	}
	fmt.Printf("wrote %s: %s weights, %s (%s: %s, %.2fx) in %.1fs\n", out, c.String("type"),
		fileSize(so.Size()), in, fileSize(si.Size()), float64(so.Size())/float64(si.Size()), time.Since(start).Seconds())
	return nil
}

// fileSize is a size in MiB, or GiB from 1 GiB.
func fileSize(n int64) string {
	if n >= 1<<30 {
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
