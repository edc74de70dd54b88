// oneDNN's LSTM as a baseline of lstmcl-bench; see dnnlstm.h for what each
// call includes.
#include "dnnlstm.h"

#include <oneapi/dnnl/dnnl.hpp>

#include <cstdio>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

// oneDNN's gate k is lstmcl's gate kPerm[k] (oneDNN: i, f, g, o; lstmcl: i, f, o, g)
const int kPerm[4] = {0, 1, 3, 2};

struct weights_pair {
    memory layer, iter; // in the format a primitive chose
};

} // namespace

struct dnn_lstm {
    size_t N, T, D, H;
    dnnl::engine eng;
    dnnl::stream strm;
    std::string error;

    // the user's copies, in ldigo / ldgo
    memory user_wl, user_wi, user_b;
    // the user's weight gradients, ldigo / ldgo
    memory user_dwl, user_dwi, user_db;

    dnnl::lstm_forward::primitive_desc infer_pd, train_pd;
    dnnl::lstm_backward::primitive_desc bwd_pd;
    dnnl::lstm_forward infer, train;
    dnnl::lstm_backward bwd;
    weights_pair infer_w, train_w, bwd_w;
    memory workspace, c0, dc0;
    memory bwd_dwl, bwd_dwi, bwd_db; // diff weights in the backward's formats
};

static memory::desc md(memory::dims d, tag t)
{
    return memory::desc(d, dt::f32, t);
}

// a memory in the primitive's format, or the user's own when they agree
static memory weights_for(dnn_lstm *s, const memory::desc &want, const memory &user)
{
    return want == user.get_desc() ? user : memory(want, s->eng);
}

static void reorder_if(dnn_lstm *s, const memory &from, const memory &to)
{
    if (from.get_data_handle() != to.get_data_handle())
        dnnl::reorder(from, to).execute(s->strm, const_cast<memory &>(from),
                                        const_cast<memory &>(to));
}

extern "C" dnn_lstm *dnn_lstm_create(size_t N, size_t T, size_t D, size_t H, const float *Wx,
                                     const float *Wh, const float *b, char *err, size_t errlen)
{
    dnn_lstm *s = nullptr;
    try {
        s = new dnn_lstm();
        s->N = N, s->T = T, s->D = D, s->H = H;
        s->eng = dnnl::engine(dnnl::engine::kind::cpu, 0);
        s->strm = dnnl::stream(s->eng);
        const memory::dim n = (memory::dim)N, t = (memory::dim)T, d = (memory::dim)D,
                          h = (memory::dim)H;
        const memory::desc x_md = md({t, n, d}, tag::tnc), h_md = md({t, n, h}, tag::tnc);
        const memory::desc it_md = md({1, 1, n, h}, tag::ldnc);
        const memory::desc wl_any = md({1, 1, d, 4, h}, tag::any);
        const memory::desc wi_any = md({1, 1, h, 4, h}, tag::any);
        const memory::desc b_md = md({1, 1, 4, h}, tag::ldgo), none;

        s->user_wl = memory(md({1, 1, d, 4, h}, tag::ldigo), s->eng);
        s->user_wi = memory(md({1, 1, h, 4, h}, tag::ldigo), s->eng);
        s->user_b = memory(b_md, s->eng);
        s->user_dwl = memory(s->user_wl.get_desc(), s->eng);
        s->user_dwi = memory(s->user_wi.get_desc(), s->eng);
        s->user_db = memory(b_md, s->eng);
        float *wl = (float *)s->user_wl.get_data_handle();
        float *wi = (float *)s->user_wi.get_data_handle();
        float *bb = (float *)s->user_b.get_data_handle();
        for (int g = 0; g < 4; g++) {
            const size_t src = (size_t)kPerm[g] * H, dst = (size_t)g * H;
            for (size_t r = 0; r < D; r++)
                std::memcpy(wl + r * 4 * H + dst, Wx + r * 4 * H + src, H * sizeof(float));
            for (size_t r = 0; r < H; r++)
                std::memcpy(wi + r * 4 * H + dst, Wh + r * 4 * H + src, H * sizeof(float));
            std::memcpy(bb + dst, b + src, H * sizeof(float));
        }

        const auto dir = dnnl::rnn_direction::unidirectional_left2right;
        s->infer_pd = dnnl::lstm_forward::primitive_desc(
            dnnl::lstm_forward::desc(dnnl::prop_kind::forward_inference, dir, x_md, it_md, it_md,
                                     wl_any, wi_any, b_md, h_md, none, none),
            s->eng);
        s->train_pd = dnnl::lstm_forward::primitive_desc(
            dnnl::lstm_forward::desc(dnnl::prop_kind::forward_training, dir, x_md, it_md, it_md,
                                     wl_any, wi_any, b_md, h_md, none, none),
            s->eng);
        s->bwd_pd = dnnl::lstm_backward::primitive_desc(
            dnnl::lstm_backward::desc(dnnl::prop_kind::backward, dir, x_md, it_md, it_md, wl_any,
                                      wi_any, b_md, h_md, none, none, x_md, it_md, it_md, wl_any,
                                      wi_any, b_md, h_md, none, none),
            s->eng, s->train_pd);
        s->infer = dnnl::lstm_forward(s->infer_pd);
        s->train = dnnl::lstm_forward(s->train_pd);
        s->bwd = dnnl::lstm_backward(s->bwd_pd);
        s->infer_w = {weights_for(s, s->infer_pd.weights_layer_desc(), s->user_wl),
                      weights_for(s, s->infer_pd.weights_iter_desc(), s->user_wi)};
        s->train_w = {weights_for(s, s->train_pd.weights_layer_desc(), s->user_wl),
                      weights_for(s, s->train_pd.weights_iter_desc(), s->user_wi)};
        s->bwd_w = {weights_for(s, s->bwd_pd.weights_layer_desc(), s->user_wl),
                    weights_for(s, s->bwd_pd.weights_iter_desc(), s->user_wi)};
        s->bwd_dwl = weights_for(s, s->bwd_pd.diff_weights_layer_desc(), s->user_dwl);
        s->bwd_dwi = weights_for(s, s->bwd_pd.diff_weights_iter_desc(), s->user_dwi);
        s->bwd_db = weights_for(s, s->bwd_pd.diff_bias_desc(), s->user_db);
        s->workspace = memory(s->train_pd.workspace_desc(), s->eng);
        s->c0 = memory(it_md, s->eng);
        s->dc0 = memory(it_md, s->eng);
        std::memset(s->c0.get_data_handle(), 0, N * H * sizeof(float));
        return s;
    } catch (const std::exception &e) {
        if (err && errlen)
            std::snprintf(err, errlen, "%s", e.what());
        delete s;
        return nullptr;
    }
}

extern "C" void dnn_lstm_destroy(dnn_lstm *s)
{
    delete s;
}

extern "C" int dnn_lstm_forward(dnn_lstm *s, int training, const float *x, const float *h0,
                                float *h)
{
    try {
        auto &pd = training ? s->train_pd : s->infer_pd;
        auto &w = training ? s->train_w : s->infer_w;
        memory mx(pd.src_layer_desc(), s->eng, const_cast<float *>(x));
        memory mh0(pd.src_iter_desc(), s->eng, const_cast<float *>(h0));
        memory mh(pd.dst_layer_desc(), s->eng, h);
        reorder_if(s, s->user_wl, w.layer);
        reorder_if(s, s->user_wi, w.iter);
        std::unordered_map<int, memory> args = {
            {DNNL_ARG_SRC_LAYER, mx},          {DNNL_ARG_SRC_ITER, mh0},
            {DNNL_ARG_SRC_ITER_C, s->c0},      {DNNL_ARG_WEIGHTS_LAYER, w.layer},
            {DNNL_ARG_WEIGHTS_ITER, w.iter},   {DNNL_ARG_BIAS, s->user_b},
            {DNNL_ARG_DST_LAYER, mh}};
        if (training)
            args[DNNL_ARG_WORKSPACE] = s->workspace;
        (training ? s->train : s->infer).execute(s->strm, args);
        s->strm.wait();
        return 0;
    } catch (const std::exception &e) {
        s->error = e.what();
        return -1;
    }
}

extern "C" int dnn_lstm_backward(dnn_lstm *s, const float *x, const float *h0, const float *h,
                                 const float *dh, float *dx, float *dh0)
{
    try {
        auto &pd = s->bwd_pd;
        auto cm = [&](const memory::desc &d, const float *p) {
            return memory(d, s->eng, const_cast<float *>(p));
        };
        memory mx = cm(pd.src_layer_desc(), x), mh0 = cm(pd.src_iter_desc(), h0);
        memory mh = cm(pd.dst_layer_desc(), h), mdh = cm(pd.diff_dst_layer_desc(), dh);
        memory mdx(pd.diff_src_layer_desc(), s->eng, dx);
        memory mdh0(pd.diff_src_iter_desc(), s->eng, dh0);
        reorder_if(s, s->user_wl, s->bwd_w.layer);
        reorder_if(s, s->user_wi, s->bwd_w.iter);
        // oneDNN 2.6 adds the weight gradients to what is there
        std::memset(s->bwd_dwl.get_data_handle(), 0, s->bwd_dwl.get_desc().get_size());
        std::memset(s->bwd_dwi.get_data_handle(), 0, s->bwd_dwi.get_desc().get_size());
        std::memset(s->bwd_db.get_data_handle(), 0, s->bwd_db.get_desc().get_size());
        s->bwd.execute(s->strm, {{DNNL_ARG_SRC_LAYER, mx},
                                 {DNNL_ARG_SRC_ITER, mh0},
                                 {DNNL_ARG_SRC_ITER_C, s->c0},
                                 {DNNL_ARG_WEIGHTS_LAYER, s->bwd_w.layer},
                                 {DNNL_ARG_WEIGHTS_ITER, s->bwd_w.iter},
                                 {DNNL_ARG_BIAS, s->user_b},
                                 {DNNL_ARG_DST_LAYER, mh},
                                 {DNNL_ARG_WORKSPACE, s->workspace},
                                 {DNNL_ARG_DIFF_SRC_LAYER, mdx},
                                 {DNNL_ARG_DIFF_SRC_ITER, mdh0},
                                 {DNNL_ARG_DIFF_SRC_ITER_C, s->dc0},
                                 {DNNL_ARG_DIFF_WEIGHTS_LAYER, s->bwd_dwl},
                                 {DNNL_ARG_DIFF_WEIGHTS_ITER, s->bwd_dwi},
                                 {DNNL_ARG_DIFF_BIAS, s->bwd_db},
                                 {DNNL_ARG_DIFF_DST_LAYER, mdh}});
        reorder_if(s, s->bwd_dwl, s->user_dwl);
        reorder_if(s, s->bwd_dwi, s->user_dwi);
        reorder_if(s, s->bwd_db, s->user_db);
        s->strm.wait();
        return 0;
    } catch (const std::exception &e) {
        s->error = e.what();
        return -1;
    }
}

extern "C" void dnn_lstm_gradients(dnn_lstm *s, float *dWx, float *dWh, float *db)
{
    const size_t D = s->D, H = s->H;
    const float *wl = (const float *)s->user_dwl.get_data_handle();
    const float *wi = (const float *)s->user_dwi.get_data_handle();
    const float *bb = (const float *)s->user_db.get_data_handle();
    for (int g = 0; g < 4; g++) {
        const size_t ours = (size_t)kPerm[g] * H, theirs = (size_t)g * H;
        for (size_t r = 0; r < D; r++)
            std::memcpy(dWx + r * 4 * H + ours, wl + r * 4 * H + theirs, H * sizeof(float));
        for (size_t r = 0; r < H; r++)
            std::memcpy(dWh + r * 4 * H + ours, wi + r * 4 * H + theirs, H * sizeof(float));
        std::memcpy(db + ours, bb + theirs, H * sizeof(float));
    }
}

extern "C" const char *dnn_lstm_error(const dnn_lstm *s)
{
    return s->error.c_str();
}

extern "C" const char *dnn_lstm_version(void)
{
    static char buf[96];
    const dnnl_version_t *v = dnnl_version();
    const char *isa;
    switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::avx512_core: isa = "avx512_core"; break;
    case dnnl::cpu_isa::avx512_core_vnni: isa = "avx512_core_vnni"; break;
    case dnnl::cpu_isa::avx512_core_bf16: isa = "avx512_core_bf16"; break;
    case dnnl::cpu_isa::avx512_core_amx: isa = "avx512_core_amx"; break;
    case dnnl::cpu_isa::avx2: isa = "avx2"; break;
    case dnnl::cpu_isa::avx2_vnni: isa = "avx2_vnni"; break;
    default: isa = "other"; break;
    }
    std::snprintf(buf, sizeof buf, "%d.%d.%d, %s", v->major, v->minor, v->patch, isa);
    return buf;
}
