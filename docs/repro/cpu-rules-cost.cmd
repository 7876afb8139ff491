# table: docs/BENCHMARKS.md, "CPU: cost of the key rules (knorm, keydiff)"
# machine: CPU (the docs' numbers: 2-core x86-64, -t 1)
# The host's share of a key rule's step, at the evaluation model's shape and
# the 7B shape; the test binary is built with Go first:
#   go test -c -o bin/tests/h2o.test ./h2o
bin/h2o bench -m $SHARED/models/debtext-30m-q8_0.gguf -t 1 -p 0 -n 128 -d 2048 -r 3 --budgets 256 --modes window,h2o,knorm,keydiff --rolling=false
bin/h2o bench -m $SHARED/models/debtext-30m-q8_0.gguf -t 1 -p 0 -n 128 -d 2048 -r 3 --budgets 256 --modes knorm,keydiff --rolling=true
bin/tests/h2o.test -test.run XXX -test.bench KeyRuleStep -test.benchtime 20x
