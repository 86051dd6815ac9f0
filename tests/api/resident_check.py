#!/usr/bin/env python3
"""resident_check.py - HTTP checks of the resident's own routes (serve_web_resident.c), run by
tests/api/resident_test.sh against a live `wattkeeper serve` with the payment stand-in
`wattkeeper paysim serve` and simulated meters. Talks HTTP to serve and to the stand-in (the
resident "pays" on its confirm page); reads the SQLite file to compute the expected numbers
and to confirm that rejected requests changed nothing. Exits 1 at the end of the first group
with a failed check."""
import datetime, http.client, json, os, re, sqlite3, sys, time, urllib.parse
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import webclient
from webclient import A, check, db, login_ok, group, done, wait, Resp, ANY

CST = datetime.timezone(datetime.timedelta(hours=8))


def hreq(host, port, method, path, data=None, headers=None):
    c = http.client.HTTPConnection(host, port, timeout=30)
    c.request(method, path, body=data, headers=headers or {})
    r = Resp(c.getresponse())
    c.close()
    return r


def req(method, path, body=None, s=None, csrf=True, **kw):
    """s = a login(): its cookie, and its CSRF token unless csrf is False or another token."""
    return webclient.req(method, path, body, cookie=s and s["tok"],
                         csrf=(s["csrf"] if csrf is True else csrf) if s else None, **kw)


def login(name):
    r, tok, csrf = login_ok(name)
    return {"tok": tok, "csrf": csrf, "account_id": r.json.get("account_id"), "login": name}


def err(r, status, field=None, code=None):
    return webclient.is_error(r, status, code, ANY if field is None else field)


def acct(unit):
    return db("select a.id from account a join unit u on u.id=a.unit_id where u.name=?", unit)[0][0]


def wallet(account_id):
    return db("select la.credits_fen, la.debits_fen from account a join ledger_account la"
              " on la.id=a.wallet_account_id where a.id=?", account_id)[0]


def snapshot():
    """The state a rejected request must leave alone."""
    return (db("select * from pay_order order by id"), db("select * from pay_payment order by id"),
            db("select * from notify_contact order by id"), db("select count(*) from audit"),
            db("select count(*) from ledger_transfer where reason not like 'energy meter %'"))


def paysim_pay(order_no, amount_fen, extra=None):
    u = urllib.parse.urlparse(A.paysim)
    form = {"order": order_no, "amount_fen": str(amount_fen)}
    form.update(extra or {})
    return hreq(u.hostname, u.port, "POST", "/sim/pay", urllib.parse.urlencode(form).encode(),
                {"Content-Type": "application/x-www-form-urlencoded"})


S = {n: login(n) for n in ("res-101", "res-102", "res-h11", "acme-admin", "acme-tech", "birch-admin")}
A101, A102, AH11 = acct("101"), acct("102"), acct("1-1")
STAFF = ("acme-admin", "acme-tech", "birch-admin")
M102 = db("select m.id from meter m join unit u on u.id=m.unit_id where u.name='102'")[0][0]

# ---------------------------------------------------------------- roles
group("staff get 403 on every resident route, anonymous 401")
for who in STAFF:
    for method, path, body in (("GET", "/api/v1/me/summary", None), ("GET", "/api/v1/me/usage", None),
                               ("GET", "/api/v1/me/contacts", None),
                               ("GET", "/api/v1/me/topups/WK0123456789abcdef", None),
                               ("POST", "/api/v1/me/topups", {"amount_fen": 5000, "channel": "wechat"}),
                               ("POST", "/api/v1/me/contacts", {"channel": "email", "address": "x@example.com"}),
                               ("POST", "/api/v1/me/contacts/1/delete", {})):
        before = snapshot()
        r = req(method, path, body, S[who])
        check(err(r, 403, code="forbidden"), f"{who} {method} {path}: {r.status} {r.raw[:120]}")
        check(snapshot() == before, f"{who} {method} {path} changed nothing")
# (a malformed body is answered 400 before the session check, like /me/password: it changes nothing)
for method, path, body in (("GET", "/api/v1/me/summary", None), ("GET", "/api/v1/me/usage", None),
                           ("GET", "/api/v1/me/contacts", None), ("GET", "/api/v1/me/topups/WK0123456789", None),
                           ("POST", "/api/v1/me/topups", {"amount_fen": 5000, "channel": "wechat"}),
                           ("POST", "/api/v1/me/contacts", {"channel": "email", "address": "x@example.com"}),
                           ("POST", "/api/v1/me/contacts/1/delete", {})):
    check(err(req(method, path, body), 401), f"anonymous {method} {path} is 401")

# ---------------------------------------------------------------- summary and days left
group("summary: balance, relay, days left")
def days_left_expected(account_id, window, balance):
    newest = db("select max(time_s) from reading where account_id=?", account_id)[0][0]
    if newest is None:
        return None, None
    first = db("select min(time_s) from reading where account_id=? and time_s > ?", account_id,
               newest - window * 86400)[0][0]
    spent = db("select coalesce(sum(deduction_fen),0) from reading where account_id=? and time_s > ?"
               " and time_s <= ?", account_id, first, newest)[0][0]
    span = newest - first
    if span >= 3600 and spent > 0:
        return (0 if balance <= 0 else balance * span // (spent * 86400)), (first, newest, spent)
    if span >= 3600 and balance <= 0:
        return 0, (first, newest, spent)
    return None, (first, newest, spent)

# The simulated meters report for a few minutes of platform time only: res-h11 gets a history
# of 20 days before them (synthetic rows, negative register values so that they can never
# collide with the meter's, every 6 hours: 500 Wh and 250 fen each), so that the estimate
# has something to work on. The head-end never reads old readings back (it keeps the
# meter's last register), so the rows only feed the read routes.
MH11 = db("select m.id from meter m join account a on a.unit_id=m.unit_id where a.id=?", AH11)[0][0]
first_sim = db("select coalesce(min(time_s), strftime('%s','now')) from reading where account_id=?", AH11)[0][0]
c = sqlite3.connect(A.db, timeout=10)
with c:
    for k in range(1, 81):
        c.execute("insert into reading (meter_id, total_wh, time_s, energy_wh, deduction_fen, account_id)"
                  " values (?, ?, ?, 500, 250, ?)", (MH11, -1000 * k, first_sim - k * 6 * 3600, AH11))
c.close()
for who, account in (("res-101", A101), ("res-h11", AH11), ("res-102", A102)):
    for window in (7, 30):
        for attempt in range(20):
            b0 = wallet(account)
            n0 = db("select count(*) from reading where account_id=?", account)
            r = req("GET", f"/api/v1/me/summary?window={window}", s=S[who])
            if b0 == wallet(account) and n0 == db("select count(*) from reading where account_id=?", account):
                break
        j = r.json
        check(r.status == 200 and j["account_id"] == account, f"{who}: summary 200 for the own account: {r.raw[:200]}")
        check(j["balance_fen"] == b0[0] - b0[1] and j["balance"] == "%d.%02d" % divmod(j["balance_fen"], 100)
              if j["balance_fen"] >= 0 else True, f"{who}: balance = wallet credits - debits ({j['balance_fen']} vs {b0})")
        exp, basis = days_left_expected(account, window, j["balance_fen"])
        check(j["days_left"] == exp,
              f"{who}: days_left (window {window}) = balance*span//(spent*86400): {j['days_left']} vs {exp}")
        check(basis and (j["days_left_basis"]["from_s"], j["days_left_basis"]["to_s"],
                         j["days_left_basis"]["spent_fen"]) == basis and j["days_left_basis"]["window_days"] == window,
              f"{who}: basis {j['days_left_basis']} vs {basis}")
        if j["daily_deduction"]:
            first, newest, spent = basis
            check(j["daily_deduction"]["fen"] == spent * 86400 // (newest - first), f"{who}: daily deduction")
        if who == "res-h11":
            check(exp is not None and exp > 0, f"res-h11 has an estimate ({exp})")
            first, newest, spent = basis
            check(newest - first >= (window - 1) * 86400 if window == 7 else newest - first >= 19 * 86400,
                  f"window {window} covers its days ({(newest - first) / 86400:.1f})")
        m = db("select relay, online from meter m join account a on a.unit_id=m.unit_id where a.id=?", account)[0]
        check(j["relay"] == m[0] and j["online"] == bool(m[1]), f"{who}: relay/online = meter row {m}")
    if who == "res-101":
        check(j["unit"] == "101" and j["building"] == "B1" and j["community"] == "Lakeside", "place")
    if who == "res-h11":
        check(j["community"] == "Hillview", "another resident sees only their own account")
check(err(req("GET", "/api/v1/me/summary?window=9", s=S["res-101"]), 400, "window"), "window=9 is 400 naming it")

# ---------------------------------------------------------------- usage
group("usage by day and month = sums over the readings table")
def usage_db(account_id, fmt, lo, hi):
    rows = db(f"select strftime('{fmt}', time_s + 28800, 'unixepoch') p, sum(energy_wh), sum(deduction_fen), count(*)"
              " from reading where account_id=? and time_s >= ? and time_s < ? group by p order by p",
              account_id, lo, hi)
    return [{"period": p, "energy_wh": w, "deduction_fen": f, "readings": n} for p, w, f, n in rows]

def day_start(d):
    return int(datetime.datetime(d.year, d.month, d.day, tzinfo=CST).timestamp())

today = datetime.datetime.now(CST).date()
for who, account, back in (("res-101", A101, 3), ("res-h11", AH11, 25)):
  lo_d, hi_d = today - datetime.timedelta(days=back), today + datetime.timedelta(days=3)
  for by, q, fmt, lo, hi in (
        ("day", f"by=day&from={lo_d}&to={hi_d}", "%Y-%m-%d", day_start(lo_d), day_start(hi_d + datetime.timedelta(days=1))),
        ("month", f"by=month&from={lo_d.strftime('%Y-%m')}&to={hi_d.strftime('%Y-%m')}", "%Y-%m",
         day_start(lo_d.replace(day=1)),
         day_start((hi_d.replace(day=1) + datetime.timedelta(days=32)).replace(day=1)))):
      for attempt in range(30):
          e0 = usage_db(account, fmt, lo, hi)
          r = req("GET", "/api/v1/me/usage?" + q, s=S[who])
          e1 = usage_db(account, fmt, lo, hi)
          if e0 == e1:
              break
      check(e0 == e1, f"{who} {by}: a quiet moment to compare in")
      j = r.json
      got = [{k: it[k] for k in ("period", "energy_wh", "deduction_fen", "readings")} for it in j["items"]]
      check(r.status == 200 and got == e0 and e0, f"{who} {by}: items = readings table: {got} vs {e0}")
      if who == "res-h11":
          check(len(got) >= (20 if by == "day" else 1), f"{who} {by}: the history shows ({len(got)} periods)")
      check(j["by"] == by and j["total_energy_wh"] == sum(x["energy_wh"] for x in e0) and
            j["total_deduction_fen"] == sum(x["deduction_fen"] for x in e0), f"{who} {by}: totals")
      check(all(it["energy_kwh"] == "%d.%03d" % divmod(it["energy_wh"], 1000) and
                it["deduction"] == "%d.%02d" % divmod(it["deduction_fen"], 100) for it in j["items"]),
            f"{who} {by}: decimal strings")
      others = db("select count(*) from reading where account_id != ? and time_s >= ? and time_s < ?", A101, lo, hi)[0][0]
      check(others > 0 and j["total_energy_wh"] <= sum(x["energy_wh"] for x in e1), f"{who} {by}: other accounts' readings left out")
r = req("GET", "/api/v1/me/usage", s=S["res-101"])
check(r.status == 200 and r.json["by"] == "day" and r.json["items"], f"defaults: by day, last 30 days: {r.raw[:200]}")
d_to = datetime.date.fromisoformat(r.json["to"])
check(datetime.date.fromisoformat(r.json["from"]) == d_to - datetime.timedelta(days=29) and d_to >= today,
      f"default range {r.json['from']}..{r.json['to']}")
r = req("GET", "/api/v1/me/usage?by=month", s=S["res-101"])
check(r.status == 200 and len(r.json["from"]) == 7 and r.json["items"], "by=month defaults to the last 12 months")
for q, field in (("by=week", "by"), ("from=2026-13-01", "from"), ("to=2026-02-30", "to"), ("from=26-01-01", "from"),
                 ("from=2026-02-01&to=2026-01-01", "from"), ("from=2024-01-01&to=2025-06-01", "from"),
                 ("by=month&from=2026-01-01", "from"), ("by=month&to=2026-00", "to"), ("from=1999-12-31", "from"),
                 ("by=month&from=2000-01&to=2011-01", "from")):
    r = req("GET", "/api/v1/me/usage?" + q, s=S["res-101"])
    check(err(r, 400, field), f"usage?{q} is 400 naming {field}: {r.raw[:160]}")
r = req("GET", "/api/v1/me/usage?by=month&from=2000-01&to=2009-12", s=S["res-101"])
check(r.status == 200 and r.json["items"] == [], "120 months is allowed (and empty)")

# ---------------------------------------------------------------- top-up validation
group("top-up: validation, CSRF, nothing changes on refusal")
R102 = S["res-102"]
for body, field in (({"amount_fen": 99, "channel": "wechat"}, "amount_fen"),
                    ({"amount_fen": 500001, "channel": "wechat"}, "amount_fen"),
                    ({"amount_fen": "5000", "channel": "wechat"}, "amount_fen"),
                    ({"amount_fen": 50.5, "channel": "wechat"}, "amount_fen"),
                    ({"channel": "wechat"}, "amount_fen"),
                    ({"amount_fen": 5000, "channel": "paypal"}, "channel"),
                    ({"amount_fen": 5000}, "channel"),
                    ({"amount_fen": 5000, "channel": "wechat", "account_id": A101}, "account_id")):
    before = snapshot()
    r = req("POST", "/api/v1/me/topups", body, R102)
    check(err(r, 400, field), f"{body} is 400 naming {field}: {r.raw[:160]}")
    check(snapshot() == before, f"{body} changed nothing")
before = snapshot()
check(err(req("POST", "/api/v1/me/topups", {"amount_fen": 5000, "channel": "wechat"}, R102, csrf=None), 403,
          code="csrf"), "no X-CSRF-Token: 403")
check(err(req("POST", "/api/v1/me/topups", {"amount_fen": 5000, "channel": "wechat"}, R102,
              csrf=S["res-101"]["csrf"]), 403, code="csrf"), "another session's CSRF token: 403")
check(err(req("POST", "/api/v1/me/topups", raw=b"amount_fen=5000&channel=wechat", s=R102,
              ctype="application/x-www-form-urlencoded"), 415), "a form post is 415")
check(snapshot() == before, "refused top-ups changed nothing")

# ---------------------------------------------------------------- top-up through the sandbox
group("top-up through the sandbox: own account, credited once, the meter closes")
check(wait(lambda: db("select relay from meter where id=?", M102)[0][0] == "tripped", 60),
      "res-102's meter is tripped (balance 0)")
check(wallet(A102)[0] - wallet(A102)[1] <= 0, "res-102 starts with no money")
# a contact first: the credit must reach it through the notification worker
r = req("POST", "/api/v1/me/contacts", {"channel": "webhook", "address": "https://hooks.example.com/wk/102",
                                         "language": "en"}, R102)
check(r.status == 201, f"res-102 adds a webhook contact: {r.status} {r.raw[:200]}")
hook_id = (r.json or {}).get("id")
check(r.json and r.json["events"] == ["warn1", "warn2", "trip", "close", "credit"], "every event by default")
r = req("POST", "/api/v1/me/contacts", {"channel": "email", "address": "li.na@example.com", "language": "zh-CN",
                                         "events": ["warn2", "warn1"]}, R102)
check(r.status == 201 and r.json["events"] == ["warn1", "warn2"], f"a contact for warnings only: {r.raw[:200]}")
warn_id = (r.json or {}).get("id")
check(db("select events_off from notify_contact where id=?", warn_id) == [(1 << 2 | 1 << 3 | 1 << 4,)],
      "stored as the kinds not wanted (trip, close, credit)")
credits0 = wallet(A102)[0]
orders = []
for i in range(2):  # a double click: two orders, one paid
    r = req("POST", "/api/v1/me/topups", {"amount_fen": 5000, "channel": "wechat"}, R102)
    check(r.status == 201, f"order {i}: 201 ({r.status} {r.raw[:300]})")
    orders.append(r.json)
o = orders[0]
check(o and re.fullmatch(r"[A-Za-z0-9]{6,32}", o["order_no"]) and o["amount_fen"] == 5000 and o["amount"] == "50.00"
      and o["state"] == "created" and o["channel"] == "wechat", f"order answer {o}")
check(o["code_url"].startswith(A.paysim + "/sim/confirm?") and o["pay_url"] == o["code_url"],
      f"code_url and pay_url open the sandbox confirm page: {o.get('pay_url')}")
qr = o.get("qr") or {}
check(isinstance(qr.get("size"), int) and 21 <= qr["size"] <= 177 and (qr["size"] - 17) % 4 == 0 and
      len(qr["rows"]) == qr["size"] and all(len(r) == qr["size"] and set(r) <= {"0", "1"} for r in qr["rows"]) and
      qr["rows"][0].startswith("1111111") and qr["rows"][6].startswith("1111111"),
      f"the QR code's modules (a version's size, finder pattern): {str(qr)[:120]}")
check(orders[1]["order_no"] != o["order_no"], "two clicks, two orders")
rows = db("select account_id, amount_fen, state, channel from pay_order where out_trade_no=?", o["order_no"])
check(rows == [(A102, 5000, "created", "wechat")], f"the order is for res-102's own account: {rows}")
u = urllib.parse.urlparse(o["pay_url"])
page = hreq(u.hostname, u.port, "GET", u.path + "?" + u.query)
check(page.status == 200 and b"SANDBOX" in page.raw and o["order_no"].encode() in page.raw, "the confirm page opens")
r = req("GET", f"/api/v1/me/topups/{o['order_no']}", s=R102)
check(r.status == 200 and r.json["state"] == "created" and r.json["credited"] is False and r.json["transfer_id"] is None,
      f"state before paying: {r.raw[:200]}")
for who in ("res-101", "res-h11"):
    r = req("GET", f"/api/v1/me/topups/{o['order_no']}", s=S[who])
    check(err(r, 404) and o["order_no"].encode() not in r.raw, f"{who} cannot see res-102's order ({r.status})")
check(err(req("GET", "/api/v1/me/topups/WKnosuchorder000000", s=R102), 404), "unknown order 404")
check(err(req("GET", "/api/v1/me/topups/bad..no", s=R102), 404), "malformed order number 404")

p = paysim_pay(o["order_no"], 5000)
check(p.status == 200 and (p.json or {}).get("notification") == "acknowledged", f"paid at the sandbox: {p.raw[:200]}")
st = wait(lambda: (req("GET", f"/api/v1/me/topups/{o['order_no']}", s=R102).json or {}).get("credited") and
          req("GET", f"/api/v1/me/topups/{o['order_no']}", s=R102).json, 20)
check(st and st["state"] == "credited" and re.fullmatch(r"[0-9a-f]{32}", st["transfer_id"] or ""),
      f"the order is credited with a receipt: {st}")
check(wallet(A102)[0] - credits0 == 5000, f"the wallet's credits moved by exactly 5000 fen ({wallet(A102)[0] - credits0})")
p2 = paysim_pay(o["order_no"], 5000)  # the payer's page posted twice / the channel retries
check(p2.status == 200, "a second confirmation is answered")
time.sleep(1.0)
check(wallet(A102)[0] - credits0 == 5000, "a repeated notification credits nothing more")
check(db("select count(*) from pay_payment where out_trade_no=?", o["order_no"])[0][0] == 1, "one payment row")
check(db("select state from pay_order where out_trade_no=?", orders[1]["order_no"])[0][0] == "created",
      "the second (unpaid) order credits nothing")
rc = req("GET", f"/api/v1/receipts/{st['transfer_id']}", s=R102)
check(rc.status == 200 and rc.json["record"]["amount_fen"] == 5000, f"res-102 gets the receipt: {rc.raw[:160]}")
check(err(req("GET", f"/api/v1/receipts/{st['transfer_id']}", s=S["res-101"]), 404), "res-101 does not")
check(wait(lambda: db("select relay from meter where id=?", M102)[0][0] == "closed", 40),
      "the meter of res-102 closes (confirmed by the simulated meter)")
check(db("select count(*) from command where meter_id=? and action='close' and state='confirmed'", M102)[0][0] >= 1,
      "a confirmed close command")
r = req("GET", "/api/v1/me/summary", s=R102)
check(r.json["relay"] == "closed" and r.json["balance_fen"] > 0, f"summary shows power on: {r.raw[:200]}")
check(wait(lambda: db("select count(*) from notification where contact_id=? and kind='credit'", hook_id)[0][0] == 1, 20),
      "the notification worker made a credit message for the new contact")
check(db("select count(*) from notification where contact_id=? and kind='credit'", warn_id)[0][0] == 0,
      "and none for the contact that wants warnings only")

# alipay: the order and its QR code; paying it at the sandbox sends a signed Alipay
# notification (form, RSA2) that serve verifies and credits once
r = req("POST", "/api/v1/me/topups", {"amount_fen": 2000, "channel": "alipay"}, R102)
check(r.status == 201 and r.json["channel"] == "alipay" and r.json["qr_code"].startswith(A.paysim) and
      r.json["pay_url"] == r.json["qr_code"], f"alipay order with qr_code: {r.raw[:300]}")
ao = r.json["order_no"]
u = urllib.parse.urlparse(r.json["pay_url"])
page = hreq(u.hostname, u.port, "GET", u.path + "?" + u.query)
check(page.status == 200 and b"Alipay" in page.raw and b'value="alipay"' in page.raw, "the confirm page pays with Alipay")
credits1 = wallet(A102)[0]
p = paysim_pay(ao, 2000, {"channel": "alipay"})
check(p.status == 200 and (p.json or {}).get("notification") == "acknowledged", f"paid with Alipay at the sandbox: {p.raw[:200]}")
st = wait(lambda: (req("GET", f"/api/v1/me/topups/{ao}", s=R102).json or {}).get("credited"), 20)
check(st and wallet(A102)[0] - credits1 == 2000, f"the Alipay top-up credited exactly 2000 fen ({wallet(A102)[0] - credits1})")
check(db("select channel, amount_fen from pay_payment where out_trade_no=?", ao) == [("alipay", 2000)],
      "one Alipay payment row")

# a bound on unpaid orders
H = S["res-h11"]
n = db("select count(*) from pay_order where account_id=? and state='created'", AH11)[0][0]
for i in range(10 - n):
    check(req("POST", "/api/v1/me/topups", {"amount_fen": 100 + i, "channel": "wechat"}, H).status == 201, f"order {i}")
before = snapshot()
r = req("POST", "/api/v1/me/topups", {"amount_fen": 100, "channel": "wechat"}, H)
check(err(r, 409, code="conflict"), f"the 11th unpaid order is 409: {r.raw[:160]}")
check(snapshot() == before, "and changes nothing")

group("access sweep: every order for every user")
for (no, account) in db("select out_trade_no, account_id from pay_order"):
    for who, s in S.items():
        r = req("GET", f"/api/v1/me/topups/{no}", s=s)
        if who in STAFF:
            check(err(r, 403), f"{who} {no}: 403 ({r.status})")
        elif s["account_id"] == account:
            check(r.status == 200 and r.json["order_no"] == no, f"{who} sees own {no}")
        else:
            check(err(r, 404) and no.encode() not in r.raw, f"{who} {no}: 404 ({r.status})")

# ---------------------------------------------------------------- contacts
group("contacts: validation naming the field")
R101 = S["res-101"]
for body, field in (({"channel": "email", "address": "no-at-sign"}, "address"),
                    ({"channel": "email", "address": "a@b"}, "address"),
                    ({"channel": "email", "address": "a@@example.com"}, "address"),
                    ({"channel": "email", "address": "a b@example.com"}, "address"),
                    ({"channel": "email", "address": "a@-example.com"}, "address"),
                    ({"channel": "email", "address": "a@example.c0m"}, "address"),
                    ({"channel": "sms", "address": "12345"}, "address"),
                    ({"channel": "sms", "address": "+8612345678901"}, "address"),
                    ({"channel": "sms", "address": "+15551234567"}, "address"),
                    ({"channel": "sms", "address": "+86 13812345678"}, "address"),
                    ({"channel": "webhook", "address": "http://hooks.example.com/x"}, "address"),
                    ({"channel": "webhook", "address": "https://"}, "address"),
                    ({"channel": "webhook", "address": "https://a.example.com/<script>"}, "address"),
                    ({"channel": "wechat", "address": "ab"}, "address"),
                    ({"channel": "wechat", "address": "o6_bmjrPTlm6_2sgVt7hMZOPfL2M!"}, "address"),
                    ({"channel": "fax", "address": "x"}, "channel"),
                    ({"address": "a@example.com"}, "channel"),
                    ({"channel": "email"}, "address"),
                    ({"channel": "email", "address": "a@example.com", "language": "fr"}, "language"),
                    ({"channel": "email", "address": "a@example.com", "quiet_from": "22:00"}, "quiet_to"),
                    ({"channel": "email", "address": "a@example.com", "quiet_from": "25:00", "quiet_to": "07:00"},
                     "quiet_from"),
                    ({"channel": "email", "address": "a@example.com", "quiet_from": "22:00", "quiet_to": "7:00"},
                     "quiet_to"),
                    ({"channel": "email", "address": "a@example.com", "account_id": A102}, "account_id"),
                    ({"channel": "email", "address": "a@example.com", "events": []}, "events"),
                    ({"channel": "email", "address": "a@example.com", "events": "credit"}, "events"),
                    ({"channel": "email", "address": "a@example.com", "events": ["offline"]}, "events"),
                    ({"channel": "email", "address": "a@example.com", "events": ["credit", "credit"]}, "events"),
                    ({"channel": "email", "address": "a@example.com", "events": ["credit", 7]}, "events")):
    before = snapshot()
    r = req("POST", "/api/v1/me/contacts", body, R101)
    check(err(r, 400, field), f"{body} is 400 naming {field}: {r.raw[:160]}")
    check(snapshot() == before, f"{body} changed nothing")

group("contacts: add, update, list, delete, isolation, CSRF, audit")
audit0 = db("select count(*) from audit where login='res-101'")[0][0]
r = req("POST", "/api/v1/me/contacts", {"channel": "email", "address": "wang.wei@example.com"}, R101)
check(r.status == 201 and r.json["channel"] == "email" and r.json["address"] == "wang.wei@example.com" and
      r.json["language"] == "zh-CN" and r.json["quiet_from"] is None, f"add e-mail: {r.raw[:200]}")
em = r.json["id"]
r = req("POST", "/api/v1/me/contacts", {"channel": "email", "address": "wang.wei@example.com", "language": "en",
                                         "quiet_from": "22:30", "quiet_to": "07:00"}, R101)
check(r.status == 200 and r.json["id"] == em and r.json["language"] == "en" and r.json["quiet_from"] == "22:30" and
      r.json["quiet_to"] == "07:00", f"the same address again updates it: {r.raw[:200]}")
check(db("select lang, quiet_from_min, quiet_to_min, enabled, events_off from notify_contact where id=?", em)
      == [("en", 1350, 420, 1, 0)], "stored as the worker reads it")
r = req("POST", "/api/v1/me/contacts", {"channel": "email", "address": "wang.wei@example.com", "language": "en",
                                         "quiet_from": "22:30", "quiet_to": "07:00", "events": ["credit"]}, R101)
check(r.status == 200 and r.json["events"] == ["credit"] and
      db("select events_off from notify_contact where id=?", em) == [(0b01111,)], f"events updated: {r.raw[:200]}")
r = req("POST", "/api/v1/me/contacts", {"channel": "email", "address": "wang.wei@example.com", "language": "en",
                                         "quiet_from": "22:30", "quiet_to": "07:00"}, R101)
check(r.status == 200 and len(r.json["events"]) == 5, "without events: all again")
r = req("POST", "/api/v1/me/contacts", {"channel": "sms", "address": "13812345678"}, R101)
check(r.status == 201 and r.json["address"] == "+8613812345678", f"a mobile number gets +86: {r.raw[:200]}")
sms = r.json["id"]
r = req("POST", "/api/v1/me/contacts", {"channel": "wechat", "address": "o6_bmjrPTlm6_2sgVt7hMZOPfL2M"}, R101)
check(r.status == 201, "wechat openid")
wx = r.json["id"]
r = req("GET", "/api/v1/me/contacts", s=R101)
check(r.status == 200 and [c["id"] for c in r.json["items"]] == [em, sms, wx], f"list: {r.raw[:300]}")
check(db("select account_id from notify_contact where id in (?,?,?)", em, sms, wx) == [(A101,)] * 3,
      "all on res-101's account")
r = req("GET", "/api/v1/me/contacts", s=R102)
check(r.status == 200 and [c["id"] for c in r.json["items"]] == [hook_id, warn_id] and b"wang.wei" not in r.raw,
      "res-102 sees only their own")
before = snapshot()
for who in ("res-102", "res-h11"):
    r = req("POST", f"/api/v1/me/contacts/{em}/delete", {}, S[who])
    check(err(r, 404), f"{who} cannot delete res-101's contact ({r.status})")
check(err(req("POST", f"/api/v1/me/contacts/{em}/delete", {}, R101, csrf=None), 403, code="csrf"), "delete without CSRF")
check(err(req("POST", "/api/v1/me/contacts", {"channel": "email", "address": "x@example.com"}, R101, csrf=None),
          403, code="csrf"), "add without CSRF")
check(snapshot() == before, "refused deletes and adds changed nothing")
check(err(req("POST", f"/api/v1/me/contacts/{em}/remove", {}, R101), 404), "unknown action 404")
r = req("POST", f"/api/v1/me/contacts/{sms}/delete", {}, R101)
check(r.status == 204, f"delete own: {r.status}")
check(db("select enabled from notify_contact where id=?", sms) == [(0,)], "disabled: the worker skips it")
check([c["id"] for c in req("GET", "/api/v1/me/contacts", s=R101).json["items"]] == [em, wx], "gone from the list")
check(err(req("POST", f"/api/v1/me/contacts/{sms}/delete", {}, R101), 404), "deleting again is 404")
r = req("POST", "/api/v1/me/contacts", {"channel": "sms", "address": "+8613812345678"}, R101)
check(r.status == 200 and r.json["id"] == sms, "adding it again enables the same row")
acts = [a for (a,) in db("select action from audit where login='res-101' order by id")][audit0:]
check(acts == ["contact_add", "contact_update", "contact_update", "contact_update", "contact_add", "contact_add",
               "contact_delete", "contact_update"],
      f"audited: {acts}")
for who in ("res-102", "res-h11"):  # sweep: every contact id of another resident
    for (cid,) in db("select id from notify_contact where account_id != ?", S[who]["account_id"]):
        before = snapshot()
        check(err(req("POST", f"/api/v1/me/contacts/{cid}/delete", {}, S[who]), 404), f"{who} delete {cid}: 404")
        check(snapshot() == before, f"{who} delete {cid} changed nothing")
n = len(req("GET", "/api/v1/me/contacts", s=R101).json["items"])
for i in range(10 - n):
    check(req("POST", "/api/v1/me/contacts", {"channel": "email", "address": f"n{i}@example.com"}, R101).status == 201,
          f"contact {i}")
before = snapshot()
check(err(req("POST", "/api/v1/me/contacts", {"channel": "email", "address": "eleven@example.com"}, R101), 409),
      "the 11th contact is 409")
check(snapshot() == before, "and changes nothing")
check(req("POST", "/api/v1/me/contacts", {"channel": "email", "address": "n0@example.com", "language": "en"},
          R101).status == 200, "updating one of ten is fine")

done()
