# table: docs/BENCHMARKS.md, "The field's rules at 32k context"
# machine: GPU (one NVIDIA H200, CUDA_ARCH=90)
# Random-weight model of the 7B shape (speed only; kept when present).
bin/h2o gguf random --preset llama2-7b --type q4_0 -o $MODELS/llama2-7b-q4_0.gguf
# knorm and keydiff need no scores (flash attention on, no score output);
# window and h2o beside them in the same run.
bin/h2o bench -m $MODELS/llama2-7b-q4_0.gguf -ngl 99 -p 0 -n 128 -d 32768 -r 1 --budgets 2048 --modes window,h2o,tova,knorm,keydiff --rolling=false --verbose
# The key rules' statistics read from device memory equal the CPU's; the
# test binary is built with Go on the build machine and brought along in bin/:
#   go test -c -o bin/tests/session.test ./session
bin/tests/session.test -test.run 'KeyStatsEqualHostKeys|KeyRulesGPU' -test.v
