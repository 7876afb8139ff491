# table: docs/BENCHMARKS.md, "Serving under load", the CPU table
# machine: CPU (the docs' numbers: 2-core x86-64, shared with other jobs)
# h2o serve-bench on the evaluation model: C clients each sending one streamed
# completion of a 128-token prompt + 32 generated tokens, C = 1, 4, 16, with 16
# server sequences; the full cache (2,048 cells each) then H2O at B = 64.
bin/h2o serve-bench -m $SHARED/models/debtext-30m-q8_0.gguf --mode full -B 64 --concurrency 1,4,16 --requests 1 -p 128 -n 32 --input-path $SHARED/data/text/valid
bin/h2o serve-bench -m $SHARED/models/debtext-30m-q8_0.gguf --mode h2o -B 64 --concurrency 1,4,16 --requests 1 -p 128 -n 32 --input-path $SHARED/data/text/valid
