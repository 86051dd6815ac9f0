/* cmd_version.c - `wattkeeper version`: the version and the library versions linked in. */
#include <jansson.h>
#include <openssl/opensslv.h>
#include <sqlite3.h>
#include <stdio.h>

#include "app/cli.h"

int wk_cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("wattkeeper %s (sqlite %s, jansson %s, %s)\n", WK_VERSION, sqlite3_libversion(),
           JANSSON_VERSION, OPENSSL_VERSION_TEXT);
    return 0;
}
