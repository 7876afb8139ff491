package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/h2o-kv/h2o/binding"
	"github.com/h2o-kv/h2o/gguf"
	"github.com/h2o-kv/h2o/h2o"
	"github.com/h2o-kv/h2o/session"
	"github.com/urfave/cli/v2"
)

// defaultModelName is the evaluation model looked up in ../shared/models.
const defaultModelName = "debtext-30m-q8_0.gguf"

// command is a set of commands, one bit each: the commands a flag serves.
type command uint

const (
	cmdRun command = 1 << iota
	cmdStream
	cmdSummarize
	cmdPPL
	cmdBench
	cmdAttn
	cmdGGUFRandom
	cmdServe
	cmdChat
	cmdServeBench
	cmdGGUFConvert

	cmdGenerate = cmdRun | cmdStream | cmdSummarize | cmdServe | cmdChat | cmdServeBench // one policy, generated text
	cmdPolicy   = cmdGenerate | cmdPPL                                                   // the eviction policy flags
	cmdSession  = cmdPolicy | cmdBench                                                   // a session's llama.cpp settings
	cmdModel    = cmdSession | cmdAttn                                                   // load a model
)

// option is one entry of the flag table: a flag and the commands that honour it.
type option struct {
	cmds command
	flag cli.Flag
}

// flagsFor lists the flags that cmd honours, in the table's order.
func flagsFor(cmd command) []cli.Flag {
	var out []cli.Flag
	for _, o := range flagTable() {
		if o.cmds&cmd != 0 {
			out = append(out, o.flag)
		}
	}
	return out
}

// flagTable is every command's flags, each entry scoped to the commands that
// honour it (as llama.cpp's common/arg.cpp). A name has several entries when
// commands give it different defaults or meanings, never two for one
// command. Built afresh per call: a parsed flag keeps its value.
func flagTable() []option {
	return []option{
		// model and context, with llama.cpp's names
		{cmdModel, &cli.StringFlag{Name: "model", Aliases: []string{"m", "model-name", "model_name"}, Usage: "GGUF model `FILE` (default: ../shared/models/" + defaultModelName + " when present)"}},
		{cmdModel, &cli.IntFlag{Name: "n-gpu-layers", Aliases: []string{"ngl"}, Value: 0, Usage: "layers to offload to the GPU (99 = all)"}},
		{cmdSession, &cli.IntFlag{Name: "ctx-size", Aliases: []string{"c"}, Usage: "KV cells (0 = what the policy needs: budget + chunk, or the trained context)"}},
		{cmdModel, &cli.StringFlag{Name: "split-mode", Aliases: []string{"sm"}, Value: "layer", Usage: "how the model spreads over several GPUs: none (the main GPU only), layer (whole layers and their KV cache per GPU), row (matrices split by rows too)"}},
		{cmdModel, &cli.StringFlag{Name: "tensor-split", Aliases: []string{"ts"}, Usage: "each GPU's share of the model, e.g. 3,1 (default: by free memory)"}},
		{cmdModel, &cli.IntFlag{Name: "main-gpu", Aliases: []string{"mg"}, Usage: "the GPU of --split-mode none, and of row split's small tensors"}},
		{cmdModel, &cli.IntFlag{Name: "threads", Aliases: []string{"t"}, Usage: "CPU threads, at most the CPU count (default: 1 for a model under 5M parameters, else all CPUs)"}},
		{cmdSession&^cmdPPL | cmdAttn, &cli.StringFlag{Name: "flash-attn", Aliases: []string{"fa"}, Value: "auto", Usage: "flash attention on|off|auto (h2o: decode steps take scores from its logits; auto = on with GPU layers and f16 keys, or keys rotated on read and f16 values)"}},
		{cmdPPL, &cli.StringFlag{Name: "flash-attn", Aliases: []string{"fa"}, Value: "off", Usage: "flash attention on|off|auto (off: every policy uses the attention code of h2o, which needs it off)"}},
		{cmdSession | cmdAttn, &cli.StringFlag{Name: "cache-type-k", Aliases: []string{"ctk"}, Usage: "K cache type (default f16; f32 when rolling re-rotates keys in place at every step: --k-rotation in-place, or per head on the CPU or with --heads-on-host; see docs/DESIGN.md)"}},
		{cmdSession, &cli.StringFlag{Name: "k-rotation", Value: "auto", Usage: "how rolling reaches cached keys: on-read (rotated as attention reads them; stored keys never change) | in-place (re-rotated at every eviction, llama.cpp's K-shift) | auto (on-read with GPU layers or a key type other than f32/f16, else in-place)"}},
		{cmdSession | cmdAttn, &cli.StringFlag{Name: "cache-type-v", Aliases: []string{"ctv"}, Value: "f16", Usage: "V cache type"}},
		{cmdSession, &cli.IntFlag{Name: "batch-size", Aliases: []string{"b"}, Usage: "prefill chunk / batch size (0 = 256)"}},
		{cmdSession, &cli.IntFlag{Name: "ubatch-size", Aliases: []string{"ub"}, Usage: "accepted for llama.cpp compatibility; the micro-batch equals the batch size"}},
		{cmdModel, &cli.BoolFlag{Name: "verbose", Usage: "show llama.cpp's log"}},

		// the eviction policy, with the recipe's names
		{cmdPolicy, &cli.StringFlag{Name: "mode", Usage: "cache policy: full|h2o|window|sink|tova|knorm|keydiff (default: h2o with --enable_h2o_generation, else " + policyDefaultText + ")"}},
		{cmdPolicy, &cli.BoolFlag{Name: "enable_h2o_generation", Aliases: []string{"enable-h2o-generation", "h2o"}, Usage: "use H2O eviction (the recipe's flag; same as --mode h2o)"}},
		{cmdGenerate | cmdServe | cmdChat | cmdServeBench, heavyFlag(h2o.HalfBudget, "")},
		{cmdPPL, heavyFlag(0, "; default: --heavy-ratio")},
		{cmdRun, budgetFlag(128)},
		{cmdStream | cmdSummarize | cmdPPL | cmdServe | cmdChat | cmdServeBench, budgetFlag(256)},
		{cmdPolicy, &cli.BoolFlag{Name: "enable_position_rolling", Aliases: []string{"enable-position-rolling", "rolling"}, Usage: "kept tokens take their index in the cache as position (generate past the trained context; run and stream: on with an evicting policy, --enable_position_rolling=false to turn it off)"}},
		{cmdPolicy, &cli.IntFlag{Name: "sink-tokens", Aliases: []string{"keep-first"}, Usage: "first tokens never evicted (sink mode default 4; h2o default 0, within the heavy hitters)"}},
		{cmdPolicy, &cli.IntFlag{Name: "recent", Usage: "recent window R (h2o: heavy hitters are the rest of the budget unless given too, then H + R must equal B; window/sink: default the rest of the budget)"}},
		{cmdPolicy, &cli.Float64Flag{Name: "recent-share", Usage: "recent window as a share of the budget, 0 < F < 1 (the recipe's is 0.5); like --recent"}},
		{cmdGenerate, &cli.StringFlag{Name: "h2o-score", Value: "cum", Usage: "score rule: cum (recipe) | mean | last | ema:G"}},
		{cmdPPL, &cli.StringFlag{Name: "h2o-score", Value: "cum", Usage: "score rules, comma-separated: cum (recipe) | mean | last | ema:G"}},
		{cmdGenerate, &cli.StringFlag{Name: "h2o-aggregate", Value: "sum", Usage: "per-token score from layers/heads: sum | layer-mean | max"}},
		{cmdPPL, &cli.StringFlag{Name: "h2o-aggregate", Value: "sum", Usage: "per-token scores from layers/heads, comma-separated: sum | layer-mean | max"}},
		{cmdGenerate | cmdAttn, &cli.StringFlag{Name: "granularity", Value: "token", Usage: "h2o kept sets: token (one for all layers and heads) | head (one per layer and KV head, the recipe's; see docs/DESIGN.md)"}},
		{cmdPPL | cmdBench, &cli.StringFlag{Name: "granularity", Value: "token", Usage: "h2o granularities to compare, comma-separated: token | head (see docs/DESIGN.md)"}},
		{cmdGenerate | cmdBench, &cli.BoolFlag{Name: "heads-on-host", Usage: "granularity head: decide every step on the host (scores copied back, ranked, rows moved by a second graph) also where the decode graph replaces tokens itself (h2o, cum score, flash attention on)"}},
		{cmdPolicy, &cli.StringFlag{Name: "prefill", Value: "chunked", Usage: "prompt reading with eviction: chunked (bounded memory) | full (exact recipe, needs the whole prompt in memory; the default with --prefill-score)"}},
		{cmdGenerate, &cli.StringFlag{Name: "prefill-score", Value: "none", Usage: "prompt rule: none (the policy cuts the prompt) | snapkv:W (the last W prompt tokens' attention, pooled, picks what else the cut keeps; full prefill)"}},
		{cmdPPL, &cli.StringFlag{Name: "prefill-score", Value: "none", Usage: "prompt rules to compare, comma-separated: none | snapkv:W (with --prompt-tokens)"}},

		// run and attn
		{cmdRun | cmdAttn, &cli.StringFlag{Name: "prompt", Aliases: []string{"p"}, Value: defaultPrompt, Usage: "prompt text"}},
		{cmdRun, &cli.StringFlag{Name: "file", Aliases: []string{"f"}, Usage: "read the prompt from `FILE`"}},
		{cmdRun, &cli.IntFlag{Name: "n-predict", Aliases: []string{"n"}, Value: 512, Usage: "tokens to generate (0 = none, -1 = until EOS or Ctrl-C, printed as they come)"}},
		{cmdChat, &cli.IntFlag{Name: "n-predict", Aliases: []string{"n"}, Value: 512, Usage: "tokens per reply at most"}},
		{cmdServe, &cli.IntFlag{Name: "n-predict", Aliases: []string{"n"}, Value: 256, Usage: "max_tokens of a request that gives none"}},
		{cmdRun | cmdChat, &cli.Float64Flag{Name: "temp", Value: 0.8, Usage: "sampling temperature (0 = greedy)"}},
		{cmdRun | cmdChat, &cli.Float64Flag{Name: "top-p", Value: 0.95, Usage: "nucleus sampling cut"}},
		{cmdRun | cmdChat, &cli.Uint64Flag{Name: "seed", Value: 42, Usage: "sampling seed"}},
		{cmdRun, &cli.BoolFlag{Name: "stream", Usage: "print tokens as they come instead of a progress bar"}},
		{cmdAttn, &cli.IntFlag{Name: "top", Value: 10, Usage: "heavy hitters to list"}},
		{cmdAttn, &cli.BoolFlag{Name: "json", Usage: "JSON output with per-layer scores"}},
		{cmdAttn, &cli.BoolFlag{Name: "per-query-head", Usage: "report query heads instead of KV heads"}},

		// stream
		{cmdStream, &cli.StringFlag{Name: "input-path", Aliases: []string{"input_path", "data_root", "data-root"},
			Usage: "MT-Bench questions: a `DIR` holding mt_bench.jsonl (the recipe's data_root) or question.jsonl, or the JSONL file itself (default: ../shared/" + defaultQuestionsDir + " when present, else data/)"}},
		{cmdStream, &cli.IntFlag{Name: "max-gen-len", Aliases: []string{"max_gen_len"}, Value: 1000, Usage: "new tokens per turn at most (greedy, until EOS)"}},
		{cmdStream, &cli.IntFlag{Name: "loop", Value: 1, Usage: "cycle the dataset `N` times, all in one conversation"}},
		{cmdStream, &cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no prompts or generated text on stdout"}},
		{cmdStream, &cli.StringFlag{Name: "json-stats", Usage: "write one JSON line per sample to `FILE` as each sample ends"}},
		{cmdStream, &cli.BoolFlag{Name: "no-evict-for-space", Usage: "do not make room for prompt + max-gen-len before each prompt (the recipe's evict_for_space, dead code there); evict only as tokens arrive"}},

		// summarize
		{cmdSummarize, &cli.StringFlag{Name: "input-path", Aliases: []string{"input_path"}, Required: true, Usage: "request JSONL `FILE` (e.g. ../shared/data/summarization/xsum_0shot.jsonl)"}},
		{cmdSummarize, &cli.StringFlag{Name: "output-path", Aliases: []string{"output_path"}, Usage: "result JSONL `FILE` (with --kv-budgets one file per budget: FILE.b64.jsonl ...)"}},
		{cmdSummarize, &cli.IntFlag{Name: "sample_num", Aliases: []string{"sample-num"}, Value: 500, Usage: "summarize the first N requests (0 = all)"}},
		{cmdSummarize, &cli.Int64Flag{Name: "seed", Value: 42, Usage: "sampling seed; sample i uses seed + i"}},
		{cmdSummarize, &cli.StringFlag{Name: "kv-budgets", Aliases: []string{"kv_budgets"}, Usage: "sweep: comma-separated budgets in tokens and/or full, e.g. 64,128,256,512,1024,full"}},
		{cmdSummarize, &cli.IntFlag{Name: "shots", Usage: "K solved examples (other records, the last of the file) before each article"}},
		{cmdSummarize, &cli.BoolFlag{Name: "skip-bad", Usage: "skip malformed input lines (counted) instead of stopping"}},
		{cmdSummarize, &cli.BoolFlag{Name: "resume", Usage: "continue an interrupted run from its output file"}},
		{cmdSummarize, &cli.BoolFlag{Name: "truncate", Usage: "keep the last prompt tokens that fit a non-evicting cache instead of failing"}},
		{cmdSummarize, &cli.Float64Flag{Name: "temperature", Aliases: []string{"temp"}, DefaultText: "the request's", Usage: "override every request's temperature (0 = greedy)"}},
		{cmdSummarize, &cli.IntFlag{Name: "max-tokens", DefaultText: "the request's", Usage: "override every request's max_tokens"}},
		{cmdSummarize, &cli.StringFlag{Name: "on-empty", Value: "zero", Usage: "empty generation: zero (score 0, counted) | skip (left out of the averages) | fail (stop, as the recipe)"}},
		{cmdSummarize, &cli.IntFlag{Name: "top-logprobs", Value: 1, Usage: "alternatives per position in top_logprobs"}},
		{cmdSummarize, &cli.StringFlag{Name: "parallel", Aliases: []string{"np"}, Value: "1", Usage: "summarize N samples at once (continuous batching; `N` or auto = as many as fit in memory); greedy outputs equal the sequential ones"}},
		{cmdSummarize, &cli.BoolFlag{Name: "print-running", Usage: "print the recipe's running 'rouge-1: ..., rouge-2: ..., rouge-l: ...' line after every sample"}},

		// ppl
		{cmdPPL, &cli.StringFlag{Name: "policies", Value: "full,h2o,window,sink", Usage: "policies to evaluate (comma-separated: full, h2o, window, sink, tova, knorm, keydiff; default --mode's when given)"}},
		{cmdPPL, &cli.IntFlag{Name: "prompt-tokens", Usage: "read the first `P` tokens of each document as a prompt (full prefill, then the prompt rule cuts the cache to B) and score the rest (0: token by token from the start)"}},
		{cmdPPL, &cli.StringFlag{Name: "budgets", Value: "64,128,256,512,1024", Usage: "cache budgets B (comma-separated; N% = N percent of the longest evaluated document; default --num_window_length when given)"}},
		{cmdPPL, &cli.StringFlag{Name: "heavy-ratio", Value: "0.5", Usage: "h2o heavy hitters as a share of the budget: H = ratio*B (comma-separated to compare; not used when --num_heavy_hitter_tokens, --recent-share or --recent give the split)"}},
		{cmdPPL, &cli.BoolFlag{Name: "rolling-both", Usage: "evaluate each evicting policy with and without position rolling"}},
		{cmdPPL, &cli.StringSliceFlag{Name: "input-path", Aliases: []string{"i"}, Usage: "text `FILE`s or directories (also as arguments; default ../shared/" + defaultTextDir + " when present)"}},
		{cmdPPL, &cli.IntFlag{Name: "docs", Usage: "evaluate the first N documents (0 = all)"}},
		{cmdPPL, &cli.BoolFlag{Name: "concat", Usage: "join all inputs (after --docs) into one document, e.g. to read past the trained context"}},
		{cmdPPL, &cli.IntFlag{Name: "max-tokens", Usage: "evaluate the first N tokens of each document, BOS included (0 = all)"}},
		{cmdPPL, &cli.IntFlag{Name: "min-tokens", Usage: "skip documents shorter than N tokens (before --docs counts them)"}},
		{cmdPPL, &cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "md", Usage: "md (Markdown table) or json (one record per policy and budget)"}},
		{cmdPPL, &cli.StringFlag{Name: "json-out", Usage: "also write the JSON records to `FILE` (with -o md)"}},
		{cmdPPL, &cli.BoolFlag{Name: "kl", Value: true, Usage: "KL divergence and top-1 agreement with a full cache run in lockstep (--kl=false to skip)"}},
		{cmdPPL, &cli.BoolFlag{Name: "beyond", Usage: "past the trained context: perplexity per window of --chunk-size tokens; rolling on unless --enable_position_rolling=false"}},
		{cmdPPL, &cli.IntFlag{Name: "chunk-size", Usage: "report perplexity per window of N tokens (default with --beyond: the trained context)"}},
		{cmdPPL, &cli.IntFlag{Name: "parallel", Aliases: []string{"j"}, Value: 1, Usage: "sessions decoded at once, each with -t threads"}},

		// bench
		{cmdBench, &cli.StringFlag{Name: "n-prompt", Aliases: []string{"p"}, Value: "512", Usage: "prompt sizes, comma-separated (0 = none)"}},
		{cmdBench, &cli.StringFlag{Name: "n-gen", Aliases: []string{"n"}, Value: "128", Usage: "generation sizes (0 = none)"}},
		{cmdBench, &cli.StringFlag{Name: "n-depth", Aliases: []string{"d"}, Value: "0", Usage: "context depths"}},
		{cmdBench, &cli.IntFlag{Name: "repetitions", Aliases: []string{"r"}, Value: 5}},
		{cmdBench, &cli.StringFlag{Name: "modes", Value: "full,h2o", Usage: "policies: full, h2o, window, sink, tova, knorm, keydiff"}},
		{cmdBench, &cli.StringFlag{Name: "budgets", Value: "2048", Usage: "cache budgets B for evicting modes"}},
		{cmdBench, &cli.Float64Flag{Name: "heavy-ratio", Value: 0.5, Usage: "h2o heavy hitters as a share of the budget: H = ratio*B, rounded"}},
		{cmdBench, &cli.BoolFlag{Name: "rolling", Value: true, Usage: "position rolling for evicting modes"}},
		{cmdBench, &cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "md", Usage: "md or json"}},
		{cmdBench, &cli.StringFlag{Name: "note", Value: "", Usage: "a line printed under the table (e.g. 'random weights: speed only')"}},
		{cmdBench, &cli.BoolFlag{Name: "scores", Usage: "also collect attention scores in modes that do not need them (measures the patch's cost)"}},
		{cmdBench, &cli.BoolFlag{Name: "profile-ops", Usage: "with --parallel: time every graph node of the decode steps and print where a step's time goes (each node then runs alone and is waited for: slower, not a speed measurement)"}},
		{cmdBench, &cli.StringFlag{Name: "parallel", Aliases: []string{"np"}, Usage: "batched throughput instead: N sequences (list, and/or auto = as many as fit in memory) each read a prompt of -p tokens, then generate -n tokens together"}},

		// serve and chat
		{cmdServe | cmdChat, &cli.StringFlag{Name: "chat-template", Usage: "chat template `NAME` instead of the model's tokenizer.chat_template (chatml, llama2, llama3, mistral-v7, ...: llama.cpp's built-in names)"}},
		{cmdServe, &cli.StringFlag{Name: "host", Value: "127.0.0.1", Usage: "address to listen on"}},
		{cmdServe, &cli.IntFlag{Name: "port", Value: 8080, Usage: "port to listen on (0 = any free port)"}},
		{cmdServe, &cli.StringFlag{Name: "parallel", Aliases: []string{"np"}, Value: "4", Usage: "sequences decoded at once (`N` or auto = as many as fit in memory); each has the KV cells of -c or budget + chunk"}},
		{cmdServe, &cli.IntFlag{Name: "queue", Value: 64, Usage: "requests waiting for a free sequence at most (beyond: 503 with Retry-After)"}},
		{cmdServe, &cli.Int64Flag{Name: "max-body", Value: 4 << 20, Usage: "request body limit in bytes (beyond: 413)"}},
		{cmdServe, &cli.DurationFlag{Name: "drain-timeout", Value: 30 * time.Second, Usage: "on SIGTERM/SIGINT, time for running requests to finish before they are ended"}},
		{cmdChat, &cli.StringFlag{Name: "system", Usage: "system message opening the conversation"}},
		{cmdServeBench, &cli.StringFlag{Name: "concurrency", Value: "1,2,4,8,16", Usage: "clients at once, comma-separated: one table row each"}},
		{cmdServeBench, &cli.StringFlag{Name: "parallel", Aliases: []string{"np"}, Usage: "server sequences (`N` or auto; default: the largest --concurrency)"}},
		{cmdServeBench, &cli.IntFlag{Name: "requests", Value: 4, Usage: "streamed completions each client sends, one after the other"}},
		{cmdServeBench, &cli.IntFlag{Name: "n-prompt", Aliases: []string{"p"}, Value: 256, Usage: "prompt tokens of each request"}},
		{cmdServeBench, &cli.IntFlag{Name: "n-gen", Aliases: []string{"n"}, Value: 128, Usage: "tokens generated by each request (EOS ignored)"}},
		{cmdServeBench, &cli.StringFlag{Name: "input-path", Usage: "text `FILE` or directory the prompts are cut from (default ../shared/" + defaultTextDir + ")"}},

		// gguf random
		{cmdGGUFRandom, &cli.StringFlag{Name: "preset", Value: "tiny", Usage: "shape: " + strings.Join(gguf.PresetNames(), ", ")}},
		{cmdGGUFRandom, &cli.StringFlag{Name: "type", Value: "q4_0", Usage: "weight type: f32, f16, q8_0, q4_0"}},
		{cmdGGUFRandom, &cli.StringFlag{Name: "output", Aliases: []string{"o"}, Required: true, Usage: "output `FILE`"}},
		{cmdGGUFRandom, &cli.Int64Flag{Name: "seed", Value: 1}},
		{cmdGGUFRandom, &cli.IntFlag{Name: "layers", Usage: "override the number of layers"}},
		{cmdGGUFRandom, &cli.IntFlag{Name: "ctx", Usage: "override the trained context length"}},

		// gguf convert
		{cmdGGUFConvert, &cli.StringFlag{Name: "type", Required: true, Usage: "weight type of the output: " + strings.Join(binding.ConvertTypeNames(), ", ")}},
		{cmdGGUFConvert, &cli.IntFlag{Name: "threads", Aliases: []string{"t"}, Usage: "CPU threads (default: all CPUs)"}},
	}
}

// valueRange bounds a numeric flag's value (inclusive).
type valueRange struct {
	min, max float64
	want     string // what the message asks for
}

var (
	nonNegative = valueRange{0, math.Inf(1), "0 or more"}
	positive    = valueRange{1, math.Inf(1), "1 or more"}
	unitRange   = valueRange{0, 1, "from 0 to 1"}
)

// flagRanges bounds every numeric flag of the table, by name: a name means
// one quantity in every command that has it. TestEveryNumericFlagHasARange
// keeps the map complete.
var flagRanges = map[string]valueRange{
	"n-gpu-layers": nonNegative, "ctx-size": nonNegative, "threads": nonNegative, "main-gpu": nonNegative,
	"batch-size": nonNegative, "ubatch-size": nonNegative,
	"num_heavy_hitter_tokens": {-1, math.Inf(1), "a number of tokens, or -1 for half the budget"},
	"num_window_length":       positive,
	"sink-tokens":             nonNegative, "recent": nonNegative, "recent-share": unitRange,
	"n-predict": {-1, math.Inf(1), "a number of tokens, or -1 for until EOS or Ctrl-C"},
	"temp":      nonNegative, "temperature": nonNegative, "top-p": unitRange,
	"seed": {math.Inf(-1), math.Inf(1), ""},
	"top":  nonNegative, "max-gen-len": positive, "loop": positive,
	"sample_num": nonNegative, "shots": nonNegative, "max-tokens": nonNegative, "top-logprobs": {0, 20, "from 0 to 20"},
	"docs": nonNegative, "min-tokens": nonNegative, "chunk-size": nonNegative, "parallel": positive,
	"repetitions": positive, "heavy-ratio": {0, 0.999999, "0 <= ratio < 1"},
	"layers": nonNegative, "ctx": nonNegative, "prompt-tokens": nonNegative,
	// serve and serve-bench
	"port": {0, 65535, "a port from 0 (any free one) to 65535"}, "queue": nonNegative, "max-body": positive,
	"requests": positive, "n-prompt": nonNegative, "n-gen": nonNegative,
}

// checkRanges refuses a numeric flag of c outside its range.
func checkRanges(c *cli.Context) error {
	for _, f := range c.Command.Flags {
		name := f.Names()[0]
		var v float64
		switch x := c.Value(name).(type) {
		case int:
			v = float64(x)
		case int64:
			v = float64(x)
		case uint64:
			v = float64(x)
		case float64:
			v = x
		default:
			continue
		}
		r, ok := flagRanges[name]
		if !ok {
			continue // TestEveryNumericFlagHasARange fails
		}
		if math.IsNaN(v) || v < r.min || v > r.max {
			return fmt.Errorf("--%s %v: want %s", name, c.Value(name), r.want)
		}
	}
	return nil
}

// heavyFlag is --num_heavy_hitter_tokens with a command's default H (0: none).
func heavyFlag(def int, note string) cli.Flag {
	return &cli.IntFlag{Name: "num_heavy_hitter_tokens", Aliases: []string{"num-heavy-hitter-tokens", "heavy"}, Value: def,
		Usage: "heavy hitters H (-1 = half the window; with --recent or --recent-share, H + R must equal B" + note + ")"}
}

// budgetFlag is --num_window_length with a command's default B.
func budgetFlag(def int) cli.Flag {
	return &cli.IntFlag{Name: "num_window_length", Aliases: []string{"num-window-length", "budget", "B"}, Value: def, Usage: "cache budget B in tokens (heavy hitters + recent)"}
}

// policyDefaultText says which policy a command uses without --mode.
const policyDefaultText = "run: h2o, ppl: --policies, stream and summarize: full"

// policyAsked reports whether --mode or --enable_h2o_generation names the policy.
func policyAsked(c *cli.Context) bool {
	return c.IsSet("mode") || c.Bool("enable_h2o_generation")
}

// askedPolicy is the policy of --mode and --enable_h2o_generation, else def.
func askedPolicy(c *cli.Context, def h2o.Policy) (h2o.Policy, error) {
	mode := c.String("mode")
	switch {
	case mode == "" && c.Bool("enable_h2o_generation"):
		return h2o.H2O, nil
	case mode == "":
		return def, nil
	}
	p, err := h2o.ParsePolicy(mode)
	if err == nil && c.Bool("enable_h2o_generation") && p != h2o.H2O {
		err = fmt.Errorf("--enable_h2o_generation contradicts --mode %s", mode)
	}
	return p, err
}

// splitAsked reports whether a flag gives the h2o split or the recent window.
func splitAsked(c *cli.Context) bool {
	return c.IsSet("num_heavy_hitter_tokens") || c.IsSet("recent") || c.IsSet("recent-share")
}

// policyRequest is what the policy flags ask of policy p, exactly: a size is
// in the request only when its flag is given, except that h2o without any
// split flag takes the command's default heavy hitters. rolling is the
// command's default for --enable_position_rolling. Score rule, aggregation
// and granularity are left to the caller (ppl takes lists of them).
func policyRequest(c *cli.Context, p h2o.Policy, rolling bool) (h2o.Config, error) {
	req := h2o.Config{Policy: p, Budget: c.Int("num_window_length"), SinkTokens: c.Int("sink-tokens"), Rolling: rolling}
	if c.IsSet("enable_position_rolling") {
		req.Rolling = c.Bool("enable_position_rolling")
	}
	if c.IsSet("recent-share") {
		if req.RecentShare = c.Float64("recent-share"); req.RecentShare == 0 {
			return req, errors.New("--recent-share 0: want 0 < F < 1")
		}
	}
	if c.IsSet("recent") {
		req.Recent = c.Int("recent")
	}
	if c.IsSet("num_heavy_hitter_tokens") || (p == h2o.H2O && !splitAsked(c)) {
		req.HeavyHitters = c.Int("num_heavy_hitter_tokens")
	}
	return req, nil
}

// withScoring adds the single-valued --h2o-score, --h2o-aggregate,
// --granularity and --prefill-score; tova takes its own score rule and
// aggregation unless they are given.
func withScoring(c *cli.Context, req h2o.Config) (h2o.Config, error) {
	var err error
	if req.Prompt, err = h2o.ParsePromptRule(c.String("prefill-score")); err != nil {
		return req, err
	}
	tova := req.Policy == h2o.TOVA
	if !tova || c.IsSet("h2o-score") {
		if req.Score, err = h2o.ParseScoreRule(c.String("h2o-score")); err != nil {
			return req, err
		}
	}
	if !tova || c.IsSet("h2o-aggregate") {
		if req.Aggregate, err = h2o.ParseAggregate(c.String("h2o-aggregate")); err != nil {
			return req, err
		}
	}
	req.Granularity, err = h2o.ParseGranularity(c.String("granularity"))
	return req, err
}

// generationRequest is the policy of a generating command: --mode's, else
// def; rolling is the default for --enable_position_rolling.
func generationRequest(c *cli.Context, def h2o.Policy, rolling bool) (h2o.Config, error) {
	p, err := askedPolicy(c, def)
	if err != nil {
		return h2o.Config{}, err
	}
	req, err := policyRequest(c, p, rolling)
	if err != nil {
		return req, err
	}
	return withScoring(c, req)
}

// generationOptions are the options of a command that generates under one
// policy (run, chat, serve): h2o unless a policy is asked, with rolling
// whenever it evicts (it generates past the trained context).
func generationOptions(c *cli.Context) (h2o.Config, session.Options, error) {
	req, err := rollingRequest(c, h2o.H2O)
	if err != nil {
		return req, session.Options{}, err
	}
	opts, err := sessionOptions(c, req)
	return req, opts, err
}

// rollingRequest is the policy of a command that generates past the trained
// context (run, stream): --mode's, else def, with rolling whenever the
// policy evicts (whichever flag names it) unless --enable_position_rolling=false.
func rollingRequest(c *cli.Context, def h2o.Policy) (h2o.Config, error) {
	p, err := askedPolicy(c, def)
	if err != nil {
		return h2o.Config{}, err
	}
	return generationRequest(c, def, p != h2o.Full)
}

// sessionOptions gathers the session options of the flags around a policy request.
func sessionOptions(c *cli.Context, policy h2o.Config) (session.Options, error) {
	o := session.Options{
		Policy: policy, Chunk: c.Int("batch-size"), NCtx: c.Int("ctx-size"),
		Threads: c.Int("threads"), FlashAttn: c.String("flash-attn"),
		TypeK: c.String("cache-type-k"), TypeV: c.String("cache-type-v"),
		KeyRotation: session.KeyRotation(c.String("k-rotation")),
		HostHeads:   c.Bool("heads-on-host"),
	}
	var err error
	if c.IsSet("prefill") {
		// unset: the session's default (full with a prompt rule)
		o.Prefill, err = session.ParsePrefillMode(c.String("prefill"))
	}
	return o, err
}

// sharedPath finds rel in ../shared beside the repository holding this
// binary, or beside the working directory.
func sharedPath(rel string) (string, bool) {
	var candidates []string
	if exe, err := os.Executable(); err == nil {
		candidates = append(candidates, filepath.Join(filepath.Dir(exe), "..", "..", "shared", rel))
	}
	candidates = append(candidates, filepath.Join("..", "shared", rel))
	for _, p := range candidates {
		if _, err := os.Stat(p); err == nil {
			return filepath.Clean(p), true
		}
	}
	return "", false
}

// resolveModelPath picks -m, else the evaluation model in ../shared/models.
func resolveModelPath(c *cli.Context) (string, error) {
	if p := c.String("model"); p != "" {
		return p, nil
	}
	if p, ok := sharedPath(filepath.Join("models", defaultModelName)); ok {
		fmt.Fprintf(os.Stderr, "h2o: no -m given: using the evaluation model %s\n", p)
		return p, nil
	}
	return "", errors.New("no model: pass a GGUF file with -m FILE (the default evaluation model ../shared/models/" + defaultModelName + " is not present)")
}

// loadModel loads the model named by the flags.
func loadModel(c *cli.Context) (*binding.Model, error) {
	level := binding.LogError
	if c.Bool("verbose") {
		level = binding.LogInfo
	}
	binding.Init(level)
	path, err := resolveModelPath(c)
	if err != nil {
		return nil, err
	}
	p, err := modelParams(c)
	if err != nil {
		return nil, err
	}
	if p.GPULayers > 0 && !binding.HasGPU() {
		fmt.Fprintf(os.Stderr, "h2o: warning: -ngl %d but no GPU was found: running on the CPU\n", p.GPULayers)
	}
	return binding.LoadModel(path, p)
}

// modelParams are the model flags: GPU layers and the split over GPUs.
func modelParams(c *cli.Context) (binding.ModelParams, error) {
	sm, err := binding.ParseSplitMode(c.String("split-mode"))
	if err != nil {
		return binding.ModelParams{}, fmt.Errorf("--split-mode: %w", err)
	}
	ts, err := parseTensorSplit(c.String("tensor-split"))
	if err != nil {
		return binding.ModelParams{}, err
	}
	return binding.ModelParams{GPULayers: c.Int("n-gpu-layers"), Split: sm, MainGPU: c.Int("main-gpu"), TensorSplit: ts}, nil
}

// parseTensorSplit reads llama.cpp's --tensor-split: shares separated by
// commas or slashes ("3,1", "3/1"), checked by binding.CheckTensorSplit.
func parseTensorSplit(s string) ([]float32, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []float32
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '/' }) {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 32)
		if err != nil {
			return nil, fmt.Errorf("--tensor-split %q: %q is not a share >= 0", s, f)
		}
		out = append(out, float32(v))
	}
	if err := binding.CheckTensorSplit(out); err != nil {
		return nil, fmt.Errorf("--tensor-split %q: %w", s, err)
	}
	return out, nil
}

// warnPastTrained tells the user when positions went past the trained context.
func warnPastTrained(m *binding.Model, st session.Stats) {
	if st.PastTrained {
		fmt.Fprintf(os.Stderr, "h2o: warning: positions went past the model's trained context (%d) without --enable_position_rolling; quality may degrade\n",
			m.Info().NCtxTrain)
	}
}

// warnRollingBudget tells the user that a rolling cache larger than the
// trained context gives positions past it: rolling bounds positions by the budget.
func warnRollingBudget(m *binding.Model, rolling bool, budget int) {
	if trained := m.Info().NCtxTrain; rolling && budget > trained {
		fmt.Fprintf(os.Stderr, "h2o: warning: budget %d with position rolling exceeds the model's trained context (%d): positions will pass it; quality may degrade\n",
			budget, trained)
	}
}

// longPrompt is the prompt length from which reading it reports progress.
const longPrompt = 4096

// feedProgress follows the reading of a long prompt on stderr, a line every
// tenth, and stops it when stop closes (see Session.SetFeedProgress).
func feedProgress(stop <-chan struct{}) func(done, total int) bool {
	step, last := 0, 0
	return func(done, total int) bool {
		if done < last { // the next prompt
			step = 0
		}
		last = done
		if total >= longPrompt {
			if k := done * 10 / total; k > step {
				step = k
				fmt.Fprintf(os.Stderr, "h2o: reading the prompt: %d/%d tokens\n", done, total)
			}
		}
		select {
		case <-stop:
			return false
		default:
			return true
		}
	}
}

// tinyModelParams: below this size one thread beats llama.cpp's thread pool,
// whose barriers dominate tiny matrices, the more so on a busy machine
// (docs/BENCHMARKS.md, docs/QUALITY.md "Threads and runtime").
const tinyModelParams = 5_000_000

// withThreadDefault is every command's thread rule: -t as given, at most
// one per CPU (more threads than CPUs spin in llama.cpp's barriers and can
// take minutes for a few tokens); without -t a tiny model runs on one
// thread and any other on all CPUs.
func withThreadDefault(c *cli.Context, m *binding.Model, opts session.Options) session.Options {
	switch n := runtime.NumCPU(); {
	case !c.IsSet("threads") && m.Info().NParams < tinyModelParams:
		opts.Threads = 1
	case opts.Threads > n:
		fmt.Fprintf(os.Stderr, "h2o: warning: -t %d is more than the %d CPUs: using %d threads\n", opts.Threads, n, n)
		opts.Threads = n
	}
	return opts
}

// openSession loads the flags' model and starts a session on it; closeAll
// frees both.
func openSession(c *cli.Context, opts session.Options) (s *session.Session, closeAll func(), err error) {
	m, err := loadModel(c)
	if err != nil {
		return nil, nil, err
	}
	s, err = session.New(m, withThreadDefault(c, m, opts))
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	pol := s.Options().Resolved()
	warnRollingBudget(m, pol.Rolling, pol.Budget)
	return s, func() { s.Close(); m.Close() }, nil
}

// parseList parses each comma-separated item of s, dropping repeats.
func parseList[T comparable](s string, parse func(string) (T, error)) ([]T, error) {
	var out []T
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := parse(f)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out, nil
}

// parseCount reads a non-negative count; a k suffix multiplies by 1024.
func parseCount(f string) (int, error) {
	lower := strings.ToLower(f)
	v, err := strconv.Atoi(strings.TrimSuffix(lower, "k"))
	if err != nil || v < 0 {
		return 0, fmt.Errorf("bad number %q", f)
	}
	if strings.HasSuffix(lower, "k") {
		v *= 1024
	}
	return v, nil
}
