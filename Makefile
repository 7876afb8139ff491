# h2o build: fetch + patch the pinned llama.cpp, build its shared libraries
# with CMake, then the Go binary. See README.md.
GO        ?= go
BUILD     ?= build
SRC       := $(BUILD)/llama-src
CMAKE_GEN ?= Ninja
CUDA_ARCH ?= native
GOFLAGS_BUILD ?= -trimpath

.PHONY: all fetch libs cuda test test-race leakcheck clean patches-apply patches-format patches-check patches-verify

all: bin/h2o

fetch:
	scripts/fetch-llama.sh $(SRC)

libs: fetch
	cmake -S . -B $(BUILD)/cmake -G $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Release -DH2O_LLAMA_SRC=$(CURDIR)/$(SRC) >/dev/null
	cmake --build $(BUILD)/cmake

# go build is incremental by itself; always ask it.
bin/h2o: libs FORCE
	$(GO) build $(GOFLAGS_BUILD) -o bin/h2o ./cmd/h2o

FORCE:

test: all
	scripts/run-tests.sh

test-race: all
	$(GO) test -race ./...

# Leak check of a load/generate/close loop under valgrind (see scripts/leakcheck.sh).
leakcheck: all
	scripts/leakcheck.sh

# CUDA backend from the same patched tree, for a machine with nvcc and no Go:
# needs $(SRC) (carry it) and the CPU libraries in bin/lib.
cuda:
	@test -f $(SRC)/.stamp || { echo "no patched sources in $(SRC): run 'make' on a machine with Go first and bring $(SRC) along" >&2; exit 1; }
	cmake -S . -B $(BUILD)/cmake-cuda -G $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Release -DGGML_CUDA=ON \
		-DCMAKE_CUDA_ARCHITECTURES=$(CUDA_ARCH) -DH2O_LLAMA_SRC=$(CURDIR)/$(SRC) >/dev/null
	cmake --build $(BUILD)/cmake-cuda --target ggml-cuda

# The patch series as a git work tree in $(BUILD)/patches, one commit a patch
# (README: "Editing the patch series").
patches-apply:
	scripts/patches.sh apply $(CURDIR)/$(BUILD)/patches
patches-format:
	scripts/patches.sh format $(CURDIR)/$(BUILD)/patches
patches-check:
	scripts/patches.sh check $(CURDIR)/$(BUILD)/patches
patches-verify:
	scripts/patches.sh verify

clean:
	rm -rf $(BUILD) bin
