/* The schedule parsers (--lr-steps, --lr-decay, --k-steps) on any text: the first byte
 * picks the parser, the rest is the value. A schedule accepted has at most
 * LP_MAX_LR_STEPS steps at ascending epochs from 0 to 1000000, with finite positive
 * factors, or a decay from 1e-9 to 10; the rate is then finite and positive at every
 * epoch. A k schedule accepted has 1 to LP_MAX_K_STEPS entries at ascending epochs from 0
 * to 1000000 with k from 1 to 1000000000, k is positive at every epoch, and its text
 * parses back to the same schedule. A refusal names the flag. */
#include <math.h>

#include "fuzz.h"
#include "laperm/schedule.h"

static void k_steps_(const char *text) {
    lp_k_schedule s = {0};
    lp_status st = lp_k_parse_steps(text, &s);
    if (st != LP_OK) {
        FUZZ_CHECK(st == LP_ERR_INVALID_ARG);
        FUZZ_CHECK(strstr(lp_last_error(), "--k-steps") != NULL);
        return;
    }
    FUZZ_CHECK(s.n >= 1 && s.n <= LP_MAX_K_STEPS);
    for (int i = 0; i < s.n; ++i) {
        FUZZ_CHECK(s.epoch[i] >= 0 && s.epoch[i] <= 1000000);
        FUZZ_CHECK(i == 0 || s.epoch[i] > s.epoch[i - 1]);
        FUZZ_CHECK(s.k[i] >= 1 && s.k[i] <= 1000000000);
    }
    const int epochs[] = {0, 1, 7, 80, 1000, 1000000};
    for (int i = 0; i < 6; ++i)
        FUZZ_CHECK(lp_k_at(&s, 250, epochs[i]) >= 1);
    char back[LP_MAX_K_STEPS * 24];
    lp_k_steps_text(&s, back, sizeof back);
    lp_k_schedule again = {0};
    FUZZ_CHECK(lp_k_parse_steps(back, &again) == LP_OK);
    FUZZ_CHECK(again.n == s.n && !memcmp(again.epoch, s.epoch, sizeof s.epoch) &&
               !memcmp(again.k, s.k, sizeof s.k));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    if (data[0] % 3 == 2) {
        char *text = fuzz_text(data + 1, size - 1);
        k_steps_(text);
        free(text);
        lp_clear_error();
        return 0;
    }
    bool steps = data[0] & 1;
    char *text = fuzz_text(data + 1, size - 1);
    lp_lr_schedule s = {.kind = LP_LR_CONSTANT, .base = 0.001, .decay = 1};
    lp_status st = steps ? lp_lr_parse_steps(text, &s) : lp_lr_parse_decay(text, &s);
    free(text);
    if (st != LP_OK) {
        FUZZ_CHECK(st == LP_ERR_INVALID_ARG);
        FUZZ_CHECK(strstr(lp_last_error(), steps ? "--lr-steps" : "--lr-decay") != NULL);
        return 0;
    }
    if (steps) {
        FUZZ_CHECK(s.kind == LP_LR_STEPS && s.n_steps >= 1 && s.n_steps <= LP_MAX_LR_STEPS);
        for (int i = 0; i < s.n_steps; ++i) {
            FUZZ_CHECK(s.step_epoch[i] >= 0 && s.step_epoch[i] <= 1000000);
            FUZZ_CHECK(i == 0 || s.step_epoch[i] > s.step_epoch[i - 1]);
            FUZZ_CHECK(isfinite(s.step_factor[i]) && s.step_factor[i] > 0);
        }
    } else {
        FUZZ_CHECK(isfinite(s.decay) && s.decay >= 1e-9 && s.decay <= 10);
        FUZZ_CHECK(s.kind == (s.decay == 1.0 ? LP_LR_CONSTANT : LP_LR_EXPONENTIAL));
    }
    const int epochs[] = {0, 1, 7, 80, 1000, 1000000};
    for (int i = 0; i < 6; ++i) {
        double lr = lp_lr_at(&s, epochs[i]);
        FUZZ_CHECK(isfinite(lr) || !steps); /* decay 10 at epoch 1e6 overflows, by design */
        FUZZ_CHECK(lr >= 0);
    }
    return 0;
}
