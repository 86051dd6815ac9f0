/* util.c - file reading and option helpers for the subcommands (see util.h). */
#include "app/util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/mem.h"

wk_err wk_app_read_file(const char *path, size_t max_bytes, char **buf_out, size_t *len_out,
                        wk_diag *d)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return wk_diag_set(d, WK_EIO, "%s: %s", path, strerror(errno));
    size_t cap = 65536, len = 0;
    char *buf = wk_malloc(cap);
    wk_err e = WK_OK;
    if (!buf) {
        e = wk_diag_set(d, WK_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    for (;;) {
        if (len + 1 == cap) {
            if (cap > max_bytes) {
                e = wk_diag_set(d, WK_ELIMIT, "%s: larger than %zu bytes", path, max_bytes);
                goto done;
            }
            char *nb = wk_realloc(buf, cap * 2);
            if (!nb) {
                e = wk_diag_set(d, WK_ENOMEM, "%s: out of memory", path);
                goto done;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - 1 - len, f);
        len += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        e = wk_diag_set(d, WK_EIO, "%s: read error", path);
        goto done;
    }
    if (len > max_bytes) {
        e = wk_diag_set(d, WK_ELIMIT, "%s: larger than %zu bytes", path, max_bytes);
        goto done;
    }
    buf[len] = '\0';
    *buf_out = buf;
    *len_out = len;
    buf = NULL;
done:
    wk_free(buf);
    fclose(f);
    return e;
}
