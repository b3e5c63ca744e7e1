/*
 * test_dist.c — data-parallel training and the dist layer (include/warm/dist.h). Runs in every build as one
 * process, and in the MPI build under `mpirun -np 2` and `-np 3` (scripts/run-tests.sh), where the same
 * tests check the collectives across ranks.
 *
 * One process (any build):
 *   - a batch cut into parts (warm_trainer_bt_step_part) gives the whole step's rewards, with dropout on, and
 *     gradients that sum to the whole step's: the parts' masks and loss scale are the whole batch's;
 *   - a member trained with a one-process world is the member trained without one, bit for bit.
 * Several ranks (MPI build under mpirun):
 *   - reductions, gather, agreement on the lowest failing rank's message, and the bucketed gradient reducer
 *     (overlapped and not) against sums known exactly;
 *   - a member trained data-parallel on every rank stays within the stated tolerance of the one-process
 *     member (each rank also trains the reference alone), with the same weights on every rank;
 *   - resume across rank counts: R ranks stop half-way, rank 0 alone finishes; rank 0 alone stops
 *     half-way, R ranks finish; both within the tolerance of the reference;
 *   - a merge over the ranks (uniform F32; weighted BF16 with a zero weight; blocks smaller than the tensors)
 *     writes the bytes of the one-process merge; a writer that fails still drains the sums (no rank
 *     hangs) and every rank gets its error; lerp is refused.
 *
 * The tolerance (docs/scale.md, "Data parallel"). Data parallel changes only the order in which the pairs'
 * gradient contributions are summed: one step's gradient agrees per element within 1e-7 + 1e-4 |g| (measured
 * 0.15 of that). Weights are not compared element by element after training: AdamW divides each gradient by
 * its own RMS, so an element whose true gradient is zero and whose computed one is rounding noise (ln_f.bias
 * under the BT loss: chosen and rejected cancel, leaving ~1e-10) moves by up to lr per step in either run,
 * in directions the noise picks. What must agree is what the member computes: the rewards of both sides of
 * the validation pairs, within DP_TOL (1 + |r|) after 60 steps at lr 1e-3 (measured 2.9e-5 absolute with 2
 * ranks and 4.7e-5 with 3, rewards up to 1.07; 7.8e-5 after 200 steps). A part with masks other than the
 * whole batch's gives other rewards in its very first forward (test_part_equals_whole checks that too).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "warm/dist.h"
#include "warm/eval.h"
#include "warm/merge.h"
#include "warm/rm.h"
#include "warm/train.h"

#define DP_TOL 1e-4

enum { N_TRAIN = 256, N_VAL = 64, STEPS = 60, BATCH = 8 };

typedef struct {
    warm_dist *world;
    char dir[80];       /* rank 0's temp directory, shared by every rank (same file system) */
    char own[80];       /* this rank's temp directory */
    char data[128], init[128];
    warm_prefs d;
    int64_t *tr, *va, ntr, nva;
} fixture;

static fixture fx;

static warm_config tiny_config(void) {
    warm_config c = warm_config_default(TEST_PAIRS_V, 16, 2, 2, 32);
    c.pad_token_id = TEST_PAIRS_PAD;
    c.eos_token_id = c.bos_token_id = TEST_PAIRS_EOS;
    return c;
}

static int setup(void **state) {
    (void)state;
    warm_error err;
    test_tmpdir(fx.own, sizeof fx.own);
    memcpy(fx.dir, fx.own, sizeof fx.dir);
    if (warm_dist_bcast(fx.world, fx.dir, sizeof fx.dir, 0, &err)) return -1;
    snprintf(fx.data, sizeof fx.data, "%s/pairs.jsonl", fx.dir);
    snprintf(fx.init, sizeof fx.init, "%s/init.safetensors", fx.dir);
    if (warm_dist_rank(fx.world) == 0) {
        warm_config cfg = tiny_config();
        cfg.embd_pdrop = cfg.attn_pdrop = cfg.resid_pdrop = 0.1f;
        warm_model m;
        if (test_write_marker_pairs(fx.data, N_TRAIN, N_VAL, 0, 7) || warm_model_init(&m, &cfg, &err)) return -1;
        warm_model_init_weights(&m, 3);
        warm_status s = warm_model_save(&m, fx.init, WARM_DTYPE_F32, NULL, NULL, 0, &err);
        warm_model_free(&m);
        if (s) return -1;
    }
    warm_dist_barrier(fx.world);
    warm_config cfg = tiny_config();
    if (warm_rm_load_pairs(&fx.d, fx.data, NULL, NULL, &cfg, &fx.tr, &fx.ntr, &err)) return -1;
    free(fx.tr);
    if (warm_prefs_subset(&fx.d, "train", -1, &fx.tr, &fx.ntr, &err) ||
        warm_prefs_subset(&fx.d, "val", -1, &fx.va, &fx.nva, &err))
        return -1;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    free(fx.tr);
    free(fx.va);
    warm_prefs_free(&fx.d);
    return 0;
}

static int multi(void) { return warm_dist_size(fx.world) > 1; }

/* ---- one process ---- */

static void load_init(warm_model *m) {
    warm_error err;
    assert_int_equal(warm_model_load(m, fx.init, 1, &err), WARM_OK);
    assert_int_equal(warm_model_alloc_train(m, &err), WARM_OK);
}

/* Parts [0, 3), [3, 5), [5, 7) of a 7-pair batch, with dropout, against the whole step. */
static void test_part_equals_whole(void **state) {
    (void)state;
    enum { P = 7 };
    warm_model m;
    load_init(&m);
    warm_error err;
    warm_trainer *tr;
    assert_int_equal(warm_trainer_init(&tr, &m, 2 * P, fx.d.max_seq, 0, &err), WARM_OK);
    int32_t tokens[2 * P * 16], lengths[2 * P];
    float margins[P], whole_r[2 * P], part_r[2 * P];
    int T;
    assert_true(fx.d.max_seq <= 16);
    assert_int_equal(warm_prefs_batch(&fx.d, fx.tr, P, 0, tokens, lengths, margins, &T, &err), WARM_OK);
    uint64_t key = 12345;
    warm_bt_stats whole = warm_trainer_bt_step(tr, tokens, lengths, P, T, NULL, 0.01f, 1, key, 1, whole_r);
    float *g = malloc(m.n_params * sizeof *g);
    memcpy(g, m.grads, m.n_params * sizeof *g);
    warm_model_zero_grad(&m);
    const int cut[4] = {0, 3, 5, P};
    double loss = 0;
    for (int k = 0; k < 3; k++) {
        float r[2 * P];
        int n = cut[k + 1] - cut[k];
        warm_bt_stats st = warm_trainer_bt_step_part(tr, tokens, lengths, P, T, cut[k], cut[k + 1], NULL, 0.01f, 1,
                                                     key, 1, r);
        loss += (double)st.loss * n / P;
        for (int p = 0; p < n; p++) {
            part_r[cut[k] + p] = r[p];
            part_r[P + cut[k] + p] = r[n + p];
        }
    }
    /* An empty part computes nothing. */
    warm_bt_stats none = warm_trainer_bt_step_part(tr, tokens, lengths, P, T, 4, 4, NULL, 0.01f, 1, key, 1, NULL);
    assert_true(none.loss == 0.0f);
    size_t worst;
    double e = test_max_rel_err(part_r, whole_r, 2 * P, 1e-6, 1e-5, &worst);
    print_message("parts vs whole: rewards %.3g (of tolerance), loss %.7f vs %.7f\n", e, loss, (double)whole.loss);
    assert_true(e <= 1.0);
    assert_true(fabs(loss - (double)whole.loss) <= 1e-5);
    e = test_max_rel_err(m.grads, g, m.n_params, 1e-7, 1e-4, &worst);
    print_message("parts vs whole: gradient %.3g of tolerance at %zu (%g vs %g)\n", e, worst, (double)m.grads[worst],
                  (double)g[worst]);
    assert_true(e <= 1.0);
    /* The masks matter: the same parts with another key give other rewards. */
    float other[2 * P];
    warm_trainer_bt_step_part(tr, tokens, lengths, P, T, 3, 5, NULL, 0.01f, 1, key + 1, 0, other);
    assert_true(fabsf(other[0] - whole_r[3]) + fabsf(other[1] - whole_r[4]) > 1e-4f);
    free(g);
    warm_trainer_free(tr);
    warm_model_free(&m);
}

/* Trains the tiny member into dir with dist (NULL: alone), steps_now steps of STEPS this call. */
static warm_status train_member(const char *dir, warm_dist *dist, int64_t stop_after, warm_model *m,
                                warm_rm_train_result *res, int overlap) {
    warm_error err;
    warm_status s = warm_rm_init_model(m, fx.init, NULL, 0.1f, 1, NULL, &err);
    if (s) return s;
    warm_rm_train_config c = warm_rm_train_default();
    c.out_dir = dir;
    c.batch = BATCH;
    c.steps = STEPS;
    c.opt.lr = 1e-3f;
    c.seed = 5;
    c.resume_every = 10;
    c.eval_every = 20;
    c.stop_after = stop_after;
    c.dist = dist;
    c.overlap = overlap;
    c.bucket_floats = 4096; /* several buckets for a model of ~30k weights */
    s = warm_rm_train(m, &fx.d, fx.tr, fx.ntr, &fx.d, fx.va, fx.nva, &c, res, &err);
    if (s) fprintf(stderr, "rank %d: %s\n", warm_dist_rank(dist), err.msg);
    return s;
}

/* Largest |r_a - r_b| / (DP_TOL (1 + |r_b|)) over the rewards of both sides of the validation pairs; *abs_max
 * the largest |r_a - r_b|. */
static double reward_err(const warm_model *a, const warm_model *b, double *abs_max) {
    size_t n = (size_t)fx.nva;
    float *r = malloc(4 * n * sizeof *r);
    warm_error err;
    assert_int_equal(warm_eval_score_pairs(a, &fx.d, fx.va, fx.nva, r, r + n, &err), WARM_OK);
    assert_int_equal(warm_eval_score_pairs(b, &fx.d, fx.va, fx.nva, r + 2 * n, r + 3 * n, &err), WARM_OK);
    double m = 0;
    *abs_max = 0;
    for (size_t i = 0; i < 2 * n; i++) {
        double d = fabs((double)r[i] - (double)r[2 * n + i]);
        if (d > *abs_max) *abs_max = d;
        double e = d / (DP_TOL * (1.0 + fabs((double)r[2 * n + i])));
        if (!(e <= m)) m = e;
    }
    free(r);
    return m;
}

/* This rank's reference: the member trained alone, in its own directory. */
static void reference(warm_model *ref) {
    char dir[160];
    warm_rm_train_result r;
    snprintf(dir, sizeof dir, "%s/alone", fx.own);
    assert_int_equal(train_member(dir, NULL, 0, ref, &r, 1), WARM_OK);
    assert_int_equal(r.steps_done, STEPS);
}

static void test_dp_train(void **state) {
    (void)state;
    warm_model ref, dp;
    reference(&ref);
    char dir[160];
    snprintf(dir, sizeof dir, "%s/dp", fx.dir);
    warm_rm_train_result r;
    assert_int_equal(train_member(dir, fx.world, 0, &dp, &r, 1), WARM_OK);
    assert_int_equal(r.steps_done, STEPS);
    if (!multi()) {
        /* A one-process world is no world at all. */
        assert_memory_equal(dp.params, ref.params, ref.n_params * sizeof(float));
    } else {
        double amax, e = reward_err(&dp, &ref, &amax);
        print_message("rank %d of %d: data parallel vs alone after %d steps: max |dr| %.3g, %.3g of the tolerance; "
                      "val acc %.4f; %.3f s waiting for sums\n", warm_dist_rank(fx.world), warm_dist_size(fx.world),
                      STEPS, amax, e, (double)r.val.acc_ge, r.allreduce_wait_s);
        assert_true(e <= 1.0);
        assert_true(amax > 0.0); /* the summation order did change something: the parts really ran */
        /* Every rank holds rank 0's weights. */
        float *lead = malloc(dp.n_params * sizeof *lead);
        memcpy(lead, dp.params, dp.n_params * sizeof *lead);
        warm_error err;
        assert_int_equal(warm_dist_bcast(fx.world, lead, dp.n_params * sizeof *lead, 0, &err), WARM_OK);
        assert_memory_equal(lead, dp.params, dp.n_params * sizeof *lead);
        free(lead);
        /* Without overlap: the same sums in another schedule, the same tolerance. */
        warm_model dp2;
        snprintf(dir, sizeof dir, "%s/dp-blocking", fx.dir);
        assert_int_equal(train_member(dir, fx.world, 0, &dp2, &r, 0), WARM_OK);
        assert_true(reward_err(&dp2, &ref, &amax) <= 1.0);
        warm_model_free(&dp2);
    }
    warm_model_free(&dp);
    warm_model_free(&ref);
}

/* Rank 0 alone (a one-rank split) or every rank runs; the others wait. */
static void run_on(int everyone, const char *dir, int64_t stop_after, int64_t want_resumed, warm_model *out) {
    warm_dist *solo = NULL;
    warm_error err;
    int me = warm_dist_rank(fx.world);
    assert_int_equal(warm_dist_split(fx.world, everyone ? 0 : me == 0 ? 0 : 1, &solo, &err), WARM_OK);
    warm_rm_train_result r;
    memset(out, 0, sizeof *out);
    if (everyone || me == 0) {
        assert_int_equal(train_member(dir, everyone ? fx.world : solo, stop_after, out, &r, 1), WARM_OK);
        assert_int_equal(r.resumed_from, want_resumed);
    }
    warm_dist_free(solo);
    warm_dist_barrier(fx.world);
}

static void test_resume_across_rank_counts(void **state) {
    (void)state;
    if (!multi()) skip();
    warm_model ref, a, b;
    reference(&ref);
    char da[160], db[160];
    snprintf(da, sizeof da, "%s/many-then-one", fx.dir);
    snprintf(db, sizeof db, "%s/one-then-many", fx.dir);
    run_on(1, da, 30, 0, &a);
    if (a.params) warm_model_free(&a);
    run_on(0, da, 0, 30, &a);
    run_on(0, db, 30, 0, &b);
    if (b.params) warm_model_free(&b);
    run_on(1, db, 0, 30, &b);
    double amax;
    if (warm_dist_rank(fx.world) == 0) {
        assert_true(reward_err(&a, &ref, &amax) <= 1.0);
        print_message("R ranks then 1: max |dr| %.3g\n", amax);
        warm_model_free(&a);
    }
    assert_true(reward_err(&b, &ref, &amax) <= 1.0);
    print_message("rank %d: 1 rank then R: max |dr| %.3g\n", warm_dist_rank(fx.world), amax);
    warm_model_free(&b);
    warm_model_free(&ref);
}

/* ---- the collectives ---- */

static void test_collectives(void **state) {
    (void)state;
    if (!multi()) skip();
    warm_error err;
    int R = warm_dist_size(fx.world), me = warm_dist_rank(fx.world);
    /* Sums of small integers are exact: every rank must get exactly R(R-1)/2 + R*i. */
    enum { N = 50000 };
    float *x = malloc(N * sizeof *x);
    for (int overlap = 0; overlap < 2; overlap++) {
        warm_dist_reducer *red;
        assert_int_equal(warm_dist_reducer_init(&red, fx.world, x, N, 7000, overlap, &err), WARM_OK);
        for (int step = 0; step < 2; step++) {
            for (int i = 0; i < N; i++) x[i] = (float)(me + i % 100);
            warm_dist_reducer_ready(red, N - 7000 * 3); /* the last three buckets are final */
            warm_dist_reducer_ready(red, 20000);
            assert_int_equal(warm_dist_reducer_finish(red, &err), WARM_OK);
            int bad = 0;
            for (int i = 0; i < N; i++) bad += x[i] != (float)(R * (R - 1) / 2 + R * (i % 100));
            assert_int_equal(bad, 0);
        }
        warm_dist_reducer_free(red);
    }
    free(x);
    double v[3] = {me, me, me};
    assert_int_equal(warm_dist_allreduce_f64(fx.world, v, 1, WARM_DIST_SUM, &err), WARM_OK);
    assert_int_equal(warm_dist_allreduce_f64(fx.world, v + 1, 1, WARM_DIST_MIN, &err), WARM_OK);
    assert_int_equal(warm_dist_allreduce_f64(fx.world, v + 2, 1, WARM_DIST_MAX, &err), WARM_OK);
    assert_true(v[0] == R * (R - 1) / 2.0 && v[1] == 0 && v[2] == R - 1);
    int all[16] = {0};
    assert_true(R <= 16);
    assert_int_equal(warm_dist_gather(fx.world, &me, sizeof me, all, 0, &err), WARM_OK);
    for (int i = 0; me == 0 && i < R; i++) assert_int_equal(all[i], i);
    /* Ranks 1.. fail with their own message; every rank gets rank 1's. */
    warm_status st = me >= 1 ? warm_error_set(&err, WARM_ERR_IO, "disk %d is full", me) : WARM_OK;
    st = warm_dist_agree(fx.world, st, &err);
    assert_int_equal(st, WARM_ERR_IO);
    assert_non_null(strstr(err.msg, "disk 1 is full"));
    assert_int_equal(warm_dist_agree(fx.world, WARM_OK, &err), WARM_OK);
    /* Point to point around the ring. */
    double out[3] = {me, me + 0.5, -me}, in[3];
    int next = (me + 1) % R, prev = (me + R - 1) % R;
    if (me % 2 == 0) {
        assert_int_equal(warm_dist_send_f64(fx.world, out, 3, next, 9, &err), WARM_OK);
        assert_int_equal(warm_dist_recv_f64(fx.world, in, 3, prev, 9, &err), WARM_OK);
    } else {
        assert_int_equal(warm_dist_recv_f64(fx.world, in, 3, prev, 9, &err), WARM_OK);
        assert_int_equal(warm_dist_send_f64(fx.world, out, 3, next, 9, &err), WARM_OK);
    }
    assert_true(in[0] == prev && in[1] == prev + 0.5 && in[2] == -prev);
}

/* ---- merge over ranks ---- */

static int same_file(const char *a, const char *b) {
    size_t na, nb;
    warm_error err;
    char *x = warm_read_file(a, &na, &err), *y = warm_read_file(b, &nb, &err);
    int same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

/* Five members merged over the ranks in small blocks (several per tensor) equal the one-process merge byte
 * for byte: uniform F32, and weighted BF16 with a zero weight (that input is never read). */
static void test_merge_over_ranks(void **state) {
    (void)state;
    enum { M = 5 };
    char in[M][160], *inputs[M];
    for (int i = 0; i < M; i++) {
        snprintf(in[i], sizeof in[i], "%s/member-%d.safetensors", fx.dir, i);
        inputs[i] = in[i];
    }
    warm_error err;
    if (warm_dist_rank(fx.world) == 0)
        for (int i = 0; i < M; i++) {
            warm_model m;
            warm_config cfg = tiny_config();
            assert_int_equal(warm_model_init(&m, &cfg, &err), WARM_OK);
            warm_model_init_weights(&m, 100 + (uint64_t)i);
            assert_int_equal(warm_model_save(&m, in[i], WARM_DTYPE_F32, NULL, NULL, 0, &err), WARM_OK);
            warm_model_free(&m);
        }
    warm_dist_barrier(fx.world);
    const double w[M] = {1, 0.1, 0, 0.7, 1.0 / 3};
    for (int weighted = 0; weighted < 2; weighted++) {
        char alone[200], together[200];
        snprintf(alone, sizeof alone, "%s/alone-%d.safetensors", fx.own, weighted);
        snprintf(together, sizeof together, "%s/ranks-%d.safetensors", fx.dir, weighted);
        warm_merge_opts o = warm_merge_opts_default();
        o.block_elems = 1000;
        if (weighted) {
            o.method = WARM_MERGE_WEIGHTED;
            o.weights = w;
            o.n_weights = M;
            o.out_dtype = WARM_DTYPE_BF16;
        }
        assert_int_equal(warm_merge((const char *const *)inputs, M, alone, &o, NULL, &err), WARM_OK);
        o.dist = fx.world;
        warm_status st = warm_merge((const char *const *)inputs, M, together, &o, NULL, &err);
        if (st) fprintf(stderr, "%s\n", err.msg);
        assert_int_equal(st, WARM_OK);
        if (warm_dist_rank(fx.world) == 0) assert_true(same_file(alone, together));
        warm_dist_barrier(fx.world);
    }
    /* Rank 0 cannot create its output (no such directory) after the others have started sending sums: it
     * still takes them all (nobody waits forever), and every rank returns its error. */
    {
        char bad[200];
        snprintf(bad, sizeof bad, "%s/no-such-dir/x.safetensors", fx.dir);
        warm_merge_opts o = warm_merge_opts_default();
        o.block_elems = 1000;
        o.dist = fx.world;
        warm_status st = warm_merge((const char *const *)inputs, M, bad, &o, NULL, &err);
        assert_int_equal(st, WARM_ERR_IO);
        assert_non_null(strstr(err.msg, "cannot create"));
    }
    /* Not a reduction: refused on every rank (alone it runs). */
    warm_merge_opts o = warm_merge_opts_default();
    o.method = WARM_MERGE_LERP;
    o.lambda = 0.3;
    o.dist = fx.world;
    char out[200];
    snprintf(out, sizeof out, "%s/lerp.safetensors", fx.dir);
    warm_status st = warm_merge((const char *const *)inputs, 2, out, &o, NULL, &err);
    if (multi()) {
        assert_int_equal(st, WARM_ERR_ARG);
        assert_non_null(strstr(err.msg, "uniform or weighted"));
    } else {
        assert_int_equal(st, WARM_OK);
    }
}

int main(void) {
    warm_error err;
    if (warm_dist_world(&fx.world, &err)) {
        fprintf(stderr, "test_dist: %s\n", err.msg);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_part_equals_whole),
        cmocka_unit_test(test_collectives),
        cmocka_unit_test(test_dp_train),
        cmocka_unit_test(test_resume_across_rank_counts),
        cmocka_unit_test(test_merge_over_ranks),
    };
    int failed = cmocka_run_group_tests(tests, setup, teardown);
    warm_dist_free(fx.world);
    return failed;
}
