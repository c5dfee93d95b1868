/* A run's initial values from the model and the setup its results file records
 * (laperm/init.h): the one computation that training and `laperm unpack` share. */
#include <float.h>
#include <stdio.h>
#include <string.h>

#include "laperm/init.h"

/* The initial values are computed in IEEE single and double precision, each operation
 * rounded to its type: an x87 build (32-bit x86 without SSE2) would keep 80-bit
 * intermediates and give other bits. (-ffp-contract=off in CMakeLists.txt rules out fused
 * multiply-adds; .lpk files carry a hash of the values, so a mismatch is refused anyway.) */
#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "laperm needs FLT_EVAL_METHOD == 0 (on 32-bit x86: -msse2 -mfpmath=sse)"
#endif

bool lp_init_permuted(const lp_init_setup *s, const lp_param_tensor *p) {
    if (!s->laperm) return false;
    if (p->is_kernel) return p->permute_default;
    if (!strcmp(p->name, "bias")) return s->perm_bias;
    return p->permute_default || s->perm_bn;
}

void lp_init_groups(const lp_init_setup *s, const lp_param_tensor *p, int *groups,
                    int *group_size) {
    *groups = s->per_tensor_scope ? 1 : p->groups;
    *group_size = s->per_tensor_scope ? (int)p->count : p->group_size;
}

/* The initializer and options of tensor p: the model file's, with the overrides on
 * permuted kernels; `first` says p is the first of those. */
static lp_init_kind effective_(const lp_init_setup *s, const lp_param_tensor *p, bool first,
                               lp_init_opts *o) {
    const lp_init_override *v = &s->override;
    lp_init_kind kind = p->init;
    *o = p->init_opts;
    if (!p->is_kernel || !lp_init_permuted(s, p)) return kind;
    if (v->init_set) {
        kind = v->init;
        o->value = v->opts.value;
        o->values = v->opts.values;
    }
    if (v->opts.quantize) o->quantize = v->opts.quantize;
    /* The authors' pruning rule: the first kernel keeps at least 80%. */
    if (first && v->keep_first > 0.0f)
        o->keep = v->keep_first;
    else if (v->keep > 0.0f)
        o->keep = first && v->keep < 0.8f ? 0.8f : v->keep;
    return kind;
}

void lp_init_run_values(const lp_init_setup *s, const lp_param_tensor *t, int n, float *params) {
    bool first = true;
    for (int i = 0; i < n; ++i) {
        const lp_param_tensor *p = &t[i];
        bool permuted_kernel = p->is_kernel && lp_init_permuted(s, p);
        lp_init_opts o;
        lp_init_kind kind = effective_(s, p, first && permuted_kernel, &o);
        if (permuted_kernel) first = false;
        lp_init_fill_opts(kind, &o, params + p->offset, p->count, p->fan_in, p->fan_out, s->seed,
                          (uint32_t)i);
    }
}

const char *const lp_init_setup_attr_names[] = {
    "seed",       "optimizer",   "perm_bias", "perm_bn", "group_scope", "init",
    "init_value", "init_values", "quantize",  "keep",    "keep_first",  NULL};

static const lp_attr *find_(const lp_attr *a, int n, const char *name) {
    for (int i = 0; i < n; ++i)
        if (!strcmp(a[i].name, name)) return &a[i];
    return NULL;
}

/* Attribute `name` as an integer, a double or a string; absent: 0 or "". */
static lp_status get_(const lp_attr *a, int n, const char *name, lp_attr_type type,
                      const lp_attr **out) {
    static const lp_attr off = {.s = ""};
    const lp_attr *x = find_(a, n, name);
    *out = x ? x : &off;
    if (x && x->type != type)
        return lp_fail(LP_ERR_FORMAT, "attribute '%s' is a %s, expected a %s", name,
                       x->type == LP_ATTR_STRING ? "string"
                       : x->type == LP_ATTR_INT  ? "integer"
                                                 : "float",
                       type == LP_ATTR_STRING ? "string"
                       : type == LP_ATTR_INT  ? "integer"
                                              : "float");
    return LP_OK;
}

lp_status lp_init_setup_from_attrs(const lp_attr *a, int n, lp_init_setup *out) {
    lp_init_setup s = {0};
    const lp_attr *seed, *opt, *bias, *bn, *scope, *init, *value, *values, *quant, *keep, *first;
    LP_TRY(get_(a, n, "seed", LP_ATTR_INT, &seed));
    LP_TRY(get_(a, n, "optimizer", LP_ATTR_STRING, &opt));
    LP_TRY(get_(a, n, "perm_bias", LP_ATTR_INT, &bias));
    LP_TRY(get_(a, n, "perm_bn", LP_ATTR_INT, &bn));
    LP_TRY(get_(a, n, "group_scope", LP_ATTR_STRING, &scope));
    LP_TRY(get_(a, n, "init", LP_ATTR_STRING, &init));
    LP_TRY(get_(a, n, "init_value", LP_ATTR_DOUBLE, &value));
    LP_TRY(get_(a, n, "init_values", LP_ATTR_STRING, &values));
    LP_TRY(get_(a, n, "quantize", LP_ATTR_INT, &quant));
    LP_TRY(get_(a, n, "keep", LP_ATTR_DOUBLE, &keep));
    LP_TRY(get_(a, n, "keep_first", LP_ATTR_DOUBLE, &first));
    s.seed = (uint64_t)seed->i;
    s.laperm = !strcmp(opt->s, "laperm");
    s.perm_bias = bias->i != 0;
    s.perm_bn = bn->i != 0;
    if (strcmp(scope->s, "tensor") && strcmp(scope->s, "unit") && *scope->s)
        return lp_fail(LP_ERR_FORMAT, "attribute 'group_scope' is '%s', expected unit or tensor",
                       scope->s);
    s.per_tensor_scope = !strcmp(scope->s, "tensor");
    lp_init_override *o = &s.override;
    if (*init->s) {
        char names[256];
        if (!lp_init_find(init->s, strlen(init->s), LP_INIT_USE_KERNEL, &o->init))
            return lp_fail(LP_ERR_FORMAT, "attribute 'init' is '%s', expected one of: %s", init->s,
                           lp_init_list(LP_INIT_USE_KERNEL, names, sizeof names));
        o->init_set = true;
    }
    o->opts.value = (float)value->d;
    if (*values->s && lp_init_values_parse(values->s, strlen(values->s), &o->opts.values) != LP_OK)
        return lp_fail_context(LP_ERR_FORMAT, "attribute 'init_values' is '%s': ", values->s);
    if (quant->i < 0 || quant->i == 1 || quant->i > 1 << 30)
        return lp_fail(LP_ERR_FORMAT, "attribute 'quantize' is %lld, expected 0 or >= 2", quant->i);
    o->opts.quantize = (int)quant->i;
    o->keep = (float)keep->d;
    o->keep_first = (float)first->d;
    if (!(o->keep >= 0.0f && o->keep <= 1.0f) || !(o->keep_first >= 0.0f && o->keep_first <= 1.0f))
        return lp_fail(LP_ERR_FORMAT, "attribute 'keep' or 'keep_first' is %g, %g: expected 0 to 1",
                       keep->d, first->d);
    *out = s;
    return LP_OK;
}
