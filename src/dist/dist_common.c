/*
 * dist_common.c — what both builds of the dist layer share (include/warm/dist.h): recognising a launcher
 * from its environment, before (and without) any MPI call.
 */
#include <stdlib.h>

#include "warm/dist.h"

/* A positive integer environment variable, else 0. */
static int env_count(const char *name) {
    const char *v = getenv(name);
    if (!v || !*v) return 0;
    char *end = NULL;
    long x = strtol(v, &end, 10);
    return end && !*end && x > 0 && x < (1L << 24) ? (int)x : 0;
}

int warm_dist_launched(void) {
    int n = env_count("OMPI_COMM_WORLD_SIZE"); /* mpirun / mpiexec of Open MPI */
    if (n) return n;
    if (!getenv("PMIX_RANK") && !getenv("PMI_RANK")) return 0;
    n = env_count("PMI_SIZE"); /* MPICH's hydra, srun --mpi=pmi2 */
    if (!n) n = env_count("SLURM_NTASKS"); /* srun --mpi=pmix */
    return n ? n : 1;
}
