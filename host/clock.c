/* laperm/clock.h: CLOCK_MONOTONIC, which no change of the wall clock moves. */
#include "laperm/clock.h"

#include <time.h>

double lp_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
