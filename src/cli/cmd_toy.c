/*
 * cmd_toy.c — `warm toy`: claim C17, the Monte-Carlo check of the paper's bag-of-features toy model (§4.3,
 * Eqs. 4-5, Remark 4). warm_toy_run (src/eval/toy.c) estimates, per feature, the coefficient of ENS_M and of
 * WA_M; this command prints them beside the theory (ENS: p; WA: E[(Bin(M,p)/M)^L] at this M, p^L as
 * M -> inf), gives a verdict and optionally writes everything as JSON (docs/toy.md).
 *
 * The verdict "holds" when every Monte-Carlo estimate (ENS, WA and the paired WA - ENS gap) lies within
 * TOY_NSE standard errors plus TOY_SLACK of its finite-M theory, WA <= ENS (+ TOY_SLACK) for every feature
 * with p < 1, and p^L <= p. A failed verdict is a measurement, not an error: the exit code is 0 either way.
 */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "warm/data.h"
#include "warm/toy.h"

/* Tolerance of the verdict: 4 standard errors (a false alarm per estimate has probability ~6e-5 under a
 * normal approximation) plus an absolute slack for estimates whose spread is zero or tiny. */
#define TOY_NSE 4.0
#define TOY_SLACK 1e-3

typedef struct {
    warm_opt_list p, znorm;
    int M, L, d;
    double sigma;
    int64_t trials, seed;
    const char *json;
} toy_args;

/* Per-feature verdict details. */
typedef struct {
    double z_ens, z_wa, z_gap; /* |MC - theory| / se (INFINITY: se = 0 and they differ) */
    int ok;                    /* within tolerance and ordered */
} toy_check;

static double theory_gap(const warm_toy_feature *f) { return f->theory_wa_M - f->theory_ens; }

static int check_feature(const warm_toy_feature *f, toy_check *k) {
    int ok = warm_toy_within(f->mc_ens, f->mc_ens_se, f->theory_ens, TOY_NSE, TOY_SLACK, &k->z_ens);
    ok &= warm_toy_within(f->mc_wa, f->mc_wa_se, f->theory_wa_M, TOY_NSE, TOY_SLACK, &k->z_wa);
    ok &= warm_toy_within(f->mc_gap, f->mc_gap_se, theory_gap(f), TOY_NSE, TOY_SLACK, &k->z_gap);
    if (f->p < 1) ok &= f->mc_wa <= f->mc_ens + TOY_SLACK;
    ok &= f->theory_wa_inf <= f->theory_ens;
    k->ok = ok;
    return ok;
}

static double max3(double a, double b, double c) { return fmax(a, fmax(b, c)); }

/* ---------------------------------------------------------------------------------------------------- */
/* Output                                                                                                 */

static void print_table(const toy_args *a, const warm_toy_feature *f, const toy_check *k) {
    int F = a->p.n;
    printf("toy model (paper 4.3): F = %d features, d = %d, sigma = %g, M = %d runs, L = %d layers, "
           "%" PRId64 " trials, seed %" PRId64 "\n",
           F, a->d, a->sigma, a->M, a->L, a->trials, a->seed);
    printf("coefficient of feature j per unit |z_j|^2; theory: ENS = p, WA = E[(Bin(M,p)/M)^L] at M (-> p^L)\n\n");
    printf("  %4s %6s | %8s %20s %6s | %8s %8s %20s %6s | %5s\n", "feat", "p", "ENS th", "ENS MC +- se", "z",
           "WA th M", "WA p^L", "WA MC +- se", "z", "ok");
    for (int j = 0; j < F; j++) {
        char e[32], w[32];
        snprintf(e, sizeof e, "%.4f +- %.4f", f[j].mc_ens, f[j].mc_ens_se);
        snprintf(w, sizeof w, "%.4f +- %.4f", f[j].mc_wa, f[j].mc_wa_se);
        printf("  %4d %6.3f | %8.4f %20s %6.2f | %8.4f %8.4f %20s %6.2f | %5s\n", j, f[j].p, f[j].theory_ens, e,
               k[j].z_ens, f[j].theory_wa_M, f[j].theory_wa_inf, w, k[j].z_wa, k[j].ok ? "yes" : "NO");
    }
}

/* The rarest and the most common feature strictly inside (0, 1), and one with p = 1; -1 when none. */
static void pick_examples(const warm_toy_feature *f, int F, int *lo, int *hi, int *one) {
    *lo = *hi = *one = -1;
    for (int j = 0; j < F; j++) {
        if (f[j].p >= 1 && *one < 0) *one = j;
        if (!(f[j].p > 0 && f[j].p < 1)) continue;
        if (*lo < 0 || f[j].p < f[*lo].p) *lo = j;
        if (*hi < 0 || f[j].p > f[*hi].p) *hi = j;
    }
}

static void print_example(const toy_args *a, const warm_toy_feature *f) {
    printf("p=%g -> ENS %g, WA %g (p^%d; MC at M = %d: ENS %.4f, WA %.4f)", f->p, f->theory_ens, f->theory_wa_inf,
           a->L, a->M, f->mc_ens, f->mc_wa);
}

static void print_verdict(const toy_args *a, const warm_toy_feature *f, int holds, double max_z) {
    int F = a->p.n;
    printf("\nverdict: %s: every MC estimate (ENS, WA, paired WA-ENS) %s within %g se + %g of its finite-M "
           "theory (max |z| = %.2f), and WA <= ENS for every feature with p < 1\n",
           holds ? "HOLDS" : "DOES NOT HOLD", holds ? "lies" : "does not all lie", TOY_NSE, TOY_SLACK, max_z);
    int lo, hi, one;
    pick_examples(f, F, &lo, &hi, &one);
    if (lo >= 0 && a->L > 1) {
        printf("WA shrinks rarely learned features more: ");
        print_example(a, &f[lo]);
        if (hi != lo) {
            printf("; ");
            print_example(a, &f[hi]);
        }
        printf("\n");
    } else if (lo >= 0) {
        printf("L = 1 (a linear model): WA and ENS coincide, both p\n");
    }
    if (one >= 0)
        printf("features every run learns survive: p=1 -> ENS %.4f, WA %.4f (MC)\n", f[one].mc_ens, f[one].mc_wa);
}

static void add_num_or_null(cJSON *o, const char *key, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(o, key, v);
    else cJSON_AddNullToObject(o, key);
}

static cJSON *build_json(const toy_args *a, const warm_toy_config *c, const warm_toy_feature *f,
                         const toy_check *k, int holds, double max_z) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    cJSON_AddStringToObject(root, "claim", "C17");
    cJSON *cfg = cJSON_AddObjectToObject(root, "config");
    cJSON_AddItemToObject(cfg, "p", cJSON_CreateDoubleArray(c->p, c->F));
    if (c->znorm) cJSON_AddItemToObject(cfg, "znorm", cJSON_CreateDoubleArray(c->znorm, c->F));
    else cJSON_AddNullToObject(cfg, "znorm");
    cJSON_AddNumberToObject(cfg, "dim", c->d);
    cJSON_AddNumberToObject(cfg, "sigma", c->sigma);
    cJSON_AddNumberToObject(cfg, "M", c->M);
    cJSON_AddNumberToObject(cfg, "layers", c->L);
    cJSON_AddNumberToObject(cfg, "trials", (double)c->trials);
    cJSON_AddNumberToObject(cfg, "seed", (double)a->seed);
    cJSON *tol = cJSON_AddObjectToObject(root, "tolerance");
    cJSON_AddNumberToObject(tol, "standard_errors", TOY_NSE);
    cJSON_AddNumberToObject(tol, "slack", TOY_SLACK);
    cJSON *arr = cJSON_AddArrayToObject(root, "features");
    for (int j = 0; j < c->F; j++) {
        cJSON *o = cJSON_CreateObject();
        if (!o) break;
        cJSON_AddNumberToObject(o, "feature", j);
        cJSON_AddNumberToObject(o, "p", f[j].p);
        cJSON_AddNumberToObject(o, "theory_ens", f[j].theory_ens);
        cJSON_AddNumberToObject(o, "theory_wa_M", f[j].theory_wa_M);
        cJSON_AddNumberToObject(o, "theory_wa_inf", f[j].theory_wa_inf);
        cJSON_AddNumberToObject(o, "mc_ens", f[j].mc_ens);
        cJSON_AddNumberToObject(o, "mc_ens_se", f[j].mc_ens_se);
        add_num_or_null(o, "z_ens", k[j].z_ens);
        cJSON_AddNumberToObject(o, "mc_wa", f[j].mc_wa);
        cJSON_AddNumberToObject(o, "mc_wa_se", f[j].mc_wa_se);
        add_num_or_null(o, "z_wa", k[j].z_wa);
        cJSON_AddNumberToObject(o, "theory_gap", theory_gap(&f[j]));
        cJSON_AddNumberToObject(o, "mc_gap", f[j].mc_gap);
        cJSON_AddNumberToObject(o, "mc_gap_se", f[j].mc_gap_se);
        add_num_or_null(o, "z_gap", k[j].z_gap);
        cJSON_AddBoolToObject(o, "ok", k[j].ok);
        cJSON_AddItemToArray(arr, o);
    }
    add_num_or_null(root, "max_abs_z", max_z);
    cJSON_AddBoolToObject(root, "holds", holds);
    return root;
}

/* ---------------------------------------------------------------------------------------------------- */
/* The command                                                                                            */

static int run_toy(const toy_args *a) {
    warm_error err = {0};
    int F = a->p.n;
    double *znorm = NULL;
    if (a->znorm.n > 0) {
        if (a->znorm.n != 1 && a->znorm.n != F) {
            cli_error("toy", "--znorm: %d values given for %d features (give one value or one per feature)",
                      a->znorm.n, F);
            return CLI_EXIT_USAGE;
        }
        znorm = malloc((size_t)F * sizeof *znorm);
        if (!znorm) return cli_fail("toy", &(warm_error){WARM_ERR_NOMEM, "out of memory"});
        for (int j = 0; j < F; j++) znorm[j] = a->znorm.f64[a->znorm.n == 1 ? 0 : j];
    }
    warm_toy_config c = {.F = F, .p = a->p.f64, .znorm = znorm, .d = a->d, .sigma = a->sigma, .M = a->M,
                         .L = a->L, .trials = a->trials, .seed = (uint64_t)a->seed};
    warm_toy_feature *f = calloc((size_t)F, sizeof *f);
    toy_check *k = calloc((size_t)F, sizeof *k);
    warm_status st = f && k ? WARM_OK : warm_error_set(&err, WARM_ERR_NOMEM, "toy: out of memory");
    double t0 = warm_time_now();
    if (!st) st = warm_toy_run(&c, f, &err);
    if (!st) {
        double secs = warm_time_now() - t0, max_z = 0;
        int holds = 1;
        for (int j = 0; j < F; j++) {
            holds &= check_feature(&f[j], &k[j]);
            max_z = fmax(max_z, max3(k[j].z_ens, k[j].z_wa, k[j].z_gap));
        }
        print_table(a, f, k);
        print_verdict(a, f, holds, max_z);
        printf("(%.2f s)\n", secs);
        if (a->json) {
            cJSON *root = build_json(a, &c, f, k, holds, max_z);
            st = root ? warm_json_write(a->json, root, &err) : warm_error_set(&err, WARM_ERR_NOMEM, "toy: out of memory");
            cJSON_Delete(root);
            if (!st) printf("wrote %s\n", a->json);
        }
    }
    free(f);
    free(k);
    free(znorm);
    return st ? cli_fail("toy", &err) : CLI_EXIT_OK;
}

int cli_cmd_toy(int argc, char **argv) {
    toy_args a;
    memset(&a, 0, sizeof a);
    warm_opt opts[] = {
        {.name = "p", .kind = WARM_OPT_FLOAT_LIST, .dest = &a.p, .min = 0, .max = 1, .metavar = "P1,P2,...",
         .def = "0.1,0.3,0.5,0.7,0.9,1", .help = "probability that a run learns each feature (one per feature)"},
        {.name = "znorm", .kind = WARM_OPT_FLOAT_LIST, .dest = &a.znorm, .min = 1e-6, .max = 1e6,
         .metavar = "N1,N2,...", .help = "feature norms |z_j|: one value for all or one per feature (default 1)"},
        {.name = "M", .kind = WARM_OPT_INT, .dest = &a.M, .min = 1, .max = WARM_TOY_MAX_M, .def = "10",
         .help = "runs averaged (ENS: predictions; WA: heads and selectors separately)"},
        {.name = "layers", .short_name = 'L', .kind = WARM_OPT_INT, .dest = &a.L, .min = 1, .max = WARM_TOY_MAX_L,
         .def = "2", .help = "layers averaged separately (2: head + selector as in the paper; Remark 4: p^L)"},
        {.name = "dim", .kind = WARM_OPT_INT, .dest = &a.d, .min = 1, .max = WARM_TOY_MAX_DIM, .def = "4",
         .help = "coordinates per feature block"},
        {.name = "sigma", .kind = WARM_OPT_DOUBLE, .dest = &a.sigma, .min = 0, .max = 1e6, .def = "0.1",
         .help = "input noise standard deviation: x_j ~ N(y z_j, sigma^2 I)"},
        {.name = "trials", .kind = WARM_OPT_INT64, .dest = &a.trials, .min = 2, .max = 1e9, .def = "20000",
         .help = "Monte-Carlo trials (each draws M runs, a label and an input)"},
        {.name = "seed", .kind = WARM_OPT_INT64, .dest = &a.seed, .min = 0, .max = 9e18, .def = "1",
         .help = "RNG seed (same seed, same numbers)"},
        {.name = "json", .kind = WARM_OPT_STRING, .dest = &a.json, .metavar = "OUT",
         .help = "config, per-feature numbers, max_abs_z and holds as JSON (atomic)"},
    };
    warm_opts_cmd cmd = {
        .prog = "warm",
        .name = "toy",
        .desc = "Claim C17 (paper 4.3, Eqs. 4-5, Remark 4): Monte-Carlo check of the bag-of-features toy model.\n"
                "M runs each learn feature j with probability p_j; per feature, the coefficient of the prediction\n"
                "ensemble ENS_M is p_j and that of the weight average WA_M (L layers averaged separately) is\n"
                "E[(Bin(M,p_j)/M)^L] -> p_j^L: WA shrinks rarely learned features more. Prints MC estimates\n"
                "with standard errors beside the theory and a verdict (exit 0 whether or not it holds).",
        .opts = opts,
        .nopts = CLI_NOPTS(opts),
        .epilog = "examples:\n"
                  "  warm toy\n"
                  "  warm toy --p 0.3,0.9,1 --M 1000 --layers 3 --json toy.json\n",
    };
    warm_opts_result res;
    int rc = cli_parse(&cmd, argc, argv, &res);
    if (rc != CLI_PARSE_OK) return cli_parse_exit(rc);
    rc = run_toy(&a);
    warm_opts_free(&cmd, &res);
    return rc;
}
