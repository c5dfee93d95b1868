/* Progress bar, per-epoch lines and per-evaluation lines for laperm train. */
#include "progress.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void fmt_time_(double s, char *buf, size_t n) {
    long t = s > 0 ? (long)(s + 0.5) : 0;
    if (t >= 3600)
        snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

static void on_progress_(void *ctx, const lp_progress *p) {
    cli_progress *pr = ctx;
    if (!pr->tty) return;
    enum { WIDTH = 24 };
    int filled = (int)((double)p->step_in_epoch / p->steps_per_epoch * WIDTH);
    char bar[WIDTH + 1], eta[32];
    for (int i = 0; i < WIDTH; ++i)
        bar[i] = i < filled ? '#' : '.';
    bar[WIDTH] = '\0';
    fmt_time_(p->eta_seconds, eta, sizeof eta);
    if (p->regression)
        printf("\r\033[Kepoch %d/%d [%s] step %lld  mse %.4g  mae %.4g  %.0f img/s  ETA %s",
               p->epoch, p->epochs, bar, p->step, p->loss, p->accuracy, p->images_per_second, eta);
    else
        printf("\r\033[Kepoch %d/%d [%s] step %lld  loss %.4f  acc %.2f%%  %.0f img/s  ETA %s",
               p->epoch, p->epochs, bar, p->step, p->loss, 100.0 * p->accuracy,
               p->images_per_second, eta);
    fflush(stdout);
    pr->bar_drawn = true;
}

/* Clears a bar drawn in place so that a line can follow; false: print nothing. */
static bool line_begin_(cli_progress *pr) {
    if (pr->quiet) return false;
    if (pr->bar_drawn) printf("\r\033[K");
    pr->bar_drawn = false;
    return true;
}

static void on_epoch_(void *ctx, const lp_epoch_metrics *m, int epochs) {
    cli_progress *pr = ctx;
    if (!line_begin_(pr)) return;
    char unsynced[48] = "";
    if (pr->regression) {
        /* MSE (the loss) and MAE; accuracy means nothing here */
        if (pr->laperm)
            snprintf(unsynced, sizeof unsynced, " (unsynced %.4g)", m->test_loss_unsynced);
        printf("epoch %*d/%d  step %6lld  train mse %.4g mae %.4g  test mse %.4g mae %.4g%s  "
               "lr %.3g  %.1fs (%.0f img/s)  syncs %lld\n",
               epochs >= 10 ? 2 : 1, m->epoch, epochs, m->step, m->train_loss, m->train_mae,
               m->test_loss, m->test_mae, unsynced, m->learning_rate, m->epoch_seconds,
               m->epoch_seconds > 0 ? (double)m->samples / m->epoch_seconds : 0.0, m->syncs);
        fflush(stdout);
        return;
    }
    if (pr->laperm)
        snprintf(unsynced, sizeof unsynced, " (unsynced %.2f%%)",
                 100.0 * m->test_accuracy_unsynced);
    printf("epoch %*d/%d  step %6lld  train loss %.4f acc %6.2f%%  test loss %.4f acc %6.2f%%%s  "
           "lr %.3g  %.1fs (%.0f img/s)  syncs %lld\n",
           epochs >= 10 ? 2 : 1, m->epoch, epochs, m->step, m->train_loss,
           100.0 * m->train_accuracy, m->test_loss, 100.0 * m->test_accuracy, unsynced,
           m->learning_rate, m->epoch_seconds,
           m->epoch_seconds > 0 ? (double)m->samples / m->epoch_seconds : 0.0, m->syncs);
    fflush(stdout);
}

/* One short line per --eval-every evaluation. */
static void on_eval_(void *ctx, const lp_eval_metrics *e) {
    cli_progress *pr = ctx;
    if (!line_begin_(pr)) return;
    char unsynced[48] = "";
    if (pr->regression) {
        if (pr->laperm)
            snprintf(unsynced, sizeof unsynced, e->synced ? " (synced)" : " (unsynced %.4g)",
                     e->test_loss_unsynced);
        printf("eval  step %6lld  epoch %d  test mse %.4g mae %.4g%s\n", e->step, e->epoch,
               e->test_loss, e->test_mae, unsynced);
        fflush(stdout);
        return;
    }
    if (pr->laperm)
        snprintf(unsynced, sizeof unsynced, e->synced ? " (synced)" : " (unsynced %.2f%%)",
                 100.0 * e->test_accuracy_unsynced);
    printf("eval  step %6lld  epoch %d  test loss %.4f acc %6.2f%%%s\n", e->step, e->epoch,
           e->test_loss, 100.0 * e->test_accuracy, unsynced);
    fflush(stdout);
}

void cli_progress_init(cli_progress *p, const char *mode) {
    memset(p, 0, sizeof *p);
    if (!strcmp(mode, "none"))
        p->quiet = true;
    else if (!strcmp(mode, "bar"))
        p->tty = true;
    else if (!strcmp(mode, "auto"))
        p->tty = isatty(STDOUT_FILENO);
}

lp_train_callbacks cli_progress_callbacks(cli_progress *p) {
    lp_train_callbacks cb = {
        .on_progress = on_progress_, .on_epoch = on_epoch_, .on_eval = on_eval_, .ctx = p};
    return cb;
}
