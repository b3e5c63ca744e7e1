/*
 * fuzz_config.c — config.json (Hugging Face GPT-2 config: `warm init --config`, config.json beside a checkpoint,
 * the "warm.config" metadata of every warm checkpoint): warm_config_from_json, then a round trip through
 * warm_config_to_json that must give the same config back.
 */
#include "fuzz_util.h"

#include "warm/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *js = malloc(size + 1);
    if (!js) return 0;
    memcpy(js, data, size);
    js[size] = 0;
    warm_error err;
    warm_config a, b;
    if (warm_config_from_json(&a, js, &err) == WARM_OK) {
        char *out = warm_config_to_json(&a);
        if (!out || warm_config_from_json(&b, out, &err) != WARM_OK || memcmp(&a, &b, sizeof a) != 0) {
            fprintf(stderr, "config round trip failed: %s\n", out ? out : "(out of memory)");
            abort();
        }
        free(out);
    }
    free(js);
    return 0;
}
