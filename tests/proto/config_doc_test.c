/* config_doc_test.c - docs/config.md and the key table of src/proto/config.c agree: every
 * key has exactly one section with the fixed fields (name, type, default, range, env,
 * example, meaning) matching the table, every example loads, and every documented key
 * exists. Fails when a key is added without its page or a page outlives its key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "proto/config.h"

static char *doc;

static int load_doc(void **state)
{
    (void)state;
    const char *root = getenv("WK_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/docs/config.md", root ? root : ".");
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return -1;
    }
    doc = wk_malloc(1 << 20);
    size_t n = fread(doc, 1, (1 << 20) - 1, f);
    doc[n] = '\0';
    fclose(f);
    return 0;
}

static int free_doc(void **state)
{
    (void)state;
    wk_free(doc);
    return 0;
}

/* The block of a key: from its heading to the next heading (## or ###). */
static char *key_block(const char *section, const char *key, int *count)
{
    char head[160];
    snprintf(head, sizeof head, "\n### `[%s] %s`\n", section, key);
    *count = 0;
    const char *first = NULL;
    for (const char *p = strstr(doc, head); p; p = strstr(p + 1, head)) {
        (*count)++;
        if (!first)
            first = p;
    }
    if (!first)
        return NULL;
    const char *body = first + strlen(head);
    const char *end = strstr(body, "\n#");
    size_t n = end ? (size_t)(end - body) : strlen(body);
    char *b = wk_malloc(n + 1);
    memcpy(b, body, n);
    b[n] = '\0';
    return b;
}

/* The value cell of row `| field | value |`, or NULL. */
static const char *row(const char *block, const char *field, char *buf, size_t n)
{
    char start[64];
    snprintf(start, sizeof start, "\n| %s | ", field);
    const char *p = strstr(block, start);
    if (!p)
        return NULL;
    p += strlen(start);
    const char *e = strstr(p, " |\n");
    if (!e || (size_t)(e - p) >= n)
        return NULL;
    memcpy(buf, p, (size_t)(e - p));
    buf[e - p] = '\0';
    return buf;
}

static void expect_row(const char *section, const char *key, const char *block, const char *field,
                       const char *want)
{
    char got[1024];
    if (!row(block, field, got, sizeof got)) {
        fprintf(stderr, "docs/config.md: [%s] %s has no '%s' row\n", section, key, field);
        fail();
    }
    if (want && strcmp(got, want) != 0) {
        fprintf(stderr, "docs/config.md: [%s] %s: %s is '%s', the table says '%s'\n", section, key,
                field, got, want);
        fail();
    }
}

static void test_every_key_documented(void **state)
{
    (void)state;
    const wk_config_key *keys;
    size_t n = wk_config_keys(&keys);
    for (size_t i = 0; i < n; i++) {
        const wk_config_key *k = &keys[i];
        int count;
        char *b = key_block(k->section, k->key, &count);
        if (count != 1) {
            fprintf(stderr, "docs/config.md: [%s] %s has %d sections (want 1)\n", k->section,
                    k->key, count);
            fail();
        }
        char want[1200], range[256], env[96];
        snprintf(want, sizeof want, "`%s` in section `[%s]`", k->key, k->section);
        expect_row(k->section, k->key, b, "name", want);
        expect_row(k->section, k->key, b, "type", wk_config_type_name(k->type));
        if (k->def[0])
            snprintf(want, sizeof want, "`%s`", k->def);
        else
            snprintf(want, sizeof want, "(empty)");
        expect_row(k->section, k->key, b, "default", want);
        expect_row(k->section, k->key, b, "range", wk_config_range_text(k, range, sizeof range));
        snprintf(want, sizeof want, "`%s`", wk_config_env_name(k, env, sizeof env));
        expect_row(k->section, k->key, b, "env", want);
        expect_row(k->section, k->key, b, "meaning", NULL);
        char meaning[1024];
        assert_true(strlen(row(b, "meaning", meaning, sizeof meaning)) > 10);

        /* the example is `key = value` and loads */
        char ex[1024];
        expect_row(k->section, k->key, b, "example", NULL);
        row(b, "example", ex, sizeof ex);
        size_t el = strlen(ex);
        char prefix[96];
        snprintf(prefix, sizeof prefix, "`%s = ", k->key);
        if (el < 2 || strncmp(ex, prefix, strlen(prefix)) != 0 || ex[el - 1] != '`') {
            fprintf(stderr, "docs/config.md: [%s] %s: example '%s' is not `%s = ...`\n",
                    k->section, k->key, ex, k->key);
            fail();
        }
        ex[el - 1] = '\0';
        char text[1200];
        snprintf(text, sizeof text, "[%s]\n%s\n", k->section, ex + 1);
        wk_config c;
        wk_diag d = {{0}};
        if (wk_config_load_string(text, "docs/config.md example", &c, &d) != WK_OK) {
            fprintf(stderr, "docs/config.md: [%s] %s: example does not load: %s\n", k->section,
                    k->key, d.msg);
            fail();
        }
        wk_free(b);
    }
}

static void test_every_documented_key_exists(void **state)
{
    (void)state;
    const wk_config_key *keys;
    size_t n = wk_config_keys(&keys);
    int documented = 0;
    for (const char *p = strstr(doc, "\n### "); p; p = strstr(p + 1, "\n### ")) {
        char section[64], key[64];
        if (sscanf(p, "\n### `[%63[^]]] %63[^`]`", section, key) != 2) {
            fprintf(stderr, "docs/config.md: a ### heading that is not `[section] key`: %.60s\n",
                    p + 1);
            fail();
        }
        bool found = false;
        for (size_t i = 0; i < n && !found; i++)
            found = strcmp(keys[i].section, section) == 0 && strcmp(keys[i].key, key) == 0;
        if (!found) {
            fprintf(stderr, "docs/config.md documents [%s] %s, which is not in the key table\n",
                    section, key);
            fail();
        }
        documented++;
    }
    assert_int_equal(documented, (int)n);
}

/* examples/wattkeeper.ini sets every key to its documented default. */
static void test_example_file(void **state)
{
    (void)state;
    const char *root = getenv("WK_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/examples/wattkeeper.ini", root ? root : ".");
    wk_config c, def;
    wk_diag d = {{0}};
    if (wk_config_load(path, &c, &d) != WK_OK) {
        fprintf(stderr, "%s\n", d.msg);
        fail();
    }
    wk_config_defaults(&def);
    assert_memory_equal(&c, &def, sizeof c);
    const wk_config_key *keys;
    size_t n = wk_config_keys(&keys);
    FILE *f = fopen(path, "rb");
    char text[16384];
    size_t len = fread(text, 1, sizeof text - 1, f);
    text[len] = '\0';
    fclose(f);
    for (size_t i = 0; i < n; i++) {
        char line[160];
        snprintf(line, sizeof line, "\n%s =", keys[i].key);
        assert_non_null(strstr(text, line));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_key_documented),
        cmocka_unit_test(test_every_documented_key_exists),
        cmocka_unit_test(test_example_file),
    };
    return cmocka_run_group_tests(tests, load_doc, free_doc);
}
