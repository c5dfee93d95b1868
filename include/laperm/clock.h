/* The one clock laperm times with: monotonic seconds since an arbitrary start, for
 * durations only (start-up, epochs, timed choices, benchmarks). */
#ifndef LAPERM_CLOCK_H
#define LAPERM_CLOCK_H

double lp_seconds(void);

#endif
