/*
 * cmd_inspect.c — `warm inspect FILE...`: what a safetensors file holds (tensors, shapes, dtypes, bytes,
 * metadata, the GPT-2 config if one is recorded, parameter counts) after full validation.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "warm/model.h"
#include "warm/safetensors.h"

static void print_shape(const warm_st_tensor *t) {
    char buf[128];
    int k = snprintf(buf, sizeof buf, "[");
    for (int d = 0; d < t->ndim && k < (int)sizeof buf; d++)
        k += snprintf(buf + k, sizeof buf - (size_t)k, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
    if (k < (int)sizeof buf) snprintf(buf + k, sizeof buf - (size_t)k, "]");
    printf("  %-20s", buf);
}

static int inspect_one(const char *path, int quiet, warm_error *err) {
    warm_st_file f;
    if (warm_st_open(&f, path, err)) return -1;
    printf("%s: %zu bytes, header %llu bytes, %d tensors\n", path, f.size, (unsigned long long)f.header_len,
           f.n_tensors);
    for (int i = 0; i < f.n_meta; i++) printf("  meta %s = %s\n", f.meta_keys[i], f.meta_vals[i]);
    unsigned long long total = 0, floats = 0;
    for (int i = 0; i < f.n_tensors; i++) {
        const warm_st_tensor *t = &f.tensors[i];
        total += t->numel;
        if (t->dtype == WARM_DTYPE_F32 || t->dtype == WARM_DTYPE_F16 || t->dtype == WARM_DTYPE_BF16) floats += t->numel;
        if (quiet) continue;
        printf("  %-48s %-5s", t->name, warm_dtype_name(t->dtype));
        print_shape(t);
        printf(" %12llu bytes\n", (unsigned long long)(t->end - t->begin));
    }
    printf("  elements: %llu (floating: %llu)\n", total, floats);
    const char *js = warm_st_meta(&f, "warm.config");
    if (js) {
        warm_config c;
        if (warm_config_from_json(&c, js, err) == WARM_OK) {
            warm_model m;
            if (warm_model_init(&m, &c, err) == WARM_OK) {
                size_t n = 0;
                for (int i = 0; i < m.n_tensors; i++) n += m.tensors[i].numel;
                int head = 0;
                warm_status s = warm_model_load_weights(&m, &f, 1, &head, err);
                printf("  GPT-2: V %d, ctx %d, %d layers, %d heads, width %d, dropout %.3g/%.3g/%.3g; %zu parameters%s\n",
                       c.vocab_size, c.n_positions, c.n_layer, c.n_head, c.n_embd, (double)c.embd_pdrop,
                       (double)c.attn_pdrop, (double)c.resid_pdrop, n, s ? "" : head ? " (with reward head)" :
                       " (no reward head)");
                if (s) printf("  not loadable as this model: %s\n", err->msg);
                warm_model_free(&m);
            }
        } else {
            printf("  warm.config unreadable: %s\n", err->msg);
        }
    }
    warm_st_close(&f);
    return 0;
}

int cli_cmd_inspect(int argc, char **argv) {
    int quiet = 0;
    warm_opt opts[] = {
        {.name = "summary", .short_name = 's', .kind = WARM_OPT_FLAG, .dest = &quiet,
         .help = "omit the per-tensor table"},
    };
    warm_opts_cmd cmd = {.prog = "warm", .name = "inspect",
                         .desc = "Validates safetensors files and lists tensors (name, dtype, shape, bytes),\n"
                                 "metadata, and the GPT-2 config with its parameter count when recorded.",
                         .args = "FILE...", .min_args = 1, .max_args = WARM_OPTS_UNLIMITED, .opts = opts,
                         .nopts = CLI_NOPTS(opts)};
    warm_opts_result res;
    int rc = cli_parse(&cmd, argc, argv, &res);
    if (rc != CLI_PARSE_OK) return cli_parse_exit(rc);
    int code = CLI_EXIT_OK;
    for (int i = 0; i < res.nargs; i++) {
        warm_error err = {0};
        if (inspect_one(res.args[i], quiet, &err)) code = cli_fail("inspect", &err);
    }
    warm_opts_free(&cmd, &res);
    return code;
}
