#!/usr/bin/env python3
"""payments_check.py - HTTP checks of the staff payment routes (serve_web_payments.c), run by
tests/api/payments_test.sh against a live `wattkeeper serve` with the paysim channels. Talks
HTTP to the server and to paysim; reads the SQLite file to know what exists and to confirm
that bookings happened exactly once and rejected requests changed nothing."""
import datetime, json, os, re, secrets, sqlite3, subprocess, sys, time, urllib.parse, urllib.request
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import webclient
from webclient import A, check, db, login_ok, group, done, ANY

ADMIN_TOKEN = open(A.db + ".admin-token").read().strip()


def one(sql, *args):
    r = db(sql, *args)
    return r[0][0] if r else None


def req(method, path, body=None, s=None, csrf=True, **kw):
    """s = a login(): its cookie, and its CSRF token on state changes unless csrf=False."""
    return webclient.req(method, path, body, cookie=s and s["tok"], timeout=60,
                         csrf=s["csrf"] if s and csrf and method != "GET" else None, **kw)


def login(name):
    _, tok, csrf = login_ok(name)
    return {"name": name, "tok": tok, "csrf": csrf}


def is_error(r, status, field=None, code=None):
    return webclient.is_error(r, status, code, ANY if field is None else field)


def acct(unit):
    return one("select a.id from account a join unit u on u.id=a.unit_id where u.name=?", unit)


def idem():
    return secrets.token_hex(16)


def snapshot():
    """Everything a payment route may change (the ledger moves on with metering: only the
    money accounts of payments are compared)."""
    return (db("select * from pay_counter order by id"), db("select * from pay_refund order by id"),
            db("select * from pay_recon order by id"), db("select * from pay_recon_line order by id"),
            db("select count(*) from audit"), db("select * from pay_order order by id"),
            db("select t.leaf_index, t.amount_fen from ledger_transfer t join ledger_account la"
               " on la.id in (t.debit_account_id, t.credit_account_id)"
               " where la.name like 'counter:%' or la.name like 'refund:%' or la.name like 'clearing:%'"
               " order by t.leaf_index"))


def ledger_count(hex_id):
    return one("select count(*) from ledger_transfer where hex(id) = upper(?)", hex_id)


def wait_db(sql, want, secs=30):
    until = time.time() + secs
    got = None
    while time.time() < until:
        got = one(sql)
        if got == want:
            return True
        time.sleep(0.3)
    print("  waited for", sql, "=", want, "got", got)
    return False


def admin(method, path, body=None, raw=None):
    return req(method, path, body, bearer=ADMIN_TOKEN, raw=raw)


def paysim_pay(channel, order, fen):
    data = urllib.parse.urlencode({"channel": channel, "order": order, "amount_fen": fen, "drop_notify": 1}).encode()
    urllib.request.urlopen(A.ps + "/sim/pay", data, timeout=30).read()


def channel_payment(account, fen, channel="wechat", query=True):
    r = admin("POST", "/api/v1/orders", {"account_id": account, "amount_fen": fen, "channel": channel})
    assert r.status == 201, r.raw
    no = r.json["out_trade_no"]
    paysim_pay(channel, no, fen)
    if query:
        r = admin("POST", f"/api/v1/orders/{no}/query")
        assert r.status == 200 and r.json["state"] == "credited", r.raw
    return no


S = {n: login(n) for n in ("acme-admin", "locky", "pwchange", "acme-tech", "birch-admin", "res-101")}
ADM, FIN, SVC, TECH, BIRCH, RES = (S[n] for n in ("acme-admin", "locky", "pwchange", "acme-tech", "birch-admin",
                                                  "res-101"))
a101, a102, a103, aS1, aS2, ah11 = (acct(u) for u in ("101", "102", "103", "S1", "S2", "1-1"))
TODAY = (datetime.datetime.utcnow() + datetime.timedelta(hours=8)).date()

# ---------------------------------------------------------------- counter top-up
group("counter top-up: exact money, once")
K1 = idem()
body = {"account_id": a103, "amount_fen": 12345, "method": "cash", "reason": "paid at the desk", "id": K1}
audits = one("select count(*) from audit where action = 'counter_payment'")
r = req("POST", "/api/v1/payments/counter", body, FIN)
check(r.status == 201, f"counter top-up: {r.status} {r.raw[:300]}")
P1 = (r.json or {}).get("id", "")
check(re.fullmatch(r"counter-\d+", P1) is not None, f"payment id {P1}")
check(r.json and r.json["amount_fen"] == 12345 and r.json["amount"] == "123.45" and r.json["method"] == "cash"
      and r.json["account_id"] == a103 and r.json["existed"] is False and r.json["operator"] == "locky",
      f"counter answer {r.json}")
check(r.json and r.json["balance_after_fen"] - r.json["balance_before_fen"] == 12345,
      f"wallet moved by exactly 12345 fen: {r.json}")
check(ledger_count(K1) == 1 and one("select amount_fen from ledger_transfer where hex(id) = upper(?)", K1) == 12345,
      "one ledger transfer of 12345 fen")
row = db("select x.action, x.object, x.object_id, x.reason, x.before, x.after, x.login from audit x"
         " where action = 'counter_payment' order by id desc limit 1")
check(one("select count(*) from audit where action = 'counter_payment'") == audits + 1 and row
      and row[0][:4] == ("counter_payment", "account", a103, "paid at the desk") and row[0][6] == "locky",
      f"audit row {row}")
if row:
    b, a = json.loads(row[0][4]), json.loads(row[0][5])
    check(a["balance_fen"] - b["balance_fen"] == 12345 and a["amount_fen"] == 12345 and a["ref"] == P1,
          f"audit before/after {b} {a}")
snap = snapshot()
r = req("POST", "/api/v1/payments/counter", body, FIN)
check(r.status == 200 and r.json and r.json["existed"] is True and r.json["id"] == P1,
      f"retry with the same id: {r.status} {r.raw[:200]}")
check(ledger_count(K1) == 1 and snapshot() == snap, "the retry booked nothing (ledger, rows, audit)")
r = req("POST", "/api/v1/payments/counter", dict(body, amount_fen=999), FIN)
check(is_error(r, 409) and snapshot() == snap, f"same id, other amount: 409, nothing booked ({r.status} {r.raw[:200]})")
for method, want in (("card", "card"), ("transfer", "transfer")):
    r = req("POST", "/api/v1/payments/counter", dict(body, id=idem(), method=method, amount_fen=100), ADM)
    check(r.status == 201 and r.json["method"] == want, f"method {method}: {r.status} {r.raw[:200]}")
check(one("select method from pay_counter order by id desc limit 1") == "bank_transfer", "transfer stored as bank_transfer")

group("counter top-up closes a tripped meter")
m102 = one("select m.id from meter m join unit u on u.id = m.unit_id where u.name = '102'")
check(wait_db(f"select relay from meter where id = {m102}", "tripped"), "unit 102 (zero balance) is tripped")
closes = one(f"select count(*) from command where meter_id = {m102} and action = 'close'")
r = req("POST", "/api/v1/payments/counter",
        {"account_id": a102, "amount_fen": 5000, "method": "cash", "reason": "top-up at the office", "id": idem()}, SVC)
check(r.status == 201 and r.json["balance_after_fen"] - r.json["balance_before_fen"] == 5000,
      f"service may take a counter top-up: {r.status} {r.raw[:200]}")
check(wait_db(f"select count(*) from command where meter_id = {m102} and action = 'close' and state = 'confirmed'",
              closes + 1), "the close command is confirmed by the meter")
check(wait_db(f"select relay from meter where id = {m102}", "closed"), "the relay is closed")

# ---------------------------------------------------------------- validation
group("validation errors name the field; nothing changes")
snap = snapshot()
good = {"account_id": a103, "amount_fen": 100, "method": "cash", "reason": "x", "id": idem()}
cases = [({k: v for k, v in good.items() if k != "account_id"}, "account_id"),
         (dict(good, account_id="12"), "account_id"), (dict(good, amount_fen=0), "amount_fen"),
         (dict(good, amount_fen="1.00"), "amount_fen"), (dict(good, amount_fen=1.5), "amount_fen"),
         (dict(good, amount_fen=100000001), "amount_fen"), (dict(good, method="bitcoin"), "method"),
         ({k: v for k, v in good.items() if k != "method"}, "method"),
         ({k: v for k, v in good.items() if k != "reason"}, "reason"), (dict(good, reason=""), "reason"),
         (dict(good, reason="r" * 201), "reason"), (dict(good, id="xyz"), "id"), (dict(good, id="g" * 32), "id"),
         (dict(good, extra=1), "extra")]
for b, field in cases:
    r = req("POST", "/api/v1/payments/counter", b, FIN)
    check(is_error(r, 400, field), f"counter {b} -> 400 naming {field}: {r.status} {r.raw[:200]}")
r = req("POST", "/api/v1/payments/counter", raw=b"not json", s=FIN)
check(r.status == 400, f"bad JSON: {r.status}")
r = req("POST", "/api/v1/payments/counter", raw=b"{}", s=FIN, ctype="text/plain")
check(r.status == 415, f"not application/json: {r.status}")
r = req("POST", "/api/v1/payments/counter", dict(good, account_id=999999), FIN)
check(is_error(r, 404), f"unknown account: {r.status}")
for q, field in (("limit=0", "limit"), ("limit=201", "limit"), ("offset=-1", "offset"), ("account=x", "account"),
                 ("channel=bank", "channel"), ("from=2026-13-01", "from"), ("to=yesterday", "to"),
                 ("from=2026-11-02&to=2026-11-01", "to")):
    r = req("GET", "/api/v1/payments?" + q, s=FIN)
    check(is_error(r, 400, field), f"GET /payments?{q} -> 400 naming {field}: {r.status} {r.raw[:200]}")
r = req("GET", "/api/v1/orders?state=lost", s=FIN)
check(is_error(r, 400, "state"), f"orders state: {r.status}")
check(snapshot() == snap, "rejected requests changed nothing")

group("roles and CSRF")
snap = snapshot()
for s, who in ((TECH, "technician"), (RES, "resident")):
    r = req("POST", "/api/v1/payments/counter", dict(good, id=idem()), s)
    check(is_error(r, 403), f"{who} counter top-up: {r.status}")
    for path in ("/api/v1/payments", "/api/v1/orders", "/api/v1/refunds", "/api/v1/reconciliations",
                 f"/api/v1/payments/{P1}"):
        r = req("GET", path, s=s)
        check(is_error(r, 403) and b"amount" not in r.raw, f"{who} GET {path}: {r.status}")
r = req("POST", f"/api/v1/payments/{P1}/refund", {"amount_fen": 1, "reason": "x", "id": idem()}, SVC)
check(is_error(r, 403), f"service cannot refund: {r.status} {r.raw[:200]}")
r = req("POST", "/api/v1/reconciliations?channel=wechat", raw=b"x", s=SVC, ctype="text/plain")
check(r.status in (400, 403), f"service reconciliation: {r.status}")
r = req("GET", "/api/v1/reconciliations", s=SVC)
check(is_error(r, 403), f"service reconciliations list: {r.status}")
r = req("GET", "/api/v1/payments", s=SVC)
check(r.status == 200, f"service reads payments: {r.status}")
r = req("POST", "/api/v1/payments/counter", dict(good, id=idem()), FIN, csrf=False)
check(is_error(r, 403, code="csrf"), f"no CSRF header: {r.status} {r.raw[:200]}")
r = req("POST", f"/api/v1/payments/{P1}/refund", {"amount_fen": 1, "reason": "x", "id": idem()}, FIN, csrf=False)
check(is_error(r, 403, code="csrf"), f"refund without CSRF: {r.status}")
r = req("POST", "/api/v1/payments/counter", dict(good, id=idem()))
check(is_error(r, 401), f"no session: {r.status}")
check(snapshot() == snap, "refused requests changed nothing")

# ---------------------------------------------------------------- channel payments, lists
group("payments, orders and refunds lists")
O1 = channel_payment(a103, 2000, "wechat")
O2 = channel_payment(aS1, 1500, "alipay")
O3 = None
pay_o1 = "channel-%d" % one("select id from pay_payment where out_trade_no = ?", O1)
r = req("GET", f"/api/v1/payments?account={a103}&limit=200", s=FIN)
ids = [p["id"] for p in (r.json or {}).get("items", [])]
check(r.status == 200 and P1 in ids and pay_o1 in ids, f"payments of 103: {ids}")
it = {p["id"]: p for p in r.json["items"]}
check(it.get(pay_o1, {}).get("amount_fen") == 2000 and it[pay_o1]["amount"] == "20.00" and it[pay_o1]["channel"] == "wechat"
      and it[pay_o1]["out_trade_no"] == O1 and it[pay_o1]["unit"] == "103", f"channel payment item {it.get(pay_o1)}")
check(all(p["account_id"] == a103 for p in r.json["items"]), "account filter")
r = req("GET", "/api/v1/payments?channel=counter&limit=200", s=FIN)
check(r.status == 200 and r.json["items"] and all(p["source"] == "counter" for p in r.json["items"]), "channel=counter")
r = req("GET", "/api/v1/payments?channel=alipay", s=FIN)
check(r.status == 200 and [p["out_trade_no"] for p in r.json["items"]] == [O2], f"channel=alipay {r.raw[:300]}")
r = req("GET", f"/api/v1/payments?from={TODAY}&to={TODAY}&limit=200", s=FIN)
check(r.status == 200 and P1 in [p["id"] for p in r.json["items"]], "today's payments")
r = req("GET", f"/api/v1/payments?to={TODAY - datetime.timedelta(days=1)}", s=FIN)
check(r.status == 200 and r.json["items"] == [], "nothing before today")
r = req("GET", "/api/v1/payments?limit=1", s=FIN)
check(r.status == 200 and len(r.json["items"]) == 1 and r.json["next_offset"] == 1, "page of 1")
r2 = req("GET", "/api/v1/payments?limit=1&offset=1", s=FIN)
check(r2.status == 200 and r2.json["items"][0]["id"] != r.json["items"][0]["id"], "next page")
r = req("GET", f"/api/v1/payments/{pay_o1}", s=SVC)
check(r.status == 200 and r.json["id"] == pay_o1 and r.json["refundable_fen"] == 2000, f"one payment {r.raw[:300]}")
r = req("GET", "/api/v1/payments/channel-999999", s=FIN)
check(is_error(r, 404), "unknown payment")
r = req("GET", f"/api/v1/orders?account={a103}&state=credited", s=FIN)
check(r.status == 200 and O1 in [o["out_trade_no"] for o in r.json["items"]]
      and all(o["state"] == "credited" for o in r.json["items"]), f"orders {r.raw[:300]}")
r = req("GET", "/api/v1/orders?channel=alipay", s=FIN)
check(r.status == 200 and all(o["channel"] == "alipay" for o in r.json["items"]) and r.json["items"], "orders channel")
r = req("GET", f"/api/v1/orders/{O1}", s=FIN)
check(r.status == 200 and r.json["out_trade_no"] == O1 and r.json["amount_fen"] == 2000 and r.json["state"] == "credited",
      f"order by session {r.raw[:300]}")
r = admin("GET", f"/api/v1/orders/{O1}")
check(r.status == 200 and r.json["out_trade_no"] == O1 and r.json["state"] == "credited" and "unit" not in r.json,
      f"order by admin token unchanged {r.raw[:300]}")
r = req("GET", f"/api/v1/orders/{O1}")
check(is_error(r, 401), f"order without credentials: {r.status}")

group("API tokens act as their user, without CSRF")


def api_token(login):
    return webclient.api_token(login, "payments test")


TF, TB = api_token("locky"), api_token("birch-admin")
r = req("POST", "/api/v1/payments/counter",
        {"account_id": aS2, "amount_fen": 250, "method": "card", "reason": "integration", "id": idem()}, bearer=TF)
check(r.status == 201 and r.json["amount_fen"] == 250 and r.json["operator"] == "locky", f"counter by API token {r.status} {r.raw[:200]}")
r = req("GET", f"/api/v1/orders/{O1}", bearer=TF)
check(r.status == 200 and r.json["out_trade_no"] == O1, f"order by API token {r.status}")
r = req("GET", f"/api/v1/orders/{O1}", bearer=TB)
check(is_error(r, 404), f"Birch API token on an Acme order {r.status}")
r = req("GET", f"/api/v1/orders/{O1}", bearer="wkt_" + "0" * 64)
check(is_error(r, 401), f"unknown API token {r.status}")

# ---------------------------------------------------------------- refunds
group("refund through the channel: booked once")
K2 = idem()
rb = {"amount_fen": 500, "reason": "overpaid", "id": K2}
audits = one("select count(*) from audit where action = 'payment_refund'")
r = req("POST", f"/api/v1/payments/{pay_o1}/refund", rb, FIN)
check(r.status == 201, f"channel refund {r.status} {r.raw[:300]}")
R1 = (r.json or {}).get("id")
check(r.json and re.fullmatch(r"channel-\d+", R1 or "") and r.json["amount_fen"] == 500 and r.json["payment_id"] == pay_o1
      and r.json["out_trade_no"] == O1 and r.json["existed"] is False
      and r.json["balance_before_fen"] - r.json["balance_after_fen"] == 500, f"refund answer {r.json}")
check(one("select count(*) from pay_refund where out_trade_no = ?", O1) == 1, "one refund row")
check(one("select count(*) from ledger_transfer t join pay_refund r on r.transfer_id = t.id where r.out_trade_no = ?",
          O1) == 1, "one ledger transfer")
check(one("select count(*) from audit where action = 'payment_refund'") == audits + 1, "audited")
snap = snapshot()
r = req("POST", f"/api/v1/payments/{pay_o1}/refund", rb, FIN)
check(r.status == 200 and r.json["existed"] is True and r.json["id"] == R1, f"retry: {r.status} {r.raw[:200]}")
check(snapshot() == snap, "the retry booked nothing")
r = req("POST", f"/api/v1/payments/{pay_o1}/refund", {"amount_fen": 1501, "reason": "too much", "id": idem()}, FIN)
check(is_error(r, 400, "amount_fen") and snapshot() == snap, f"over-refund: {r.status} {r.raw[:200]}")
for b, field in (({"reason": "x", "id": idem()}, "amount_fen"), ({"amount_fen": 1, "id": idem()}, "reason"),
                 ({"amount_fen": 1, "reason": "x"}, "id"), ({"amount_fen": 1, "reason": "x", "id": idem(), "to": 1}, "to")):
    r = req("POST", f"/api/v1/payments/{pay_o1}/refund", b, FIN)
    check(is_error(r, 400, field), f"refund {b} -> {field}: {r.status} {r.raw[:200]}")
r = req("GET", f"/api/v1/payments/{pay_o1}", s=FIN)
check(r.json["refunded_fen"] == 500 and r.json["refundable_fen"] == 1500, f"refunded on the payment {r.json}")
check(snapshot() == snap, "rejected refunds changed nothing")

pay_o2 = "channel-%d" % one("select id from pay_payment where out_trade_no = ?", O2)
r = req("POST", f"/api/v1/payments/{pay_o2}/refund", {"amount_fen": 300, "reason": "alipay partial", "id": idem()}, ADM)
check(r.status == 201 and r.json["channel"] == "alipay" and r.json["amount_fen"] == 300
      and r.json["refund_id"].endswith(":" + r.json["out_refund_no"]), f"Alipay refund {r.status} {r.raw[:300]}")
check(one("select count(*) from pay_refund where out_trade_no = ? and amount_fen = 300", O2) == 1, "Alipay refund booked")

group("refund of a counter payment at the counter")
K3 = idem()
r = req("POST", f"/api/v1/payments/{P1}/refund", {"amount_fen": 345, "reason": "wrong amount", "id": K3}, ADM)
check(r.status == 201 and r.json["source"] == "counter" and r.json["payment_id"] == P1 and r.json["method"] == "cash"
      and r.json["balance_before_fen"] - r.json["balance_after_fen"] == 345, f"counter refund {r.status} {r.raw[:300]}")
R2 = (r.json or {}).get("id")
snap = snapshot()
r = req("POST", f"/api/v1/payments/{P1}/refund", {"amount_fen": 345, "reason": "wrong amount", "id": K3}, ADM)
check(r.status == 200 and r.json["existed"] is True and r.json["id"] == R2 and snapshot() == snap, "retry books once")
check(ledger_count(K3) == 1, "one ledger transfer")
r = req("POST", f"/api/v1/payments/{P1}/refund", {"amount_fen": 12001, "reason": "x", "id": idem()}, ADM)
check(is_error(r, 400, "amount_fen") and snapshot() == snap, f"counter over-refund {r.status} {r.raw[:200]}")
r = req("GET", "/api/v1/refunds?limit=200", s=SVC)
ids = [x["id"] for x in (r.json or {}).get("items", [])]
check(r.status == 200 and R1 in ids and R2 in ids, f"refunds list {ids}")
r = req("GET", "/api/v1/refunds?channel=counter", s=FIN)
check(r.status == 200 and [x["id"] for x in r.json["items"]] == [R2], "refunds channel=counter")
r = req("GET", "/api/v1/audit?action=payment_refund", s=ADM)
check(r.status == 200 and len(r.json["items"]) == 3, f"audit API shows the refunds {r.raw[:200]}")

# ---------------------------------------------------------------- access control
group("access-control sweep")
acme_accounts = [x[0] for x in db("select a.id from account a join unit u on u.id=a.unit_id join building b on"
                                  " b.id=u.building_id join community c on c.id=b.community_id join company k on"
                                  " k.id=c.company_id where k.name='Acme Property'")]
acme_pay = ["channel-%d" % x[0] for x in db("select p.id from pay_payment p join pay_order o on o.id=p.order_id"
                                           " where o.account_id in (%s)" % ",".join(map(str, acme_accounts)))]
acme_pay += ["counter-%d" % x[0] for x in db("select id from pay_counter where kind='payment' and account_id in (%s)"
                                            % ",".join(map(str, acme_accounts)))]
acme_orders = [x[0] for x in db("select out_trade_no from pay_order where account_id in (%s)"
                                % ",".join(map(str, acme_accounts)))]
acme_refunds = [x[0] for x in db("select 'channel-' || id from pay_refund")] + [R2]
check(len(acme_pay) >= 6 and len(acme_orders) >= 2, f"sweep material {len(acme_pay)} payments {len(acme_orders)} orders")
snap = snapshot()
for s in (BIRCH, RES):
    deny = (404, 403)
    for pid in acme_pay:
        r = req("GET", f"/api/v1/payments/{pid}", s=s)
        check(r.status in deny and b"amount" not in r.raw, f"{s['name']} GET payment {pid}: {r.status}")
        r = req("POST", f"/api/v1/payments/{pid}/refund", {"amount_fen": 1, "reason": "x", "id": idem()}, s)
        check(r.status in deny and b"amount" not in r.raw, f"{s['name']} refund {pid}: {r.status}")
    for no in acme_orders:
        r = req("GET", f"/api/v1/orders/{no}", s=s)
        check(r.status in deny and b"amount" not in r.raw, f"{s['name']} GET order {no}: {r.status}")
    for a in acme_accounts:
        r = req("POST", "/api/v1/payments/counter",
                {"account_id": a, "amount_fen": 100, "method": "cash", "reason": "x", "id": idem()}, s)
        check(r.status in deny and b"amount" not in r.raw, f"{s['name']} counter top-up of {a}: {r.status}")
        for path in ("payments", "refunds", "orders"):
            r = req("GET", f"/api/v1/{path}?account={a}", s=s)
            check(r.status in deny or (r.status == 200 and r.json["items"] == []),
                  f"{s['name']} GET {path}?account={a}: {r.status} {r.raw[:100]}")
    for path in ("payments", "refunds", "orders"):
        r = req("GET", f"/api/v1/{path}?limit=200", s=s)
        seen = [x.get("id") for x in (r.json or {}).get("items", [])] + \
               [x.get("out_trade_no") for x in (r.json or {}).get("items", [])]
        leak = set(seen) & set(acme_pay + acme_orders + acme_refunds)
        check(r.status in deny or not leak, f"{s['name']} GET {path} shows Acme objects {leak}")
check(snapshot() == snap, "the sweep changed nothing")
# Birch's own objects stay Birch's: a Birch payment is invisible to Acme
OB = channel_payment(ah11, 800, "wechat")
pb = "channel-%d" % one("select id from pay_payment where out_trade_no = ?", OB)
r = req("GET", f"/api/v1/payments/{pb}", s=BIRCH)
check(r.status == 200 and r.json["account_id"] == ah11, "Birch sees its payment")
for s in (ADM, FIN, SVC):
    r = req("GET", f"/api/v1/payments/{pb}", s=s)
    check(is_error(r, 404), f"{s['name']} GET Birch payment: {r.status}")
    r = req("GET", f"/api/v1/orders/{OB}", s=s)
    check(is_error(r, 404), f"{s['name']} GET Birch order: {r.status}")
r = req("POST", f"/api/v1/payments/{pb}/refund", {"amount_fen": 1, "reason": "x", "id": idem()}, ADM)
check(is_error(r, 404), f"Acme refunds a Birch payment: {r.status}")

# ---------------------------------------------------------------- reconciliation
group("reconciliation runs")
bill = os.path.join(A.dir, "wechat.bill")
out = subprocess.run([A.bin, "paysim", "bill", "--dir", os.path.join(A.dir, "paysim"), "--channel", "wechat",
                      "--date", str(TODAY), "--out", bill], capture_output=True, text=True)
check(out.returncode == 0, f"paysim bill: {out.stderr}")
raw = open(bill, "rb").read()
snap = snapshot()
r = req("POST", "/api/v1/reconciliations?channel=wechat", raw=b"garbage\n", s=FIN, ctype="text/csv")
check(is_error(r, 400, "bill"), f"bad bill {r.status} {r.raw[:200]}")
r = req("POST", "/api/v1/reconciliations?channel=paypal", raw=raw, s=FIN, ctype="text/csv")
check(is_error(r, 400, "channel"), f"bad channel {r.status}")
r = req("POST", "/api/v1/reconciliations?channel=wechat", raw=raw, s=FIN, ctype="text/csv", csrf=False)
check(is_error(r, 403, code="csrf"), f"reconciliation without CSRF {r.status}")
r = req("POST", "/api/v1/reconciliations?channel=wechat", raw=raw, s=TECH, ctype="text/csv")
check(is_error(r, 403), f"technician reconciliation {r.status}")
check(snapshot() == snap, "rejected uploads changed nothing")
wechat_payments = one("select count(*) from pay_payment where channel = 'wechat'")
r = req("POST", "/api/v1/reconciliations?channel=wechat", raw=raw, s=FIN, ctype="text/csv")
check(r.status == 201 and r.json["channel"] == "wechat" and r.json["bill_payments"] == wechat_payments
      and r.json["bill_refunds"] == 1 and r.json["matched"] == wechat_payments + 1 and r.json["unknown_to_channel"] == 0
      and r.json["credited_from_bill"] == 0 and r.json["lines"] == [] and r.json["own"] is True
      and r.json["date_from"] == str(TODAY) and r.json["uploaded_by"] == "locky",
      f"clean reconciliation {r.status} {r.raw[:400]}")
REC1 = (r.json or {}).get("id")
check(one("select count(*) from audit where action = 'reconciliation' and object_id = ?", REC1) == 1, "audited")
r = req("GET", "/api/v1/reconciliations", s=ADM)
check(r.status == 200 and REC1 in [x["id"] for x in r.json["items"]], "listed")
r = req("GET", f"/api/v1/reconciliations/{REC1}", s=BIRCH)
check(is_error(r, 404), f"Birch cannot see Acme's run: {r.status}")
r = req("GET", "/api/v1/reconciliations", s=BIRCH)
check(r.status == 200 and REC1 not in [x["id"] for x in r.json["items"]], "not in Birch's list")
# a payment whose notification was lost and never queried: the bill credits it (a line on
# account 103), reconciled with the admin token: the run is everyone's, the line Acme's
O4 = channel_payment(a103, 700, "wechat", query=False)
subprocess.run([A.bin, "paysim", "bill", "--dir", os.path.join(A.dir, "paysim"), "--channel", "wechat",
                "--date", str(TODAY), "--out", bill], capture_output=True, check=True)
r = admin("POST", "/api/v1/reconcile?channel=wechat", raw=open(bill, "rb").read())
check(r.status == 200 and r.json["credited_from_bill"] == 1 and r.json.get("reconciliation_id"),
      f"admin-token reconcile {r.status} {r.raw[:300]}")
REC2 = (r.json or {}).get("reconciliation_id")
check(one("select state from pay_order where out_trade_no = ?", O4) == "credited", "credited from the bill")
r = req("GET", f"/api/v1/reconciliations/{REC2}", s=FIN)
check(r.status == 200 and r.json["own"] is False and len(r.json["lines"]) == 1
      and r.json["lines"][0]["kind"] == "paid_not_credited" and r.json["lines"][0]["account_id"] == a103
      and r.json["lines"][0]["out_trade_no"] == O4 and r.json["lines"][0]["amount_fen"] == 700
      and r.json["lines_hidden"] == 0, f"Acme sees its line {r.raw[:400]}")
r = req("GET", f"/api/v1/reconciliations/{REC2}", s=BIRCH)
check(r.status == 200 and r.json["lines"] == [] and r.json["lines_hidden"] == 1 and O4.encode() not in r.raw,
      f"Birch sees the run, not Acme's line {r.raw[:400]}")

group("ledger verify")
out = subprocess.run([A.bin, "ledger", "verify", "--db", A.db, "--log-key-file", A.db + ".logkey"],
                     capture_output=True, text=True)
check(out.returncode == 0, f"ledger verify: {out.stdout[-400:]} {out.stderr[-400:]}")

done()
