#!/usr/bin/env python3
"""web_check.py - HTTP checks of the web API, run by tests/api/web_test.sh against a live
`wattkeeper serve`. Talks only HTTP to the server; reads the SQLite file only to know what
exists (the ids to sweep and who owns them) and to confirm that rejected requests changed
nothing. Exits 1 on the first failed group, printing every failed check."""
import glob, json, os, re, sqlite3, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from webclient import A, PW, PW2, check, db, req, cookie_of, login, is_error, group, done


# ---------------------------------------------------------------- login, cookie, /me
group("login and session cookie")
r, tok, csrf = login("acme-admin")
check(r.status == 200, f"login status {r.status} {r.raw[:200]}")
_, sc = cookie_of(r)
check(tok and len(tok) == 64, "session token of 64 hex in the cookie")
check(sc and "HttpOnly" in sc and "SameSite=Strict" in sc and "Path=/" in sc,
      f"cookie attributes: {sc}")
check(csrf and re.fullmatch(r"[0-9a-f]{64}", csrf) and csrf != tok, "csrf token in the body")
check(r.json.get("role") == "admin" and r.json.get("login") == "acme-admin", "login body")
check("password" not in r.raw.decode() and tok not in r.raw.decode(), "no secrets in the body")
me = req("GET", "/api/v1/me", cookie=tok)
check(me.status == 200 and me.json["login"] == "acme-admin" and me.json["csrf"] == csrf, "GET /me")
check(is_error(req("GET", "/api/v1/me"), 401, "unauthorized"), "/me without a cookie is 401")
check(is_error(req("GET", "/api/v1/me", cookie="0" * 64), 401), "/me with an unknown token is 401")
check(is_error(login("acme-admin", "wrong-password-x")[0], 401, "bad_credentials"), "wrong password 401")
check(is_error(login("nobody-here")[0], 401, "bad_credentials"), "unknown login 401, same answer")
check(is_error(req("POST", "/api/v1/login", raw=b'{"login":"a","login":"b","password":"x"}'), 400,
               "bad_json"), "duplicate keys rejected")
check(is_error(req("POST", "/api/v1/login", {"login": "acme-admin", "password": PW, "x": 1}), 400),
      "unknown field rejected")
check(is_error(req("POST", "/api/v1/login", {"login": "acme-admin"}), 400) and
      req("POST", "/api/v1/login", {"login": "acme-admin"}).json["error"]["field"] == "password",
      "missing password names the field")
check(is_error(req("POST", "/api/v1/login", raw=b"login=acme-admin&password=x",
                   ctype="application/x-www-form-urlencoded"), 415), "form posts are 415")
check(is_error(req("POST", "/api/v1/login", raw=b'{"login":"' + b"a" * 5000 + b'"}'), 413),
      "oversized body is 413")
hashes = db("select pass_hash from app_user")
check(hashes and all(h[0].startswith("$argon2id$") for h in hashes) and
      not any(PW in h[0] for h in hashes), "passwords stored as argon2id hashes only")
check(db("select count(*) from app_session where hex(token_sha256) = upper(?)", tok)[0][0] == 0,
      "the session token itself is not stored")

# ---------------------------------------------------------------- CSRF
group("CSRF on state changes")
sessions_before = db("select count(*) from app_session")[0][0]
check(is_error(req("POST", "/api/v1/logout", cookie=tok), 403, "csrf"), "logout without X-CSRF-Token")
check(is_error(req("POST", "/api/v1/logout", cookie=tok, csrf="f" * 64), 403, "csrf"),
      "logout with a wrong X-CSRF-Token")
_, tok_other, csrf_other = login("acme-tech")
check(is_error(req("POST", "/api/v1/logout", cookie=tok, csrf=csrf_other), 403, "csrf"),
      "another session's CSRF token is refused")
check(req("GET", "/api/v1/me", cookie=tok).status == 200, "session survives refused logouts")
pw_hash = db("select pass_hash from app_user where login='acme-admin'")[0][0]
check(is_error(req("POST", "/api/v1/me/password", {"old_password": PW, "new_password": PW2},
                   cookie=tok), 403, "csrf"), "password change without CSRF")
check(db("select pass_hash from app_user where login='acme-admin'")[0][0] == pw_hash,
      "refused password change changed nothing")
check(db("select count(*) from app_session")[0][0] == sessions_before + 1, "no session ended")
check(is_error(req("POST", "/api/v1/logout", csrf=csrf), 401), "logout without a session is 401")

# ---------------------------------------------------------------- session fixation
group("session fixation")
planted = "ab" * 32
r, t1, _ = login("acme-tech", planted=planted)
check(r.status == 200 and t1 and t1 != planted, "login with a planted cookie issues a new id")
check(is_error(req("GET", "/api/v1/me", cookie=planted), 401), "the planted id is not a session")
r, t2, c2 = login("acme-tech", planted=t1)
check(r.status == 200 and t2 != t1, "a second login issues another id")
check(is_error(req("GET", "/api/v1/me", cookie=t1), 401), "the session brought to the login ended")
check(req("GET", "/api/v1/me", cookie=t2).status == 200, "the new session works")

# ---------------------------------------------------------------- logout
group("logout")
r = req("POST", "/api/v1/logout", cookie=t2, csrf=c2)
check(r.status == 204, f"logout {r.status}")
check(any("Max-Age=0" in v for v in r.header("Set-Cookie")), "logout clears the cookie")
check(is_error(req("GET", "/api/v1/me", cookie=t2), 401), "logged-out session is gone")

# ---------------------------------------------------------------- lock-out (own address)
group("lock-out")
for i in range(5):
    r, _, _ = login("locky", "wrong-password-" + str(i), source="127.0.0.2")
    check(is_error(r, 401, "bad_credentials"), f"wrong password {i + 1} is 401 ({r.status})")
r, t, _ = login("locky", PW, source="127.0.0.2")
check(is_error(r, 423, "locked") and t is None, f"right password while locked out is 423 ({r.status})")
until = db("select locked_until_s from app_user where login='locky'")[0][0]
check(until > time.time() + 600, "locked for the configured time")
check(login("acme-tech", source="127.0.0.2")[0].status == 200, "other logins are not locked")

# ---------------------------------------------------------------- rate limit (own address)
group("login rate limit")
codes = [login("nobody-" + str(i), "x", source="127.0.0.3")[0].status for i in range(12)]
check(codes[:10] == [401] * 10, f"first 10 attempts answered: {codes}")
check(codes[10:] == [429, 429], f"then 429: {codes}")
r, t, _ = login("acme-tech", source="127.0.0.3")
check(r.status == 429 and r.header("Retry-After") and t is None,
      "even a right password is refused while rate limited")
check(login("acme-tech", source="127.0.0.4")[0].status == 200, "other addresses are not limited")

# ---------------------------------------------------------------- password change
group("password change")
_, pt, pc = login("pwchange")
_, pt2, _ = login("pwchange")
r = req("POST", "/api/v1/me/password", {"old_password": "not-it-at-all", "new_password": PW2},
        cookie=pt, csrf=pc)
check(is_error(r, 403, "bad_credentials") and r.json["error"]["field"] == "old_password",
      "wrong old password")
r = req("POST", "/api/v1/me/password", {"old_password": PW, "new_password": "short"}, cookie=pt,
        csrf=pc)
check(is_error(r, 400) and r.json["error"]["field"] == "new_password", "too short new password")
r = req("POST", "/api/v1/me/password", {"old_password": PW, "new_password": PW2}, cookie=pt, csrf=pc)
check(r.status == 204, f"password changed {r.status} {r.raw[:200]}")
check(is_error(req("GET", "/api/v1/me", cookie=pt), 401) and
      is_error(req("GET", "/api/v1/me", cookie=pt2), 401), "every session of the user ended")
check(login("pwchange", PW)[0].status == 401 and login("pwchange", PW2)[0].status == 200,
      "only the new password works")

# ---------------------------------------------------------------- read API
group("read API: pages, filters, errors")
S = {}
for name in ("acme-admin", "acme-tech", "birch-admin", "res-101", "res-102", "res-h11"):
    r, t, c = login(name, source="127.0.0.5")
    check(r.status == 200, f"login {name}")
    S[name] = (t, r.json)
A_TOK = S["acme-admin"][0]
r = req("GET", "/api/v1/meters?limit=3", cookie=A_TOK)
check(r.status == 200 and len(r.json["items"]) == 3 and r.json["next_after"] == r.json["items"][-1]["id"],
      "first page of 3")
seen = [m["id"] for m in r.json["items"]]
while r.json["next_after"] is not None:
    r = req("GET", f"/api/v1/meters?limit=3&after={r.json['next_after']}", cookie=A_TOK)
    check(r.status == 200, "next page")
    seen += [m["id"] for m in r.json["items"]]
acme_meters = [x[0] for x in db(
    "select m.id from meter m join unit u on u.id=m.unit_id join building b on b.id=u.building_id"
    " join community c on c.id=b.community_id join company co on co.id=c.company_id"
    " where co.name='Acme Property' order by m.id")]
check(seen == acme_meters, f"pages cover exactly the company's meters: {seen} vs {acme_meters}")
tripped = {x[0] for x in db("select id from meter where relay='tripped'")} & set(acme_meters)
r = req("GET", "/api/v1/meters?relay=tripped", cookie=A_TOK)
check(r.status == 200 and {m["id"] for m in r.json["items"]} == tripped, "relay filter")
b1 = db("select b.id from building b where name='B1'")[0][0]
r = req("GET", f"/api/v1/units?building={b1}", cookie=A_TOK)
check(r.status == 200 and sorted(u["name"] for u in r.json["items"]) == ["101", "102", "103"],
      "units of one building")
for q, field in (("limit=0", "limit"), ("limit=201", "limit"), ("limit=x", "limit"),
                 ("after=-1", "after"), ("relay=open", "relay"), ("online=yes", "online")):
    r = req("GET", "/api/v1/meters?" + q, cookie=A_TOK)
    check(is_error(r, 400, "invalid") and r.json["error"]["field"] == field, f"?{q} is 400 naming {field}")
for p in ("/api/v1/meters/abc", "/api/v1/meters/0", "/api/v1/meters/1/readings",
          "/api/v1/accounts/1/nope", "/api/v1/meters/99999999"):
    check(is_error(req("GET", p, cookie=A_TOK), 404, "not_found"), f"{p} is 404")
a101 = db("select a.id from account a join unit u on u.id=a.unit_id where u.name='101'")[0][0]
r = req("GET", f"/api/v1/accounts/{a101}", cookie=S["res-101"][0])
bal = db("select la.credits_fen - la.debits_fen from account a join ledger_account la"
         " on la.id=a.wallet_account_id where a.id=?", a101)[0][0]
check(r.status == 200 and r.json["holder"] == "holder 101" and isinstance(r.json["balance_fen"], int)
      and re.fullmatch(r"-?\d+\.\d\d", r.json["balance"]), "resident sees own account")
check(abs(r.json["balance_fen"] - bal) < 1000, "balance matches the ledger (it moves with readings)")
check(int(r.json["balance"].replace(".", "")) == r.json["balance_fen"], "balance string = fen")
r = req("GET", f"/api/v1/accounts/{a101}/readings?limit=5", cookie=S["res-101"][0])
check(r.status == 200 and 1 <= len(r.json["items"]) <= 5, "own readings")
times = [x["time_s"] for x in r.json["items"]]
check(times == sorted(times, reverse=True), "readings newest first")
if r.json["next_before"] is not None:
    r2 = req("GET", f"/api/v1/accounts/{a101}/readings?limit=5&before={r.json['next_before']}",
             cookie=S["res-101"][0])
    check(r2.status == 200 and all(x["time_s"] < times[-1] for x in r2.json["items"]), "older page")

r = req("GET", f"/api/v1/accounts/{a101}/transfers?limit=3", cookie=S["res-101"][0])
check(r.status == 200 and r.json["items"] and all(x["direction"] in ("in", "out") for x in r.json["items"]),
      "own transfers")
leaves = [x["leaf_index"] for x in r.json["items"]]
check(leaves == sorted(leaves, reverse=True), "transfers newest first")
opening = db("select lower(hex(t.id)) from ledger_transfer t join account a on a.wallet_account_id ="
             " t.credit_account_id where a.id=? order by leaf_index limit 1", a101)[0][0]
rc = req("GET", f"/api/v1/receipts/{opening}", cookie=S["res-101"][0])
key = req("GET", "/api/v1/ledger/key")
check(rc.status == 200 and key.status == 200 and "+" in key.json["verifier"], "receipt and log key")
with tempfile.TemporaryDirectory() as td:
    open(os.path.join(td, "r.json"), "wb").write(rc.raw)
    open(os.path.join(td, "k.pub"), "w").write(key.json["verifier"] + "\n")
    v = subprocess.run([A.bin, "receipt", "verify", os.path.join(td, "r.json"), "--log-key",
                        os.path.join(td, "k.pub")], capture_output=True, text=True)
    check(v.returncode == 0, f"served receipt verifies offline: {v.stdout} {v.stderr}")
    bad = json.loads(rc.raw)
    bad["record"]["amount_fen"] = bad["record"].get("amount_fen", 0) + 100
    open(os.path.join(td, "r.json"), "w").write(json.dumps(bad))
    v = subprocess.run([A.bin, "receipt", "verify", os.path.join(td, "r.json"), "--log-key",
                        os.path.join(td, "k.pub")], capture_output=True, text=True)
    check(v.returncode != 0, "a tampered receipt fails offline")
check(is_error(req("GET", "/api/v1/receipts/xyz", cookie=S["res-101"][0]), 404), "malformed receipt id 404")
r = req("GET", "/api/v1/commands?limit=2", cookie=A_TOK)
check(r.status == 200 and len(r.json["items"]) <= 2, "commands page")
if r.json["items"]:
    ids_ = [x["id"] for x in r.json["items"]]
    check(ids_ == sorted(ids_, reverse=True), "commands newest first")
r = req("GET", "/api/v1/events?kind=online&limit=5", cookie=A_TOK)
check(r.status == 200 and all(x["kind"] == "online" for x in r.json["items"]), "events by kind")
check(is_error(req("GET", "/api/v1/events?kind=ONLINE", cookie=A_TOK), 400), "bad event kind 400")

# ---------------------------------------------------------------- staff relay actions
group("staff relay actions with reason, audited")
def wait_db(sql, want, secs=25, *args):
    until = time.time() + secs
    while time.time() < until:
        got = db(sql, *args)
        if got and got[0][0] == want:
            return True
        time.sleep(0.2)
    return False
m101 = db("select m.id from meter m join unit u on u.id=m.unit_id where u.name='101'")[0][0]
m102 = db("select m.id from meter m join unit u on u.id=m.unit_id where u.name='102'")[0][0]
mh = db("select m.id from meter m join unit u on u.id=m.unit_id where u.name='1-1'")[0][0]
T_TOK, T_CSRF = S["acme-tech"][0], S["acme-tech"][1]["csrf"]
audit0 = db("select count(*) from audit")[0][0]
state0 = db("select vacant, guarantee_until_s from account where id=?", a101)
for who, body, status, field in (
        ("acme-tech", {"action": "trip"}, 400, "reason"),
        ("acme-tech", {"action": "trip", "reason": ""}, 400, "reason"),
        ("acme-tech", {"action": "explode", "reason": "x"}, 400, "action"),
        ("acme-tech", {"action": "trip", "reason": "x", "hours": 2}, 400, "hours"),
        ("acme-tech", {"action": "trip", "reason": "x", "extra": 1}, 400, "extra"),
        ("res-101", {"action": "trip", "reason": "mine"}, 403, None),
        ("birch-admin", {"action": "trip", "reason": "not ours"}, 404, None)):
    tok, info = S[who]
    r = req("POST", f"/api/v1/meters/{m101}/relay", body, cookie=tok, csrf=info["csrf"])
    check(is_error(r, status) and (field is None or r.json["error"]["field"] == field),
          f"{who} {body} -> {r.status} {r.raw[:120]}")
r = req("POST", f"/api/v1/meters/{m101}/relay", {"action": "trip", "reason": "no csrf"}, cookie=T_TOK)
check(is_error(r, 403, "csrf"), "relay action without CSRF is 403")
r = req("POST", f"/api/v1/meters/{mh}/relay", {"action": "trip", "reason": "other company"},
        cookie=T_TOK, csrf=T_CSRF)
check(is_error(r, 404), "another company's meter is 404")
check(db("select count(*) from audit")[0][0] == audit0 and
      db("select vacant, guarantee_until_s from account where id=?", a101) == state0,
      "rejected relay actions changed nothing and wrote no audit row")
r = req("POST", f"/api/v1/meters/{m101}/relay", {"action": "trip", "reason": "wiring repair in 101"},
        cookie=T_TOK, csrf=T_CSRF)
check(r.status == 200 and r.json["vacant"] is True and r.json["account_id"] == a101, f"trip {r.status} {r.raw[:200]}")
check(wait_db("select relay from meter where id=?", "tripped", 25, m101), "meter 101 tripped")
check(wait_db("select state from command where meter_id=? order by id desc limit 1", "confirmed", 25, m101),
      "trip confirmed by the meter")
r = req("GET", f"/api/v1/commands?meter={m101}&limit=1", cookie=T_TOK)
check(r.status == 200 and r.json["items"][0]["action"] == "trip" and
      r.json["items"][0]["latency_ms"] is not None, "the command and its latency in the API")
r = req("POST", f"/api/v1/meters/{m102}/relay", {"action": "close", "reason": "medical equipment", "hours": 2},
        cookie=T_TOK, csrf=T_CSRF)
check(r.status == 200 and r.json["guarantee_until_s"] > time.time() + 7000, f"close {r.raw[:200]}")
check(wait_db("select relay from meter where id=?", "closed", 25, m102), "zero-balance meter 102 closed by the guarantee")
r = req("POST", f"/api/v1/meters/{m101}/relay", {"action": "auto", "reason": "repair done"},
        cookie=S["acme-admin"][0], csrf=S["acme-admin"][1]["csrf"])
check(r.status == 200, "auto")
check(wait_db("select relay from meter where id=?", "closed", 25, m101), "meter 101 closed again by its balance")
rows = db("select login, action, object, object_id, reason, before, after from audit order by id")[audit0:]
check([x[1] for x in rows] == ["relay_trip", "relay_close", "relay_auto"], f"audit actions {rows}")
check(rows[0][0] == "acme-tech" and rows[0][3] == a101 and rows[0][4] == "wiring repair in 101" and
      json.loads(rows[0][5])["vacant"] is False and json.loads(rows[0][6])["vacant"] is True and
      json.loads(rows[0][5])["relay"] == "closed", f"audit row before/after {rows[0]}")
check(rows[2][0] == "acme-admin" and json.loads(rows[2][5])["vacant"] is True, "auto audited with before")
r = req("GET", "/api/v1/audit", cookie=S["acme-admin"][0])
check(r.status == 200 and [x["action"] for x in r.json["items"]][:3] == ["relay_auto", "relay_close", "relay_trip"]
      and r.json["items"][2]["before"]["vacant"] is False, "admin reads the audit log")
r = req("GET", "/api/v1/audit", cookie=S["birch-admin"][0])
check(r.status == 200 and r.json["items"] == [], "another company's admin sees none of it")
check(is_error(req("GET", "/api/v1/audit", cookie=T_TOK), 403), "technicians may not read the audit log")
check(is_error(req("GET", "/api/v1/audit", cookie=S["res-101"][0]), 403), "residents may not read the audit log")
try:
    db("update audit set reason='x'")
    check(False, "audit rows cannot be updated")
except sqlite3.DatabaseError:
    check(True, "")
r = req("GET", "/api/v1/events?kind=relay_trip", cookie=T_TOK)
check(r.status == 200 and len(r.json["items"]) == 1 and r.json["items"][0]["account_id"] == a101 and
      "wiring repair" in r.json["items"][0]["detail"],
      "the head-end event carries the reason")

# ---------------------------------------------------------------- access-control sweep
group("access-control sweep")
company_of = {}
for kind, sql in (
        ("communities", "select c.id, co.name from community c left join company co on co.id=c.company_id"),
        ("buildings", "select b.id, co.name from building b join community c on c.id=b.community_id"
                      " left join company co on co.id=c.company_id"),
        ("units", "select u.id, co.name from unit u join building b on b.id=u.building_id join community c"
                  " on c.id=b.community_id left join company co on co.id=c.company_id"),
        ("meters", "select m.id, co.name from meter m join unit u on u.id=m.unit_id join building b on"
                   " b.id=u.building_id join community c on c.id=b.community_id left join company co on"
                   " co.id=c.company_id"),
        ("audit", "select x.id, co.name from audit x left join company co on co.id=x.company_id"),
        ("accounts", "select a.id, co.name from account a join unit u on u.id=a.unit_id join building b on"
                     " b.id=u.building_id join community c on c.id=b.community_id left join company co"
                     " on co.id=c.company_id")):
    company_of[kind] = dict(db(sql))
meter_company = company_of["meters"]
company_of["commands"] = {k: meter_company[m] for k, m in db("select id, meter_id from command")}
company_of["events"] = {k: meter_company.get(m) if m else company_of["accounts"].get(a)
                        for k, m, a in db("select id, meter_id, account_id from event")}
company_of["events"] = {k: v for k, v in company_of["events"].items() if v is not None}
check(len(company_of["commands"]) > 0 and len(company_of["events"]) > 0, "commands and events exist")
user_company = {"acme-admin": "Acme Property", "acme-tech": "Acme Property", "birch-admin": "Birch Estates"}
FIELDS = ("holder", "address", "name", "balance", "tariff", "unit_id")
for user, (tok, info) in S.items():
    for kind, owners in company_of.items():
        ids = sorted(owners)
        probe = ids + [max(ids) + 1, max(ids) + 1000]
        may_list = (user in user_company and (kind != "audit" or user.endswith("-admin"))) or kind == "accounts"
        if not may_list:
            visible = set()
        elif user in user_company:
            visible = {i for i, co in owners.items() if co == user_company[user]}
        else:
            visible = {info["account_id"]}
        r = req("GET", f"/api/v1/{kind}?limit=200", cookie=tok)
        if may_list:
            got = set()
            while r.status == 200:
                got |= {x["id"] for x in r.json["items"]}
                nxt = [(k, v) for k, v in r.json.items() if k.startswith("next_") and v is not None]
                if not nxt:
                    break
                r = req("GET", f"/api/v1/{kind}?limit=200&{nxt[0][0][5:]}={nxt[0][1]}", cookie=tok)
            got = got if r.status == 200 else None
            if kind == "events" and got is not None:  # events keep coming: compare what existed
                got = {i for i in got if i <= max(ids)}
            check(r.status == 200 and got == visible, f"{user} lists exactly the visible {kind}")
        else:
            check(is_error(r, 403, "forbidden") and "items" not in r.raw.decode(),
                  f"{user} may not list {kind}")
        for i in probe:
            paths = [f"/api/v1/{kind}/{i}"] + ([f"/api/v1/{kind}/{i}/readings",
                                                f"/api/v1/{kind}/{i}/transfers"] if kind == "accounts" else [])
            for p in paths:
                r = req("GET", p, cookie=tok)
                if i in visible:
                    check(r.status == 200, f"{user} GET {p} is 200 ({r.status})")
                else:
                    body = r.raw.decode()
                    check(r.status in (403, 404) and is_error(r, r.status) and
                          not any('"' + f + '"' in body for f in FIELDS) and "items" not in body,
                          f"{user} GET {p} is {r.status}: {body[:120]}")
    # receipts: a transfer is visible when one of its accounts is
    acct_company = company_of["accounts"]
    wallets = dict(db("select wallet_account_id, id from account"))
    for tid, deb, cred in db("select lower(hex(id)), debit_account_id, credit_account_id from ledger_transfer"
                             " order by leaf_index limit 60"):
        accs = [wallets[w] for w in (deb, cred) if w in wallets]
        if user in user_company:
            vis = any(acct_company[a] == user_company[user] for a in accs)
        else:
            vis = info["account_id"] in accs
        r = req("GET", f"/api/v1/receipts/{tid}", cookie=tok)
        if vis:
            check(r.status == 200 and r.json.get("leaf"), f"{user} receipt {tid} is 200 ({r.status})")
        else:
            check(is_error(r, 404) and "leaf" not in r.raw.decode(), f"{user} receipt {tid}: {r.status}")

# ---------------------------------------------------------------- OpenAPI
group("OpenAPI document covers every route")
r = req("GET", "/api/v1/openapi.json")
check(r.status == 200 and r.json and r.json.get("openapi", "").startswith("3."), "openapi.json served")
doc = r.json
with open(os.path.join(A.src, "web", "openapi.json")) as f:
    check(json.load(f) == doc, "served document = web/openapi.json")
routes = []
for fn in sorted(glob.glob(os.path.join(A.src, "src/app/serve_*.c"))):
    with open(fn) as f:
        routes += re.findall(r'\{"(GET|POST|PUT|PATCH|DELETE)", "(/[^"]*)"', f.read())
check(len(routes) >= 27, f"route tables found ({len(routes)})")
doc_ops = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
def templ(p):
    return re.sub(r"\{[^}]+\}", "*", p)
pages = [(m, p) for m, p in routes
         if not (p.startswith("/api/") or p.startswith("/pay/") or p in ("/healthz", "/metrics"))]
check(sorted(p for _, p in pages) == ["/", "/assets/*", "/resident/*", "/staff/*", "/vendor/*"],
      f"only the page routes are outside the API: {pages}")
routes = [r for r in routes if r not in pages]
for method, path in routes:
    if path.endswith("*"):
        pre = path[:-1]
        under = [p for (m, p) in doc_ops if m == method and p.startswith(pre) and len(p) > len(pre)]
        check(under, f"{method} {path}: documented paths under the prefix")
    else:
        check((method, path) in doc_ops, f"{method} {path} is documented")
for method, p in sorted(doc_ops):
    exact = (method, p) in routes
    pref = any(m == method and rp.endswith("*") and p.startswith(rp[:-1]) for m, rp in routes)
    check(exact or pref, f"documented {method} {p} is registered")
    url = p.replace("{id}", opening if "receipts" in p else str(a101))
    body = {} if method == "POST" else None
    r = req(method, url, body, cookie=A_TOK, csrf=S["acme-admin"][1]["csrf"])
    documented = doc["paths"][p][method.lower()]["responses"]
    no_route = r.status in (404, 405) and "no route" in r.raw.decode()
    check(not no_route and str(r.status) in documented,
          f"{method} {url} answered {r.status}, documented {sorted(documented)}")

group("static pages")
for path, ctype in (("/", "text/html"), ("/staff/", "text/html"), ("/resident/", "text/html"),
                    ("/staff/staff.js", "text/javascript"), ("/assets/app.css", "text/css"),
                    ("/vendor/echarts/echarts.min.js", "text/javascript")):
    r = req("GET", path)
    ct = (r.header("Content-Type") or [""])[0]
    check(r.status == 200 and ct.startswith(ctype) and r.header("X-Content-Type-Options") == ["nosniff"],
          f"GET {path}: {r.status} {ct}")
    if ctype == "text/html":
        csp = (r.header("Content-Security-Policy") or [""])[0]
        check("script-src 'self'" in csp and "frame-ancestors 'none'" in csp, f"CSP on {path}: {csp}")
for path in ("/staff/../openapi.json", "/assets/%2e%2e/openapi.json", "/staff//staff.js", "/staff/.hidden.js",
             "/assets/nope.js", "/staff/index.exe", "/vendor/echarts/"):
    r = req("GET", path)
    check(r.status == 404 and b"echarts" not in r.raw and b"<html" not in r.raw, f"GET {path} is 404 ({r.status})")

done()
