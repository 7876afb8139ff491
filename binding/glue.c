#define _GNU_SOURCE
#include "glue.h"

#include <dlfcn.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ggml.h"

static int g_min_level = GGML_LOG_LEVEL_ERROR;

// This thread's error lines since its last call below began (see glue.h).
static __thread char t_err[2048];
static __thread size_t t_err_len;
static __thread int t_cont_is_error; // GGML_LOG_LEVEL_CONT continues the last message

static void h2o_log_cb(enum ggml_log_level level, const char * text, void * user_data) {
    (void) user_data;
    if (level == GGML_LOG_LEVEL_CONT) {
        level = t_cont_is_error ? GGML_LOG_LEVEL_ERROR : GGML_LOG_LEVEL_DEBUG;
    } else {
        t_cont_is_error = level == GGML_LOG_LEVEL_ERROR;
    }
    if (level == GGML_LOG_LEVEL_ERROR) {
        // keep the first lines: the cause comes before its consequences
        size_t n = strlen(text);
        if (n > sizeof(t_err) - 1 - t_err_len) {
            n = sizeof(t_err) - 1 - t_err_len;
        }
        memcpy(t_err + t_err_len, text, n);
        t_err_len += n;
        t_err[t_err_len] = 0;
    }
    if ((int) level >= g_min_level) {
        fputs(text, stderr);
        fflush(stderr);
    }
}

void h2o_log_install(int min_level) {
    g_min_level = min_level;
    llama_log_set(h2o_log_cb, NULL);
}

static void status_begin(void) {
    t_err[0] = 0;
    t_err_len = 0;
    t_cont_is_error = 0;
}

static char * status_detail(void) {
    return t_err_len > 0 ? strdup(t_err) : NULL;
}

struct llama_model * h2o_model_load(const char * path, struct llama_model_params p, char ** detail) {
    status_begin();
    struct llama_model * m = llama_model_load_from_file(path, p);
    *detail = m ? NULL : status_detail();
    return m;
}

struct llama_context * h2o_context_new(struct llama_model * m, struct llama_context_params p, char ** detail) {
    status_begin();
    struct llama_context * c = llama_init_from_model(m, p);
    *detail = c ? NULL : status_detail();
    return c;
}

static h2o_rc status_end(int32_t rc) {
    h2o_rc r = { rc, rc != 0 ? status_detail() : NULL };
    return r;
}

h2o_rc h2o_model_quantize(const char * in, const char * out, const struct llama_model_quantize_params * p) {
    status_begin();
    return status_end((int32_t) llama_model_quantize(in, out, p));
}

h2o_rc h2o_decode(struct llama_context * ctx, struct llama_batch b) {
    status_begin();
    return status_end(llama_decode(ctx, b));
}

h2o_rc h2o_set_scores(struct llama_context * ctx, enum llama_attn_scores_mode mode) {
    status_begin();
    return status_end(llama_attn_scores_set(ctx, mode));
}

h2o_rc h2o_head_moves(struct llama_context * ctx, int32_t n,
        const int32_t * layer, const int32_t * head,
        const int32_t * src, const int32_t * dst, const int32_t * delta,
        const int32_t * shift) {
    status_begin();
    return status_end(llama_kv_head_moves(ctx, n, layer, head, src, dst, delta, shift));
}

h2o_rc h2o_head_replace_begin(struct llama_context * ctx, llama_seq_id seq, int32_t key_lo, int32_t n_recent,
        int32_t key_next, bool rank_pos, const double * sums, const int32_t * keys) {
    status_begin();
    return status_end(llama_kv_head_replace_begin(ctx, seq, key_lo, n_recent, key_next, rank_pos, sums, keys));
}

h2o_rc h2o_head_replace_end(struct llama_context * ctx, double * sums, int32_t * keys, int32_t * shift) {
    status_begin();
    return status_end(llama_kv_head_replace_end(ctx, sums, keys, shift));
}

h2o_rc h2o_key_stats(struct llama_context * ctx, enum llama_kv_key_stat stat,
        int32_t n, const int32_t * cells, float * out) {
    status_begin();
    return status_end(llama_kv_key_stats(ctx, stat, n, cells, out));
}

const char * h2o_load_backends(void) {
    static char dir[4096];
    Dl_info info;
    if (dladdr((void *) ggml_backend_load_all_from_path, &info) && info.dli_fname) {
        char tmp[4096];
        strncpy(tmp, info.dli_fname, sizeof(tmp) - 1);
        tmp[sizeof(tmp) - 1] = 0;
        strncpy(dir, dirname(tmp), sizeof(dir) - 1);
    } else {
        strcpy(dir, ".");
    }
    const char * env = getenv("H2O_BACKEND_DIR");
    if (env && *env) {
        strncpy(dir, env, sizeof(dir) - 1);
    }
    ggml_backend_load_all_from_path(dir);
    return dir;
}

h2o_capture * h2o_capture_new(const char * prefix, int n_layer, int n_head, int n_kv) {
    h2o_capture * c = calloc(1, sizeof(h2o_capture));
    if (!c) return NULL;
    strncpy(c->prefix, prefix, sizeof(c->prefix) - 1);
    c->n_layer = n_layer;
    c->n_head  = n_head;
    c->n_kv    = n_kv;
    c->sums    = calloc((size_t) n_layer*n_head*n_kv, sizeof(float));
    if (!c->sums) { free(c); return NULL; }
    return c;
}

void h2o_capture_free(h2o_capture * c) {
    if (!c) return;
    free(c->sums);
    free(c);
}

// Name format of llama.cpp graph callbacks: "<name>-<layer>".
static int capture_layer(const h2o_capture * c, const char * name) {
    size_t n = strlen(c->prefix);
    if (strncmp(name, c->prefix, n) != 0 || name[n] != '-') return -1;
    // exactly "<prefix>-<digits>": views such as "<prefix>-0 (reshaped)" are not the tensor
    const char * p = name + n + 1;
    if (*p == 0) return -1;
    for (const char * q = p; *q; ++q) {
        if (*q < '0' || *q > '9') return -1;
    }
    return atoi(p);
}

bool h2o_capture_cb(struct ggml_tensor * t, bool ask, void * user_data) {
    h2o_capture * c = user_data;
    const int il = capture_layer(c, t->name);
    if (ask) {
        return il >= 0;
    }
    if (il < 0 || il >= c->n_layer || t->type != GGML_TYPE_F32) {
        return true;
    }
    // t: [n_kv, n_tokens, n_head, n_stream], contiguous softmax output
    const int64_t n_kv = t->ne[0], n_tok = t->ne[1], n_h = t->ne[2];
    if (n_h > c->n_head || n_kv > c->n_kv || t->ne[3] != 1) {
        return true;
    }
    float * buf = malloc(ggml_nbytes(t));
    if (!buf) return false;
    ggml_backend_tensor_get(t, buf, 0, ggml_nbytes(t));
    for (int64_t h = 0; h < n_h; ++h) {
        float * dst = c->sums + ((size_t) il*c->n_head + h)*c->n_kv;
        for (int64_t i = 0; i < n_tok; ++i) {
            const float * row = buf + (h*n_tok + i)*n_kv;
            for (int64_t j = 0; j < n_kv; ++j) dst[j] += row[j];
        }
    }
    free(buf);
    c->seen++;
    if (n_kv > c->max_kv) c->max_kv = (int) n_kv;
    return true;
}

void h2o_capture_set(struct llama_context_params * p, h2o_capture * c) {
    p->cb_eval = h2o_capture_cb;
    p->cb_eval_user_data = c;
}

h2o_opprof * h2o_opprof_new(void) {
    return calloc(1, sizeof(h2o_opprof));
}

void h2o_opprof_free(h2o_opprof * p) {
    free(p);
}

static double opprof_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec*1e3 + ts.tv_nsec*1e-6;
}

// Drops layer numbers from a node name: "kq-12 (view)" -> "kq (view)",
// "cache_k_l3" -> "cache_k".
static void opprof_drop_layer(char * s) {
    char * w = s;
    for (const char * r = s; *r;) {
        const int skip = r[0] == '-' ? 1 : (r[0] == '_' && r[1] == 'l') ? 2 : 0; // "-12", "_l3"
        if (skip && r[skip] >= '0' && r[skip] <= '9') {
            r += skip;
            while (*r >= '0' && *r <= '9') r++;
            continue;
        }
        *w++ = *r++;
    }
    *w = 0;
}

static bool h2o_opprof_cb(struct ggml_tensor * t, bool ask, void * user_data) {
    h2o_opprof * p = user_data;
    if (ask) {
        p->t0 = opprof_now_ms(); // the scheduler computes this node alone next
        return true;
    }
    const double ms = opprof_now_ms() - p->t0;
    char key[64];
    switch (t->op) {
    case GGML_OP_NONE: case GGML_OP_VIEW: case GGML_OP_RESHAPE: case GGML_OP_PERMUTE: case GGML_OP_TRANSPOSE:
        snprintf(key, sizeof(key), "(views: no compute)");
        break;
    default:
        // unnamed nodes ("node_123") group by op alone
        snprintf(key, sizeof(key), "%s %s", ggml_op_desc(t), strncmp(t->name, "node_", 5) == 0 ? "" : t->name);
        opprof_drop_layer(key);
    }
    for (int i = 0; i < p->n; ++i) {
        if (strcmp(p->e[i].key, key) == 0) {
            p->e[i].ms += ms;
            p->e[i].count++;
            return true;
        }
    }
    h2o_opprof_entry * e = &p->e[p->n < H2O_OPPROF_MAX ? p->n++ : H2O_OPPROF_MAX - 1];
    if (e->count == 0) {
        strncpy(e->key, key, sizeof(e->key) - 1);
    } else {
        snprintf(e->key, sizeof(e->key), "(other kinds: table full)"); // the last slot takes the rest
    }
    e->ms += ms;
    e->count++;
    return true;
}

void h2o_opprof_set(struct llama_context_params * cp, h2o_opprof * p) {
    cp->cb_eval = h2o_opprof_cb;
    cp->cb_eval_user_data = p;
}

static bool h2o_abort_cb(void * data) {
    return __atomic_load_n((int *) data, __ATOMIC_RELAXED) != 0;
}

void h2o_set_abort_flag(struct llama_context * ctx, int * flag) {
    llama_set_abort_callback(ctx, flag ? h2o_abort_cb : NULL, (void *) flag);
}

void h2o_abort_store(int * flag, int v) {
    __atomic_store_n(flag, v, __ATOMIC_RELAXED);
}

h2o_scores_view h2o_get_scores(struct llama_context * ctx) {
    h2o_scores_view v = {0};
    v.data = llama_attn_scores_get(ctx, &v.n_kv, &v.n_head, &v.n_cells);
    return v;
}
