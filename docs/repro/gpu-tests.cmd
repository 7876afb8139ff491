# table: docs/BENCHMARKS.md, "Scores on CUDA versus CPU", and the CUDA checks of "Per token versus per head"
# machine: GPU (the docs' numbers: one NVIDIA H100 80GB HBM3, CUDA_ARCH=90)
# The GPU tests and the Go policy's share of a per-head step. The test
# binaries are built with Go on the build machine and brought along in bin/:
#   go test -c -o bin/tests/binding.test ./binding
#   go test -c -o bin/tests/session.test ./session
#   go test -c -o bin/tests/h2o.test ./h2o
bin/tests/binding.test -test.run GPU -test.v
bin/tests/session.test -test.run PerHeadGPU -test.v
bin/tests/h2o.test -test.run XXX -test.bench HeadTrackerStep -test.benchtime 50x
