/* The model parser on any text: it refuses it with a message, or the spec it returns
 * keeps every promise of laperm/model.h: shapes, windows and parameter counts within what
 * the kernels can index (int), the parameter table consistent, the summary printable. */
#include <limits.h>

#include "fuzz.h"
#include "laperm/model.h"

static int64_t product_(int64_t a, int64_t b) {
    int64_t p;
    return __builtin_mul_overflow(a, b, &p) ? INT64_MAX : p;
}

/* Each of c, h, w positive, and c*h*w an int. */
static void check_shape_(lp_shape s) {
    FUZZ_CHECK(s.c > 0 && s.h > 0 && s.w > 0);
    FUZZ_CHECK(product_(product_(s.c, s.h), s.w) <= INT_MAX);
    FUZZ_CHECK(lp_shape_size(s) <= INT_MAX);
}

/* A window over `in`: the padded input and the output as in laperm/model.h. */
static void check_window_(const lp_window *w, lp_shape in, lp_shape out) {
    FUZZ_CHECK(w->kh > 0 && w->kw > 0 && w->stride_h > 0 && w->stride_w > 0);
    FUZZ_CHECK(w->pad_top >= 0 && w->pad_bottom >= 0 && w->pad_left >= 0 && w->pad_right >= 0);
    int64_t ph = (int64_t)in.h + w->pad_top + w->pad_bottom;
    int64_t pw = (int64_t)in.w + w->pad_left + w->pad_right;
    FUZZ_CHECK(ph <= INT_MAX && pw <= INT_MAX && w->kh <= ph && w->kw <= pw);
    FUZZ_CHECK(product_(product_(in.c, ph), pw) <= INT_MAX);
    FUZZ_CHECK(w->oh == out.h && w->ow == out.w);
    FUZZ_CHECK((int64_t)(w->oh - 1) * w->stride_h + w->kh <= ph);
    FUZZ_CHECK((int64_t)(w->ow - 1) * w->stride_w + w->kw <= pw);
}

static void check_params_(const lp_model_spec *m) {
    lp_param_tensor *t = NULL;
    int n = 0;
    FUZZ_CHECK(lp_model_params(m, &t, &n) == LP_OK);
    size_t offset = 0;
    for (int i = 0; i < n; ++i) {
        FUZZ_CHECK(t[i].layer > 0 && t[i].layer < m->n_layers);
        FUZZ_CHECK(t[i].rank >= 1 && t[i].rank <= 4);
        int64_t count = 1;
        for (int d = 0; d < t[i].rank; ++d) {
            FUZZ_CHECK(t[i].dims[d] > 0);
            count = product_(count, t[i].dims[d]);
        }
        FUZZ_CHECK(count <= INT_MAX && (size_t)count == t[i].count);
        FUZZ_CHECK(t[i].groups > 0 && t[i].group_size > 0);
        FUZZ_CHECK(product_(t[i].groups, t[i].group_size) == count);
        FUZZ_CHECK(t[i].offset == offset);
        offset += t[i].count;
    }
    FUZZ_CHECK(offset <= INT_MAX && offset == lp_model_param_count(m));
    free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzz_text(data, size);
    lp_model_spec m;
    lp_status s = lp_model_parse_text(text, "fuzz.ini", &m);
    free(text);
    if (s != LP_OK) {
        FUZZ_CHECK(s == LP_ERR_FORMAT && strncmp(lp_last_error(), "fuzz.ini:", 9) == 0);
        FUZZ_CHECK(m.layers == NULL && m.n_layers == 0);
        return 0;
    }
    FUZZ_CHECK(m.n_layers >= 2 && m.layers[0].kind == LP_LAYER_INPUT);
    for (int i = 0; i < m.n_layers; ++i) {
        const lp_layer_spec *l = &m.layers[i];
        check_shape_(l->in);
        check_shape_(l->out);
        if (i > 0) {
            const lp_shape p = m.layers[i - 1].out;
            FUZZ_CHECK(l->in.c == p.c && l->in.h == p.h && l->in.w == p.w);
        }
        switch (l->kind) {
        case LP_LAYER_CONV2D:
        case LP_LAYER_MAXPOOL:
        case LP_LAYER_AVGPOOL:
        case LP_LAYER_GLOBALAVGPOOL:
            check_window_(&l->window, l->in, l->out);
            break;
        case LP_LAYER_ADD:
            FUZZ_CHECK(l->u.add.from >= 0 && l->u.add.from < i - 1);
            if (l->u.add.projection) check_window_(&l->window, m.layers[l->u.add.from].out, l->out);
            break;
        default:
            break;
        }
    }
    check_params_(&m);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(lp_model_summary(&m, f) == LP_OK);
    fclose(f);
    free(buf);
    lp_model_free(&m);
    return 0;
}
