/* The parts of data-parallel training that need no MPI (laperm/dist.h): how rows are
 * shared out among ranks, the fixed order in which contributions are added, and whether
 * a launcher started this process. */
#include <stdlib.h>

#include "laperm/dist.h"

void lp_dist_share(long long n, int rank, int size, long long *first, long long *count) {
    long long base = n / size, extra = n % size;
    *count = base + (rank < extra ? 1 : 0);
    *first = (long long)rank * base + (rank < extra ? rank : extra);
}

void lp_dist_add_in_order(const float *contrib, size_t stride, int size, size_t n, float *out) {
    for (size_t i = 0; i < n; ++i) {
        double acc = contrib[i];
        for (int r = 1; r < size; ++r)
            acc += contrib[(size_t)r * stride + i];
        out[i] = (float)acc;
    }
}

int lp_dist_launcher_size(void) {
    /* Open MPI's mpirun, MPICH's and Intel MPI's Hydra (and srun with PMI), MVAPICH. */
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; ++i) {
        const char *v = getenv(vars[i]);
        if (v && *v) return atoi(v) > 0 ? atoi(v) : 0;
    }
    return 0;
}
