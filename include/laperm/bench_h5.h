/* HDF5 output of a benchmark table (see host/bench_h5.c for the layout). */
#ifndef LAPERM_BENCH_H5_H
#define LAPERM_BENCH_H5_H

#include "laperm/bench.h"

lp_status lp_bench_write_h5(const lp_bench_table *t, const char *device, const char *command,
                            const char *path);

#endif
