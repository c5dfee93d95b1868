/* laperm train --resume FILE: FILE is a results file or the .part of a run that was
 * killed; of FILE and its .part, the newest valid checkpoint wins. --replay FILE: the
 * choices a finished run recorded. */
#include "train_resume.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "laperm/results.h"

static bool ends_with_(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

int cli_resume_find(const char *file, cli_resume_plan *plan) {
    memset(plan, 0, sizeof *plan);
    snprintf(plan->out, sizeof plan->out, "%s", file);
    if (ends_with_(plan->out, ".part")) plan->out[strlen(plan->out) - 5] = '\0';
    char part[4112];
    snprintf(part, sizeof part, "%s.part", plan->out);
    const char *candidates[2] = {part, plan->out};
    lp_results_checkpoint best = {0};
    int found = -1;
    for (int i = 0; i < 2; ++i) {
        if (access(candidates[i], F_OK) != 0) continue;
        lp_results_checkpoint c;
        lp_status s = lp_results_read_checkpoint(candidates[i], &c);
        if (s == LP_ERR_HDF5) {
            /* Killed while it finished (outside SWMR mode): clear the mark, as h5clear -s
             * would, and read it again. */
            lp_clear_error();
            if (lp_results_clear_open_mark(candidates[i]) == LP_OK)
                s = lp_results_read_checkpoint(candidates[i], &c);
        }
        if (s != LP_OK && s != LP_ERR_NOT_FOUND) {
            /* Never removed here: the user decides what to do with a file laperm cannot
             * read. (A killed run's .part always opens: it is built under another name.) */
            fprintf(stderr,
                    "laperm train: --resume: %s: %s\n(move it away to start the run afresh)\n",
                    candidates[i], lp_last_error());
            lp_results_checkpoint_free(&best);
            return 1;
        }
        if (!plan->argv &&
            lp_results_read_string(candidates[i], "/", "argv", &plan->argv) != LP_OK) {
            fprintf(stderr, "laperm train: --resume %s: %s\n", file, lp_last_error());
            if (s == LP_OK) lp_results_checkpoint_free(&c);
            lp_results_checkpoint_free(&best);
            return 1;
        }
        if (s == LP_ERR_NOT_FOUND) {
            lp_clear_error();
            continue;
        }
        if (found < 0 || c.step > best.step) {
            lp_results_checkpoint_free(&best);
            best = c;
            found = i;
        } else {
            lp_results_checkpoint_free(&c);
        }
    }
    if (found == 1 && access(part, F_OK) != 0) {
        /* Only the finished file: completed runs have nothing left. */
        char *status = NULL;
        if (lp_results_read_string(plan->out, "/", "status", &status) == LP_OK &&
            strcmp(status, "interrupted") != 0)
            plan->complete = true;
        free(status);
        lp_clear_error();
    }
    if (found >= 0) {
        snprintf(plan->source, sizeof plan->source, "%s", candidates[found]);
        plan->resume.source = plan->source;
        plan->resume.checkpoint = best;
    }
    return 0;
}

void cli_resume_free(cli_resume_plan *plan) {
    free(plan->argv);
    lp_results_checkpoint_free(&plan->resume.checkpoint);
}

int cli_replay_conv(const char *file, const lp_model_spec *model, lp_conv_algo *per_layer) {
    char *paths = NULL;
    if (lp_results_read_string(file, "/", "conv_paths", &paths) != LP_OK) {
        fprintf(stderr, "laperm train: %s: %s\n", file, lp_last_error());
        return 1;
    }
    for (int i = 0; i < model->n_layers; ++i)
        per_layer[i] = LP_CONV_ALGO_AUTO;
    int rc = 0;
    for (char *item = strtok(paths, ","); item && !rc; item = strtok(NULL, ",")) {
        char *eq = strchr(item, '=');
        int layer = -1;
        lp_conv_algo algo = LP_CONV_ALGO_AUTO;
        if (eq) {
            *eq = '\0';
            for (int i = 0; i < model->n_layers; ++i)
                if (strcmp(model->layers[i].name, item) == 0) layer = i;
            for (int a = 1; a < LP_CONV_ALGO_COUNT; ++a)
                if (strcmp(lp_conv_algo_name((lp_conv_algo)a), eq + 1) == 0) algo = (lp_conv_algo)a;
        }
        if (layer < 0 || algo == LP_CONV_ALGO_AUTO) {
            fprintf(stderr,
                    "laperm train: %s: conv_paths entry '%s' names no layer of %s or no path\n",
                    file, item, model->source);
            rc = 1;
        } else {
            per_layer[layer] = algo;
        }
    }
    free(paths);
    return rc;
}
