// Package testmodel loads the shared test models for tests outside the
// binding package (which cannot import this one), closing them at cleanup.
package testmodel

import (
	"testing"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/internal/testutil"
)

// Load loads a GGUF file for the test and closes it when the test ends.
func Load(t testing.TB, path string) *binding.Model {
	t.Helper()
	m, err := binding.LoadModel(path, binding.ModelParams{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// Stories loads stories260K (skipping the test when the shared folder is absent).
func Stories(t testing.TB) *binding.Model { return Load(t, testutil.Stories260K(t)) }

// LoadGPU loads a GGUF file with every layer on the GPU and closes it when
// the test ends; without a GPU device it skips the test, saying that what
// runs on a GPU machine.
func LoadGPU(t testing.TB, path, what string) *binding.Model {
	t.Helper()
	if !binding.HasGPU() {
		t.Skipf("no GPU device: %s runs on a GPU machine", what)
	}
	m, err := binding.LoadModel(path, binding.ModelParams{GPULayers: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}
