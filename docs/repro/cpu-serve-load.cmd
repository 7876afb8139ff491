# table: docs/BENCHMARKS.md, "Serving under load", the CPU table
# machine: CPU (the docs' numbers: 2-core x86-64, shared with other jobs)
# h2o serve-bench on the evaluation model: C clients each sending one streamed
# completion of a 256-token prompt + 64 generated tokens, C = 1..16, with 16
# server sequences, one thread; the full cache (2,048 cells each), then H2O at B = 64.
bin/h2o serve-bench -m $SHARED/models/debtext-30m-q8_0.gguf --mode full -B 64 -t 1 --concurrency 1,2,4,8,16 --requests 1 -p 256 -n 64 --input-path $SHARED/data/text/valid
bin/h2o serve-bench -m $SHARED/models/debtext-30m-q8_0.gguf --mode h2o -B 64 -t 1 --concurrency 1,2,4,8,16 --requests 1 -p 256 -n 64 --input-path $SHARED/data/text/valid
