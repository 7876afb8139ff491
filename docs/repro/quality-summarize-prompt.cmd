# table: docs/QUALITY.md, "debtext-30m: summarization ROUGE with the prompt rules"
# machine: CPU (the docs' numbers: 2-core x86-64, -t 1; about 10 minutes)
# Every command reads the article with full prefill, so that none and
# snapkv differ only in what the cut keeps.
bin/h2o summarize -m $SHARED/models/debtext-30m-q8_0.gguf -t 1 --input-path $SHARED/data/summarization/xsum_0shot.jsonl \
  --sample_num 12 --kv-budgets 64,128,256,full --mode window --prefill full --prefill-score none
bin/h2o summarize -m $SHARED/models/debtext-30m-q8_0.gguf -t 1 --input-path $SHARED/data/summarization/xsum_0shot.jsonl \
  --sample_num 12 --kv-budgets 64,128,256 --mode window --prefill full --prefill-score snapkv:32
bin/h2o summarize -m $SHARED/models/debtext-30m-q8_0.gguf -t 1 --input-path $SHARED/data/summarization/xsum_0shot.jsonl \
  --sample_num 12 --kv-budgets 64,128,256 --mode tova --prefill full --prefill-score none
bin/h2o summarize -m $SHARED/models/debtext-30m-q8_0.gguf -t 1 --input-path $SHARED/data/summarization/xsum_0shot.jsonl \
  --sample_num 12 --kv-budgets 64,128,256 --mode tova --prefill full --prefill-score snapkv:32
bin/h2o summarize -m $SHARED/models/debtext-30m-q8_0.gguf -t 1 --input-path $SHARED/data/summarization/xsum_0shot.jsonl \
  --sample_num 12 --kv-budgets 64,128,256 --mode knorm --prefill full --prefill-score none
bin/h2o summarize -m $SHARED/models/debtext-30m-q8_0.gguf -t 1 --input-path $SHARED/data/summarization/xsum_0shot.jsonl \
  --sample_num 12 --kv-budgets 64,128,256 --mode knorm --prefill full --prefill-score snapkv:32
