/*
 * notify_templates_fuzz.c - libFuzzer target for the notification templates data file
 * parser (src/notify/template.c) and the renderer: the bytes are a templates file. An
 * error must come with a message; whatever loads must render every template of its
 * language within the bounds, with every placeholder filled.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "notify/notify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > WK_NOTIFY_TEMPLATE_FILE_MAX)
        return 0;
    static wk_notify_templates t;
    memset(&t, 0, sizeof t);
    wk_diag d = {{0}};
    wk_err e = wk_notify_templates_parse((const char *)data, size, &t, &d);
    if (e != WK_OK) {
        if (d.msg[0] == '\0')
            abort();
        return 0;
    }
    const char *x = "0123456789abcdefghij"; /* 20 bytes per value */
    wk_notify_vars v = {x, x, x, x, x, x, x, x, x, x, x};
    static char out[WK_NOTIFY_TEXT_MAX * 24];
    for (int l = 0; l < WK_NL_COUNT; l++)
        for (int k = 0; k < WK_NK_COUNT; k++) {
            const wk_notify_template *tp = &t.t[l][k];
            if (!tp->present)
                continue;
            if (wk_notify_render(tp->text, &v, out, sizeof out, &d) != WK_OK)
                abort(); /* 2047 bytes of template cannot grow past 24x */
            if (strchr(out, '{') && !strchr(tp->text, '{'))
                abort();
            if (wk_notify_render(tp->subject, &v, out, 8, &d) == WK_OK && strlen(out) > 7)
                abort();
        }
    return 0;
}
