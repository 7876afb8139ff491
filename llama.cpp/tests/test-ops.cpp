// Backend test of the ggml ops our patches add, in the manner of llama.cpp's
// test-backend-ops: each case runs on every backend found (the CPU always,
// CUDA where it is loaded) on the same random inputs, and each result is
// compared with a plain double-precision reference computed here, and every
// GPU result with the CPU's.
//
//   soft_max_col_sum           (patch: ggml ops for attention column sums),
//                              with and without the rows' statistics given
//   flash_attn_ext + logits    (patch: flash attention logits side output),
//                              the logits and the rows' softmax statistics
//                              written to ggml_empty_4d tensors
//   rope over narrow rows      (patch: ggml-cuda RoPE blocks of several rows),
//                              the many rows of 64 pairs a rotation of the
//                              cached keys reads, and rows of other widths
//   rope -> flash_attn_ext     (patch: ggml-cuda flash attention rotates the
//                              keys it reads), one kernel on CUDA where it
//                              qualifies, a RoPE pass where it does not
//   cpy quantized -> f32       (patch: ggml-cuda contiguous dequantizing
//                              copies), the cast of a quantized K view
//   sum_argmin_move            (patch: ggml sum_argmin_move op), many steps
//                              of running sums with ties, empty entries and
//                              columns where nothing qualifies, exactly, with
//                              and without the shifts that follow the ranks
//
// Usage: test-ops [-v]. Exit status 0 when every case agrees.
#include "ggml.h"
#include "ggml-alloc.h"
#include "ggml-backend.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits.h>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

bool verbose = false;
int  n_ok    = 0;
int  n_bad   = 0;

struct backend {
    std::string     name;
    ggml_backend_t  b;
    bool            is_cpu;
};

// The largest absolute difference, and whether -INF agrees with -INF.
double max_diff(const std::vector<float> & a, const std::vector<double> & ref) {
    double d = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        if (std::isinf(ref[i]) || std::isinf(a[i])) {
            if (!(std::isinf(ref[i]) && std::isinf(a[i]) && (ref[i] < 0) == (a[i] < 0))) {
                return INFINITY;
            }
            continue;
        }
        if (std::isnan(a[i])) {
            return INFINITY;
        }
        d = std::max(d, std::fabs(a[i] - ref[i]));
    }
    return d;
}

std::vector<double> to_double(const std::vector<float> & a) {
    return std::vector<double>(a.begin(), a.end());
}

void report(const std::string & what, const std::string & pair, double diff, double tol) {
    const bool ok = diff <= tol;
    ok ? ++n_ok : ++n_bad;
    if (verbose || !ok) {
        printf("%-4s %-58s %-12s max diff %.3g (tolerance %.3g)\n", ok ? "ok" : "BAD", what.c_str(), pair.c_str(), diff, tol);
    }
}

// A graph built in its own context, with its inputs set from host data.
struct graph_run {
    ggml_context * ctx = nullptr;
    ggml_backend_buffer_t buf = nullptr;
    ~graph_run() {
        if (buf) ggml_backend_buffer_free(buf);
        if (ctx) ggml_free(ctx);
    }
};

ggml_context * new_ctx() {
    ggml_init_params p = { 64*ggml_tensor_overhead() + ggml_graph_overhead(), nullptr, true };
    return ggml_init(p);
}

// f32 or f16 tensors, from and to f32 host data.
void set_f32(ggml_tensor * t, const std::vector<float> & v) {
    if (t->type == GGML_TYPE_F32) {
        ggml_backend_tensor_set(t, v.data(), 0, v.size()*sizeof(float));
        return;
    }
    std::vector<ggml_fp16_t> h(v.size());
    ggml_fp32_to_fp16_row(v.data(), h.data(), (int64_t) v.size());
    ggml_backend_tensor_set(t, h.data(), 0, h.size()*sizeof(ggml_fp16_t));
}

std::vector<float> get_f32(const ggml_tensor * t) {
    std::vector<float> v(ggml_nelements(t));
    if (t->type == GGML_TYPE_F32) {
        ggml_backend_tensor_get(t, v.data(), 0, v.size()*sizeof(float));
        return v;
    }
    std::vector<ggml_fp16_t> h(v.size());
    ggml_backend_tensor_get(t, h.data(), 0, h.size()*sizeof(ggml_fp16_t));
    ggml_fp16_to_fp32_row(h.data(), v.data(), (int64_t) v.size());
    return v;
}

// Values as the backend sees them after rounding to f16.
std::vector<float> round_f16(const std::vector<float> & v) {
    std::vector<ggml_fp16_t> h(v.size());
    std::vector<float> r(v.size());
    ggml_fp32_to_fp16_row(v.data(), h.data(), (int64_t) v.size());
    ggml_fp16_to_fp32_row(h.data(), r.data(), (int64_t) v.size());
    return r;
}

// Each row's log-sum-exp from softmax statistics (reference r, sum of
// exp(x - r)): what two kernels with different references must agree on.
// -INF for a fully masked row (sum 0).
std::vector<float> stats_lse(const std::vector<float> & st) {
    std::vector<float> lse(st.size()/2);
    for (size_t i = 0; i < lse.size(); ++i) {
        lse[i] = st[2*i + 1] == 0.0f ? -INFINITY : st[2*i] + std::log(st[2*i + 1]);
    }
    return lse;
}

// The log-sum-exp of each row of n logits.
std::vector<double> ref_lse(const std::vector<double> & x, int64_t n) {
    std::vector<double> lse(x.size()/n);
    for (size_t r = 0; r < lse.size(); ++r) {
        const double * row = x.data() + r*n;
        const double m = *std::max_element(row, row + n);
        if (m == -INFINITY) {
            lse[r] = -INFINITY;
            continue;
        }
        double z = 0;
        for (int64_t i = 0; i < n; ++i) z += std::exp(row[i] - m);
        lse[r] = m + std::log(z);
    }
    return lse;
}

// ---- soft_max_col_sum -------------------------------------------------------

struct col_sum_case {
    int64_t n_kv, n_q, n_head, n_seq;
    int     n_grp;
    bool    with_acc;
    int     masked_tail; // last cells masked in every row
    bool    masked_row;  // one row of each sequence fully masked
};

std::vector<double> col_sum_ref(const col_sum_case & c, const std::vector<float> & a, const std::vector<float> & acc) {
    const int64_t n_out = c.n_head/c.n_grp;
    std::vector<double> out((size_t) c.n_kv*n_out*c.n_seq, 0.0);
    for (int64_t s = 0; s < c.n_seq; ++s) {
        for (int64_t h = 0; h < c.n_head; ++h) {
            for (int64_t q = 0; q < c.n_q; ++q) {
                const float * x = a.data() + ((s*c.n_head + h)*c.n_q + q)*c.n_kv;
                double m = -INFINITY;
                for (int64_t i = 0; i < c.n_kv; ++i) m = std::max(m, (double) x[i]);
                if (m == -INFINITY) continue;
                double z = 0;
                for (int64_t i = 0; i < c.n_kv; ++i) z += std::exp(x[i] - m);
                double * o = out.data() + (s*n_out + h/c.n_grp)*c.n_kv;
                for (int64_t i = 0; i < c.n_kv; ++i) o[i] += std::exp(x[i] - m)/z;
            }
        }
    }
    if (!acc.empty()) {
        for (size_t i = 0; i < out.size(); ++i) out[i] += acc[i];
    }
    return out;
}

// Row statistics as a kernel that computed the logits gives them: a
// reference above the row's max (it need not be the max) and the sum of
// exp(x - reference); a fully masked row gets a sum of 0 and the reference
// either backend's flash attention leaves (-INF on the CPU, -FLT_MAX/2 on CUDA).
std::vector<float> col_sum_stats(const col_sum_case & c, const std::vector<float> & a) {
    const int64_t n_rows = c.n_q*c.n_head*c.n_seq;
    std::vector<float> st(2*n_rows);
    for (int64_t r = 0; r < n_rows; ++r) {
        const float * x = a.data() + r*c.n_kv;
        const float m = *std::max_element(x, x + c.n_kv);
        if (m == -INFINITY) {
            st[2*r]     = r % 2 ? -INFINITY : -FLT_MAX/2;
            st[2*r + 1] = 0.0f;
            continue;
        }
        const double ref = m + 2.5;
        double z = 0;
        for (int64_t i = 0; i < c.n_kv; ++i) z += std::exp(x[i] - ref);
        st[2*r]     = (float) ref;
        st[2*r + 1] = (float) z;
    }
    return st;
}

std::vector<float> col_sum_run(ggml_backend_t b, const col_sum_case & c, const std::vector<float> & a_h,
        const std::vector<float> & acc_h, const std::vector<float> * stats_h, bool * supported) {
    graph_run g;
    g.ctx = new_ctx();
    ggml_tensor * a   = ggml_new_tensor_4d(g.ctx, GGML_TYPE_F32, c.n_kv, c.n_q, c.n_head, c.n_seq);
    ggml_tensor * acc = c.with_acc ? ggml_new_tensor_4d(g.ctx, GGML_TYPE_F32, c.n_kv, 1, c.n_head/c.n_grp, c.n_seq) : nullptr;
    ggml_tensor * st  = stats_h ? ggml_new_tensor_4d(g.ctx, GGML_TYPE_F32, 2, c.n_q, c.n_head, c.n_seq) : nullptr;
    ggml_tensor * out = ggml_soft_max_col_sum(g.ctx, a, st, acc, c.n_grp);
    *supported = ggml_backend_supports_op(b, out);
    if (!*supported) {
        return {};
    }
    ggml_cgraph * gf = ggml_new_graph(g.ctx);
    ggml_build_forward_expand(gf, out);
    g.buf = ggml_backend_alloc_ctx_tensors(g.ctx, b);
    set_f32(a, a_h);
    if (acc) set_f32(acc, acc_h);
    if (st) set_f32(st, *stats_h);
    if (ggml_backend_graph_compute(b, gf) != GGML_STATUS_SUCCESS) {
        *supported = false;
        return {};
    }
    return get_f32(out);
}

void test_col_sum(const std::vector<backend> & bs, std::mt19937 & rng) {
    const col_sum_case cases[] = {
        {256, 1, 32, 1, 32, false, 0,   false}, // a decode step, every head summed
        {256, 1, 32, 3,  4, true,  64,  false}, // GQA groups of 4, a running total, a masked tail
        {896, 1, 32, 2, 32, true,  200, true }, // a stream of 896 cells, a fully masked row
        {300, 7,  8, 2,  1, false, 0,   true }, // several queries, no grouping, odd width
        {128, 3,  4, 1,  2, true,  127, false}, // only the first cell unmasked
        {2304, 1, 32, 1, 32, true, 256, false}, // a 7B decode step: one group, nine blocks of cells
        {896, 1, 32, 64, 32, true, 77,  true }, // 64 streams of 896 cells
        {300, 7, 32, 1, 32, true,  0,   true }, // 224 rows a group: several tiles of row statistics
        {301, 2,  8, 2,  4, false, 45,  true }, // a width that is not a multiple of 4 (scalar loads)
    };
    std::uniform_real_distribution<float> u(-8.0f, 8.0f);
    for (const auto & c : cases) {
        std::vector<float> a((size_t) c.n_kv*c.n_q*c.n_head*c.n_seq);
        for (auto & x : a) x = u(rng);
        for (int64_t r = 0; r < c.n_q*c.n_head*c.n_seq; ++r) {
            float * x = a.data() + r*c.n_kv;
            for (int64_t i = c.n_kv - c.masked_tail; i < c.n_kv; ++i) x[i] = -INFINITY;
            if (c.masked_row && r % (c.n_q*c.n_head) == 1) {
                std::fill(x, x + c.n_kv, -INFINITY);
            }
        }
        std::vector<float> acc;
        if (c.with_acc) {
            acc.resize((size_t) c.n_kv*(c.n_head/c.n_grp)*c.n_seq);
            for (auto & x : acc) x = std::fabs(u(rng));
        }
        const auto ref   = col_sum_ref(c, a, acc);
        const auto stats = col_sum_stats(c, a);
        for (const bool given : {false, true}) {
            char what[128];
            snprintf(what, sizeof what, "soft_max_col_sum [%lld,%lld,%lld,%lld] grp %d%s%s",
                     (long long) c.n_kv, (long long) c.n_q, (long long) c.n_head, (long long) c.n_seq, c.n_grp,
                     c.with_acc ? " +acc" : "", given ? " +stats" : "");
            std::vector<float> cpu;
            for (const auto & be : bs) {
                bool sup = false;
                const auto got = col_sum_run(be.b, c, a, acc, given ? &stats : nullptr, &sup);
                if (!sup) {
                    report(what, be.name + " support", INFINITY, 0);
                    continue;
                }
                report(what, be.name + " vs ref", max_diff(got, ref), 1e-4);
                if (be.is_cpu) {
                    cpu = got;
                } else if (!cpu.empty()) {
                    report(what, be.name + " vs CPU", max_diff(got, to_double(cpu)), 1e-4);
                }
            }
        }
    }
}

// ---- flash attention with the logits side output ---------------------------

struct fa_case {
    int64_t D, n_kv, n_q, n_head, n_head_kv, n_seq;
    int     masked_tail; // cells masked at the end of every sequence's stream
};

struct fa_result {
    std::vector<float> out, logits, stats;
};

fa_result fa_run(ggml_backend_t b, const fa_case & c, const std::vector<float> & q_h, const std::vector<float> & k_h,
        const std::vector<float> & v_h, const std::vector<float> & m_h, float scale, bool * supported) {
    graph_run g;
    g.ctx = new_ctx();
    ggml_tensor * q = ggml_new_tensor_4d(g.ctx, GGML_TYPE_F32, c.D, c.n_q, c.n_head, c.n_seq);
    ggml_tensor * k = ggml_new_tensor_4d(g.ctx, GGML_TYPE_F16, c.D, c.n_kv, c.n_head_kv, c.n_seq);
    ggml_tensor * v = ggml_new_tensor_4d(g.ctx, GGML_TYPE_F16, c.D, c.n_kv, c.n_head_kv, c.n_seq);
    ggml_tensor * m = ggml_new_tensor_4d(g.ctx, GGML_TYPE_F16, c.n_kv, c.n_q, 1, c.n_seq);
    ggml_tensor * fa = ggml_flash_attn_ext(g.ctx, q, k, v, m, scale, 0.0f, 0.0f);
    ggml_flash_attn_ext_set_prec(fa, GGML_PREC_F32);
    ggml_tensor * logits = ggml_empty_4d(g.ctx, q, GGML_TYPE_F32, c.n_kv, c.n_q, c.n_head, c.n_seq);
    ggml_tensor * stats  = ggml_empty_4d(g.ctx, q, GGML_TYPE_F32, 2, c.n_q, c.n_head, c.n_seq);
    ggml_flash_attn_ext_set_logits(fa, logits, stats);
    *supported = ggml_backend_supports_op(b, fa) && ggml_backend_supports_op(b, logits);
    if (!*supported) {
        return {};
    }
    ggml_cgraph * gf = ggml_new_graph(g.ctx);
    ggml_build_forward_expand(gf, fa);
    g.buf = ggml_backend_alloc_ctx_tensors(g.ctx, b);
    // garbage in the output, so that a cell the kernel fails to write shows
    set_f32(logits, std::vector<float>(ggml_nelements(logits), 12345.0f));
    set_f32(stats, std::vector<float>(ggml_nelements(stats), 12345.0f));
    set_f32(q, q_h); set_f32(k, k_h); set_f32(v, v_h); set_f32(m, m_h);
    if (ggml_backend_graph_compute(b, gf) != GGML_STATUS_SUCCESS) {
        *supported = false;
        return {};
    }
    return { get_f32(fa), get_f32(logits), get_f32(stats) };
}

void test_fa_logits(const std::vector<backend> & bs, std::mt19937 & rng) {
    const fa_case cases[] = {
        {128, 256, 1, 32,  8, 1,   0}, // one decode, GQA 4
        {128, 896, 1, 32, 32, 3, 300}, // three streams of 896 cells, whole tiles masked at the end
        { 64, 384, 1,  8,  4, 2,  77}, // streams of 384 cells (a multiple of 128, not 256)
        {128, 1024, 1, 32, 8, 2, 300}, // streams of 1024: CUDA skips the masked tiles at the end
        {128, 256, 4,  8,  8, 1,  10}, // several queries: the CPU only
    };
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (const auto & c : cases) {
        const float scale = 1.0f/std::sqrt((float) c.D);
        std::vector<float> q((size_t) c.D*c.n_q*c.n_head*c.n_seq), k((size_t) c.D*c.n_kv*c.n_head_kv*c.n_seq), v(k.size());
        for (auto & x : q) x = u(rng);
        for (auto & x : k) x = u(rng);
        for (auto & x : v) x = u(rng);
        std::vector<float> m((size_t) c.n_kv*c.n_q*c.n_seq, 0.0f);
        for (int64_t s = 0; s < c.n_seq; ++s) {
            for (int64_t t = 0; t < c.n_q; ++t) {
                float * row = m.data() + (s*c.n_q + t)*c.n_kv;
                for (int64_t i = 0; i < c.n_kv; ++i) {
                    // a masked tail, a few holes, and a causal edge for several queries
                    if (i >= c.n_kv - c.masked_tail - s || i % 37 == 5 || i > c.n_kv - c.masked_tail - c.n_q + t) {
                        row[i] = -INFINITY;
                    }
                }
            }
        }
        // reference logits from the values the kernels read: f16 keys, f16-rounded queries
        const auto kr = round_f16(k);
        const auto qr = round_f16(q);
        std::vector<double> ref((size_t) c.n_kv*c.n_q*c.n_head*c.n_seq);
        for (int64_t s = 0; s < c.n_seq; ++s)
        for (int64_t h = 0; h < c.n_head; ++h)
        for (int64_t t = 0; t < c.n_q; ++t)
        for (int64_t i = 0; i < c.n_kv; ++i) {
            const float mv = m[(s*c.n_q + t)*c.n_kv + i];
            double & r = ref[((s*c.n_head + h)*c.n_q + t)*c.n_kv + i];
            if (mv == -INFINITY) { r = -INFINITY; continue; }
            const int64_t hk = h/(c.n_head/c.n_head_kv);
            double d = 0;
            for (int64_t e = 0; e < c.D; ++e) {
                d += (double) qr[((s*c.n_head + h)*c.n_q + t)*c.D + e]*kr[((s*c.n_head_kv + hk)*c.n_kv + i)*c.D + e];
            }
            r = d*scale + mv;
        }
        char what[128];
        snprintf(what, sizeof what, "flash_attn_ext logits D %lld [%lld kv, %lld q, %lld/%lld heads, %lld seq]",
                 (long long) c.D, (long long) c.n_kv, (long long) c.n_q, (long long) c.n_head, (long long) c.n_head_kv, (long long) c.n_seq);
        fa_result cpu;
        for (const auto & be : bs) {
            bool sup = false;
            const auto got = fa_run(be.b, c, q, k, v, m, scale, &sup);
            if (!sup) {
                // the CUDA kernels write logits only for one query per sequence
                const bool expected = !be.is_cpu && c.n_q > 1;
                if (!expected) {
                    report(what, be.name + " support", INFINITY, 0);
                } else if (verbose) {
                    printf("skip %-58s %-12s (not supported there)\n", what, be.name.c_str());
                }
                continue;
            }
            report(what, be.name + " vs ref", max_diff(got.logits, ref), 2e-3);
            // the rows' statistics: the log-sum-exp they stand for
            report(std::string(what) + " (row stats)", be.name + " vs ref", max_diff(stats_lse(got.stats), ref_lse(ref, c.n_kv)), 2e-3);
            if (be.is_cpu) {
                cpu = got;
            } else if (!cpu.logits.empty()) {
                report(what, be.name + " vs CPU", max_diff(got.logits, to_double(cpu.logits)), 2e-3);
                report(std::string(what) + " (output)", be.name + " vs CPU", max_diff(got.out, to_double(cpu.out)), 5e-3);
            }
        }
    }
}

// ---- rope over many narrow rows ---------------------------------------------

struct rope_case {
    int64_t   ne0, n_head, n_rows;
    int       mode; // 0 (NORM: pairs 2i, 2i+1) or GGML_ROPE_TYPE_NEOX (pairs i, i + ne0/2)
    ggml_type type;
};

std::vector<double> rope_ref(const rope_case & c, const std::vector<float> & x, const std::vector<int32_t> & pos, float base) {
    std::vector<double> out(x.size());
    const int64_t half = c.ne0/2;
    for (int64_t r = 0; r < c.n_rows; ++r) {
        for (int64_t h = 0; h < c.n_head; ++h) {
            const float * a = x.data() + (r*c.n_head + h)*c.ne0;
            double      * o = out.data() + (r*c.n_head + h)*c.ne0;
            for (int64_t i = 0; i < half; ++i) {
                const double theta = pos[r]*std::pow((double) base, -2.0*i/c.ne0);
                const int64_t i0 = c.mode == 0 ? 2*i : i;
                const int64_t i1 = c.mode == 0 ? 2*i + 1 : i + half;
                o[i0] = a[i0]*std::cos(theta) - a[i1]*std::sin(theta);
                o[i1] = a[i0]*std::sin(theta) + a[i1]*std::cos(theta);
            }
        }
    }
    return out;
}

std::vector<float> rope_run(ggml_backend_t b, const rope_case & c, const std::vector<float> & x_h,
        const std::vector<int32_t> & pos_h, float base, bool * supported) {
    graph_run g;
    g.ctx = new_ctx();
    ggml_tensor * x   = ggml_new_tensor_3d(g.ctx, c.type, c.ne0, c.n_head, c.n_rows);
    ggml_tensor * pos = ggml_new_tensor_1d(g.ctx, GGML_TYPE_I32, c.n_rows);
    ggml_tensor * out = ggml_rope_ext(g.ctx, x, pos, nullptr, (int) c.ne0, c.mode, 0, base, 1.0f, 0.0f, 1.0f, 0.0f, 0.0f);
    *supported = ggml_backend_supports_op(b, out);
    if (!*supported) {
        return {};
    }
    ggml_cgraph * gf = ggml_new_graph(g.ctx);
    ggml_build_forward_expand(gf, out);
    g.buf = ggml_backend_alloc_ctx_tensors(g.ctx, b);
    set_f32(x, x_h);
    ggml_backend_tensor_set(pos, pos_h.data(), 0, pos_h.size()*sizeof(int32_t));
    // garbage in the output, so that a value the kernel fails to write shows
    set_f32(out, std::vector<float>(ggml_nelements(out), 12345.0f));
    if (ggml_backend_graph_compute(b, gf) != GGML_STATUS_SUCCESS) {
        *supported = false;
        return {};
    }
    return get_f32(out);
}

void test_rope(const std::vector<backend> & bs, std::mt19937 & rng) {
    const rope_case cases[] = {
        { 128, 32, 300, 0,                   GGML_TYPE_F16}, // cached keys of a Llama head: 4 rows a block
        { 128,  8,  77, GGML_ROPE_TYPE_NEOX, GGML_TYPE_F32},
        {  64,  4,  50, GGML_ROPE_TYPE_NEOX, GGML_TYPE_F16}, // 8 rows a block
        {  80,  5,  33, 0,                   GGML_TYPE_F16}, // an odd row count: one row a block
        { 512,  2,   9, 0,                   GGML_TYPE_F32}, // a row fills a block
        {1024,  1,   3, GGML_ROPE_TYPE_NEOX, GGML_TYPE_F32}, // a row spans two blocks
    };
    const float base = 10000.0f;
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    // shifts due to a cached key are of either sign
    std::uniform_int_distribution<int32_t> p(-3000, 3000);
    for (const auto & c : cases) {
        std::vector<float> x((size_t) c.ne0*c.n_head*c.n_rows);
        for (auto & v : x) v = u(rng);
        if (c.type == GGML_TYPE_F16) x = round_f16(x);
        std::vector<int32_t> pos((size_t) c.n_rows);
        for (auto & v : pos) v = p(rng);
        const auto ref = rope_ref(c, x, pos, base);
        // the backends compute the angles in f32, each its own way (a product
        // of powers on the CPU, powf on CUDA): at positions in the thousands
        // that is up to about 1e-3; a row left unrotated or unwritten is ~1
        const double tol = 5e-3;
        char what[128];
        snprintf(what, sizeof what, "rope %s %s [%lld,%lld,%lld]", c.mode == 0 ? "norm" : "neox", ggml_type_name(c.type),
                 (long long) c.ne0, (long long) c.n_head, (long long) c.n_rows);
        std::vector<float> cpu;
        for (const auto & be : bs) {
            bool sup = false;
            const auto got = rope_run(be.b, c, x, pos, base, &sup);
            if (!sup) {
                report(what, be.name + " support", INFINITY, 0);
                continue;
            }
            report(what, be.name + " vs ref", max_diff(got, ref), tol);
            if (be.is_cpu) {
                cpu = got;
            } else if (!cpu.empty()) {
                report(what, be.name + " vs CPU", max_diff(got, to_double(cpu)), tol);
            }
        }
    }
}

// ---- flash attention over RoPE'd keys ----------------------------------------
//
// Keys rotated on read: attention's K is a RoPE of the stored keys, through a
// view and a permutation (ROPE -> VIEW -> PERMUTE -> FLASH_ATTN_EXT). CUDA
// computes the pair as one kernel that rotates the stored keys as it reads
// them, leaving the RoPE's own result unwritten; the CPU computes both ops.

struct rope_fa_case {
    int64_t D, n_kv, kv_size, n_head, n_head_kv, n_seq;
    int     mode;          // 0 (NORM) or GGML_ROPE_TYPE_NEOX
    bool    logits;        // with the logits side output
    bool    freq_factors;  // with per-pair frequency factors, freq_scale 0.5, attn_factor 1.25
    bool    second_reader; // the RoPE's result also read by another op
    bool    fused_on_gpu;  // CUDA must compute it as one kernel
    bool    head_rows;     // a position per (cell, KV head): the RoPE over rows of one head
};

struct rope_fa_result {
    std::vector<float> out, logits, stats;
    bool               rope_written = true;
};

const float rope_fa_junk = 4096.0f; // exact in f16

rope_fa_result rope_fa_run(ggml_backend_t b, const rope_fa_case & c, const std::vector<float> & q_h,
        const std::vector<float> & k_h, const std::vector<float> & v_h, const std::vector<float> & m_h,
        const std::vector<int32_t> & pos_h, const std::vector<float> & ff_h, bool * supported) {
    graph_run g;
    g.ctx = new_ctx();
    const int64_t n_rows = c.n_seq == 1 ? c.n_kv : c.kv_size*c.n_seq; // as the KV cache ropes them
    const int64_t n_hr   = c.head_rows ? c.n_head_kv : 1;             // RoPE rows per cell
    const float   freq_scale  = c.freq_factors ? 0.5f : 1.0f;
    const float   attn_factor = c.freq_factors ? 1.25f : 1.0f;
    ggml_tensor * kc  = ggml_new_tensor_3d(g.ctx, GGML_TYPE_F16, c.D, c.n_head_kv, c.kv_size*c.n_seq);
    ggml_tensor * pos = ggml_new_tensor_1d(g.ctx, GGML_TYPE_I32, n_rows*n_hr);
    ggml_tensor * ff  = c.freq_factors ? ggml_new_tensor_1d(g.ctx, GGML_TYPE_F32, c.D/2) : nullptr;
    ggml_tensor * q   = ggml_new_tensor_4d(g.ctx, GGML_TYPE_F32, c.D, 1, c.n_head, c.n_seq);
    ggml_tensor * v   = ggml_new_tensor_4d(g.ctx, GGML_TYPE_F16, c.D, c.n_kv, c.n_head_kv, c.n_seq);
    ggml_tensor * m   = ggml_new_tensor_4d(g.ctx, GGML_TYPE_F16, c.n_kv, 1, 1, c.n_seq);
    ggml_tensor * x   = ggml_view_3d(g.ctx, kc, c.D, c.n_head_kv/n_hr, n_rows*n_hr, kc->nb[1], kc->nb[2]/n_hr, 0);
    ggml_tensor * r   = ggml_rope_ext(g.ctx, x, pos, ff, (int) c.D, c.mode, 0, 10000.0f, freq_scale, 0.0f, attn_factor, 0.0f, 0.0f);
    const size_t  row = r->nb[2]*n_hr;
    ggml_tensor * kv  = ggml_view_4d(g.ctx, r, c.D, c.n_head_kv, c.n_kv, c.n_seq, r->nb[1], row,
                                     row*(c.n_seq == 1 ? c.n_kv : c.kv_size), 0);
    ggml_tensor * k   = ggml_permute(g.ctx, kv, 0, 2, 1, 3);
    ggml_tensor * fa  = ggml_flash_attn_ext(g.ctx, q, k, v, m, 1.0f/std::sqrt((float) c.D), 0.0f, 0.0f);
    ggml_flash_attn_ext_set_prec(fa, GGML_PREC_F32);
    ggml_tensor * logits = nullptr;
    ggml_tensor * stats  = nullptr;
    if (c.logits) {
        logits = ggml_empty_4d(g.ctx, q, GGML_TYPE_F32, c.n_kv, 1, c.n_head, c.n_seq);
        stats  = ggml_empty_4d(g.ctx, q, GGML_TYPE_F32, 2, 1, c.n_head, c.n_seq);
        ggml_flash_attn_ext_set_logits(fa, logits, stats);
    }
    ggml_tensor * other = c.second_reader ? ggml_cast(g.ctx, r, GGML_TYPE_F32) : nullptr;
    *supported = ggml_backend_supports_op(b, r) && ggml_backend_supports_op(b, fa) && (!logits || ggml_backend_supports_op(b, logits));
    if (!*supported) {
        return {};
    }
    ggml_cgraph * gf = ggml_new_graph(g.ctx);
    ggml_build_forward_expand(gf, fa);
    if (other) {
        ggml_build_forward_expand(gf, other);
    }
    g.buf = ggml_backend_alloc_ctx_tensors(g.ctx, b);
    set_f32(kc, k_h); set_f32(q, q_h); set_f32(v, v_h); set_f32(m, m_h);
    ggml_backend_tensor_set(pos, pos_h.data(), 0, pos_h.size()*sizeof(int32_t));
    if (ff) {
        set_f32(ff, ff_h);
    }
    // junk in the RoPE's result: a fused kernel leaves it there
    set_f32(r, std::vector<float>(ggml_nelements(r), rope_fa_junk));
    if (ggml_backend_graph_compute(b, gf) != GGML_STATUS_SUCCESS) {
        *supported = false;
        return {};
    }
    rope_fa_result res;
    res.out = get_f32(fa);
    if (logits) {
        res.logits = get_f32(logits);
        res.stats  = get_f32(stats);
    }
    const auto rv = get_f32(r);
    res.rope_written = std::any_of(rv.begin(), rv.end(), [](float y) { return y != rope_fa_junk; });
    return res;
}

void test_rope_fa(const std::vector<backend> & bs, std::mt19937 & rng) {
    const rope_fa_case cases[] = {
        // D, n_kv, kv_size, heads, kv heads, seqs, mode, logits, ff, 2nd reader, fused, head rows
        {128, 256,  384, 32,  8, 1, 0,                   true,  false, false, true,  false}, // one decode, GQA 4
        {128, 384,  512, 32, 32, 3, 0,                   true,  false, false, true,  false}, // three streams read in part
        { 64, 512,  512,  8,  4, 1, 0,                   true,  true,  false, true,  false}, // frequency factors, scales
        {128, 512,  512, 32, 32, 1, 0,                   false, false, false, false, false}, // no logits: fused where the vector kernel is chosen
        {128, 256,  256, 32,  8, 1, GGML_ROPE_TYPE_NEOX, true,  false, false, false, false}, // NEOX pairs: a RoPE pass first
        {128, 256,  256, 32,  8, 1, 0,                   true,  false, true,  false, false}, // the RoPE read twice: a RoPE pass first
        {128, 256,  384, 32,  8, 1, 0,                   true,  false, false, true,  true }, // a position per (cell, KV head)
        {128, 384,  512, 32, 32, 3, 0,                   true,  false, false, true,  true }, // per (cell, KV head), three streams
    };
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    // a cell's shift under position rolling: up to the cache size, behind
    std::uniform_int_distribution<int32_t> p(-2047, 0);
    for (const auto & c : cases) {
        const int64_t n_rows = c.n_seq == 1 ? c.n_kv : c.kv_size*c.n_seq;
        std::vector<float> q((size_t) c.D*c.n_head*c.n_seq), k((size_t) c.D*c.n_head_kv*c.kv_size*c.n_seq);
        std::vector<float> v((size_t) c.D*c.n_kv*c.n_head_kv*c.n_seq), ff((size_t) c.D/2);
        for (auto & y : q) y = u(rng);
        for (auto & y : k) y = u(rng);
        for (auto & y : v) y = u(rng);
        for (auto & y : ff) y = 1.0f + 3.0f*(u(rng) + 1.0f);
        std::vector<int32_t> pos((size_t) (n_rows*(c.head_rows ? c.n_head_kv : 1)));
        for (auto & y : pos) y = p(rng);
        std::vector<float> m((size_t) c.n_kv*c.n_seq, 0.0f);
        for (int64_t s = 0; s < c.n_seq; ++s) {
            for (int64_t i = 0; i < c.n_kv; ++i) {
                if (i % 29 == 3 || i >= c.n_kv - 5*s) m[s*c.n_kv + i] = -INFINITY;
            }
        }
        // reference logits: the f16 stored keys rotated in double, f16-rounded queries
        const auto kr = round_f16(k);
        const auto qr = round_f16(q);
        const double freq_scale  = c.freq_factors ? 0.5 : 1.0;
        const double attn_factor = c.freq_factors ? 1.25 : 1.0;
        const float  scale = 1.0f/std::sqrt((float) c.D);
        std::vector<double> ref((size_t) c.n_kv*c.n_head*c.n_seq);
        std::vector<double> kk((size_t) c.D);
        for (int64_t s = 0; s < c.n_seq; ++s)
        for (int64_t h = 0; h < c.n_head; ++h)
        for (int64_t i = 0; i < c.n_kv; ++i) {
            const float mv = m[s*c.n_kv + i];
            double & out = ref[(s*c.n_head + h)*c.n_kv + i];
            if (mv == -INFINITY) { out = -INFINITY; continue; }
            const int64_t hk   = h/(c.n_head/c.n_head_kv);
            const int64_t rrow = c.n_seq == 1 ? i : s*c.kv_size + i;
            const float * a    = kr.data() + (rrow*c.n_head_kv + hk)*c.D;
            for (int64_t e = 0; e < c.D/2; ++e) {
                const int32_t pr   = c.head_rows ? pos[rrow*c.n_head_kv + hk] : pos[rrow];
                const double theta = freq_scale*pr*std::pow(10000.0, -2.0*e/c.D)/(c.freq_factors ? ff[e] : 1.0f);
                const int64_t i0 = c.mode == 0 ? 2*e : e;
                const int64_t i1 = c.mode == 0 ? 2*e + 1 : e + c.D/2;
                kk[i0] = attn_factor*(a[i0]*std::cos(theta) - a[i1]*std::sin(theta));
                kk[i1] = attn_factor*(a[i0]*std::sin(theta) + a[i1]*std::cos(theta));
            }
            double d = 0;
            for (int64_t e = 0; e < c.D; ++e) d += (double) qr[(s*c.n_head + h)*c.D + e]*kk[e];
            out = d*scale + mv;
        }
        char what[160];
        snprintf(what, sizeof what, "rope->flash_attn_ext %s D %lld [%lld of %lld kv, %lld/%lld heads, %lld seq]%s%s%s%s",
                 c.mode == 0 ? "norm" : "neox", (long long) c.D, (long long) c.n_kv, (long long) c.kv_size,
                 (long long) c.n_head, (long long) c.n_head_kv, (long long) c.n_seq,
                 c.logits ? "" : " no logits", c.freq_factors ? " ff" : "", c.second_reader ? " 2 readers" : "",
                 c.head_rows ? " head rows" : "");
        // angles in f32 at positions in the thousands (see test_rope), keys rounded to f16 or not
        const double tol = 5e-3;
        rope_fa_result cpu;
        for (const auto & be : bs) {
            bool sup = false;
            const auto got = rope_fa_run(be.b, c, q, k, v, m, pos, ff, &sup);
            if (!sup) {
                report(what, be.name + " support", INFINITY, 0);
                continue;
            }
            if (c.logits) {
                report(what, be.name + " vs ref", max_diff(got.logits, ref), tol);
                report(std::string(what) + " (row stats)", be.name + " vs ref",
                       max_diff(stats_lse(got.stats), ref_lse(ref, c.n_kv)), tol);
            }
            if (be.is_cpu) {
                cpu = got;
                continue;
            }
            if (c.logits) {
                report(what, be.name + " vs CPU", max_diff(got.logits, to_double(cpu.logits)), tol);
            }
            report(std::string(what) + " (output)", be.name + " vs CPU", max_diff(got.out, to_double(cpu.out)), tol);
            if (c.fused_on_gpu || c.mode != 0 || c.second_reader) {
                // fused: the RoPE's result left as it was; not fused: written
                report(std::string(what) + (c.fused_on_gpu ? " (one kernel)" : " (RoPE pass)"), be.name,
                       got.rope_written == !c.fused_on_gpu ? 0.0 : INFINITY, 0);
            } else if (verbose) {
                printf("info %-58s %-12s %s\n", what, be.name.c_str(), got.rope_written ? "RoPE pass" : "one kernel");
            }
        }
    }
}

// ---- copies that dequantize -------------------------------------------------

// A quantized K cache's first rows viewed as [head size, heads, rows] and cast
// to f32, as a rotation of the cached keys reads them; and a view with a gap
// between its rows (not contiguous), which takes the element-wise copy.
struct dequant_case {
    ggml_type type;
    int64_t   D, n_head, n_rows, kv_size;
    bool      gap; // every other row: not contiguous
};

void test_cpy_dequant(const std::vector<backend> & bs, std::mt19937 & rng) {
    const dequant_case cases[] = {
        {GGML_TYPE_Q8_0, 128, 32, 2304, 4096, false}, // a 7B layer's keys at 2,304 cells
        {GGML_TYPE_Q8_0, 128,  8,  300,  512, false},
        {GGML_TYPE_Q4_0, 128,  8,  300,  512, false},
        {GGML_TYPE_Q5_1,  64,  4,  128,  256, false},
        {GGML_TYPE_Q8_0, 128,  8,  100,  512, true },
    };
    std::uniform_real_distribution<float> u(-2.0f, 2.0f);
    for (const auto & c : cases) {
        const int64_t n_embd = c.D*c.n_head;
        std::vector<float> src((size_t) n_embd*c.kv_size);
        for (auto & x : src) x = u(rng);
        std::vector<uint8_t> q(ggml_row_size(c.type, n_embd)*c.kv_size);
        ggml_quantize_chunk(c.type, src.data(), q.data(), 0, c.kv_size, n_embd, nullptr);
        // the reference: the CPU's dequantization of the rows the view reads
        const auto * tt = ggml_get_type_traits(c.type);
        std::vector<float> all(src.size());
        tt->to_float(q.data(), all.data(), (int64_t) all.size());
        std::vector<double> ref;
        for (int64_t r = 0; r < c.n_rows; ++r) {
            const int64_t row = c.gap ? 2*r : r;
            ref.insert(ref.end(), all.begin() + row*n_embd, all.begin() + (row + 1)*n_embd);
        }
        char what[128];
        snprintf(what, sizeof what, "cpy %s -> f32 [%lld, %lld, %lld]%s", ggml_type_name(c.type),
                 (long long) c.D, (long long) c.n_head, (long long) c.n_rows, c.gap ? " not contiguous" : "");
        for (const auto & be : bs) {
            graph_run g;
            g.ctx = new_ctx();
            ggml_tensor * k   = ggml_new_tensor_2d(g.ctx, c.type, n_embd, c.kv_size);
            const size_t  row = ggml_row_size(c.type, n_embd);
            ggml_tensor * v   = ggml_view_3d(g.ctx, k, c.D, c.n_head, c.n_rows, ggml_row_size(c.type, c.D), c.gap ? 2*row : row, 0);
            ggml_tensor * out = ggml_cast(g.ctx, v, GGML_TYPE_F32);
            if (!ggml_backend_supports_op(be.b, out)) {
                report(what, be.name + " support", INFINITY, 0);
                continue;
            }
            ggml_cgraph * gf = ggml_new_graph(g.ctx);
            ggml_build_forward_expand(gf, out);
            g.buf = ggml_backend_alloc_ctx_tensors(g.ctx, be.b);
            ggml_backend_tensor_set(k, q.data(), 0, q.size());
            if (ggml_backend_graph_compute(be.b, gf) != GGML_STATUS_SUCCESS) {
                report(what, be.name + " compute", INFINITY, 0);
                continue;
            }
            // the same products of a scale and a quant in f32 on every backend
            report(what, be.name + " vs ref", max_diff(get_f32(out), ref), 1e-6);
        }
    }
}

// ---- sum_argmin_move ---------------------------------------------------------

struct argmin_case {
    int64_t n, n_a, n_col;
    int     steps;
    int     levels; // step values are multiples of 1/levels: many equal sums
    int32_t lo, recent;
    bool    shifts; // the shift operand (rank positions)
};

struct argmin_state {
    std::vector<double>  acc;
    std::vector<int32_t> key;
    std::vector<int32_t> out;
    std::vector<int32_t> shift; // [n][n_col] when the case shifts
    std::vector<int32_t> wpos;  // reference only: the position each entry's row was written at
};

// The reference: every qualifying entry of a column sorted by (sum, key).
// With shifts it also checks what they are for: every entry's write
// position plus its shift is its rank among the column's keys (the source
// is written at n - 1, the rank of the newest of n held).
bool argmin_ref(const argmin_case & c, argmin_state & st, const std::vector<float> & a, const int32_t p[4]) {
    bool ranks = true;
    st.out.assign(c.n_col, 0);
    for (int64_t col = 0; col < c.n_col; ++col) {
        double  * s = st.acc.data() + col*c.n;
        int32_t * k = st.key.data() + col*c.n;
        for (int64_t i = 0; i < c.n_a; ++i) s[i] += (double) a[col*c.n_a + i];
        k[p[2]] = p[3];
        if (c.shifts) st.wpos[p[2]*c.n_col + col] = (int32_t) (c.n - 1);
        std::vector<int64_t> cand;
        for (int64_t i = 0; i < c.n; ++i) {
            if (i != p[2] && k[i] >= p[0] && k[i] < p[1]) cand.push_back(i);
        }
        std::sort(cand.begin(), cand.end(), [&](int64_t x, int64_t y) {
            return s[x] != s[y] ? s[x] < s[y] : k[x] < k[y];
        });
        int64_t b = p[2];
        if (!cand.empty()) {
            b = cand[0];
            if (c.shifts) {
                for (int64_t i = 0; i < c.n; ++i) st.shift[i*c.n_col + col] -= k[i] > k[b];
                st.shift[b*c.n_col + col]    = st.shift[p[2]*c.n_col + col];
                st.shift[p[2]*c.n_col + col] = 0;
                st.wpos[b*c.n_col + col]     = st.wpos[p[2]*c.n_col + col];
            }
            s[b] = s[p[2]]; k[b] = k[p[2]];
            s[p[2]] = 0; k[p[2]] = -1;
        }
        st.out[col] = (int32_t) (b*c.n_col + col);
        if (c.shifts) {
            std::vector<int64_t> held;
            for (int64_t i = 0; i < c.n; ++i) {
                if (k[i] >= 0) held.push_back(i);
            }
            std::sort(held.begin(), held.end(), [&](int64_t x, int64_t y) { return k[x] < k[y]; });
            for (size_t r = 0; r < held.size(); ++r) {
                const int64_t i = held[r];
                ranks &= st.wpos[i*c.n_col + col] + st.shift[i*c.n_col + col] == (int32_t) r;
            }
        }
    }
    return ranks;
}

// One step on a backend: the state goes in and comes back, as a cache's does.
bool argmin_run(ggml_backend_t b, const argmin_case & c, argmin_state & st, const std::vector<float> & a, const int32_t p[4], bool * sup) {
    graph_run g;
    g.ctx = new_ctx();
    ggml_tensor * ta  = ggml_new_tensor_2d(g.ctx, GGML_TYPE_F32, c.n_a, c.n_col);
    ggml_tensor * acc = ggml_new_tensor_2d(g.ctx, GGML_TYPE_F64, c.n, c.n_col);
    ggml_tensor * key = ggml_new_tensor_2d(g.ctx, GGML_TYPE_I32, c.n, c.n_col);
    ggml_tensor * par = ggml_new_tensor_1d(g.ctx, GGML_TYPE_I32, 4);
    ggml_tensor * sh  = c.shifts ? ggml_new_tensor_2d(g.ctx, GGML_TYPE_I32, c.n_col, c.n) : nullptr;
    ggml_tensor * out = ggml_sum_argmin_move(g.ctx, ta, acc, key, sh, par);
    *sup = ggml_backend_supports_op(b, out);
    if (!*sup) {
        return false;
    }
    ggml_cgraph * gf = ggml_new_graph(g.ctx);
    ggml_build_forward_expand(gf, out);
    g.buf = ggml_backend_alloc_ctx_tensors(g.ctx, b);
    ggml_backend_tensor_set(ta, a.data(), 0, ggml_nbytes(ta));
    ggml_backend_tensor_set(acc, st.acc.data(), 0, ggml_nbytes(acc));
    ggml_backend_tensor_set(key, st.key.data(), 0, ggml_nbytes(key));
    ggml_backend_tensor_set(par, p, 0, ggml_nbytes(par));
    if (sh) {
        ggml_backend_tensor_set(sh, st.shift.data(), 0, ggml_nbytes(sh));
    }
    if (ggml_backend_graph_compute(b, gf) != GGML_STATUS_SUCCESS) {
        return false;
    }
    if (sh) {
        ggml_backend_tensor_get(sh, st.shift.data(), 0, ggml_nbytes(sh));
    }
    st.out.resize(c.n_col);
    ggml_backend_tensor_get(acc, st.acc.data(), 0, ggml_nbytes(acc));
    ggml_backend_tensor_get(key, st.key.data(), 0, ggml_nbytes(key));
    ggml_backend_tensor_get(out, st.out.data(), 0, ggml_nbytes(out));
    return true;
}

// The number of entries where two states differ (0: equal, bit for bit).
double argmin_diff(const argmin_state & x, const argmin_state & y) {
    double d = 0;
    for (size_t i = 0; i < x.acc.size(); ++i) d += memcmp(&x.acc[i], &y.acc[i], sizeof(double)) != 0;
    for (size_t i = 0; i < x.key.size(); ++i) d += x.key[i] != y.key[i];
    for (size_t i = 0; i < x.out.size(); ++i) d += x.out[i] != y.out[i];
    for (size_t i = 0; i < x.shift.size(); ++i) d += x.shift[i] != y.shift[i];
    return d;
}

void test_sum_argmin_move(const std::vector<backend> & bs, std::mt19937 & rng) {
    const argmin_case cases[] = {
        {2304, 2304, 32, 40, 0,  4, 128, false}, // a 7B layer's KV heads at 2,304 cells
        {2304, 2048,  8, 40, 8,  4, 128, false}, // a step over fewer cells; many equal sums
        { 300,  300,  4, 60, 2,  0,  16, false}, // nearly all sums equal: keys decide
        { 130,  130,  3, 20, 0, 64,  70, false}, // nothing qualifies at first
        {2304, 2304, 32, 40, 0,  4, 128, true},  // the 7B layer with rank shifts
        { 300,  300,  4, 60, 2,  0,  16, true},  // shifts, nearly all sums equal
        { 130,  130,  3, 20, 0, 64,  70, true},  // shifts, nothing qualifies at first
    };
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    for (const auto & c : cases) {
        // entries hold keys 0..n-2 in a shuffled order, one entry empty: the source
        argmin_state init;
        init.acc.assign((size_t) c.n*c.n_col, 0.0);
        init.key.assign((size_t) c.n*c.n_col, -1);
        for (int64_t col = 0; col < c.n_col; ++col) {
            std::vector<int32_t> k(c.n - 1);
            for (size_t i = 0; i < k.size(); ++i) k[i] = (int32_t) i;
            std::shuffle(k.begin(), k.end(), rng);
            for (int64_t i = 0; i + 1 < c.n; ++i) init.key[col*c.n + i] = k[i];
            for (int64_t i = 0; i + 1 < c.n; ++i) init.acc[col*c.n + i] = c.levels ? std::floor(u(rng)*c.levels)/c.levels : u(rng);
        }
        if (c.shifts) {
            // keys 0..n-2 are their own ranks: written there, no shift yet
            init.shift.assign((size_t) c.n*c.n_col, 0);
            init.wpos.assign((size_t) c.n*c.n_col, 0);
            for (int64_t col = 0; col < c.n_col; ++col) {
                for (int64_t i = 0; i < c.n; ++i) init.wpos[i*c.n_col + col] = init.key[col*c.n + i];
            }
        }
        std::vector<std::vector<float>> steps(c.steps);
        for (auto & a : steps) {
            a.resize((size_t) c.n_a*c.n_col);
            for (auto & x : a) x = c.levels ? std::floor(u(rng)*c.levels)/c.levels : u(rng)/64;
        }
        char what[128];
        snprintf(what, sizeof what, "sum_argmin_move [%lld, %lld] of [%lld], %d steps%s%s", (long long) c.n_a,
                 (long long) c.n_col, (long long) c.n, c.steps, c.levels ? ", equal sums" : "", c.shifts ? ", shifts" : "");
        argmin_state ref = init;
        bool ranks = true;
        std::vector<argmin_state> got(bs.size(), init);
        std::vector<bool> ok(bs.size(), true);
        for (int t = 0; t < c.steps; ++t) {
            // every step the source is the entry emptied by the last (the new token's cell)
            const int32_t next = (int32_t) (c.n - 1 + t);
            const int32_t p[4] = { c.lo, next + 1 - c.recent, (int32_t) (c.n - 1), next };
            ranks &= argmin_ref(c, ref, steps[t], p);
            for (size_t j = 0; j < bs.size(); ++j) {
                if (!ok[j]) continue;
                bool sup = false;
                if (!argmin_run(bs[j].b, c, got[j], steps[t], p, &sup)) {
                    report(what, bs[j].name + (sup ? " compute" : " support"), INFINITY, 0);
                    ok[j] = false;
                    continue;
                }
                if (argmin_diff(got[j], ref) != 0) ok[j] = false; // reported below, as it first differed
            }
        }
        if (c.shifts) {
            report(what, "ref: position + shift = rank", ranks ? 0 : 1, 0);
        }
        for (size_t j = 0; j < bs.size(); ++j) {
            report(what, bs[j].name + " vs ref", argmin_diff(got[j], ref), 0);
            if (j > 0 && bs[0].is_cpu) {
                report(what, bs[j].name + " vs CPU", argmin_diff(got[j], got[0]), 0);
            }
        }
    }
}

std::string exe_dir() {
    char buf[PATH_MAX];
    const ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    if (n <= 0) return ".";
    buf[n] = 0;
    std::string s(buf);
    const size_t slash = s.rfind('/');
    return slash == std::string::npos ? "." : s.substr(0, slash);
}

} // namespace

int main(int argc, char ** argv) {
    setvbuf(stdout, nullptr, _IOLBF, 0); // a crash still shows the cases before it
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "-v") == 0) {
            verbose = true;
        } else {
            fprintf(stderr, "usage: %s [-v]\n", argv[0]);
            return 2;
        }
    }
    ggml_log_set([](ggml_log_level level, const char * text, void *) {
        if (level >= GGML_LOG_LEVEL_WARN) fputs(text, stderr);
    }, nullptr);
    const char * env = getenv("H2O_BACKEND_DIR");
    ggml_backend_load_all_from_path(env && *env ? env : (exe_dir() + "/lib").c_str());

    std::vector<backend> bs;
    for (size_t i = 0; i < ggml_backend_dev_count(); ++i) {
        ggml_backend_dev_t dev = ggml_backend_dev_get(i);
        const auto type = ggml_backend_dev_type(dev);
        if (type != GGML_BACKEND_DEVICE_TYPE_CPU && type != GGML_BACKEND_DEVICE_TYPE_GPU) {
            continue;
        }
        ggml_backend_t b = ggml_backend_dev_init(dev, nullptr);
        if (!b) {
            fprintf(stderr, "test-ops: cannot start %s\n", ggml_backend_dev_name(dev));
            return 1;
        }
        bs.push_back({ ggml_backend_dev_name(dev), b, type == GGML_BACKEND_DEVICE_TYPE_CPU });
    }
    // the CPU first: the others are compared with it
    std::stable_sort(bs.begin(), bs.end(), [](const backend & a, const backend & b) { return a.is_cpu > b.is_cpu; });
    if (bs.empty() || !bs[0].is_cpu) {
        fprintf(stderr, "test-ops: no CPU backend found\n");
        return 1;
    }
    printf("test-ops: backends:");
    for (const auto & b : bs) printf(" %s", b.name.c_str());
    printf("\n");

    std::mt19937 rng(42);
    test_col_sum(bs, rng);
    test_fa_logits(bs, rng);
    test_rope(bs, rng);
    test_rope_fa(bs, rng);
    test_cpy_dequant(bs, rng);
    test_sum_argmin_move(bs, rng);

    for (auto & b : bs) ggml_backend_free(b.b);
    printf("test-ops: %d comparisons agree, %d differ\n", n_ok, n_bad);
    return n_bad == 0 ? 0 : 1;
}
