/*
 * fuzz_jsonl.c — the JSONL row reader every command's row parser is built on (`warm score --data`, `sample` and
 * `bon` prompts, `task gold --in`): warm_jsonl_next on each line, then the typed getters on the keys those
 * commands read (strings, numbers, booleans, id arrays, text through the tokenizer, labels).
 */
#include "fuzz_util.h"
#include "fuzz_tok.h"

#include "warm/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[512];
    fuzz_write(path, sizeof path, "rows.jsonl", data, size);
    warm_error err;
    warm_jsonl_reader *r = NULL;
    if (warm_jsonl_open(&r, path, &err) != WARM_OK) return 0;
    static const char *const keys[] = {"prompt", "response", "chosen", "rejected", "text", "id", "split"};
    warm_ids ids = {0};
    warm_names names = {0};
    warm_strpool pool = {0};
    const struct cJSON *o;
    for (int rows = 0; rows < 64 && warm_jsonl_next(r, &o, &err) == WARM_OK && o; rows++) {
        for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
            const char *s = NULL;
            int present = 0, n = 0;
            if (warm_jsonl_get_str(r, o, keys[k], 0, &s, &present, &err) == WARM_OK && present)
                warm_jsonl_tokenize(r, keys[k], fuzz_tokenizer(), s, k & 1, k & 2, &ids, &n, &err);
        }
        double x;
        int b, n = 0, present;
        int32_t name = -1;
        warm_jsonl_get_num(r, o, "margin", 0, &x, &present, &err);
        warm_jsonl_get_bool(r, o, "corrupted", 0, &b, &present, &err);
        warm_jsonl_get_ids(r, o, "prompt_ids", 0, 20, &ids, &n, &present, &err);
        warm_jsonl_get_name(r, o, "split", &names, &name, &err);
        int64_t off;
        warm_jsonl_get_label(r, o, "id", &pool, &off, &err);
        if (ids.n > (1 << 16)) ids.n = 0;
    }
    warm_ids_free(&ids);
    warm_names_free(&names);
    warm_strpool_free(&pool);
    warm_jsonl_close(r);
    return 0;
}
