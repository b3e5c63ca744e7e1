/*
 * fuzz_task.c — task/task.json, the embedded task's world (`warm task gold|prefs|stats`, `warm bon --task`):
 * warm_task_load of a directory holding the input's two parts, task.json, then "\n--8<--\n" and tokenizer.json
 * (the fixed fuzz tokenizer when the second part is absent), then the word categories of every id.
 */
#include "fuzz_util.h"
#include "fuzz_tok.h"

#include "warm/task.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char p[512];
    warm_error err;
    const uint8_t *at[2];
    size_t len[2];
    int n = fuzz_split(data, size, at, len, 2);
    fuzz_write(p, sizeof p, "task.json", at[0], len[0]);
    if (n > 1) fuzz_write(p, sizeof p, "tokenizer.json", at[1], len[1]);
    else if (warm_tok_save(fuzz_tokenizer(), fuzz_path(p, sizeof p, "tokenizer.json"), &err) != WARM_OK) abort();
    warm_task_world *w = NULL;
    if (warm_task_load(&w, fuzz_dir(), &err) != WARM_OK) return 0;
    int V = warm_tok_vocab_size(warm_task_tokenizer(w));
    for (int32_t i = -1; i <= V; i++) (void)warm_task_word_category(w, i);
    warm_task_free(w);
    return 0;
}
