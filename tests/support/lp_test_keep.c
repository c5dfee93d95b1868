/* lp_test_release_* (lp_test.h): keeping device objects alive in the simulator until a
 * suite ends. */
#include <stdlib.h>
#include <string.h>

#include "laperm/network.h"
#include "lp_test.h"

typedef struct {
    void (*destroy)(void *);
    void *object;
} kept_;

static kept_ *kept_v_;
static size_t n_kept_, cap_kept_;

/* Appends (destroy, object); false (and nothing kept) when memory runs out. */
static bool keep_(void (*destroy)(void *), void *object) {
    if (n_kept_ == cap_kept_) {
        size_t cap = cap_kept_ ? cap_kept_ * 2 : 32;
        kept_ *grown = realloc(kept_v_, cap * sizeof *grown);
        if (!grown) return false;
        kept_v_ = grown;
        cap_kept_ = cap;
    }
    kept_v_[n_kept_++] = (kept_){destroy, object};
    return true;
}

void lp_test_release_with(void (*destroy)(void *), void *object) {
    if (!object) return;
    if (!(lp_test_simulator() && keep_(destroy, object))) destroy(object);
}

/* A network with the spec it was built from (the layers point into the spec). */
typedef struct {
    lp_network *net;
    lp_model_spec spec;
} network_;

static void destroy_network_(void *p) {
    network_ *n = p;
    lp_network_destroy(n->net);
    lp_model_free(&n->spec);
    free(n);
}

void lp_test_release_network(lp_network **net, lp_model_spec *spec) {
    network_ *n = malloc(sizeof *n);
    if (n) {
        n->net = *net;
        memset(&n->spec, 0, sizeof n->spec);
        if (spec) n->spec = *spec;
        lp_test_release_with(destroy_network_, n);
    } else {
        lp_network_destroy(*net);
        if (spec) lp_model_free(spec);
    }
    if (spec) memset(spec, 0, sizeof *spec);
    *net = NULL;
}

static void destroy_buffer_(void *p) {
    clReleaseMemObject((cl_mem)p);
}

void lp_test_release_buffer(cl_mem *buffer) {
    lp_test_release_with(destroy_buffer_, *buffer);
    *buffer = NULL;
}

int lp_test_release_kept(void) {
    for (size_t i = n_kept_; i-- > 0;)
        kept_v_[i].destroy(kept_v_[i].object);
    free(kept_v_);
    kept_v_ = NULL;
    n_kept_ = cap_kept_ = 0;
    return 0;
}
