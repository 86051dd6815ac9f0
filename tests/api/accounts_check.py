#!/usr/bin/env python3
"""accounts_check.py - HTTP checks of the staff account routes (docs/api.md "Accounts"), run
by tests/api/accounts_test.sh against a live `wattkeeper serve` + sim (tests/api/web_env.sh).
Talks HTTP to the server; reads the SQLite file to know ids, to check money to the fen
through the ledger and to confirm that rejected requests changed nothing. Money checks are
exact despite the simulated meters booking deductions all the time: a wallet's movement is
compared with the ledger transfers booked after a starting leaf, energy deductions apart."""
import json, os, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import webclient
from webclient import A, check, db, is_error, group, done, wait, Session

ADMIN_TOKEN = open(A.token_file).read().strip()


def req(method, path, body=None, tok=None, **kw):
    return webclient.req(method, path, body, cookie=tok, **kw)


def desc(r):
    return f"{r.status} {r.raw[:300]!r}"


class User(Session):
    def __init__(self, name):
        super().__init__(name)
        self.tok, self.body, self.name = self.cookie, self.me, name


def acct(unit, status="open"):
    r = db("select a.id from account a join unit u on u.id = a.unit_id where u.name = ? and a.status = ?"
           " order by a.id desc", unit, status)
    return r[0][0] if r else None


def wallet(account):
    return db("select wallet_account_id from account where id = ?", account)[0][0]


def balance(account):
    return db("select credits_fen - debits_fen from ledger_account where id = ?", wallet(account))[0][0]


def last_leaf():
    return db("select coalesce(max(leaf_index), -1) from ledger_transfer")[0][0]


def moved(account, leaf, energy=False):
    """Net movement of the account's wallet in transfers after leaf: non-energy ones, or
    only the energy deductions."""
    w = wallet(account)
    op = "like" if energy else "not like"
    return db(f"select coalesce(sum(case when credit_account_id = ?1 then amount_fen else -amount_fen end), 0)"
              f" from ledger_transfer where leaf_index > ?2 and ?1 in (debit_account_id, credit_account_id)"
              f" and reason {op} 'energy %'", w, leaf)[0][0]


def snapshot():
    """Everything a staff account action may write (head-end booking columns apart)."""
    return (db("select id, unit_id, holder, kind, status, vacant, guarantee_until_s, wallet_account_id,"
               " opened_s from account order by id"),
            db("select count(*) from audit"), db("select count(*) from pay_counter"),
            db("select count(*) from ledger_account"), db("select count(*) from notify_contact"),
            db("select count(*) from ledger_transfer where reason not like 'energy %'"),
            db("select count(*) from event where kind in ('move_out', 'move_in', 'vacant_on', 'vacant_off',"
               " 'credit')"))


def audits(action, object_id):
    return db("select login, reason, before, after from audit where action = ? and object_id = ? order by id",
              action, object_id)


admin, birch, res, tech, fin, svc = (User(n) for n in ("acme-admin", "birch-admin", "res-101", "acme-tech",
                                                       "locky", "pwchange"))
A101, A102, A103, AS1, AS2 = (acct(u) for u in ("101", "102", "103", "S1", "S2"))
H11 = acct("1-1")
U = {name: db("select id from unit where name = ?", name)[0][0] for name in ("101", "103", "S1", "S2", "1-1")}
ACME_ACCOUNTS = [A101, A102, A103, AS1, AS2]

# ---------------------------------------------------------------- validation
group("validation names the field and changes nothing")
before = snapshot()
cases = [
    ("/api/v1/accounts", {}, "unit_id"),
    ("/api/v1/accounts", {"unit_id": "x", "holder": "h", "kind": "tenant", "reason": "r"}, "unit_id"),
    ("/api/v1/accounts", {"unit_id": U["S1"], "kind": "tenant", "reason": "r"}, "holder"),
    ("/api/v1/accounts", {"unit_id": U["S1"], "holder": "h", "kind": "owner", "reason": "r"}, "kind"),
    ("/api/v1/accounts", {"unit_id": U["S1"], "holder": "h", "kind": "tenant", "reason": "r", "move_in": "2026-13-01"},
     "move_in"),
    ("/api/v1/accounts", {"unit_id": U["S1"], "holder": "h", "kind": "tenant"}, "reason"),
    ("/api/v1/accounts", {"unit_id": U["S1"], "holder": "h", "kind": "tenant", "reason": "r", "x": 1}, "x"),
    ("/api/v1/accounts", {"unit_id": U["S1"], "holder": "h", "kind": "tenant", "reason": "r", "phone": "12ab5"},
     "phone"),
    ("/api/v1/accounts", {"unit_id": U["S1"], "holder": "h", "kind": "tenant", "reason": "r" * 201}, "reason"),
    (f"/api/v1/accounts/{AS1}/move-out", {"reason": "r"}, "settle"),
    (f"/api/v1/accounts/{AS1}/move-out", {"settle": "burn", "reason": "r"}, "settle"),
    (f"/api/v1/accounts/{AS1}/move-out", {"settle": "carry_over", "reason": "r"}, "to_account"),
    (f"/api/v1/accounts/{AS1}/move-out", {"settle": "refund_cash", "to_account": AS2, "reason": "r"}, "to_account"),
    (f"/api/v1/accounts/{AS1}/move-out", {"settle": "carry_over", "to_account": AS1, "reason": "r"}, "to_account"),
    (f"/api/v1/accounts/{AS1}/move-out", {"settle": "keep", "reading_wh": -1, "reason": "r"}, "reading_wh"),
    (f"/api/v1/accounts/{AS1}/move-out", {"settle": "keep", "date": "yesterday", "reason": "r"}, "date"),
    (f"/api/v1/accounts/{AS1}/move-out", {"settle": "keep"}, "reason"),
    (f"/api/v1/accounts/{AS1}/vacancy", {"reason": "r"}, "vacant"),
    (f"/api/v1/accounts/{AS1}/vacancy", {"vacant": "yes", "reason": "r"}, "vacant"),
    (f"/api/v1/accounts/{AS1}/vacancy", {"vacant": True}, "reason"),
    (f"/api/v1/accounts/{AS1}/transfer", {"amount_fen": 1, "reason": "r"}, "to_account"),
    (f"/api/v1/accounts/{AS1}/transfer", {"to_account": AS2, "reason": "r"}, "amount_fen"),
    (f"/api/v1/accounts/{AS1}/transfer", {"to_account": AS2, "amount_fen": 1, "all": True, "reason": "r"},
     "amount_fen"),
    (f"/api/v1/accounts/{AS1}/transfer", {"to_account": AS2, "amount_fen": 0, "reason": "r"}, "amount_fen"),
    (f"/api/v1/accounts/{AS1}/transfer", {"to_account": AS2, "amount_fen": 1.5, "reason": "r"}, "amount_fen"),
    (f"/api/v1/accounts/{AS1}/transfer", {"to_account": AS2, "all": False, "reason": "r"}, "all"),
    (f"/api/v1/accounts/{AS1}/transfer", {"to_account": AS1, "all": True, "reason": "r"}, "to_account"),
    (f"/api/v1/accounts/{AS1}/transfer", {"to_account": AS2, "amount_fen": 5}, "reason"),
]
for path, body, field in cases:
    r = admin.post(path, body)
    check(is_error(r, 400, "invalid", field), f"{path} {body}: 400 naming {field}: {desc(r)}")
r = req("POST", f"/api/v1/accounts/{AS1}/vacancy", raw=b"vacant=true", tok=admin.tok, csrf=admin.csrf,
        ctype="application/x-www-form-urlencoded")
check(is_error(r, 415), f"form body is 415: {desc(r)}")
r = req("POST", f"/api/v1/accounts/{AS1}/vacancy", raw=b"[1]", tok=admin.tok, csrf=admin.csrf)
check(is_error(r, 400, "bad_json"), f"non-object body is 400: {desc(r)}")
for path in ("/api/v1/accounts/0/vacancy", f"/api/v1/accounts/{AS1}/close", f"/api/v1/accounts/{AS1}/vacancy/x",
             "/api/v1/accounts/x/transfer"):
    r = admin.post(path, {"vacant": True, "reason": "r"})
    check(is_error(r, 404), f"{path}: 404: {desc(r)}")
r = admin.post("/api/v1/accounts/999999/vacancy", {"vacant": True, "reason": "r"})
check(is_error(r, 404, "not_found"), f"unknown account 404: {desc(r)}")
r = admin.post("/api/v1/accounts", {"unit_id": 999999, "holder": "h", "kind": "tenant", "reason": "r"})
check(is_error(r, 404, "not_found", "unit_id"), f"unknown unit 404: {desc(r)}")
r = admin.post("/api/v1/accounts", {"unit_id": U["S1"], "holder": "h", "kind": "tenant", "reason": "r"})
check(is_error(r, 409, "conflict", "unit_id"), f"unit with an open account: 409: {desc(r)}")
r = admin.post(f"/api/v1/accounts/{AS1}/transfer", {"to_account": AS2, "amount_fen": 100000000, "reason": "r"})
check(is_error(r, 409, "conflict", "amount_fen"), f"more than the balance: 409: {desc(r)}")
r = admin.post(f"/api/v1/accounts/{AS1}/move-out", {"settle": "keep", "reading_wh": 1 << 40, "reason": "r"})
check(is_error(r, 409, "conflict", "reading_wh"), f"a reading the meter has not reported: 409: {desc(r)}")
check(snapshot() == before, "rejected requests changed nothing")

# ---------------------------------------------------------------- roles
group("roles: technician and resident 403, finance only settles")
before = snapshot()
bodies = {
    "open": ("/api/v1/accounts", {"unit_id": U["S1"], "holder": "h", "kind": "tenant", "reason": "r"}),
    "move-out": (f"/api/v1/accounts/{AS1}/move-out", {"settle": "refund_cash", "reason": "r"}),
    "vacancy": (f"/api/v1/accounts/{AS1}/vacancy", {"vacant": True, "reason": "r"}),
    "transfer": (f"/api/v1/accounts/{AS1}/transfer", {"to_account": AS2, "amount_fen": 1, "reason": "r"}),
}
for who in (tech, res):
    for name, (path, body) in bodies.items():
        r = who.post(path, body)
        check(is_error(r, 403, "forbidden"), f"{who.name} {name}: 403: {desc(r)}")
for name in ("open", "vacancy", "transfer"):
    path, body = bodies[name]
    r = fin.post(path, body)
    check(is_error(r, 403, "forbidden"), f"finance {name}: 403: {desc(r)}")
r = res.post(f"/api/v1/accounts/{A101}/vacancy", {"vacant": True, "reason": "r"})
check(is_error(r, 403, "forbidden"), f"resident on their own account: 403: {desc(r)}")
check(snapshot() == before, "refused roles changed nothing")

# ---------------------------------------------------------------- CSRF
group("CSRF and authentication")
before = snapshot()
for name, (path, body) in bodies.items():
    r = admin.post(path, body, csrf=False)
    check(is_error(r, 403, "csrf"), f"{name} without X-CSRF-Token: {desc(r)}")
    r = req("POST", path, body, tok=admin.tok, csrf="0" * 64)
    check(is_error(r, 403, "csrf"), f"{name} with a wrong X-CSRF-Token: {desc(r)}")
    r = req("POST", path, body)
    check(is_error(r, 401), f"{name} without a session: {desc(r)}")
    r = req("POST", path, body, bearer=ADMIN_TOKEN)
    check(is_error(r, 401), f"{name} with the admin token (not an API token): {desc(r)}")
check(snapshot() == before, "refused requests changed nothing")

# ---------------------------------------------------------------- access control sweep
group("access-control sweep: another company's accounts and units answer 404, residents 403")
before = snapshot()
for aid in ACME_ACCOUNTS:
    sweep = [(f"/api/v1/accounts/{aid}/move-out", {"settle": "refund_cash", "reason": "r"}),
             (f"/api/v1/accounts/{aid}/move-out", {"settle": "carry_over", "to_account": H11, "reason": "r"}),
             (f"/api/v1/accounts/{aid}/vacancy", {"vacant": True, "reason": "r"}),
             (f"/api/v1/accounts/{aid}/vacancy", {"vacant": False, "reason": "r"}),
             (f"/api/v1/accounts/{aid}/transfer", {"to_account": H11, "all": True, "reason": "r"}),
             (f"/api/v1/accounts/{H11}/transfer", {"to_account": aid, "amount_fen": 1, "reason": "r"})]
    for path, body in sweep:
        r = birch.post(path, body)
        if path.startswith(f"/api/v1/accounts/{H11}/"):
            ok = is_error(r, 404, "not_found", "to_account")
        else:
            ok = is_error(r, 404, "not_found", None)
        check(ok and "balance" not in r.raw.decode(), f"birch-admin {path} {body}: {desc(r)}")
        r = res.post(path, body)
        check(is_error(r, 403, "forbidden"), f"res-101 {path}: {desc(r)}")
for unit in ("101", "103", "S1", "S2"):
    r = birch.post("/api/v1/accounts", {"unit_id": U[unit], "holder": "h", "kind": "tenant", "reason": "r"})
    check(is_error(r, 404, "not_found", "unit_id"), f"birch-admin opens on Acme unit {unit}: {desc(r)}")
for path, body in ((f"/api/v1/accounts/{H11}/vacancy", {"vacant": True, "reason": "r"}),
                   (f"/api/v1/accounts/{H11}/move-out", {"settle": "refund_cash", "reason": "r"}),
                   (f"/api/v1/accounts/{AS1}/transfer", {"to_account": H11, "amount_fen": 1, "reason": "r"}),
                   (f"/api/v1/accounts/{AS1}/move-out", {"settle": "carry_over", "to_account": H11, "reason": "r"}),
                   ("/api/v1/accounts", {"unit_id": U["1-1"], "holder": "h", "kind": "tenant", "reason": "r"})):
    r = admin.post(path, body)
    check(is_error(r, 404, "not_found") and "balance" not in r.raw.decode(),
          f"acme-admin on Birch's objects {path}: {desc(r)}")
check(snapshot() == before, "the sweep changed nothing")

# ---------------------------------------------------------------- vacancy
group("vacancy on and off (relay held open, audited)")
meter103 = db("select id from meter where unit_id = ?", U["103"])[0][0]
cmd0 = db("select coalesce(max(id), 0) from command")[0][0]
r = svc.post(f"/api/v1/accounts/{A103}/vacancy", {"vacant": True, "reason": "owner abroad until spring"})
check(r.status == 200 and r.json == {"account_id": A103, "vacant": True, "guarantee_until_s": 0,
                                     "meter_id": meter103}, f"vacancy on: {desc(r)}")
check(db("select vacant, status from account where id = ?", A103) == [(1, "open")], "account marked vacant")
check(wait(lambda: db("select relay from meter where id = ?", meter103)[0][0] == "tripped"),
      "the relay of the vacant unit trips")
check(db("select count(*) from command where meter_id = ? and action = 'trip' and id > ?", meter103, cmd0)[0][0] >= 1
      or db("select relay from meter where id = ?", meter103)[0][0] == "tripped", "a trip command was queued")
au = audits("account_vacancy", A103)
check(len(au) == 1 and au[0][0] == "pwchange" and au[0][1] == "owner abroad until spring"
      and json.loads(au[0][2])["vacant"] is False and json.loads(au[0][3])["vacant"] is True,
      f"audit row with before/after: {au}")
check(db("select count(*) from event where kind = 'vacant_on' and account_id = ?", A103)[0][0] == 1, "event vacant_on")
r = admin.get(f"/api/v1/accounts/{A103}")
check(r.status == 200 and r.json["vacant"] is True, "GET shows the vacancy")
r = admin.post(f"/api/v1/accounts/{A103}/vacancy", {"vacant": False, "reason": "owner back"})
check(r.status == 200 and r.json["vacant"] is False, f"vacancy off: {desc(r)}")
check(db("select vacant from account where id = ?", A103) == [(0,)], "vacancy ended")
au = audits("account_vacancy", A103)
check(len(au) == 2 and json.loads(au[1][2])["vacant"] is True and json.loads(au[1][3])["vacant"] is False,
      "second audit row")

# ---------------------------------------------------------------- transfer
group("shop transfer between two accounts: one ledger transfer, exact amounts")
leaf = last_leaf()
b1, b2 = balance(AS1), balance(AS2)
r = svc.post(f"/api/v1/accounts/{AS1}/transfer", {"to_account": AS2, "amount_fen": 1234, "reason": "shop sold"})
check(r.status == 200 and r.json["amount_fen"] == 1234 and r.json["amount"] == "12.34"
      and r.json["from_account"] == AS1 and r.json["to_account"] == AS2, f"transfer: {desc(r)}")
tid = (r.json or {}).get("transfer_id", "")
t = db("select debit_account_id, credit_account_id, amount_fen, reason from ledger_transfer where lower(hex(id)) = ?",
       tid)
check(len(t) == 1 and t[0][:3] == (wallet(AS1), wallet(AS2), 1234) and "shop sold" in t[0][3],
      f"one ledger transfer wallet -> wallet: {t}")
check(moved(AS1, leaf) == -1234 and moved(AS2, leaf) == 1234, "non-energy movement exactly -1234 / +1234")
check(balance(AS1) == b1 - 1234 + moved(AS1, leaf, True) and balance(AS2) == b2 + 1234 + moved(AS2, leaf, True),
      "balances = before +- amount + energy deductions booked meanwhile")
au = audits("account_transfer", AS1)
check(len(au) == 1 and json.loads(au[0][3])["amount_fen"] == 1234 and json.loads(au[0][3])["transfer_id"] == tid
      and au[0][1] == "shop sold", f"audit: {au}")
r = admin.get(f"/api/v1/accounts/{AS2}/transfers")
check(r.status == 200 and any(x["id"] == tid and x["direction"] == "in" for x in r.json["items"]),
      "the transfer is in the receiving account's list")

# ---------------------------------------------------------------- move-out with carry-over
group("move-out with carry-over (shop changes hands): old wallet exactly 0, account closed, relay held")
meterS1 = db("select id from meter where unit_id = ?", U["S1"])[0][0]
leaf = last_leaf()
b2 = balance(AS2)
r = admin.post(f"/api/v1/accounts/{AS1}/move-out", {"settle": "carry_over", "to_account": AS2,
                                                     "date": "2026-11-27", "reason": "shop changes hands"})
check(r.status == 200 and r.json["status"] == "closed" and r.json["settle"] == "carry_over"
      and r.json["to_account"] == AS2 and r.json["vacant"] is True and r.json["balance_fen"] == 0,
      f"move-out: {desc(r)}")
settled = (r.json or {}).get("settled_fen", -1)
check(settled >= 0 and r.json["settled"] == "%d.%02d" % (settled // 100, settled % 100), "settled amount given twice")
check(balance(AS1) == 0, f"old wallet exactly 0: {balance(AS1)}")
check(moved(AS2, leaf) == settled and balance(AS2) == b2 + settled + moved(AS2, leaf, True),
      "the new holder's wallet received exactly the settled amount")
check(db("select status, vacant from account where id = ?", AS1) == [("closed", 1)], "closed and vacant")
pc = db("select kind, method, amount_fen, operator, reason from pay_counter where account_id = ? order by id", AS1)
check(pc == [("settlement", "carry_over", settled, "acme-admin", "shop changes hands")],
      f"the counter's settlement row: {pc}")
check(wait(lambda: db("select relay from meter where id = ?", meterS1)[0][0] == "tripped"), "the relay trips")
au = audits("account_move_out", AS1)
check(len(au) == 1 and json.loads(au[0][2])["status"] == "open" and json.loads(au[0][3])["status"] == "closed"
      and json.loads(au[0][3])["settled_fen"] == settled, f"audit: {au}")
check(len(audits("account_vacancy", AS1)) == 1, "the hold has its audit row")
before = snapshot()
for path, body in ((f"/api/v1/accounts/{AS1}/move-out", {"settle": "refund_cash", "reason": "again"}),
                   (f"/api/v1/accounts/{AS1}/vacancy", {"vacant": False, "reason": "r"}),
                   (f"/api/v1/accounts/{AS2}/transfer", {"to_account": AS1, "amount_fen": 1, "reason": "r"})):
    r = admin.post(path, body)
    check(is_error(r, 409, "conflict"), f"closed account {path}: 409: {desc(r)}")
r = req("POST", f"/api/v1/accounts/{AS1}/credits", {"amount_fen": 100, "id": "ab" * 16}, bearer=ADMIN_TOKEN)
check(is_error(r, 409), f"credit to a closed account refused: {desc(r)}")
check(snapshot() == before, "nothing changed")

# ---------------------------------------------------------------- move-in
group("move-in: a new account on the moved-out unit starts from the meter's register")
# let the meter report after the trip, so that its last register is the hand-over one
t0 = db("select coalesce(max(time_s), 0) from reading where meter_id = ?", meterS1)[0][0]
time.sleep(3)
reg = db("select last_total_wh from meter where id = ?", meterS1)[0][0]
r = svc.post("/api/v1/accounts", {"unit_id": U["S1"], "holder": "Noodle Bar Ltd", "kind": "tenant",
                                  "phone": "+8613800000001", "move_in": "2026-11-28", "reason": "new lease"})
check(r.status == 201 and r.json["status"] == "open" and r.json["holder"] == "Noodle Bar Ltd"
      and r.json["kind"] == "tenant" and r.json["balance_fen"] == 0 and r.json["previous_account"] == AS1
      and r.json["meter_id"] == meterS1, f"open: {desc(r)}")
NEW = (r.json or {}).get("id")
start = (r.json or {}).get("start_wh")
check(start is not None and start >= reg, f"start_wh {start} is the meter's register ({reg})")
row = db("select a.unit_id, a.holder, a.kind, a.status, a.opened_s, la.name, la.floor_fen"
         " from account a join ledger_account la on la.id = a.wallet_account_id where a.id = ?", NEW)
check(row and row[0][:4] == (U["S1"], "Noodle Bar Ltd", "tenant", "open") and row[0][4] == 1795795200
      and row[0][5] == "wallet:Lakeside/Shops/S1#2" and row[0][6] == 0,
      f"account row and its wallet as the seed makes them: {row}")
check(db("select channel, address, lang from notify_contact where account_id = ?", NEW)
      == [("sms", "+8613800000001", "zh-CN")], "the phone is the account's SMS contact")
au = audits("account_open", NEW)
check(len(au) == 1 and au[0][0] == "pwchange" and json.loads(au[0][3])["holder"] == "Noodle Bar Ltd"
      and json.loads(au[0][2])["previous_account"] == AS1, f"audit: {au}")
r = svc.get(f"/api/v1/accounts?unit={U['S1']}")
check(r.status == 200 and [(a["id"], a["status"]) for a in r.json["items"]] == [(AS1, "closed"), (NEW, "open")],
      "the unit's accounts: the old one closed, the new one open")
check(db("select relay from meter where id = ?", meterS1)[0][0] == "tripped", "still tripped at balance 0")
# the admin token's credit route is unchanged and closes the relay of the new account
r = req("POST", f"/api/v1/accounts/{NEW}/credits", {"amount_fen": 5000, "id": "cd" * 16, "reason": "first top-up"},
        bearer=ADMIN_TOKEN)
check(r.status == 201 and r.json == {"account": NEW, "amount_fen": 5000, "id": "cd" * 16, "existed": False},
      f"/credits with the admin token: {desc(r)}")
r = req("POST", f"/api/v1/accounts/{NEW}/credits", {"amount_fen": 5000, "id": "cd" * 16, "reason": "first top-up"},
        bearer=ADMIN_TOKEN)
check(r.status == 200 and r.json["existed"] is True, f"/credits repeated: {desc(r)}")
r = req("POST", f"/api/v1/accounts/{NEW}/credits", {"amount_fen": 5000, "id": "cd" * 16}, bearer="x" * 64)
check(is_error(r, 401), f"/credits with a wrong token: {desc(r)}")
r = admin.post(f"/api/v1/accounts/{NEW}/credits", {"amount_fen": 5000, "id": "ce" * 16})
check(is_error(r, 401), f"/credits with a session (not the admin token): {desc(r)}")
check(wait(lambda: db("select relay from meter where id = ?", meterS1)[0][0] == "closed"), "top-up closes the relay")
check(wait(lambda: db("select count(*) from reading where account_id = ? and energy_wh > 0", NEW)[0][0] >= 2, 40),
      "the new account's readings are booked")
rs = db("select total_wh, energy_wh, deduction_fen from reading where meter_id = ? and account_id = ?"
        " order by total_wh", meterS1, NEW)
last = rs[-1][0] if rs else 0
# charging starts at the first reading after the opening (the head-end asks the meter for it
# at once): the interval that straddles the opening is the previous holder's last usage,
# stored but charged to nobody
base = db("select max(total_wh) from reading where meter_id = ? and total_wh < ?", meterS1, rs[0][0])[0][0] if rs else None
straddle = db("select account_id, deduction_fen from reading where meter_id = ? and total_wh = ?", meterS1, base)
check(rs and base is not None and base >= start and sum(x[1] for x in rs) == last - base,
      f"energy charged to the new holder = register - the first reading after opening "
      f"({sum(x[1] for x in rs) if rs else None} vs {last} - {base}; start_wh {start})")
check(base == start or straddle == [(None, 0)],
      f"the reading that straddles the opening is charged to nobody: {straddle}")
check(not db("select 1 from reading where meter_id = ? and account_id = ? and total_wh <= ?", meterS1, NEW, start),
      "no reading at or below the hand-over register is the new holder's")
ded = db("select coalesce(sum(amount_fen), 0) from ledger_transfer where debit_account_id = ? and reason like 'energy %'",
         wallet(NEW))[0][0]
check(ded == sum(x[2] for x in rs) and balance(NEW) == 5000 - ded,
      f"the new wallet: 50.00 - its own deductions ({balance(NEW)} = 5000 - {ded})")
check(balance(AS1) == 0, "the old wallet stays at 0 (readings are no longer its)")

# ---------------------------------------------------------------- move-out keep, transfer from a closed account
group("move-out keeping the balance; transfer of all of it later")
b = balance(AS2)
leaf = last_leaf()
r = admin.post(f"/api/v1/accounts/{AS2}/move-out", {"settle": "keep", "reason": "tenant left, deposit held"})
kept = (r.json or {}).get("balance_fen")
check(r.status == 200 and r.json["settle"] == "keep" and r.json["settled_fen"] == 0 and kept is not None,
      f"move-out keep: {desc(r)}")
check(kept == b + moved(AS2, leaf, True) and balance(AS2) == kept, "the balance stays in the closed wallet")
check(db("select status, vacant from account where id = ?", AS2) == [("closed", 1)], "closed and vacant")
check(db("select count(*) from pay_counter where account_id = ?", AS2)[0][0] == 0, "no counter booking")
if kept > 0:
    leaf = last_leaf()
    bn = balance(NEW)
    r = admin.post(f"/api/v1/accounts/{AS2}/transfer", {"to_account": NEW, "all": True, "reason": "deposit to new shop"})
    check(r.status == 200 and r.json["amount_fen"] == kept and r.json["from_balance_fen"] == 0,
          f"transfer all: {desc(r)}")
    check(balance(AS2) == 0 and moved(NEW, leaf) == kept, "old wallet exactly 0, new +kept")
r = admin.post(f"/api/v1/accounts/{AS2}/transfer", {"to_account": NEW, "all": True, "reason": "again"})
check(is_error(r, 409, "conflict", "amount_fen"), f"nothing left: {desc(r)}")

# ---------------------------------------------------------------- move-out refund (finance)
group("move-out refunded at the counter (finance)")
leaf = last_leaf()
r = fin.post(f"/api/v1/accounts/{A103}/move-out", {"settle": "refund_cash", "reason": "sold the flat"})
check(r.status == 200 and r.json["settle"] == "refund_cash" and r.json["balance_fen"] == 0, f"refund: {desc(r)}")
settled = (r.json or {}).get("settled_fen", -1)
refund_cash = db("select id from ledger_account where name = 'refund:cash'")
t = db("select debit_account_id, credit_account_id, amount_fen from ledger_transfer where leaf_index > ?"
       " and reason like 'move-out settlement%'", leaf)
check(settled == 0 and t == [] or t == [(wallet(A103), refund_cash[0][0], settled)],
      f"one transfer wallet -> refund:cash of exactly the balance: {t}")
check(balance(A103) == 0, "wallet exactly 0")
check(db("select kind, method, amount_fen, operator from pay_counter where account_id = ?", A103)
      == [("settlement", "cash", settled, "locky")], "counter settlement row by the finance user")
check(len(audits("account_move_out", A103)) == 1, "audited")

# ---------------------------------------------------------------- audit list
group("audit rows are visible to the company admin only")
r = admin.get("/api/v1/audit?limit=200")
acts = [x["action"] for x in r.json["items"]] if r.status == 200 else []
for a in ("account_open", "account_move_out", "account_vacancy", "account_transfer"):
    check(a in acts, f"{a} in GET /audit")
r = birch.get("/api/v1/audit?limit=200")
check(r.status == 200 and not any(x["action"].startswith("account_") for x in r.json["items"]),
      "Birch sees none of Acme's audit rows")

# ---------------------------------------------------------------- API tokens
group("API tokens act as their user, without CSRF")


def api_token(login):
    return webclient.api_token(login, "accounts test")


svc_tok, birch_tok, tech_tok = api_token("pwchange"), api_token("birch-admin"), api_token("acme-tech")
before = snapshot()
r = req("POST", f"/api/v1/accounts/{NEW}/vacancy", {"vacant": True, "reason": "r"}, bearer=birch_tok)
check(is_error(r, 404, "not_found"), f"Birch's token on an Acme account: {desc(r)}")
r = req("POST", f"/api/v1/accounts/{NEW}/vacancy", {"vacant": True, "reason": "r"}, bearer=tech_tok)
check(is_error(r, 403, "forbidden"), f"a technician's token: {desc(r)}")
check(snapshot() == before, "refused tokens changed nothing")
r = req("POST", f"/api/v1/accounts/{NEW}/vacancy", {"vacant": True, "reason": "integration: unit empty"},
        bearer=svc_tok)
check(r.status == 200 and r.json["vacant"] is True, f"a service user's token: {desc(r)}")
r = req("POST", f"/api/v1/accounts/{NEW}/vacancy", {"vacant": False, "reason": "integration: let"}, bearer=svc_tok)
check(r.status == 200 and r.json["vacant"] is False, f"and back: {desc(r)}")
check([x[0] for x in audits("account_vacancy", NEW)][-2:] == ["pwchange", "pwchange"], "audited as the token's user")

done()
