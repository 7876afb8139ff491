// C helpers for the Go binding: things cgo cannot express directly
// (callbacks into llama.cpp, dladdr). No H2O policy lives here.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include "llama.h"
#include "llama-attn-scores.h"
#include "llama-kv-head-replace.h"
#include "llama-kv-heads.h"
#include "llama-kv-inspect.h"
#include "llama-kv-key-stats.h"
#include "llama-output-argmax.h"
#include "llama-kv-rotation.h"
#include "ggml-backend.h"

// Route llama.cpp/ggml logs: print messages at or above min_level to stderr
// and collect the error lines of the calls below.
void h2o_log_install(int min_level);

// Errors per call. The log callback appends the error lines it is given to a
// buffer of the thread it runs on; each call below clears that buffer, makes
// its llama.cpp call and, when the call failed, hands out a malloc'd copy of
// the lines logged meanwhile (NULL when none; the caller frees it), all
// within one C call and so on one OS thread (successive cgo calls of a
// goroutine may run on different threads). Concurrent calls on different
// threads never see each other's lines.
typedef struct h2o_rc {
    int32_t rc;     // the llama.cpp function's result; 0 = success
    char * detail;  // on failure: the error lines, or NULL
} h2o_rc;

struct llama_model * h2o_model_load(const char * path, struct llama_model_params p, char ** detail);
struct llama_context * h2o_context_new(struct llama_model * m, struct llama_context_params p, char ** detail);
h2o_rc h2o_decode(struct llama_context * ctx, struct llama_batch b);
h2o_rc h2o_set_scores(struct llama_context * ctx, enum llama_attn_scores_mode mode);
h2o_rc h2o_head_replace_begin(struct llama_context * ctx, llama_seq_id seq, int32_t key_lo, int32_t n_recent,
        int32_t key_next, bool rank_pos, const double * sums, const int32_t * keys);
h2o_rc h2o_head_replace_end(struct llama_context * ctx, double * sums, int32_t * keys, int32_t * shift);
h2o_rc h2o_head_moves(struct llama_context * ctx, int32_t n,
        const int32_t * layer, const int32_t * head,
        const int32_t * src, const int32_t * dst, const int32_t * delta,
        const int32_t * shift);
h2o_rc h2o_key_stats(struct llama_context * ctx, enum llama_kv_key_stat stat,
        int32_t n, const int32_t * cells, float * out);
h2o_rc h2o_model_quantize(const char * in, const char * out, const struct llama_model_quantize_params * p);

// Load the runtime backends (CPU, CUDA, ...) that sit next to libggml.
// Returns the directory searched.
const char * h2o_load_backends(void);

// Eval-callback capture of the row sums of one named tensor per layer
// (e.g. "kq_soft_max"): for tests that check the patch against llama.cpp's own
// softmax. sums[(il*n_head + h)*n_kv + kv] accumulates over query rows.
typedef struct h2o_capture {
    char   prefix[64];
    int    n_layer;
    int    n_head;   // heads as found in the tensor (query heads)
    int    n_kv;     // width of the buffer
    float *sums;     // owned; n_layer*n_head*n_kv
    int    seen;     // tensors captured
    int    max_kv;   // widest n_kv seen
} h2o_capture;

h2o_capture * h2o_capture_new(const char * prefix, int n_layer, int n_head, int n_kv);
void h2o_capture_free(h2o_capture * c);
bool h2o_capture_cb(struct ggml_tensor * t, bool ask, void * user_data);
void h2o_capture_set(struct llama_context_params * p, h2o_capture * c);

// Eval-callback timing of every graph node: each node is computed alone and
// waited for, so a node's time is its kernel plus one launch and sync. Nodes
// are grouped by "<op> <tensor name without the layer suffix>".
#define H2O_OPPROF_MAX 512
typedef struct h2o_opprof_entry {
    char    key[64];
    double  ms;
    int64_t count;
} h2o_opprof_entry;
typedef struct h2o_opprof {
    h2o_opprof_entry e[H2O_OPPROF_MAX];
    int    n;
    double t0; // when the node being computed was asked for
} h2o_opprof;

h2o_opprof * h2o_opprof_new(void);
void h2o_opprof_free(h2o_opprof * p);
void h2o_opprof_set(struct llama_context_params * cp, h2o_opprof * p);

// llama_attn_scores_get as one value (no Go pointers to pass).
typedef struct h2o_scores_view {
    const float * data;
    int32_t n_kv, n_head, n_cells;
} h2o_scores_view;
h2o_scores_view h2o_get_scores(struct llama_context * ctx);

// Abort callback polling *flag (the CPU backend asks between graph nodes):
// a nonzero flag stops the running decode, which then returns 2.
void h2o_set_abort_flag(struct llama_context * ctx, int * flag);
void h2o_abort_store(int * flag, int v);
