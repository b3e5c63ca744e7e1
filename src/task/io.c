/*
 * io.c — file helpers of the task module: whole-file reading and path joining. Files are written with the
 * library's atomic JSONL writer (include/warm/data.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "task/task_internal.h"
#include "warm/data.h"

char *warm_task_path(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

warm_status warm_task_write_json(const char *path, const cJSON *root, warm_error *err) {
    char *text = cJSON_Print(root);
    if (!text) return warm_error_set(err, WARM_ERR_NOMEM, "%s: out of memory", path);
    warm_jsonl_writer *w = NULL;
    warm_status s = warm_jsonl_writer_open(&w, path, err);
    /* cJSON escapes newlines inside strings, so every '\n' of the text ends a line of the layout. */
    for (char *line = text, *nl; s == WARM_OK && line; line = nl ? nl + 1 : NULL) {
        if ((nl = strchr(line, '\n'))) *nl = 0;
        s = warm_jsonl_write_line(w, line, err);
    }
    if (s == WARM_OK) s = warm_jsonl_writer_commit(w, err);
    else warm_jsonl_writer_abort(w);
    cJSON_free(text);
    return s;
}
