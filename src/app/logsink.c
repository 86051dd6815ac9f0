/*
 * logsink.c - stderr sink and wall clock for src/core/log (see logsink.h). The only place
 * log lines meet a file descriptor.
 */
#include "app/logsink.h"

#include <errno.h>
#include <time.h>
#include <unistd.h>

void wk_logsink_stderr(const char *line, size_t len, void *ctx)
{
    (void)ctx;
    while (len > 0) {
        ssize_t w = write(2, line, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        line += w;
        len -= (size_t)w;
    }
}

int64_t wk_logsink_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
