/* Keeps the OpenCL compiler's own noise out of the terminal: PoCL's compiler prints
 * "N warnings generated." straight to the process's stderr whenever a program it builds
 * (laperm's, CLBlast's or clFFT's) has warnings, which it also puts in the build log. */
#ifndef LAPERM_CLI_QUIET_H
#define LAPERM_CLI_QUIET_H

#include <stdbool.h>

/* Routes stderr through a filter process that drops those lines and passes everything
 * else on as it comes, a line at a time (stderr is line-buffered meanwhile); undone at exit. Call
 * it before any thread starts (it forks). Does nothing if it cannot be set up. */
void cli_quiet_start(void);
/* --verbose: stderr is the real one again from now on (before train --json moves stdout). */
void cli_quiet_off(void);
/* Whether the real stderr (the filter's output, or stderr itself without one) is a terminal. */
bool cli_quiet_stderr_isatty(void);

#endif
