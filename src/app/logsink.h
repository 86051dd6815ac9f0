/*
 * logsink.h - the process side of src/core/log: a sink that writes each line to stderr
 * with one write(2) (so lines from threads never interleave, even with other writers to
 * the same descriptor), and the wall clock in Unix milliseconds. `serve` installs both at
 * start-up: wk_log_set_sink(wk_logsink_stderr, NULL); wk_log_set_clock(wk_logsink_now_ms);
 */
#ifndef WK_APP_LOGSINK_H
#define WK_APP_LOGSINK_H

#include <stddef.h>
#include <stdint.h>

/* A wk_log_sink: writes the line to fd 2, retrying on EINTR and short writes; errors are
 * dropped (there is nowhere left to report them). ctx is unused. */
void wk_logsink_stderr(const char *line, size_t len, void *ctx);

/* CLOCK_REALTIME in milliseconds since the Unix epoch. */
int64_t wk_logsink_now_ms(void);

#endif
