/*
 * serve_web_resident.c - web API module (see serve_web.h). Not written yet: no routes.
 */
#include "app/serve_web.h"

const wk_http_route wk_web_resident_routes[] = {{0}};
const size_t wk_web_resident_nroutes = 0;
