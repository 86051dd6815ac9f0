/*
 * tariff_fuzz.c - libFuzzer target for the JSON tariff parser. Inputs that parse are also
 * rated over a few intervals derived from the input bytes, so that whatever the parser
 * accepts is safe for the rating engine (no overflow, no out-of-bounds slot or map).
 */
#include <stdint.h>
#include <string.h>

#include "core/mem.h"
#include "core/rating.h"
#include "proto/tariff_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static wk_tariff t;
    wk_diag d;
    if (wk_tariff_json_parse((const char *)data, size, &t, &d) != WK_OK)
        return 0;
    uint64_t seed = 1469598103934665603ULL;
    for (size_t i = 0; i < size; i++)
        seed = (seed ^ data[i]) * 1099511628211ULL;
    wk_rate_state st = {0};
    static wk_rate_result res;
    int64_t from = t.versions[0].effective_from_s;
    for (int i = 0; i < 8; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        int64_t len = 1 + (int64_t)(seed >> 40) % (86400 * 40);
        wk_interval iv = {.from_s = from, .to_s = from + len,
                          .energy_wh = (int64_t)(seed >> 20) % 5000000};
        if (i & 1) {
            iv.has_slots = true;
            iv.slot_wh[(seed >> 8) % WK_SLOT_N] = iv.energy_wh;
        }
        if (wk_rate_interval(&t, NULL, &st, &iv, &res, &d) != WK_OK)
            break;
        from += len;
    }
    return 0;
}
