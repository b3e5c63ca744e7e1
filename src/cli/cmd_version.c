/*
 * cmd_version.c — `warm version` (also `warm --version`): the version and how this binary was built.
 *
 * Everything printed after the first line comes from predefined compiler macros, so it describes the
 * binary itself rather than the machine it runs on: compiler (__VERSION__), optimisation and sanitizers,
 * OpenMP (and the thread count it will use here), the SIMD level the compiler was allowed to target
 * (-march), and whether it was built with MPI. The first line, "warm <version>", is stable for scripts.
 */
#include <stdio.h>

#include "cli/cli.h"

static const char *cli_compiler(void) {
#if defined(__clang__)
    return "clang " __clang_version__;
#elif defined(__GNUC__)
    return "gcc " __VERSION__;
#else
    return "unknown C11 compiler";
#endif
}

/* The widest SIMD extension enabled at compile time: tells whether -march=native (or similar) was used. */
static const char *cli_simd_target(void) {
#if defined(__AVX512F__)
    return "AVX-512 (built with -march for a recent CPU: may not run on older CPUs)";
#elif defined(__AVX2__) && defined(__FMA__)
    return "AVX2 + FMA (built with -march for a Haswell-or-later CPU: may not run on older CPUs)";
#elif defined(__AVX__)
    return "AVX (built with -march: may not run on older CPUs)";
#elif defined(__x86_64__)
    return "x86-64 baseline, SSE2 (portable; `make NATIVE=1` builds with -march=native for this CPU)";
#elif defined(__aarch64__)
    return "AArch64 baseline, NEON (portable; `make NATIVE=1` builds with -march=native for this CPU)";
#else
    return "generic (portable)";
#endif
}

static void cli_print_version(FILE *f) {
    fprintf(f, "warm %s\n", WARM_VERSION);
    fprintf(f, "compiler: %s, C standard %ld\n", cli_compiler(), (long)__STDC_VERSION__);
#if defined(__OPTIMIZE__)
    const char *opt = "on";
#else
    const char *opt = "off (debug build)";
#endif
#if defined(__SANITIZE_ADDRESS__)
    const char *san = ", AddressSanitizer";
#else
    const char *san = "";
#endif
    fprintf(f, "optimisation: %s%s\n", opt, san);
#if defined(_OPENMP)
    int nt = warm_num_threads();
    fprintf(f, "openmp: on (spec %d, %d thread%s; set OMP_NUM_THREADS to change)\n", (int)_OPENMP, nt,
            nt == 1 ? "" : "s");
#else
    fprintf(f, "openmp: off (single-threaded kernels)\n");
#endif
    fprintf(f, "simd target: %s\n", cli_simd_target());
    fprintf(f, "mpi: %s\n", warm_dist_built_with_mpi() ? "on (make MPI=1: train-rm, sweep and merge run under mpirun)"
                                                       : "off (make MPI=1 builds with Open MPI; docs/scale.md)");
}

int cli_cmd_version(int argc, char **argv) {
    warm_opts_cmd cmd = {
        .prog = "warm",
        .name = "version",
        .desc = "Print the version of warm and how this binary was built: compiler, optimisation,\n"
                "OpenMP and thread count, the SIMD level chosen at compile time (-march) and MPI.\n"
                "The first line is always \"warm <version>\".",
    };
    warm_opts_result res;
    int rc = cli_parse(&cmd, argc, argv, &res);
    if (rc != CLI_PARSE_OK) return cli_parse_exit(rc);
    cli_print_version(stdout);
    warm_opts_free(&cmd, &res);
    return CLI_EXIT_OK;
}
