/*
 * template.c - message templates as data files (one JSON file per language) and their
 * rendering. Every file is validated in full at load: a typo in an event name or a
 * placeholder is an error naming the field, not a message that goes out wrong. Rendering
 * is bounded by the output buffer and never allocates.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "notify/notify.h"

static const char *const tpl_vars[] = {"holder", "unit",   "building", "community",
                                       "meter",  "time",   "balance",  "amount",
                                       "days_left", "reason", "level"};
#define TPL_NVARS (sizeof tpl_vars / sizeof tpl_vars[0])

static const char *tpl__value(const wk_notify_vars *v, size_t i)
{
    const char *const vals[TPL_NVARS] = {v->holder, v->unit,      v->building, v->community,
                                         v->meter,  v->time,      v->balance,  v->amount,
                                         v->days_left, v->reason, v->level};
    return vals[i];
}

/* Index of the placeholder name s[0..n) or -1. */
static int tpl__var(const char *s, size_t n)
{
    for (size_t i = 0; i < TPL_NVARS; i++)
        if (strlen(tpl_vars[i]) == n && !memcmp(tpl_vars[i], s, n))
            return (int)i;
    return -1;
}

/* Checks braces and placeholder names of a template text. */
static wk_err tpl__check(const char *s, const char *what, wk_diag *d)
{
    for (const char *p = s; *p; p++) {
        if (*p == '}')
            return wk_diag_set(d, WK_EINVAL, "%s: '}' without '{' at offset %zu", what,
                               (size_t)(p - s));
        if (*p != '{')
            continue;
        const char *e = strchr(p + 1, '}');
        if (!e)
            return wk_diag_set(d, WK_EINVAL, "%s: '{' without '}' at offset %zu", what,
                               (size_t)(p - s));
        if (tpl__var(p + 1, (size_t)(e - p - 1)) < 0)
            return wk_diag_set(d, WK_EINVAL,
                               "%s: unknown placeholder {%.*s} (known: holder, unit, building, "
                               "community, meter, time, balance, amount, days_left, reason, level)",
                               what, (int)(e - p - 1 > 40 ? 40 : e - p - 1), p + 1);
        p = e;
    }
    return WK_OK;
}

static wk_err tpl__string(json_t *o, const char *key, bool required, char *out, size_t cap,
                          const char *ev, wk_diag *d)
{
    json_t *v = json_object_get(o, key);
    out[0] = 0;
    if (!v) {
        if (required)
            return wk_diag_set(d, WK_EINVAL, "events.%s: missing \"%s\"", ev, key);
        return WK_OK;
    }
    if (!json_is_string(v))
        return wk_diag_set(d, WK_EINVAL, "events.%s.%s: expected a string", ev, key);
    size_t n = json_string_length(v);
    if (n >= cap)
        return wk_diag_set(d, WK_ELIMIT, "events.%s.%s: %zu bytes, at most %zu", ev, key, n,
                           cap - 1);
    if (memchr(json_string_value(v), 0, n))
        return wk_diag_set(d, WK_EINVAL, "events.%s.%s: contains a NUL character", ev, key);
    if (required && n == 0)
        return wk_diag_set(d, WK_EINVAL, "events.%s.%s: empty", ev, key);
    memcpy(out, json_string_value(v), n + 1);
    char what[96];
    snprintf(what, sizeof what, "events.%s.%s", ev, key);
    return tpl__check(out, what, d);
}

wk_err wk_notify_templates_parse(const char *json, size_t len, wk_notify_templates *tpl,
                                 wk_diag *d)
{
    if (len > WK_NOTIFY_TEMPLATE_FILE_MAX)
        return wk_diag_set(d, WK_ELIMIT, "%zu bytes, at most %u", len,
                           (unsigned)WK_NOTIFY_TEMPLATE_FILE_MAX);
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return wk_diag_set(d, WK_EINVAL, "line %d: %s", je.line, je.text);
    wk_err e = WK_OK;
    wk_notify_lang lang;
    json_t *jl = json_object_get(root, "lang");
    json_t *evs = json_object_get(root, "events");
    if (!json_is_object(root)) {
        e = wk_diag_set(d, WK_EINVAL, "expected a JSON object at the top");
        goto done;
    }
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v)
    {
        if (strcmp(k, "lang") && strcmp(k, "events") && strcmp(k, "comment")) {
            e = wk_diag_set(d, WK_EINVAL, "unknown field \"%.60s\" (expected lang, events, comment)",
                            k);
            goto done;
        }
    }
    if (!json_is_string(jl) || wk_notify_lang_parse(json_string_value(jl), &lang)) {
        e = wk_diag_set(d, WK_EINVAL, "\"lang\": expected \"en\" or \"zh-CN\"");
        goto done;
    }
    if (!json_is_object(evs)) {
        e = wk_diag_set(d, WK_EINVAL, "\"events\": expected an object of event templates");
        goto done;
    }
    json_object_foreach(evs, k, v)
    {
        int kind = -1;
        for (int i = 0; i < WK_NK_COUNT; i++)
            if (!strcmp(k, wk_notify_kind_name((wk_notify_kind)i)))
                kind = i;
        if (kind < 0) {
            e = wk_diag_set(d, WK_EINVAL,
                            "events: unknown event \"%.60s\" (known: warn1, warn2, trip, close, "
                            "credit, offline, refused, expired, foreign_command)", k);
            goto done;
        }
        if (!json_is_object(v)) {
            e = wk_diag_set(d, WK_EINVAL, "events.%s: expected an object", k);
            goto done;
        }
        const char *f;
        json_t *fv;
        json_object_foreach(v, f, fv)
        {
            if (strcmp(f, "subject") && strcmp(f, "text") && strcmp(f, "urgent") &&
                strcmp(f, "wechat_template_id")) {
                e = wk_diag_set(d, WK_EINVAL,
                                "events.%s: unknown field \"%.60s\" (expected subject, text, "
                                "urgent, wechat_template_id)", k, f);
                goto done;
            }
        }
        wk_notify_template *t = &tpl->t[lang][kind];
        json_t *u = json_object_get(v, "urgent");
        if (u && !json_is_boolean(u)) {
            e = wk_diag_set(d, WK_EINVAL, "events.%s.urgent: expected true or false", k);
            goto done;
        }
        t->urgent = json_is_true(u);
        if ((e = tpl__string(v, "subject", true, t->subject, sizeof t->subject, k, d)) ||
            (e = tpl__string(v, "text", true, t->text, sizeof t->text, k, d)) ||
            (e = tpl__string(v, "wechat_template_id", false, t->wechat_template_id,
                             sizeof t->wechat_template_id, k, d)))
            goto done;
        t->present = true;
    }
    for (int i = 0; i < WK_NK_COUNT; i++)
        if (!tpl->t[lang][i].present) {
            e = wk_diag_set(d, WK_EINVAL, "events: no template for \"%s\"",
                            wk_notify_kind_name((wk_notify_kind)i));
            goto done;
        }
done:
    json_decref(root);
    return e;
}

wk_err wk_notify_templates_load(const char *dir, wk_notify_templates *tpl, wk_diag *d)
{
    static const char *const files[] = {"en.json", "zh-CN.json"};
    char *buf = wk_malloc(WK_NOTIFY_TEMPLATE_FILE_MAX + 1);
    if (!buf)
        return wk_diag_set(d, WK_ENOMEM, "templates: out of memory");
    wk_err e = WK_OK;
    memset(tpl, 0, sizeof *tpl);
    for (size_t i = 0; i < 2 && !e; i++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        FILE *f = fopen(path, "rb");
        if (!f) {
            e = wk_diag_set(d, WK_EIO, "%s: %s", path, strerror(errno));
            break;
        }
        size_t n = fread(buf, 1, WK_NOTIFY_TEMPLATE_FILE_MAX + 1, f);
        bool err = ferror(f);
        fclose(f);
        if (err)
            e = wk_diag_set(d, WK_EIO, "%s: read failed", path);
        else if ((e = wk_notify_templates_parse(buf, n, tpl, d)))
            wk_diag_prefix(d, "%s", path);
        else {
            wk_notify_lang want = i == 0 ? WK_NL_EN : WK_NL_ZH;
            if (!tpl->t[want][0].present)
                e = wk_diag_set(d, WK_EINVAL, "%s: \"lang\" does not match the file name", path);
        }
    }
    wk_free(buf);
    return e;
}

wk_err wk_notify_render(const char *src, const wk_notify_vars *v, char *out, size_t cap,
                        wk_diag *d)
{
    WK_ASSERT(cap > 0);
    size_t o = 0;
    for (const char *p = src; *p;) {
        const char *piece = p;
        size_t n = 1;
        if (*p == '{') {
            const char *e = strchr(p + 1, '}');
            int i = e ? tpl__var(p + 1, (size_t)(e - p - 1)) : -1;
            if (i >= 0) {
                piece = tpl__value(v, (size_t)i);
                if (!piece)
                    piece = "";
                n = strlen(piece);
                p = e + 1;
            } else {
                p++;
            }
        } else {
            p++;
        }
        if (o + n >= cap) {
            memcpy(out + o, piece, cap - 1 - o);
            out[cap - 1] = 0;
            return wk_diag_set(d, WK_ELIMIT, "rendered text longer than %zu bytes", cap - 1);
        }
        memcpy(out + o, piece, n);
        o += n;
    }
    out[o] = 0;
    return WK_OK;
}
