/*
 * cmd_export.c — `warm export`: a checkpoint as a Hugging Face model directory (config.json,
 * model.safetensors or shards + index, tokenizer files) that transformers loads as GPT2LMHeadModel or
 * GPT2ForSequenceClassification (library: warm_hf_export in include/warm/merge.h; docs/export.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "warm/merge.h"
#include "warm/model.h"
#include "warm/tokenizer.h"

static const char *const archs[] = {"lm", "rm", NULL};
static const char *const dtypes[] = {"f32", "bf16", "f16", NULL};

int cli_cmd_export(int argc, char **argv) {
    const char *model = NULL, *out = NULL, *tok_spec = NULL, *shard = NULL;
    int as = 0, dtype = 0;
    warm_opt opts[] = {
        {.name = "model", .short_name = 'm', .kind = WARM_OPT_STRING, .dest = &model, .metavar = "CKPT",
         .help = "checkpoint: a warm .safetensors file, or a Hugging Face directory (model.safetensors or\nshards + index, config.json)",
         .required = 1},
        {.name = "as", .kind = WARM_OPT_CHOICE, .dest = &as, .choices = archs, .required = 1,
         .help = "lm: GPT2LMHeadModel (a pretrained or SFT policy; score.weight is left out), rm:\n"
                 "GPT2ForSequenceClassification with num_labels 1 (a reward model, a merge; needs score.weight)"},
        CLI_OPT_TOKENIZER(&tok_spec, 0, "written beside the weights"),
        {.name = "dtype", .kind = WARM_OPT_CHOICE, .dest = &dtype, .choices = dtypes, .def = "f32",
         .help = "storage dtype of the weights"},
        {.name = "shard-size", .kind = WARM_OPT_STRING, .dest = &shard, .metavar = "BYTES",
         .help = "at most this many tensor bytes per shard (5GB, 2GiB, 500000000); default: one file"},
        {.name = "out", .short_name = 'o', .kind = WARM_OPT_STRING, .dest = &out, .metavar = "DIR", .required = 1,
         .help = "output directory (written atomically; an existing one is replaced only if it holds nothing\n"
                 "but model-directory files, and tokenizer files only when --tokenizer writes new ones)"},
    };
    warm_opts_cmd cmd = {
        .prog = "warm", .name = "export",
        .desc = "Writes a checkpoint as a Hugging Face model directory: config.json (GPT2Config), model.safetensors\n"
                "under the transformer.* names (or shards + model.safetensors.index.json), and with --tokenizer\n"
                "the tokenizer files (GPT-2 BPE: vocab.json + merges.txt copied; a task vocabulary: a WordLevel\n"
                "tokenizer.json), tokenizer_config.json and special_tokens_map.json. See docs/export.md.",
        .opts = opts, .nopts = CLI_NOPTS(opts),
        .epilog = "examples:\n"
                  "  warm export -m warm_m6.safetensors --as rm --tokenizer task/tokenizer.json -o hf-rm\n"
                  "  warm export -m sft/final.safetensors --as lm --tokenizer gpt2 -o hf-policy\n"
                  "then in Python: AutoModelForSequenceClassification.from_pretrained(\"hf-rm\")"};
    warm_opts_result res;
    int rc = cli_parse(&cmd, argc, argv, &res);
    if (rc != CLI_PARSE_OK) return cli_parse_exit(rc);
    warm_error err = {0};
    warm_status st = WARM_OK;
    uint64_t shard_size = 0;
    if (shard && cli_parse_size(shard, &shard_size))
        st = warm_error_set(&err, WARM_ERR_ARG, "--shard-size: '%s' is not a size (5GB, 2GiB, 500000000)", shard);
    warm_model m;
    memset(&m, 0, sizeof m);
    if (!st) st = warm_hf_import(&m, model, as == WARM_HF_RM, NULL, &err);
    warm_tokenizer *tok = NULL;
    warm_hf_file *files = NULL;
    int n_files = 0, n_shards = 0;
    if (!st && tok_spec) {
        st = warm_tok_open(&tok, tok_spec, &err);
        if (!st && warm_tok_vocab_size(tok) != m.cfg.vocab_size)
            st = warm_error_set(&err, WARM_ERR_MISMATCH, "%s: the tokenizer has %d tokens, the model's vocabulary %d",
                                tok_spec, warm_tok_vocab_size(tok), m.cfg.vocab_size);
        if (!st && (warm_tok_pad(tok) != m.cfg.pad_token_id || warm_tok_eos(tok) != m.cfg.eos_token_id))
            st = warm_error_set(&err, WARM_ERR_MISMATCH,
                                "%s: the tokenizer's pad/eos ids (%d/%d) differ from the model's (%d/%d)", tok_spec,
                                warm_tok_pad(tok), warm_tok_eos(tok), m.cfg.pad_token_id, m.cfg.eos_token_id);
        if (!st) st = warm_hf_tokenizer_files(tok_spec, tok, m.cfg.n_positions, &files, &n_files, &err);
    }
    warm_dtype dt = dtype == 0 ? WARM_DTYPE_F32 : dtype == 1 ? WARM_DTYPE_BF16 : WARM_DTYPE_F16;
    if (!st) st = warm_hf_export(&m, (warm_hf_arch)as, out, dt, shard_size, files, n_files, &n_shards, &err);
    if (!st) {
        printf("wrote %s: %s, %d safetensors file%s (%s), config.json", out,
               as == WARM_HF_RM ? "GPT2ForSequenceClassification" : "GPT2LMHeadModel", n_shards,
               n_shards == 1 ? "" : "s", warm_dtype_name(dt));
        for (int i = 0; i < n_files; i++) printf(", %s", files[i].name);
        printf("\n");
    }
    warm_hf_files_free(files, n_files);
    warm_tok_free(tok);
    warm_model_free(&m);
    warm_opts_free(&cmd, &res);
    return st == WARM_OK ? CLI_EXIT_OK : cli_fail("export", &err);
}
