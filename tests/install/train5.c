/* Trains a logistic regression with LaPerm for 5 steps on made-up 28x28 images. */
#include <laperm/laperm.h>
#include <stdio.h>
#include <stdlib.h>

int main(void) {
    enum { N = 500, PIXELS = 28 * 28 };
    lp_dataset data = {.n = N, .c = 1, .h = 28, .w = 28, .classes = 10};
    data.x = calloc(N * PIXELS, sizeof(float));
    data.y = malloc(N);
    for (int i = 0; i < N; ++i) { /* class k: a bright row at 2k + 4 */
        data.y[i] = (uint8_t)(i % 10);
        for (int col = 0; col < 28; ++col)
            data.x[i * PIXELS + (2 * (i % 10) + 4) * 28 + col] = 1;
    }
    lp_model_spec model;
    lp_runtime *rt;
    lp_train_config cfg;
    lp_train_config_defaults(&cfg);
    cfg.max_steps = 5;
    cfg.batch = 50;
    cfg.k = 5; /* LaPerm reconnects the weights every 5 steps */
    cfg.lr.base = 0.05;
    lp_train_result r;
    if (lp_model_parse_text("[input]\nchannels = 1\nheight = 28\nwidth = 28\n[flatten]\n"
                            "[dense]\nunits = 10\n",
                            "logreg", &model) != LP_OK ||
        lp_runtime_create(NULL, &rt) != LP_OK ||
        lp_train(rt, &model, &data, &data, &cfg, NULL, &r) != LP_OK) {
        fprintf(stderr, "train5: %s\n", lp_last_error());
        return 1;
    }
    printf("trained %lld steps (%lld sync) on %s: test accuracy %.1f%%\n", r.steps, r.syncs,
           lp_runtime_device(rt)->device_name, 100 * r.final_test_accuracy);
    lp_runtime_destroy(rt);
    lp_model_free(&model);
    free(data.x);
    free(data.y);
    return 0;
}
