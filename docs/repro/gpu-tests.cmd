# table: docs/BENCHMARKS.md, "Scores on CUDA versus CPU", the CUDA checks of "Per token versus per head", and "The CUDA checks (H200)"
# machine: GPU (the docs' numbers: one NVIDIA H100 80GB HBM3, then one NVIDIA H200; CUDA_ARCH=90)
# The GPU tests and the Go policy's share of a per-head step. The test
# binaries are built with Go on the build machine and brought along in bin/:
#   go test -c -o bin/tests/binding.test ./binding
#   go test -c -o bin/tests/session.test ./session
#   go test -c -o bin/tests/h2o.test ./h2o
# The new ggml ops, the RoPE launch and the flash attention that rotates the
# keys it reads: CUDA against the CPU.
bin/test-ops -v
bin/tests/binding.test -test.run 'GPU|OutputArgmax' -test.v
bin/tests/session.test -test.run 'PerHeadGPU|KeyStatsEqualHostKeys|KeyRulesGPU|RotateOnReadLogits|RotateOnReadFlashAttnGPU|BatcherDeviceArgmax' -test.v
bin/tests/h2o.test -test.run XXX -test.bench HeadTrackerStep -test.benchtime 50x
