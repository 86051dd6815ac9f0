/* json.c - strict-key checking for JSON objects (see json.h). */
#include "proto/json.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

wk_err wk_json_check_keys(json_t *obj, const char *path, const char *const *allowed, wk_diag *d)
{
    if (!json_is_object(obj))
        return wk_diag_set(d, WK_EINVAL, "%s: expected an object", path);
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val)
    {
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = !strcmp(*a, key);
        if (ok)
            continue;
        char list[256];
        size_t n = 0;
        list[0] = '\0';
        for (const char *const *a = allowed; *a && n < sizeof list; a++) {
            int w = snprintf(list + n, sizeof list - n, "%s%s", a == allowed ? "" : ", ", *a);
            if (w < 0)
                break;
            n += (size_t)w;
        }
        return wk_diag_set(d, WK_EINVAL, "%s: unknown key \"%s\" (expected one of: %s)", path, key,
                           list);
    }
    return WK_OK;
}
