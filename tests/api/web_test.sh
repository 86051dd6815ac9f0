#!/usr/bin/env bash
# web_test.sh - the web API through real HTTP against a real `wattkeeper serve` (private
# mosquitto, SQLite file, `wattkeeper sim` for readings). Two property companies, staff and
# residents of each; tests/api/web_check.py then checks, over HTTP only:
#   - login sets an HttpOnly SameSite=Strict cookie and returns the CSRF token; /me, logout;
#   - CSRF: every state change without (or with a wrong) X-CSRF-Token is 403 and changes
#     nothing; JSON bodies must be application/json (415), bodies are bounded (413);
#   - session fixation: a planted cookie is never adopted, login always issues a new id and
#     ends the session the client brought;
#   - the per-address login rate limit (429) and the per-login lock-out (423);
#   - password change ends every session; passwords are stored as argon2id hashes;
#   - the read API: pagination, filters, 400s naming the field;
#   - the access-control sweep: for each role and object type, every id in the database is
#     requested; objects of another company or another resident are 404/403 with no data,
#     and lists hold exactly the visible ids;
#   - the OpenAPI document: every registered route is documented and every documented
#     operation answers with a status it documents.
set -euo pipefail
source "$(dirname "$0")/web_env.sh"
python3 "$SRC/tests/api/web_check.py" --port "$HPORT" --db "$T/wk.db" --src "$SRC" --bin "$BIN"
stop_serve
rc=0
