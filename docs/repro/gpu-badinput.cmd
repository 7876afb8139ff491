# table: docs/DESIGN.md, "Errors": the bad-input and interruption suite (cmd/h2o/e2e) with the model on the GPU
# machine: GPU
# The suite's test binary is built with Go on the build machine and brought
# along in bin/:
#   go test -c -o bin/tests/e2e.test ./cmd/h2o/e2e
# Without Go it runs bin/h2o from the repository root; the "-ngl without a
# GPU" case skips itself where nvidia-smi is found.
bin/tests/e2e.test -test.v
# The K types that rolling cannot re-rotate are refused on the GPU too, before loading.
# exit: 1
bin/h2o run -m $SHARED/models/stories260K.gguf -ngl 99 -n 300 --budget 32 -ctk bf16
# exit: 1
bin/h2o run -m $SHARED/models/debtext-30m-q8_0.gguf -ngl 99 -n 300 --budget 32 -ctk q8_0
