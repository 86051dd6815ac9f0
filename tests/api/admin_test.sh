#!/usr/bin/env bash
# admin_test.sh - users, community assignment and API tokens through real HTTP against a
# live `wattkeeper serve` (tests/api/web_env.sh; checks in tests/api/admin_check.py):
#   - a company admin lists and adds its logins (argon2id, audited, never the password),
#     every refusal names its field and writes nothing; other roles get 403;
#   - staff restricted to some communities see only those, in every list and object;
#   - a locked-out login is unlocked by an admin;
#   - API tokens act as their user (role and tenancy) without CSRF, are stored as SHA-256,
#     cannot mint tokens, and stop working when revoked; other tenants get 404.
set -euo pipefail
source "$(dirname "$0")/web_env.sh"
python3 "$SRC/tests/api/admin_check.py" --port "$HPORT" --db "$T/wk.db" --src "$SRC" --bin "$BIN"
stop_serve
rc=0
