/*
 * plot.c — what the commands that draw figures share: finding gnuplot on PATH, finding a script of the
 * repository the binary was built in, and running `gnuplot -c SCRIPT ARGS...` as a child process.
 * gnuplot is optional (gnuplot-nox, `sh scripts/install-deps.sh plot`): without it the commands write their
 * CSV/JSON and say so.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

int cli_find_on_path(const char *prog, char *buf, size_t n) {
    const char *path = getenv("PATH");
    if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        const char *colon = strchr(path, ':');
        size_t len = colon ? (size_t)(colon - path) : strlen(path);
        if (len > 0 && (size_t)snprintf(buf, n, "%.*s/%s", (int)len, path, prog) < n && access(buf, X_OK) == 0)
            return 1;
        path += len + (colon ? 1 : 0);
    }
    return 0;
}

int cli_find_repo_file(const char *rel, int given, char *buf, size_t n) {
    snprintf(buf, n, "%s", rel);
    if (access(buf, R_OK) == 0 || given) return access(buf, R_OK) == 0;
    char exe[4096];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k <= 0) return 0;
    exe[k] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash) return 0;
    *slash = 0;
    if ((size_t)snprintf(buf, n, "%s/../../%s", exe, rel) >= n) return 0;
    return access(buf, R_OK) == 0;
}

int cli_run_gnuplot(const char *gnuplot, const char *script, const char *const *args, int nargs) {
    if (nargs < 0 || nargs > 8) return -1;
    /* execv takes char *const[]: writable copies of the arguments. */
    char *argv[12] = {0};
    int ok = 1;
    argv[0] = strdup("gnuplot");
    argv[1] = strdup("-c");
    argv[2] = strdup(script);
    for (int i = 0; i < nargs; i++) argv[3 + i] = strdup(args[i]);
    for (int i = 0; i < 3 + nargs; i++) ok &= argv[i] != NULL;
    int rc = -1;
    if (ok) {
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        if (pid == 0) {
            execv(gnuplot, argv);
            _exit(127);
        }
        int status = 0;
        pid_t w = -1;
        if (pid > 0) do
                w = waitpid(pid, &status, 0);
            while (w < 0 && errno == EINTR);
        if (pid > 0 && w == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0) rc = 0;
    }
    for (int i = 0; i < 3 + nargs; i++) free(argv[i]);
    return rc;
}
