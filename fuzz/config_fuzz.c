/*
 * config_fuzz.c - libFuzzer target for wattkeeper.ini loading (src/proto/config.c): the
 * bytes are the INI text. Whatever loads must dump and load back to the same values (the
 * dump is the documented form of the effective configuration), secrets aside; an error
 * must come with a message.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "proto/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    char *text = wk_malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    static wk_config a, b;
    wk_diag d = {{0}};
    wk_err e = wk_config_load_string(text, "fuzz.ini", &a, &d);
    wk_free(text);
    if (e != WK_OK) {
        if (d.msg[0] == '\0')
            abort();
        return 0;
    }
    char *dump = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&dump, &len);
    if (!f)
        return 0;
    if (wk_config_dump(&a, f) != WK_OK)
        abort();
    fclose(f);
    if (wk_config_load_string(dump, "dump", &b, &d) != WK_OK) {
        fprintf(stderr, "dump does not load back: %s\n%s\n", d.msg, dump);
        abort();
    }
    free(dump);
    const wk_config_key *keys;
    size_t n = wk_config_keys(&keys);
    for (size_t i = 0; i < n; i++) {
        if (keys[i].secret)
            continue;
        static char va[WK_CONFIG_PATH_MAX + 64], vb[WK_CONFIG_PATH_MAX + 64];
        wk_config_format_value(&a, &keys[i], va, sizeof va);
        wk_config_format_value(&b, &keys[i], vb, sizeof vb);
        if (strcmp(va, vb) != 0) {
            fprintf(stderr, "[%s] %s: '%s' became '%s'\n", keys[i].section, keys[i].key, va, vb);
            abort();
        }
    }
    return 0;
}
