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

