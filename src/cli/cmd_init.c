/*
 * cmd_init.c — `warm init`: a freshly initialised GPT-2 (GPT-2 init, seeded) written as safetensors, from a
 * preset, an HF config.json, or explicit sizes (explicit sizes override the preset/config).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "warm/model.h"

static const char *const presets[] = {"tiny", "S", "M", "gpt2", NULL};
static const char *const dtypes[] = {"f32", "bf16", "f16", NULL};

int cli_cmd_init(int argc, char **argv) {
    const char *out = NULL, *config = NULL;
    int preset = 1, vocab = 0, ctx = 0, layers = 0, heads = 0, width = 0, dtype = 0;
    int64_t seed = 0;
    double dropout = -1;
    warm_opt opts[] = {
        {.name = "out", .short_name = 'o', .kind = WARM_OPT_STRING, .dest = &out, .metavar = "PATH",
         .help = "output safetensors file (written atomically)", .required = 1},
        {.name = "preset", .kind = WARM_OPT_CHOICE, .dest = &preset, .choices = presets, .def = "S",
         .help = "sizes: tiny (V 256, ctx 64, 2x2x64), S (V 8192, ctx 128, 4 layers, 4 heads, width 256),\n"
                 "M (V 8192, ctx 256, 6x6x384), gpt2 (GPT-2 small: V 50257, ctx 1024, 12x12x768)"},
        {.name = "config", .kind = WARM_OPT_STRING, .dest = &config, .metavar = "JSON",
         .help = "Hugging Face GPT2Config config.json (replaces the preset)"},
        {.name = "vocab", .kind = WARM_OPT_INT, .dest = &vocab, .min = 1, .max = 16777216, .help = "vocabulary size"},
        {.name = "context", .kind = WARM_OPT_INT, .dest = &ctx, .min = 1, .max = 65536, .help = "context length"},
        {.name = "layers", .kind = WARM_OPT_INT, .dest = &layers, .min = 1, .max = 1024, .help = "transformer blocks"},
        {.name = "heads", .kind = WARM_OPT_INT, .dest = &heads, .min = 1, .max = 1024, .help = "attention heads"},
        {.name = "width", .kind = WARM_OPT_INT, .dest = &width, .min = 1, .max = 65536, .help = "embedding width C"},
        {.name = "dropout", .kind = WARM_OPT_DOUBLE, .dest = &dropout, .min = 0, .max = 0.99,
         .help = "embedding, attention and residual dropout rate (default: the preset's 0.1)"},
        {.name = "seed", .kind = WARM_OPT_INT64, .dest = &seed, .min = 0, .max = 9.2e18, .def = "0",
         .help = "initialisation seed"},
        {.name = "dtype", .kind = WARM_OPT_CHOICE, .dest = &dtype, .choices = dtypes, .def = "f32",
         .help = "storage dtype"},
    };
    warm_opts_cmd cmd = {.prog = "warm", .name = "init",
                         .desc = "Writes a freshly initialised GPT-2 model (GPT-2 initialisation from --seed) with\n"
                                 "a randomly initialised reward head score.weight, under Hugging Face names.",
                         .opts = opts, .nopts = CLI_NOPTS(opts),
                         .epilog = "example: warm init --preset S --seed 1 -o base.safetensors"};
    warm_opts_result res;
    int rc = cli_parse(&cmd, argc, argv, &res);
    if (rc != CLI_PARSE_OK) return cli_parse_exit(rc);
    warm_error err = {0};
    static const int P[4][5] = {{256, 64, 2, 2, 64}, {8192, 128, 4, 4, 256}, {8192, 256, 6, 6, 384},
                                {50257, 1024, 12, 12, 768}};
    warm_config cfg = warm_config_default(P[preset][0], P[preset][1], P[preset][2], P[preset][3], P[preset][4]);
    warm_status st = WARM_OK;
    if (config) {
        size_t n;
        char *js = warm_read_file(config, &n, &err);
        st = js ? warm_config_from_json(&cfg, js, &err) : err.code;
        if (js && st) warm_error_prefix(&err, "%s", config);
        free(js);
    }
    if (vocab) { cfg.vocab_size = vocab; cfg.bos_token_id = cfg.eos_token_id = cfg.pad_token_id = vocab - 1; }
    if (ctx) cfg.n_positions = ctx;
    if (layers) cfg.n_layer = layers;
    if (heads) cfg.n_head = heads;
    if (width) cfg.n_embd = width;
    if (dropout >= 0) cfg.embd_pdrop = cfg.attn_pdrop = cfg.resid_pdrop = (float)dropout;
    warm_model m;
    memset(&m, 0, sizeof m);
    if (!st) st = warm_model_init(&m, &cfg, &err);
    if (!st) {
        warm_model_init_weights(&m, (uint64_t)seed);
        char seedbuf[32];
        snprintf(seedbuf, sizeof seedbuf, "%lld", (long long)seed);
        const char *k[1] = {"warm.init_seed"}, *v[1] = {seedbuf};
        warm_dtype dt = dtype == 0 ? WARM_DTYPE_F32 : dtype == 1 ? WARM_DTYPE_BF16 : WARM_DTYPE_F16;
        st = warm_model_save(&m, out, dt, k, v, 1, &err);
    }
    if (!st)
        printf("wrote %s: %zu parameters (V %d, ctx %d, %d layers, %d heads, width %d)\n", out,
               m.n_params, cfg.vocab_size, cfg.n_positions, cfg.n_layer, cfg.n_head, cfg.n_embd);
    warm_model_free(&m);
    warm_opts_free(&cmd, &res);
    return st == WARM_OK ? CLI_EXIT_OK : cli_fail("init", &err);
}
