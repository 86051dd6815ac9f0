#!/usr/bin/env python3
"""admin_check.py - users, community assignment and API tokens over HTTP (run by
tests/api/admin_test.sh against a live serve from tests/api/web_env.sh)."""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from webclient import A, PW, check, db, req, Session, is_error, group, done

acme = db("select id from company where name='Acme Property'")[0][0]
lakeside = db("select id from community where name='Lakeside'")[0][0]
hillview = db("select id from community where name='Hillview'")[0][0]
# a second Acme community (a fixture written straight into the registry tables: the read
# API reads them as they are)
db_conn = __import__("sqlite3").connect(A.db, timeout=10)
with db_conn:
    db_conn.execute("insert into community (name, tariff, revenue_account_id, company_id)"
                    " select 'Pinegrove', tariff, revenue_account_id, company_id from community where id = ?", (lakeside,))
    pine = db_conn.execute("select id from community where name='Pinegrove'").fetchone()[0]
    db_conn.execute("insert into building (community_id, name) values (?, 'P1')", (pine,))
db_conn.close()
acct101 = db("select a.id from account a join unit u on u.id=a.unit_id where u.name='101'")[0][0]
acct_h11 = db("select a.id from account a join unit u on u.id=a.unit_id where u.name='1-1'")[0][0]

group("users: list is the company's, admins only")
admin = Session("acme-admin")
r = admin.get("/api/v1/users?limit=200")
check(r.status == 200, f"list {r.status} {r.raw[:200]}")
got = sorted(u["login"] for u in r.json["items"])
want = sorted(x[0] for x in db(
    "select u.login from app_user u where u.company_id = ? or u.account_id in (select a.id from account a"
    " join unit x on x.id=a.unit_id join building b on b.id=x.building_id join community c on c.id=b.community_id"
    " where c.company_id = ?)", acme, acme))
check(got == want and "birch-admin" not in got and "res-h11" not in got, f"users {got} != {want}")
check(all("pass_hash" not in u and "$argon2" not in str(u) for u in r.json["items"]), "no hashes served")
birch_id = db("select id from app_user where login='birch-admin'")[0][0]
check(is_error(admin.get(f"/api/v1/users/{birch_id}"), 404), "another company's user is 404")
for who in ("acme-tech", "res-101", "locky"):
    check(is_error(Session(who).get("/api/v1/users"), 403, "forbidden"), f"{who} cannot list users")
check(is_error(req("GET", "/api/v1/users"), 401), "no session: 401")

group("users: add with validation, nothing written on refusal")
n0 = db("select count(*) from app_user")[0][0]
bad = [({"login": "x1", "password": PW, "role": "service"}, "login", 400),
       ({"login": "new-svc", "password": "short", "role": "service"}, "password", 400),
       ({"login": "new-svc", "password": PW, "role": "boss"}, "role", 400),
       ({"login": "new-res", "password": PW, "role": "resident"}, "account_id", 400),
       ({"login": "new-svc", "password": PW, "role": "service", "account_id": acct101}, "account_id", 400),
       ({"login": "new-svc", "password": PW, "role": "service", "communities": [0]}, "communities", 400),
       ({"login": "new-svc", "password": PW, "role": "service", "extra": 1}, "extra", 400),
       ({"login": "acme-tech", "password": PW, "role": "service"}, "login", 409),
       ({"login": "new-res", "password": PW, "role": "resident", "account_id": acct_h11}, "account_id", 404),
       ({"login": "new-svc", "password": PW, "role": "service", "communities": [hillview]}, "communities", 404)]
for body, field, status in bad:
    r = admin.post("/api/v1/users", body)
    check(is_error(r, status) and r.json["error"]["field"] == field,
          f"{body} -> {status} naming {field}: {r.status} {r.raw[:200]}")
r = admin.post("/api/v1/users", {"login": "new-svc", "password": PW, "role": "service"}, csrf=False)
check(is_error(r, 403, "csrf"), "no CSRF token: 403")
check(db("select count(*) from app_user")[0][0] == n0, "refused requests added no user")
r = admin.post("/api/v1/users", {"login": "pine-svc", "password": PW, "role": "service",
                                 "communities": [pine], "reason": "Pinegrove desk"})
check(r.status == 201 and r.json["login"] == "pine-svc" and r.json["communities"] == [pine]
      and r.json["company_id"] == acme, f"add staff: {r.status} {r.raw[:300]}")
svc_id = r.json["id"]
r = admin.post("/api/v1/users", {"login": "res-101b", "password": PW, "role": "resident", "account_id": acct101})
check(r.status == 201 and r.json["account_id"] == acct101 and r.json["communities"] is None, f"add resident {r.raw[:200]}")
h = db("select pass_hash from app_user where login='pine-svc'")[0][0]
check(h.startswith("$argon2id$") and PW not in h, "stored as an argon2id hash")
check(Session("res-101b").me["account_id"] == acct101, "the new resident logs in")
au = db("select action, object_id, reason, after from audit where action='user_add' order by id")
check(len(au) == 2 and au[0][1] == svc_id and au[0][2] == "Pinegrove desk" and PW not in str(au),
      f"audited without the password: {au}")

group("community assignment restricts what staff see")
svc = Session("pine-svc")
cs = [c["id"] for c in svc.get("/api/v1/communities").json["items"]]
check(cs == [pine], f"restricted staff see only Pinegrove: {cs}")
check(svc.get("/api/v1/meters").json["items"] == [], "no Lakeside meters")
check(is_error(svc.get(f"/api/v1/accounts/{acct101}"), 404), "a Lakeside account is 404")
check(is_error(svc.get(f"/api/v1/communities/{lakeside}"), 404), "Lakeside is 404")
r = admin.post(f"/api/v1/users/{svc_id}/communities", {"communities": [hillview]})
check(is_error(r, 404) and r.json["error"]["field"] == "communities", "another company's community: 404")
check(db("select community_id from staff_community where user_id=?", svc_id) == [(pine,)], "unchanged")
r = admin.post(f"/api/v1/users/{svc_id}/communities", {"communities": [lakeside, pine], "reason": "covers both"})
check(r.status == 200 and sorted(r.json["communities"]) == sorted([lakeside, pine]), f"assign {r.raw[:200]}")
svc = Session("pine-svc")
check(svc.get(f"/api/v1/accounts/{acct101}").status == 200, "now Lakeside is visible")
r = admin.post(f"/api/v1/users/{svc_id}/communities", {"communities": []})
check(r.status == 200 and r.json["communities"] is None, "[] = all of the company's")
check(sorted(c["id"] for c in Session("pine-svc").get("/api/v1/communities").json["items"]) == sorted([lakeside, pine]),
      "unrestricted again")
check(is_error(admin.post(f"/api/v1/users/{birch_id}/communities", {"communities": []}), 404),
      "another company's user: 404")
res_id = db("select id from app_user where login='res-101'")[0][0]
check(is_error(admin.post(f"/api/v1/users/{res_id}/communities", {"communities": []}), 404),
      "residents have no assignment")
check(is_error(Session("acme-tech").post(f"/api/v1/users/{svc_id}/communities", {"communities": []}), 403),
      "only admins assign")
au = db("select before, after from audit where action='user_communities' order by id")
check(au == [(f"[{pine}]", f"[{lakeside},{pine}]"), (f"[{lakeside},{pine}]", "null")], f"audit before/after {au}")

group("unlock after the lock-out")
for _ in range(5):
    req("POST", "/api/v1/login", {"login": "locky", "password": "wrong-password-1"})
check(is_error(req("POST", "/api/v1/login", {"login": "locky", "password": PW}), 423), "locked")
locky = db("select id from app_user where login='locky'")[0][0]
r = admin.post(f"/api/v1/users/{locky}/unlock", {"reason": "called the office"})
check(r.status == 200 and r.json["locked_until_s"] == 0, f"unlock {r.raw[:200]}")
check(req("POST", "/api/v1/login", {"login": "locky", "password": PW}).status == 200, "logs in again")
check(is_error(admin.post(f"/api/v1/users/{locky}/nothing", {}), 404), "unknown action 404")

group("access-control sweep: every user id, every role")
all_ids = [x[0] for x in db("select id from app_user")]
acme_ids = {u["id"] for u in admin.get("/api/v1/users?limit=200").json["items"]}
birch = Session("birch-admin")
birch_ids = {u["id"] for u in birch.get("/api/v1/users?limit=200").json["items"]}
check(acme_ids and birch_ids and not (acme_ids & birch_ids), "the two companies' user lists are disjoint")
others = {w: Session(w) for w in ("acme-tech", "locky", "pwchange", "res-101", "res-h11")}
for uid in all_ids:
    for who, sess, mine in (("acme-admin", admin, acme_ids), ("birch-admin", birch, birch_ids)):
        r = sess.get(f"/api/v1/users/{uid}")
        if uid in mine:
            check(r.status == 200 and r.json["id"] == uid, f"{who} reads own company's user {uid}")
        else:
            check(is_error(r, 404) and b"login" not in r.raw.replace(b'"error"', b""), f"{who} gets 404 for user {uid}")
            before = db("select count(*) from staff_community where user_id=?", uid)[0][0]
            check(is_error(sess.post(f"/api/v1/users/{uid}/communities", {"communities": []}), 404) and
                  is_error(sess.post(f"/api/v1/users/{uid}/unlock", {}), 404), f"{who} cannot change user {uid}")
            check(db("select count(*) from staff_community where user_id=?", uid)[0][0] == before, "unchanged")
    for who, sess in others.items():
        check(is_error(sess.get(f"/api/v1/users/{uid}"), 403), f"{who} gets 403 for user {uid}")

group("API tokens")
tech = Session("acme-tech")
r = tech.post("/api/v1/tokens", {"name": "erp export", "ttl_days": 30})
check(r.status == 201 and r.json["token"].startswith("wkt_") and len(r.json["token"]) == 68
      and r.json["active"], f"token created {r.raw[:200]}")
tok, tok_id = r.json["token"], r.json["id"]
check(is_error(tech.post("/api/v1/tokens", {"name": ""}), 400, field="name"), "empty name 400")
check(is_error(tech.post("/api/v1/tokens", {"name": "x", "ttl_days": 0}), 400, field="ttl_days"), "ttl 400")
check(is_error(Session("res-101").post("/api/v1/tokens", {"name": "mine"}), 403), "residents get no tokens")
stored = db("select hex(token_sha256) from api_token where id=?", tok_id)[0][0]
check(tok not in str(db("select * from api_token")) and tok not in str(db("select * from audit")),
      "the token is stored only as its hash, never in the audit")
import hashlib
check(stored == hashlib.sha256(tok.encode()).hexdigest().upper(), "SHA-256 of the token")
sess_ids = [m["id"] for m in tech.get("/api/v1/meters?limit=200").json["items"]]
r = req("GET", "/api/v1/meters?limit=200", bearer=tok)
check(r.status == 200 and [m["id"] for m in r.json["items"]] == sess_ids, "the token sees what its user sees")
check(is_error(req("GET", f"/api/v1/accounts/{acct_h11}", bearer=tok), 404), "and nothing of another company")
check(is_error(req("GET", "/api/v1/users", bearer=tok), 403), "and has its user's role")
r = req("POST", "/api/v1/tokens", {"name": "child"}, bearer=tok)
check(is_error(r, 403, "forbidden"), f"a token cannot mint tokens (no CSRF needed, but refused): {r.status}")
check(is_error(req("GET", "/api/v1/meters", bearer="wkt_" + "0" * 64), 401), "unknown token 401")
check(is_error(req("GET", "/api/v1/meters", bearer="garbage"), 401), "malformed token 401")
a_list = [t["id"] for t in admin.get("/api/v1/tokens").json["items"]]
t_list = [t["id"] for t in Session("locky").get("/api/v1/tokens").json["items"]]
check(tok_id in a_list and tok_id not in t_list, "admins see the company's tokens, others only their own")
check(is_error(Session("birch-admin").post(f"/api/v1/tokens/{tok_id}/revoke", {}), 404), "Birch cannot revoke it")
check(is_error(Session("locky").post(f"/api/v1/tokens/{tok_id}/revoke", {}), 404), "a colleague cannot either")
check(req("GET", "/api/v1/meters", bearer=tok).status == 200, "still valid")
# the live event stream takes the token too (what an integration's dashboard would use)
import http.client
sc = http.client.HTTPConnection("127.0.0.1", A.port, timeout=10)
sc.request("GET", "/api/v1/events/stream", headers={"Authorization": "Bearer " + tok, "Accept": "text/event-stream"})
sr = sc.getresponse()
first = b""
if sr.status == 200:
    while b"event: dashboard" not in first and len(first) < 65536:
        chunk = sr.fp.readline()
        if not chunk:
            break
        first += chunk
check(sr.status == 200 and (sr.getheader("Content-Type") or "").startswith("text/event-stream")
      and b"event: dashboard" in first, f"the event stream with an API token: {sr.status} {first[:120]}")
sc.close()
r = admin.post(f"/api/v1/tokens/{tok_id}/revoke", {"reason": "leaked in a ticket"})
check(r.status == 200 and not r.json["active"] and r.json["revoked_s"], f"revoked {r.raw[:200]}")
check(is_error(req("GET", "/api/v1/meters", bearer=tok), 401), "a revoked token is 401")
check(req("GET", "/api/v1/events/stream", bearer=tok, headers={"Accept": "text/event-stream"}).status == 401,
      "and cannot open the event stream")
check(is_error(admin.post(f"/api/v1/tokens/{tok_id}/revoke", {}), 409), "revoking twice 409")
au = [x[0] for x in db("select action from audit where object='api_token' order by id")]
check(au == ["token_add", "token_revoke"], f"token audit {au}")
done()
