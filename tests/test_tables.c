/* The tables that name optimizers, learning-rate schedules, losses and dataset formats:
 * each is consistent on its own, and every entry's name goes through the laperm program
 * (its flag, --help, the start-up line) into the results file unchanged. A new entry
 * without a case here fails the test that names it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <hdf5.h>

#include "laperm/data.h"
#include "laperm/results.h"
#include "laperm/schedule.h"
#include "laperm/train.h"
#include "lp_test.h"

/* ---- the tables on their own --------------------------------------------------------- */

static void test_optimizer_table(void) {
    lp_train_config d;
    lp_train_config_defaults(&d);
    CU_ASSERT_PTR_EQUAL(d.inner, lp_optimizer_at(0));
    CU_ASSERT_PTR_NULL(lp_optimizer_at(-1));
    CU_ASSERT_PTR_NULL(lp_optimizer_find("no-such-optimizer"));
    CU_ASSERT_PTR_NULL(lp_optimizer_find(LP_OPTIMIZER_LAPERM));    /* a wrapper, not an entry */
    CU_ASSERT_PTR_NULL(lp_optimizer_find(LP_OPTIMIZER_LOOKAHEAD)); /* another */
    const char *options[LP_OPTIMIZER_SLOTS * LP_OPTIMIZER_MAX_PARAMS];
    const char *attrs[LP_OPTIMIZER_SLOTS * LP_OPTIMIZER_MAX_PARAMS];
    int n_params = 0, n = 0;
    const lp_optimizer *o;
    for (; (o = lp_optimizer_at(n)); ++n) {
        CU_ASSERT_FATAL(n < LP_OPTIMIZER_SLOTS);
        CU_ASSERT(o->name && *o->name && o->title && *o->title && o->step);
        CU_ASSERT_PTR_EQUAL(lp_optimizer_find(o->name), o);
        CU_ASSERT_EQUAL(lp_optimizer_index(o), n);
        CU_ASSERT(o->n_params >= 0 && o->n_params <= LP_OPTIMIZER_MAX_PARAMS);
        for (int i = 0; i < n; ++i)
            CU_ASSERT(strcmp(lp_optimizer_at(i)->name, o->name) != 0);
        for (int j = 0; j < o->n_params; ++j) {
            const lp_optimizer_param *p = &o->params[j];
            CU_ASSERT(!strncmp(p->option, "--", 2) && p->attr && *p->attr && p->help);
            CU_ASSERT(p->min <= p->def && p->def <= p->max);
            CU_ASSERT_EQUAL(d.optimizer_params[n][j], p->def);
            for (int k = 0; k < n_params; ++k) {
                if (!strcmp(options[k], p->option) || !strcmp(attrs[k], p->attr))
                    printf("\n  %s: %s / %s is used twice\n", o->name, p->option, p->attr);
                CU_ASSERT(strcmp(options[k], p->option) != 0);
                CU_ASSERT(strcmp(attrs[k], p->attr) != 0);
            }
            options[n_params] = p->option;
            attrs[n_params++] = p->attr;
        }
        /* state labels are contiguous from the first */
        for (int i = 1; i < LP_OPTIMIZER_MAX_STATE; ++i)
            if (o->state[i]) CU_ASSERT_PTR_NOT_NULL(o->state[i - 1]);
    }
    CU_ASSERT(n >= 2);
    CU_ASSERT_PTR_NULL(lp_optimizer_at(n));
    CU_ASSERT_EQUAL(lp_optimizer_index(NULL), -1);
    CU_ASSERT_STRING_EQUAL(lp_train_optimizer_name(&d), LP_OPTIMIZER_LAPERM);
    d.lookahead = true; /* LaPerm over Lookahead is still LaPerm */
    CU_ASSERT_STRING_EQUAL(lp_train_optimizer_name(&d), LP_OPTIMIZER_LAPERM);
    d.laperm = false;
    CU_ASSERT_STRING_EQUAL(lp_train_optimizer_name(&d), LP_OPTIMIZER_LOOKAHEAD);
    d.lookahead = false;
    CU_ASSERT_STRING_EQUAL(lp_train_optimizer_name(&d), lp_optimizer_at(0)->name);
}

static void test_schedule_and_loss_tables(void) {
    const lp_lr_schedule_kind *k;
    int n = 0, without_option = 0;
    for (; (k = lp_lr_schedule_at(n)); ++n) {
        CU_ASSERT_EQUAL((int)k->kind, n); /* rows in lp_lr_kind order */
        CU_ASSERT_STRING_EQUAL(lp_lr_kind_name(k->kind), k->name);
        CU_ASSERT_PTR_NOT_NULL(k->at);
        if (!k->option) {
            without_option++;
            CU_ASSERT_EQUAL(k->kind, LP_LR_CONSTANT);
        } else {
            CU_ASSERT(k->parse && k->metavar && k->def && k->help);
        }
        for (int i = 0; i < n; ++i)
            CU_ASSERT(strcmp(lp_lr_schedule_at(i)->name, k->name) != 0);
    }
    CU_ASSERT_EQUAL(n, 3);
    CU_ASSERT_EQUAL(without_option, 1);
    CU_ASSERT_STRING_EQUAL(lp_lr_kind_name((lp_lr_kind)n), "unknown");

    /* a decay of 1 keeps the schedule constant; out of range names the flag */
    lp_lr_schedule s = {.kind = LP_LR_CONSTANT, .base = 1e-3, .decay = 1};
    CU_ASSERT_EQUAL(lp_lr_parse_decay("1", &s), LP_OK);
    CU_ASSERT_EQUAL(s.kind, LP_LR_CONSTANT);
    CU_ASSERT_EQUAL(lp_lr_parse_decay("0.5", &s), LP_OK);
    CU_ASSERT_EQUAL(s.kind, LP_LR_EXPONENTIAL);
    CU_ASSERT_EQUAL(s.decay, 0.5);
    CU_ASSERT_EQUAL(lp_lr_at(&s, 2), 1e-3 * pow(0.5, 2));
    CU_ASSERT_EQUAL(lp_lr_parse_decay("11", &s), LP_ERR_INVALID_ARG);
    CU_ASSERT_STRING_EQUAL(lp_last_error(),
                           "--lr-decay: expected a number from 1e-09 to 10, got '11'");

    const lp_loss *l = lp_loss_at(0);
    CU_ASSERT_FATAL(l != NULL);
    CU_ASSERT(l->name && *l->name && l->run);
    lp_train_config d;
    lp_train_config_defaults(&d);
    CU_ASSERT_PTR_EQUAL(d.loss, l);
    CU_ASSERT_PTR_NULL(lp_loss_at(-1));
}

static void test_dataset_table(void) {
    const lp_dataset_format *f;
    char want[512] = "";
    int n = 0;
    for (; (f = lp_dataset_format_at(n)); ++n) {
        CU_ASSERT(f->name && *f->name && f->default_dir && f->description && f->load);
        CU_ASSERT_PTR_EQUAL(lp_dataset_format_find(f->name), f);
        for (int i = 0; i < n; ++i)
            CU_ASSERT(strcmp(lp_dataset_format_at(i)->name, f->name) != 0);
        /* the name reaches the format's loader, which looks for its files */
        lp_dataset ds;
        CU_ASSERT_EQUAL(lp_dataset_load(f->name, "/nonexistent/laperm-data", "train", &ds),
                        LP_ERR_NOT_FOUND);
        CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), "/nonexistent/laperm-data"));
        CU_ASSERT_PTR_NULL(ds.x);
    }
    CU_ASSERT(n >= 3);
    CU_ASSERT_PTR_NULL(lp_dataset_format_at(n));
    CU_ASSERT_PTR_NULL(lp_dataset_format_find("no-such-format"));
    for (int i = 0; i < n; ++i)
        snprintf(want + strlen(want), sizeof want - strlen(want), "%s%s",
                 i == 0       ? ""
                 : i == n - 1 ? " or "
                              : ", ",
                 lp_dataset_format_at(i)->name);
    lp_dataset ds;
    CU_ASSERT_EQUAL(lp_dataset_load("no-such-format", "/tmp", "train", &ds), LP_ERR_INVALID_ARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(lp_last_error(), want));
}

/* ---- through the program into the results file ----------------------------------------- */

/* Runs `laperm train ARGS` in the source folder; returns its exit status, *out its output. */
static int laperm_(const char *args, char **out) {
    char cmd[8192];
    const char *bin = getenv("LAPERM_BINARY");
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' train %s", lp_test_source_path(""),
             bin ? bin : "laperm", args);
    *out = NULL;
    return lp_test_run_command(cmd, out);
}

static void write_file_(const char *dir, const char *name, const void *data, size_t len) {
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT(fwrite(data, 1, len, f) == len);
    fclose(f);
}

/* An MNIST-layout folder: n 28x28 images and labels per split. */
static void write_idx_folder_(const char *dir, int n) {
    static uint8_t buf[16 + 64 * 28 * 28];
    for (int s = 0; s < 2; ++s) {
        const char *p = s ? "t10k" : "train";
        char name[64];
        uint8_t head[16] = {0, 0, 8, 3, 0, 0, 0, (uint8_t)n, 0, 0, 0, 28, 0, 0, 0, 28};
        memcpy(buf, head, 16);
        for (int i = 0; i < n * 28 * 28; ++i)
            buf[16 + i] = (uint8_t)(i * 7 + s);
        snprintf(name, sizeof name, "%s-images-idx3-ubyte", p);
        write_file_(dir, name, buf, 16 + (size_t)n * 28 * 28);
        uint8_t lhead[8] = {0, 0, 8, 1, 0, 0, 0, (uint8_t)n};
        memcpy(buf, lhead, 8);
        for (int i = 0; i < n; ++i)
            buf[8 + i] = (uint8_t)(i % 10);
        snprintf(name, sizeof name, "%s-labels-idx1-ubyte", p);
        write_file_(dir, name, buf, 8 + (size_t)n);
    }
}

/* A 64-image MNIST-layout folder for the runs below, written once. */
static const char *tiny_dir_(void) {
    static char dir[1024];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s/tiny-idx", lp_test_tmpdir());
        mkdir(dir, 0777);
        write_idx_folder_(dir, 64);
    }
    return dir;
}

/* A tiny run of two epochs on tiny_dir_() writing `h5`, with `extra` flags; false
 * (after a failure) when it did not run cleanly. */
static bool tiny_run_(const char *extra, const char *h5, char **out) {
    char args[4096];
    snprintf(args, sizeof args,
             "--model models/logreg.ini --data '%s' --test-subset 16 --epochs 2 --batch 32 "
             "--progress none --out '%s' %s",
             tiny_dir_(), h5, extra);
    int st = laperm_(args, out);
    if (st != 0) printf("\n  laperm train %s\n  exit %d:\n%s\n", args, st, *out ? *out : "");
    CU_ASSERT_EQUAL(st, 0);
    return st == 0;
}

static void expect_attr_(const char *h5, const char *attr, const char *want) {
    char *got = NULL;
    LP_TEST_OK(lp_results_read_string(h5, "/", attr, &got));
    if (!got || strcmp(got, want))
        printf("\n  %s: attribute %s is '%s', expected '%s'\n", h5, attr, got ? got : "(none)",
               want);
    CU_ASSERT(got && !strcmp(got, want));
    free(got);
}

static void expect_output_(const char *out, const char *want) {
    if (!out || !strstr(out, want))
        printf("\n  output lacks '%s':\n%s\n", want, out ? out : "(none)");
    CU_ASSERT(out && strstr(out, want));
}

/* A value other than the default inside [min, max], written so that strtod gives back
 * exactly the double the attribute must hold. */
static double other_value_(const lp_optimizer_param *p, char *text, size_t cap) {
    double v = p->def > p->min ? (p->def + p->min) / 2 : (p->def + p->max) / 2;
    snprintf(text, cap, "%.17g", v);
    return strtod(text, NULL);
}

static void test_optimizers_round_trip(void) {
    char h5[1024], extra[2048], line[256];
    const lp_optimizer *o;
    for (int i = 0; (o = lp_optimizer_at(i)); ++i) {
        /* 0: the optimizer alone, 1: LaPerm over it, 2: Lookahead over it */
        for (int mode = 0; mode < 3; ++mode) {
            bool laperm = mode == 1;
            const char *name = mode == 0   ? o->name
                               : mode == 1 ? LP_OPTIMIZER_LAPERM
                                           : LP_OPTIMIZER_LOOKAHEAD;
            /* every optimizer's every hyper-parameter, set away from its default */
            double want[LP_OPTIMIZER_SLOTS][LP_OPTIMIZER_MAX_PARAMS];
            if (mode == 0)
                snprintf(extra, sizeof extra, "--optimizer %s", o->name);
            else
                snprintf(extra, sizeof extra, "--optimizer %s --inner %s --k 3", name, o->name);
            if (mode == 2) strcat(extra, " --la-k 2 --la-alpha 0.25");
            const lp_optimizer *q;
            for (int a = 0; (q = lp_optimizer_at(a)); ++a)
                for (int j = 0; j < q->n_params; ++j) {
                    char v[64];
                    want[a][j] = other_value_(&q->params[j], v, sizeof v);
                    snprintf(extra + strlen(extra), sizeof extra - strlen(extra), " %s %s",
                             q->params[j].option, v);
                }
            snprintf(h5, sizeof h5, "%s/opt-%s-%d.h5", lp_test_tmpdir(), o->name, mode);
            char *out = NULL;
            if (tiny_run_(extra, h5, &out)) {
                if (laperm)
                    snprintf(line, sizeof line, "LaPerm k=3 over %s, batch", o->title);
                else if (mode == 2)
                    snprintf(line, sizeof line, "images; Lookahead k=2 alpha=0.25 over %s, batch",
                             o->title);
                else
                    snprintf(line, sizeof line, "images; %s, batch", o->title);
                expect_output_(out, line);
                expect_attr_(h5, "optimizer", name);
                long long la_k = -1;
                double la_alpha = -1;
                LP_TEST_OK(lp_results_read_attr_int(h5, "/", "lookahead_k", &la_k));
                LP_TEST_OK(lp_results_read_attr_double(h5, "/", "lookahead_alpha", &la_alpha));
                CU_ASSERT_EQUAL(la_k, mode == 2 ? 2 : 0);
                CU_ASSERT_EQUAL(la_alpha, mode == 2 ? 0.25 : 0.0);
                expect_attr_(h5, "inner_optimizer", o->name);
                expect_attr_(h5, "loss", lp_loss_at(0)->name);
                for (int a = 0; (q = lp_optimizer_at(a)); ++a)
                    for (int j = 0; j < q->n_params; ++j) {
                        double got = NAN;
                        LP_TEST_OK(lp_results_read_attr_double(h5, "/", q->params[j].attr, &got));
                        if (got != want[a][j])
                            printf("\n  %s: %s = %.17g, expected %.17g\n", h5, q->params[j].attr,
                                   got, want[a][j]);
                        CU_ASSERT_EQUAL(got, want[a][j]);
                    }
            }
            free(out);
        }
    }
}

/* Every choice list and every hyper-parameter flag in --help and in the error for an
 * unknown name. */
static void test_help_and_errors_list_the_tables(void) {
    char *help = NULL, want[512], names[256] = "";
    CU_ASSERT_EQUAL(laperm_("--help", &help), 0);
    const lp_optimizer *o;
    for (int i = 0; (o = lp_optimizer_at(i)); ++i) {
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? " | " : "",
                 o->name);
        for (int j = 0; j < o->n_params; ++j) {
            snprintf(want, sizeof want, "%s X", o->params[j].option);
            expect_output_(help, want);
            snprintf(want, sizeof want, "%s [default: ", o->params[j].help);
            expect_output_(help, want);
        }
    }
    snprintf(want, sizeof want, "%s | %s | %s [default: %s]", LP_OPTIMIZER_LAPERM,
             LP_OPTIMIZER_LOOKAHEAD, names, LP_OPTIMIZER_LAPERM);
    expect_output_(help, want);
    snprintf(want, sizeof want, "LaPerm's inner optimizer: %s [default: %s]", names,
             lp_optimizer_at(0)->name);
    expect_output_(help, want);
    const lp_lr_schedule_kind *k;
    for (int i = 0; (k = lp_lr_schedule_at(i)); ++i) {
        if (!k->option) continue;
        snprintf(want, sizeof want, "%s %s", k->option, k->metavar);
        expect_output_(help, want);
    }
    const lp_dataset_format *f;
    for (int i = 0; (f = lp_dataset_format_at(i)); ++i) {
        snprintf(want, sizeof want, "%-15s %s (%s)", f->name, f->description, f->default_dir);
        expect_output_(help, want);
    }
    snprintf(want, sizeof want,
             "--dataset NAME         file format; sets the default --data "
             "[default: %s]",
             lp_dataset_format_at(0)->name);
    expect_output_(help, want);
    free(help);

    char *out = NULL;
    snprintf(want, sizeof want, "--optimizer: expected one of %s, %s", LP_OPTIMIZER_LAPERM,
             LP_OPTIMIZER_LOOKAHEAD);
    for (int i = 0; (o = lp_optimizer_at(i)); ++i)
        snprintf(want + strlen(want), sizeof want - strlen(want), ", %s", o->name);
    CU_ASSERT_EQUAL(laperm_("--model models/logreg.ini --optimizer rmsprop", &out), 2);
    expect_output_(out, want);
    free(out);
    snprintf(want, sizeof want, "--dataset: expected one of ");
    for (int i = 0; (f = lp_dataset_format_at(i)); ++i)
        snprintf(want + strlen(want), sizeof want - strlen(want), "%s%s", i ? ", " : "", f->name);
    CU_ASSERT_EQUAL(laperm_("--model models/logreg.ini --dataset svhn", &out), 2);
    expect_output_(out, want);
    free(out);
    CU_ASSERT_EQUAL(laperm_("--model models/logreg.ini --lr-decay 0.5 --lr-steps 1:0.1", &out), 2);
    expect_output_(out, "laperm train: give either --lr-decay or --lr-steps, not both");
    free(out);
    /* a decay of 1 is the constant schedule and leaves --lr-steps alone */
    CU_ASSERT_EQUAL(laperm_("--model models/logreg.ini --lr-decay 1 --lr-steps 1:x", &out), 2);
    expect_output_(out, "--lr-steps '1:x': factor after '1:' must be a positive number");
    free(out);
}

/* Each schedule's flag with a sample value (a new schedule must add its own). */
static const struct {
    const char *name, *value, *lr_decay, *lr_steps;
} schedule_cases_[] = {
    {"constant", NULL, "1", ""},
    {"exponential", "0.5", "0.5", ""},
    {"steps", "1:0.1", "1", "1:0.1"},
};

static void test_schedules_round_trip(void) {
    const lp_lr_schedule_kind *k;
    for (int i = 0; (k = lp_lr_schedule_at(i)); ++i) {
        int c = -1;
        for (size_t j = 0; j < sizeof schedule_cases_ / sizeof *schedule_cases_; ++j)
            if (!strcmp(schedule_cases_[j].name, k->name)) c = (int)j;
        if (c < 0) {
            printf("\n  schedule '%s' has no case in schedule_cases_\n", k->name);
            CU_FAIL("a schedule without a test case");
            continue;
        }
        char extra[256] = "", h5[1024];
        if (k->option) snprintf(extra, sizeof extra, "%s %s", k->option, schedule_cases_[c].value);
        snprintf(h5, sizeof h5, "%s/lr-%s.h5", lp_test_tmpdir(), k->name);
        char *out = NULL;
        if (tiny_run_(extra, h5, &out)) {
            expect_attr_(h5, "lr_schedule", k->name);
            expect_attr_(h5, "lr_steps", schedule_cases_[c].lr_steps);
            double decay = 0, *lr = NULL;
            LP_TEST_OK(lp_results_read_attr_double(h5, "/", "lr_decay", &decay));
            CU_ASSERT_EQUAL(decay, atof(schedule_cases_[c].lr_decay));
            /* the second epoch's rate is the schedule's */
            lp_lr_schedule s = {.kind = LP_LR_CONSTANT, .base = 1e-3, .decay = 1};
            if (k->parse) LP_TEST_OK(k->parse(schedule_cases_[c].value, &s));
            int rank;
            size_t dims[4];
            LP_TEST_OK(lp_results_read_double(h5, "/metrics/learning_rate", &lr, &rank, dims));
            CU_ASSERT(lr && dims[0] == 2 && lr[1] == lp_lr_at(&s, 1));
            free(lr);
        }
        free(out);
    }
}

/* A CIFAR-10 folder: n records in each batch file. */
static void write_cifar_folder_(const char *dir, int n) {
    static uint8_t buf[16 * 3073];
    for (int i = 0; i < n * 3073; ++i)
        buf[i] = (uint8_t)(i % 3073 == 0 ? (i / 3073) % 10 : i);
    const char *names[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                           "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"};
    for (int i = 0; i < 6; ++i)
        write_file_(dir, names[i], buf, (size_t)n * 3073);
}

/* A CIFAR-100 folder: n records (coarse and fine label, pixels) in train.bin and test.bin. */
static void write_cifar100_folder_(const char *dir, int n) {
    static uint8_t buf[16 * 3074];
    for (int i = 0; i < n * 3074; ++i)
        buf[i] = (uint8_t)(i % 3074 < 2 ? (i / 3074) % 20 : i);
    write_file_(dir, "train.bin", buf, (size_t)n * 3074);
    write_file_(dir, "test.bin", buf, (size_t)n * 3074);
}

/* An HDF5 data file: n samples of 8 float features and int labels 0..3 in each split. */
static void write_hdf5_data_(const char *path, int n) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    float x[16 * 8];
    int y[16];
    for (int i = 0; i < n * 8; ++i)
        x[i] = (float)(i % 13) / 13.0f - 0.5f;
    for (int i = 0; i < n; ++i)
        y[i] = i % 4;
    const char *splits[2] = {"train", "test"};
    for (int s = 0; s < 2; ++s) {
        hid_t g = H5Gcreate2(f, splits[s], H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        hsize_t dx[2] = {(hsize_t)n, 8}, dy[1] = {(hsize_t)n};
        hid_t sx = H5Screate_simple(2, dx, NULL), sy = H5Screate_simple(1, dy, NULL);
        hid_t ax = H5Dcreate2(g, "x", H5T_IEEE_F32LE, sx, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        hid_t ay = H5Dcreate2(g, "y", H5T_STD_I32LE, sy, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        CU_ASSERT(H5Dwrite(ax, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) >= 0);
        CU_ASSERT(H5Dwrite(ay, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, y) >= 0);
        H5Dclose(ax);
        H5Dclose(ay);
        H5Sclose(sx);
        H5Sclose(sy);
        H5Gclose(g);
    }
    H5Fclose(f);
}

static void test_datasets_round_trip(void) {
    const lp_dataset_format *f;
    const char *tmp = lp_test_tmpdir();
    char cifar_model[1024];
    snprintf(cifar_model, sizeof cifar_model, "%s/rgb.ini", tmp);
    const char *rgb = "[input]\nchannels = 3\nheight = 32\nwidth = 32\n[flatten]\n"
                      "[dense]\nunits = 10\n";
    write_file_(tmp, "rgb.ini", rgb, strlen(rgb));
    char rgb100[1024], rgb20[1024];
    snprintf(rgb100, sizeof rgb100, "%s/rgb100.ini", tmp);
    snprintf(rgb20, sizeof rgb20, "%s/rgb20.ini", tmp);
    const char *t100 = "[input]\nchannels = 3\nheight = 32\nwidth = 32\n[flatten]\n"
                       "[dense]\nunits = 100\n",
               *t20 = "[input]\nchannels = 3\nheight = 32\nwidth = 32\n[flatten]\n"
                      "[dense]\nunits = 20\n";
    write_file_(tmp, "rgb100.ini", t100, strlen(t100));
    write_file_(tmp, "rgb20.ini", t20, strlen(t20));
    for (int i = 0; (f = lp_dataset_format_at(i)); ++i) {
        char dir[1024], args[4096], h5[1024];
        snprintf(dir, sizeof dir, "%s/data-%s", tmp, f->name);
        mkdir(dir, 0777);
        const char *model = "models/logreg.ini";
        if (!strcmp(f->name, "mnist") || !strcmp(f->name, "fashion-mnist")) {
            write_idx_folder_(dir, 16);
        } else if (!strcmp(f->name, "cifar10")) {
            write_cifar_folder_(dir, 4);
            model = cifar_model;
        } else if (!strcmp(f->name, "cifar100") || !strcmp(f->name, "cifar100-coarse")) {
            write_cifar100_folder_(dir, 4);
            model = strcmp(f->name, "cifar100") ? rgb20 : rgb100;
        } else if (!strcmp(f->name, "hdf5")) {
            snprintf(dir, sizeof dir, "%s/data-hdf5.h5", tmp); /* --data is the file */
            write_hdf5_data_(dir, 16);
            model = "models/blobs.ini";
        } else {
            printf("\n  dataset format '%s' has no case in test_datasets_round_trip\n", f->name);
            CU_FAIL("a dataset format without a test case");
            continue;
        }
        snprintf(h5, sizeof h5, "%s/data-%s.h5", tmp, f->name);
        snprintf(args, sizeof args,
                 "--model %s --dataset %s --data '%s' --epochs 1 --batch 8 --progress none "
                 "--out '%s'",
                 model, f->name, dir, h5);
        char *out = NULL;
        int st = laperm_(args, &out);
        if (st != 0) printf("\n  laperm train %s\n  exit %d:\n%s\n", args, st, out ? out : "");
        CU_ASSERT_EQUAL(st, 0);
        if (st == 0) {
            expect_attr_(h5, "dataset", f->name);
            expect_attr_(h5, "data_dir", dir);
        }
        free(out);
        /* Without --data the default folder is used: it is named either in the start-up
         * line or in the error for a missing folder. */
        snprintf(args, sizeof args,
                 "--model %s --dataset %s --max-steps 1 --epochs 1 --train-subset 8 "
                 "--test-subset 8 --progress none --no-out",
                 model, f->name);
        laperm_(args, &out);
        expect_output_(out, f->default_dir);
        free(out);
    }
}

static void register_suites(void) {
    CU_pSuite s = CU_add_suite("tables", NULL, NULL);
    CU_add_test(s, "optimizer table", test_optimizer_table);
    CU_add_test(s, "schedule and loss tables", test_schedule_and_loss_tables);
    CU_add_test(s, "dataset format table", test_dataset_table);
    CU_add_test(s, "--help and errors list every entry", test_help_and_errors_list_the_tables);
    CU_add_test(s, "every optimizer's name and hyper-parameters reach the results file",
                test_optimizers_round_trip);
    CU_add_test(s, "every schedule's name reaches the results file", test_schedules_round_trip);
    CU_add_test(s, "every dataset format's name reaches the results file",
                test_datasets_round_trip);
}

int main(void) {
    return lp_test_main("test_tables", register_suites);
}
