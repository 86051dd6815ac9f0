/*
 * readings_fuzz.c - libFuzzer target for the readings CSV reader and the readings ->
 * interval -> rating path of `wattkeeper rate`, under a fixed flat tiered tariff.
 */
#include <stdint.h>
#include <string.h>

#include "core/mem.h"
#include "core/rating.h"
#include "core/readings.h"
#include "proto/readings_csv.h"
#include "proto/tariff_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char tariff_json[] =
    "{\"name\":\"f\",\"source\":\"fuzz\",\"versions\":[{"
    "\"effective_from\":\"2020-01-01T00:00:00+08:00\","
    "\"tiers\":{\"cycle\":\"annual\",\"thresholds_kwh\":[\"2760\",\"4800\"]},"
    "\"prices\":{\"additive\":{\"base\":{\"peak\":\"0.568\",\"valley\":\"0.288\","
    "\"sharp\":\"1\",\"flat\":\"0.5\"},\"tier_increments\":[\"0\",\"0.05\",\"0.3\"]}},"
    "\"maps\":{\"d\":[{\"from\":\"00:00\",\"to\":\"08:00\",\"slot\":\"valley\"},"
    "{\"from\":\"08:00\",\"to\":\"24:00\",\"slot\":\"peak\"}]},"
    "\"seasons\":[{\"name\":\"a\",\"months\":[1,2,3,4,5,6,7,8,9,10,11,12],"
    "\"days\":{\"workday\":\"d\"}}]}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static wk_tariff t;
    static int loaded;
    wk_diag d;
    if (!loaded) {
        if (wk_tariff_json_parse(tariff_json, strlen(tariff_json), &t, &d) != WK_OK)
            __builtin_trap();
        loaded = 1;
    }
    wk_csv_row *rows = NULL;
    size_t n = 0;
    if (wk_readings_csv_parse((const char *)data, size, &rows, &n, &d) != WK_OK)
        return 0;
    wk_rate_state st = {0};
    static wk_rate_result res;
    for (size_t i = 1; i < n && i < 64; i++) {
        wk_interval iv;
        bool empty;
        if (wk_reading_interval(&rows[i - 1].r, &rows[i].r, WK_REGISTER_MODULUS_WH, &iv, &empty,
                                &d) != WK_OK)
            break;
        if (!empty && iv.to_s - iv.from_s < 86400LL * 800 &&
            wk_rate_interval(&t, NULL, &st, &iv, &res, &d) != WK_OK)
            break;
    }
    wk_free(rows);
    return 0;
}
