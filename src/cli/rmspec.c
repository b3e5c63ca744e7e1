/*
 * rmspec.c — what the commands that use reward models on sampled responses share (warm bon, warm rl): the
 * reward-model list syntax "RM[,RM...][:ens=mean|min|mean-std]", and the prompt file reader.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "warm/data.h"

int cli_rm_spec_parse(const char *cmd, const char *opt, const char *spec, const char *list, cli_rm_spec *out) {
    memset(out, 0, sizeof *out);
    out->ens = WARM_ENS_MEAN;
    const char *end = list + strlen(list);
    const char *ens = strstr(list, ":ens=");
    if (ens) {
        const char *kind = ens + 5;
        if (strcmp(kind, "mean") == 0) out->ens = WARM_ENS_MEAN;
        else if (strcmp(kind, "min") == 0) out->ens = WARM_ENS_MIN;
        else if (strcmp(kind, "mean-std") == 0) out->ens = WARM_ENS_MEAN_STD;
        else {
            cli_error(cmd, "%s %s: ens must be mean, min or mean-std", opt, spec);
            return 0;
        }
        end = ens;
    }
    for (const char *p = list; p <= end;) {
        const char *c = memchr(p, ',', (size_t)(end - p));
        const char *e = c ? c : end;
        if (e == p) {
            cli_error(cmd, "%s %s: empty reward-model path", opt, spec);
            cli_rm_spec_free(out);
            return 0;
        }
        if (out->n == CLI_RM_MAX_MEMBERS) {
            cli_error(cmd, "%s %s: at most %d models", opt, spec, CLI_RM_MAX_MEMBERS);
            cli_rm_spec_free(out);
            return 0;
        }
        char *path = malloc((size_t)(e - p) + 1);
        if (!path) {
            cli_error(cmd, "out of memory");
            cli_rm_spec_free(out);
            return 0;
        }
        memcpy(path, p, (size_t)(e - p));
        path[e - p] = 0;
        out->path[out->n++] = path;
        p = e + 1;
    }
    return 1;
}

void cli_rm_spec_free(cli_rm_spec *s) {
    for (int i = 0; i < s->n; i++) free(s->path[i]);
    s->n = 0;
}

void cli_prompts_free(cli_prompts *s) {
    warm_ids_free(&s->ids);
    for (int p = 0; s->id && p < s->P; p++) free(s->id[p]);
    free(s->id);
    free(s->off);
    free(s->len);
    memset(s, 0, sizeof *s);
}

warm_status cli_prompts_read(cli_prompts *s, const char *path, const warm_tokenizer *tok, int ctx, int max_new,
                             int limit, warm_error *err) {
    warm_jsonl_reader *r = NULL;
    warm_status st = warm_jsonl_open(&r, path, err);
    int cap = 0;
    while (!st && (limit <= 0 || s->P < limit)) {
        const cJSON *obj;
        st = warm_jsonl_next(r, &obj, err);
        if (st || !obj) break;
        const char *text = NULL, *id = NULL;
        st = warm_jsonl_get_str(r, obj, "prompt", 1, &text, NULL, err);
        if (!st) st = warm_jsonl_get_str(r, obj, "id", 0, &id, NULL, err);
        if (!st) st = warm_ids_reserve(&s->ids, ctx, err);
        if (st) break;
        if (s->P == cap) {
            cap = cap ? 2 * cap : 256;
            int64_t *o = realloc(s->off, (size_t)cap * sizeof *o);
            if (o) s->off = o;
            int *l = realloc(s->len, (size_t)cap * sizeof *l);
            if (l) s->len = l;
            char **ids = realloc(s->id, (size_t)cap * sizeof *ids);
            if (ids) s->id = ids;
            if (!o || !l || !ids) { st = warm_error_set(err, WARM_ERR_NOMEM, "prompts: out of memory"); break; }
        }
        int len = 0;
        st = warm_tok_encode(tok, text, 0, s->ids.v + s->ids.n, ctx, &len, err);
        if (st) { warm_jsonl_fail(r, err, st, "\"prompt\": %s", err->msg); break; }
        if (len < 1 || len + max_new > ctx) {
            st = warm_jsonl_fail(r, err, WARM_ERR_ARG, "prompt of %d tokens + %d new tokens exceeds the context %d",
                                 len, max_new, ctx);
            break;
        }
        s->off[s->P] = s->ids.n;
        s->len[s->P] = len;
        s->id[s->P] = id ? strdup(id) : NULL;
        s->ids.n += len;
        s->P++;
    }
    warm_jsonl_close(r);
    if (!st && s->P == 0) st = warm_error_set(err, WARM_ERR_ARG, "%s: no prompts", path);
    return st;
}
