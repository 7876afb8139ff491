// C helpers for the Go binding: things cgo cannot express directly
// (callbacks into llama.cpp, dladdr). No H2O policy lives here.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include "llama.h"
#include "llama-attn-scores.h"
#include "llama-kv-heads.h"
#include "llama-kv-inspect.h"
#include "ggml-backend.h"

// Route llama.cpp/ggml logs: print messages at or above min_level to stderr
// and remember the last error text so Go can put it into error values.
void h2o_log_install(int min_level);
const char * h2o_log_last_error(void);
void h2o_log_clear_error(void);

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

// Abort callback polling a flag, so a Go signal handler can stop a decode.
void h2o_set_abort_flag(struct llama_context * ctx, volatile int * flag);
