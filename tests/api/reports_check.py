#!/usr/bin/env python3
"""reports_check.py - HTTP checks of the reports and the live event stream, run by
tests/api/reports_test.sh against a live `wattkeeper serve` (tests/api/web_env.sh).

Every number the API gives is computed here independently from the SQLite file (ledger
transfers, readings, meters, accounts) and compared to the fen / Wh. Money is made through
the real payment paths first: WeChat and Alipay orders paid at the payment stand-in, a
channel refund, counter payment and refund, and admin-token credits."""
import csv, datetime, http.client, io, json, os, re, signal, socket, sqlite3, subprocess
import sys, time, urllib.parse, uuid
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from webclient import A, check, db, req, login_ok, group, done

ADMIN_TOKEN = open(A.db + ".admin-token").read().strip()
CST = datetime.timezone(datetime.timedelta(hours=8))
SRC_N = [0]


def login(name):
    SRC_N[0] += 1  # the login rate limit is per address: one loopback address per login
    return login_ok(name, f"127.0.3.{SRC_N[0]}")[1:]


def is_error(r, status, field="-"):
    e = (r.json or {}).get("error") if isinstance(r.json, dict) else None
    return r.status == status and e is not None and (field == "-" or e.get("field") == field)


def admin(path, body):
    return req("POST", path, body, bearer=ADMIN_TOKEN)


def acct(unit):
    return db("select a.id from account a join unit u on u.id=a.unit_id where u.name=? and a.status='open'", unit)[0][0]


def community(name):
    return db("select id from community where name=?", name)[0][0]


def company(name):
    return db("select id from company where name=?", name)[0][0]


def yuan(fen):
    s = "-" if fen < 0 else ""
    return f"{s}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def cst_day(t_s):
    return datetime.datetime.fromtimestamp(t_s, CST).strftime("%Y-%m-%d")


TODAY = datetime.datetime.now(CST).date()
a101, a103, a102, ah11 = acct("101"), acct("103"), acct("102"), acct("1-1")
lakeside, hillview, orphan = community("Lakeside"), community("Hillview"), community("Orphan")
acme, birch = company("Acme Property"), company("Birch Estates")

# ------------------------------------------------------------------------ money in motion
group("payments through the real paths")


def pay(account, fen, channel):
    r = admin("/api/v1/orders", {"account_id": account, "amount_fen": fen, "channel": channel})
    check(r.status in (200, 201) and r.json.get("out_trade_no"), f"order {channel}: {r.status} {r.raw[:200]}")
    no = r.json["out_trade_no"]
    data = urllib.parse.urlencode({"channel": channel, "order": no, "amount_fen": fen, "drop_notify": 1}).encode()
    u = urllib.parse.urlparse(A.paysim)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    c.request("POST", "/sim/pay", body=data, headers={"Content-Type": "application/x-www-form-urlencoded"})
    c.getresponse().read()
    c.close()
    r = admin(f"/api/v1/orders/{no}/query", {})
    check(r.status == 200, f"order query {no}: {r.status} {r.raw[:200]}")
    st = db("select state from pay_order where out_trade_no=?", no)
    check(st and st[0][0] == "credited", f"order {no} credited: {st}")
    return no


w1 = pay(a101, 2000, "wechat")
pay(a103, 1500, "alipay")
pay(ah11, 900, "wechat")  # Birch: never in Acme's numbers
r = admin("/api/v1/refunds", {"out_trade_no": w1, "amount_fen": 300, "out_refund_no": "RPT-R1",
                              "operator": "li", "reason": "report test"})
check(r.status == 201, f"channel refund: {r.status} {r.raw[:300]}")
for path, fen in (("payments", 3000), ("refunds", 500)):
    r = admin(f"/api/v1/counter/{path}", {"account_id": a101, "amount_fen": fen, "method": "cash", "operator": "li",
                                         "reason": "report test", "id": uuid.uuid4().hex})
    check(r.status == 201, f"counter {path}: {r.status} {r.raw[:300]}")
r = admin(f"/api/v1/accounts/{a103}/credits", {"amount_fen": 700, "id": uuid.uuid4().hex, "reason": "goodwill"})
check(r.status in (200, 201), f"admin credit: {r.status} {r.raw[:200]}")

# the numbers must hold still: no more readings
os.kill(A.sim_pid, signal.SIGTERM)
time.sleep(2)

TOK, CSRF = login("acme-admin")
BTOK, _ = login("birch-admin")

# ------------------------------------------------------------------------ independent numbers
SCOPE = {acme: [lakeside], birch: [hillview]}


def wallets():
    """account id -> (community id, status, balance from the ledger's transfers)"""
    out = {}
    rows = db("""select a.id, b.community_id, a.status, a.wallet_account_id from account a
                 join unit u on u.id=a.unit_id join building b on b.id=u.building_id""")
    bal = {}
    for w, fen in db("select credit_account_id, sum(amount_fen) from ledger_transfer group by 1"):
        bal[w] = bal.get(w, 0) + fen
    for w, fen in db("select debit_account_id, sum(amount_fen) from ledger_transfer group by 1"):
        bal[w] = bal.get(w, 0) - fen
    for aid, cid, st, w in rows:
        out[aid] = (cid, st, bal.get(w, 0))
    return out


def collections(comms, from_day, to_day, month):
    """{(period, channel): [n, fen, rn, rfen]} from the ledger"""
    names = dict(db("select id, name from ledger_account"))
    wal = {w: (aid, cid) for aid, cid, w in db(
        """select a.id, b.community_id, a.wallet_account_id from account a join unit u on u.id=a.unit_id
           join building b on b.id=u.building_id""")}
    out = {}
    for deb, cred, fen, t in db("select debit_account_id, credit_account_id, amount_fen, time_s from ledger_transfer"):
        day = cst_day(t)
        if not (from_day <= day <= to_day):
            continue
        if cred in wal and wal[cred][1] in comms and re.match(r"(clearing|counter):", names[deb]):
            other, inbound = names[deb], True
        elif deb in wal and wal[deb][1] in comms and re.match(r"(clearing|refund):", names[cred]):
            other, inbound = names[cred], False
        else:
            continue
        ch = other.split(":")[1] if other.startswith("clearing:") else "counter"
        k = (day[:7] if month else day, ch)
        v = out.setdefault(k, [0, 0, 0, 0])
        if inbound:
            v[0] += 1
            v[1] += fen
        else:
            v[2] += 1
            v[3] += fen
    return out


def consumption(comms, from_day, to_day, month):
    out = {}
    for t, bid, wh, fen in db("""select r.time_s, b.id, r.energy_wh, r.deduction_fen from reading r
            join meter m on m.id=r.meter_id join unit u on u.id=m.unit_id join building b on b.id=u.building_id
            where b.community_id in (%s)""" % ",".join(map(str, comms))):
        day = cst_day(t)
        if from_day <= day <= to_day:
            v = out.setdefault((day[:7] if month else day, bid), [0, 0, 0])
            v[0] += 1
            v[1] += wh
            v[2] += fen
    return out


WARN1 = None
for line in subprocess.run([A.bin, "serve", "--config", A.ini, "--print-config"], capture_output=True,
                           text=True, check=True).stdout.splitlines():
    m = re.match(r"\s*warn1\s*=\s*([0-9.]+)", line)
    if m:
        WARN1 = round(float(m.group(1)) * 100)  # the config's own text, two decimals
check(WARN1 is not None, "warn1 from --print-config")


def dashboard(comms):
    ms = db("""select m.online, m.relay from meter m join unit u on u.id=m.unit_id join building b
               on b.id=u.building_id where b.community_id in (%s)""" % ",".join(map(str, comms)))
    warn = {}
    for cid, pol in db("select id, policy from community"):
        w = WARN1
        if pol and json.loads(pol).get("warn1"):
            w = round(float(json.loads(pol)["warn1"]) * 100)
        warn[cid] = w
    wl = [v for v in wallets().values() if v[0] in comms]
    open_ = [v for v in wl if v[1] == "open"]
    arrears_n = sum(1 for v in open_ if v[2] < 0)
    today = TODAY.isoformat()
    col = collections(comms, today, today, False)
    rate = (arrears_n * 10000 + len(open_) // 2) // len(open_) if open_ else 0
    return {
        "meters": len(ms), "online": sum(1 for o, _ in ms if o), "offline": sum(1 for o, _ in ms if not o),
        "tripped": sum(1 for _, r in ms if r == "tripped"), "open_accounts": len(open_),
        "low_balance": sum(1 for v in open_ if v[2] <= warn[v[0]]), "arrears_accounts": arrears_n,
        "arrears_rate": f"{rate // 10000}.{rate % 10000:04d}",
        "collections_today_fen": sum(v[1] for v in col.values()),
        "collections_today_count": sum(v[0] for v in col.values()),
        "refunds_today_fen": sum(v[3] for v in col.values()),
        "liability_fen": sum(v[2] for v in wl if v[2] > 0),
        "arrears_fen": -sum(v[2] for v in wl if v[2] < 0),
    }


def same_dashboard(got, want, who):
    sub = {k: got.get(k) for k in want}
    return check(sub == want, f"{who} dashboard: got {sub}, want {want}")


# ------------------------------------------------------------------------ dashboard
group("dashboard numbers = the database's")
for tok, co, who in ((TOK, acme, "acme"), (BTOK, birch, "birch")):
    r = req("GET", "/api/v1/reports/dashboard", cookie=tok)
    check(r.status == 200, f"{who} dashboard status {r.status}")
    same_dashboard(r.json, dashboard(SCOPE[co]), who)
    check(r.json["collections_today"] == yuan(r.json["collections_today_fen"]) and
          r.json["liability"] == yuan(r.json["liability_fen"]), "decimal strings = fen")
    check(r.json["day"] == TODAY.isoformat(), "day in China time")
    evs = r.json["recent_events"]
    want = [i for (i,) in db(f"""select e.id from event e left join meter m on m.id=e.meter_id left join account a
              on a.id=e.account_id join unit u on u.id=coalesce(m.unit_id, a.unit_id) join building b
              on b.id=u.building_id where b.community_id in ({",".join(map(str, SCOPE[co]))})
              order by e.id desc limit 10""")]
    check([e["id"] for e in evs] == want, f"{who} recent events {[e['id'] for e in evs]} want {want}")
acme_dash = req("GET", "/api/v1/reports/dashboard", cookie=TOK).json
check(acme_dash["collections_today_fen"] == 2000 + 1500 + 3000, f"collections today: {acme_dash['collections_today_fen']}")
check(acme_dash["refunds_today_fen"] == 300 + 500, f"refunds today: {acme_dash['refunds_today_fen']}")
# a community policy override of warn1 counts against its accounts
db_c = sqlite3.connect(A.db, timeout=10)
db_c.execute("update community set policy='{\"warn1\":\"60.00\"}' where id=?", (lakeside,))
db_c.commit()
r = req("GET", "/api/v1/reports/dashboard", cookie=TOK)
same_dashboard(r.json, dashboard(SCOPE[acme]), "acme (warn1 60.00)")
db_c.execute("update community set policy=NULL where id=?", (lakeside,))
db_c.commit()
db_c.close()

# ------------------------------------------------------------------------ collections
group("collections per day and month = the ledger's")


def coll_api(tok, by, frm, to, extra=""):
    return req("GET", f"/api/v1/reports/collections?by={by}&from={frm}&to={to}{extra}", cookie=tok)


frm = (TODAY - datetime.timedelta(days=6)).isoformat()
to = TODAY.isoformat()
for by in ("day", "month"):
    r = coll_api(TOK, by, frm, to)
    check(r.status == 200, f"collections by={by}: {r.status} {r.raw[:200]}")
    want = collections(SCOPE[acme], frm, to, by == "month")
    got = {(i["period"], i["channel"]): [i["count"], i["amount_fen"], i["refund_count"], i["refunds_fen"]]
           for i in r.json["items"]}
    check(got == want, f"collections by={by}: {got} want {want}")
    check(all(i["net_fen"] == i["amount_fen"] - i["refunds_fen"] and i["amount"] == yuan(i["amount_fen"])
              and i["net"] == yuan(i["net_fen"]) for i in r.json["items"]), "net and decimal strings")
    tot = r.json["total"]
    check(tot["amount_fen"] == sum(v[1] for v in want.values()) and tot["refunds_fen"] == sum(v[3] for v in want.values()),
          f"total {tot}")
    check(r.json["channels"]["wechat"]["amount_fen"] == 2000 and r.json["channels"]["wechat"]["refunds_fen"] == 300 and
          r.json["channels"]["alipay"]["amount_fen"] == 1500 and r.json["channels"]["counter"]["amount_fen"] == 3000 and
          r.json["channels"]["counter"]["refunds_fen"] == 500, f"per channel {r.json['channels']}")
    # CSV = JSON
    c = coll_api(TOK, by, frm, to, "&format=csv")
    check(c.status == 200 and c.header1("Content-Type").startswith("text/csv"), f"csv type {c.header1('Content-Type')}")
    cd = c.header1("Content-Disposition") or ""
    check(cd.startswith("attachment;") and re.search(r'filename="wattkeeper-collections-[a-z]+-[0-9-]+-to-[0-9-]+\.csv"', cd),
          f"disposition {cd}")
    check(c.raw.startswith(b"\xef\xbb\xbf"), "UTF-8 with a byte-order mark (Excel)")
    text = c.raw.decode("utf-8-sig")
    check(text.endswith("\r\n") and "\r\n" in text, "CRLF line ends")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    check([(x["period"], x["channel"], int(x["count"]), x["amount"], int(x["refund_count"]), x["refunds"], x["net"])
           for x in rows] ==
          [(i["period"], i["channel"], i["count"], i["amount"], i["refund_count"], i["refunds"], i["net"])
           for i in r.json["items"]], f"csv rows = json rows: {rows}")
# Birch sees only its own payment
r = coll_api(BTOK, "day", frm, to)
check(r.json["total"]["amount_fen"] == 900 and r.json["channels"]["wechat"]["count"] == 1,
      f"birch collections {r.json['total']}")
# a community filter
r = coll_api(TOK, "day", frm, to, f"&community={lakeside}")
check(r.status == 200 and r.json["community_id"] == lakeside and r.json["total"]["amount_fen"] == 6500,
      f"community filter {r.status} {r.json and r.json.get('total')}")
# an empty range
r = coll_api(TOK, "day", "2020-01-01", "2020-01-31")
check(r.status == 200 and r.json["items"] == [] and r.json["total"]["amount_fen"] == 0, "empty range")

# ------------------------------------------------------------------------ consumption
group("consumption per building = the readings'")
yday = (TODAY - datetime.timedelta(days=1)).isoformat()
for by in ("day", "month"):
    r = req("GET", f"/api/v1/reports/consumption?by={by}&from={yday}&to={to}", cookie=TOK)
    check(r.status == 200, f"consumption {by}: {r.status} {r.raw[:200]}")
    want = consumption(SCOPE[acme], yday, to, by == "month")
    got = {(i["period"], i["building_id"]): [i["readings"], i["energy_wh"], i["charged_fen"]] for i in r.json["items"]}
    check(got == want and len(want) > 0, f"consumption by={by}: {got} want {want}")
    check(all(i["energy_kwh"] == f"{i['energy_wh'] // 1000}.{i['energy_wh'] % 1000:03d}" and
              i["charged"] == yuan(i["charged_fen"]) for i in r.json["items"]), "kWh and yuan strings")
    check({i["community_id"] for i in r.json["items"]} == {lakeside}, "only Acme's buildings")
    c = req("GET", f"/api/v1/reports/consumption?by={by}&from={yday}&to={to}&format=csv", cookie=TOK)
    rows = list(csv.DictReader(io.StringIO(c.raw.decode("utf-8-sig"), newline="")))
    check([(x["period"], int(x["building_id"]), x["building"], int(x["energy_wh"]), x["energy_kwh"], x["charged"])
           for x in rows] ==
          [(i["period"], i["building_id"], i["building"], i["energy_wh"], i["energy_kwh"], i["charged"])
           for i in r.json["items"]], "consumption csv = json")
    check('filename="wattkeeper-consumption-' in (c.header1("Content-Disposition") or ""), "consumption filename")
r = req("GET", f"/api/v1/reports/consumption?from={yday}&to={to}", cookie=BTOK)
check(r.status == 200 and {i["community_id"] for i in r.json["items"]} <= {hillview}, "birch consumption: Hillview only")

# ------------------------------------------------------------------------ liability
group("liability = the ledger's wallet balances, to the fen")
for tok, co, who in ((TOK, acme, "acme"), (BTOK, birch, "birch")):
    r = req("GET", "/api/v1/reports/liability", cookie=tok)
    check(r.status == 200, f"{who} liability {r.status}")
    wl = wallets()
    for it in r.json["items"]:
        mine = [v[2] for v in wl.values() if v[0] == it["community_id"]]
        check(it["held_fen"] == sum(b for b in mine if b > 0) and it["arrears_fen"] == -sum(b for b in mine if b < 0)
              and it["accounts"] == len(mine) and it["net_fen"] == sum(mine),
              f"{who} community {it['community_id']}: {it} vs {mine}")
    check([i["community_id"] for i in r.json["items"]] == SCOPE[co], f"{who} communities {r.json['items']}")
    # the ledger's own account columns agree as well
    cached = db(f"""select coalesce(sum(max(la.credits_fen - la.debits_fen, 0)), 0) from account a
        join ledger_account la on la.id=a.wallet_account_id join unit u on u.id=a.unit_id join building b
        on b.id=u.building_id where b.community_id in ({",".join(map(str, SCOPE[co]))})""")[0][0]
    check(r.json["total"]["held_fen"] == cached, f"{who} held {r.json['total']['held_fen']} = ledger {cached}")
    d = req("GET", "/api/v1/reports/dashboard", cookie=tok).json
    check(d["liability_fen"] == r.json["total"]["held_fen"], "dashboard liability = report")
    c = req("GET", "/api/v1/reports/liability?format=csv", cookie=tok)
    rows = list(csv.DictReader(io.StringIO(c.raw.decode("utf-8-sig"), newline="")))
    check(rows and rows[-1]["community"] == "total" and rows[-1]["held"] == r.json["total"]["held"] and
          [x["held"] for x in rows[:-1]] == [i["held"] for i in r.json["items"]], f"liability csv {rows}")
    check(re.search(r'filename="wattkeeper-liability-[0-9-]+\.csv"', c.header1("Content-Disposition") or ""),
          "liability filename")
# all companies together = every wallet of a company's community, to the fen
tot_api = sum(req("GET", "/api/v1/reports/liability", cookie=t).json["total"]["held_fen"] for t in (TOK, BTOK))
wl = wallets()
check(tot_api == sum(v[2] for v in wl.values() if v[0] in (lakeside, hillview) and v[2] > 0), "sum over companies")

# ------------------------------------------------------------------------ validation
group("validation names the parameter")
audit_before = db("select count(*) from audit")[0][0]
for q, field in (("by=week", "by"), ("from=2026-13-01", "from"), ("from=2026-02-30", "from"), ("to=26-01-01", "to"),
                 ("from=1999-12-31", "from"), ("from=2026-03-02&to=2026-03-01", "from"),
                 ("by=day&from=2025-01-01&to=2026-01-02", "to"), ("by=month&from=2010-01-01&to=2020-01-01", "to"),
                 ("community=abc", "community"), ("community=0", "community"), ("format=xml", "format")):
    for rep in ("collections", "consumption"):
        r = req("GET", f"/api/v1/reports/{rep}?{q}", cookie=TOK)
        check(is_error(r, 400, field), f"{rep}?{q}: {r.status} {r.raw[:200]}")
check(req("GET", "/api/v1/reports/collections?by=day&from=2025-01-01&to=2025-12-31", cookie=TOK).status == 200,
      "365 days are fine")
check(req("GET", "/api/v1/reports/collections?by=month&from=2016-12-01&to=2026-11-30", cookie=TOK).status == 200,
      "120 months are fine")
check(is_error(req("GET", "/api/v1/reports/liability?format=pdf", cookie=TOK), 400, "format"), "liability format")
check(db("select count(*) from audit")[0][0] == audit_before, "reports write no audit rows")

# ------------------------------------------------------------------------ access control
group("roles and tenancy")
RES, _ = login("res-101")
OTHERS = {who: login(who)[0] for who in ("acme-tech", "locky", "pwchange")}
for path in ("dashboard", "collections", "consumption", "liability"):
    check(is_error(req("GET", f"/api/v1/reports/{path}", cookie=RES), 403), f"resident {path} 403")
    check(is_error(req("GET", f"/api/v1/reports/{path}"), 401), f"no session {path} 401")
    for who, t in OTHERS.items():
        check(req("GET", f"/api/v1/reports/{path}", cookie=t).status == 200, f"{who} reads {path}")
for cid in (lakeside, orphan, 999999):
    for rep in ("collections", "consumption"):
        r = req("GET", f"/api/v1/reports/{rep}?community={cid}", cookie=BTOK)
        check(is_error(r, 404) and b"Lakeside" not in r.raw, f"birch {rep}?community={cid}: {r.status}")
for rep in ("collections", "consumption", "liability", "dashboard"):
    r = req("GET", f"/api/v1/reports/{rep}?format=csv" if rep != "dashboard" else "/api/v1/reports/dashboard", cookie=BTOK)
    check(b"Lakeside" not in r.raw and b"Shops" not in r.raw, f"birch {rep} shows nothing of Acme")
r = req("GET", "/api/v1/reports/liability", cookie=BTOK)
check(r.json["total"]["held_fen"] == sum(v[2] for v in wallets().values() if v[0] == hillview and v[2] > 0),
      "birch liability is Hillview's alone")
# API tokens of integrations read reports too (GET needs no CSRF)
r = req("GET", "/api/v1/reports/liability", bearer="f" * 64)
check(is_error(r, 401), "unknown API token 401")


# ------------------------------------------------------------------------ SSE
class SSE:
    """A raw-socket EventSource: chunked transfer decoding and SSE message parsing."""

    def __init__(self, cookie=None, last_id=None, accept=True):
        self.s = socket.create_connection(("127.0.0.1", A.port), timeout=10)
        h = "GET /api/v1/events/stream HTTP/1.1\r\nHost: t\r\n"
        if accept:
            h += "Accept: text/event-stream\r\n"
        if cookie:
            h += f"Cookie: wk_session={cookie}\r\n"
        if last_id is not None:
            h += f"Last-Event-ID: {last_id}\r\n"
        self.s.sendall((h + "\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                break
            self.buf += d
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {k.lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:] if ":" in l)}
        self.body = b""  # decoded chunks not yet parsed
        self.closed = False

    def _fill(self, deadline):
        while True:
            # decode complete chunks
            m = re.match(rb"([0-9a-fA-F]+)\r\n", self.buf)
            if m:
                n = int(m.group(1), 16)
                if n == 0:
                    self.closed = True
                    return False
                if len(self.buf) >= m.end() + n + 2:
                    self.body += self.buf[m.end():m.end() + n]
                    self.buf = self.buf[m.end() + n + 2:]
                    return True
            left = deadline - time.time()
            if left <= 0:
                return False
            self.s.settimeout(left)
            try:
                d = self.s.recv(65536)
            except socket.timeout:
                return False
            if not d:
                self.closed = True
                return False
            self.buf += d

    def next(self, timeout=5):
        """the next message {'event','id','data'} or a comment {'comment'}; None on timeout/close"""
        deadline = time.time() + timeout
        while True:
            self.body = self.body.lstrip(b"\n")  # empty lines between messages (liveness)
            if b"\n\n" in self.body:
                break
            if not self._fill(deadline):
                return None
        block, _, self.body = self.body.partition(b"\n\n")
        msg = {}
        for line in block.decode().split("\n"):
            if line.startswith(":"):
                msg["comment"] = line[1:].strip()
            elif ":" in line:
                k, v = line.split(":", 1)
                msg[k] = v[1:] if v.startswith(" ") else v
        return msg

    def until(self, pred, timeout):
        deadline = time.time() + timeout
        seen = []
        while time.time() < deadline:
            m = self.next(deadline - time.time())
            if m is None:
                break
            seen.append(m)
            if pred(m):
                return m, seen
        return None, seen

    def close(self):  # with a reset, as a browser tab that goes away often does
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.s.close()


group("event stream: at most 64 open")
streams = []
for i in range(64):
    x = SSE(cookie=TOK)
    if x.status != 200:
        break
    streams.append(x)
check(len(streams) == 64, f"64 streams open ({len(streams)})")
x = SSE(cookie=TOK)
check(x.status == 503, f"the 65th is 503 ({x.status})")
x.close()
for x in streams:
    x.close()
time.sleep(3)  # gone clients are noticed at the next write (within about 2 s)

group("event stream: first frames, live events, dashboard updates")
r = req("GET", "/api/v1/events/stream", cookie=TOK)
check(is_error(r, 406, "Accept"), f"no Accept: text/event-stream -> 406 ({r.status})")
s = SSE(cookie=TOK)
check(s.status == 200 and s.headers.get("content-type", "").startswith("text/event-stream") and
      s.headers.get("cache-control") == "no-cache", f"stream headers {s.status} {s.headers}")
m = s.next()
check(m and m.get("retry") == "3000", f"retry first: {m}")
m = s.next()
check(m and m.get("event") == "dashboard", f"dashboard first: {m}")
d0 = json.loads(m["data"])
same_dashboard(d0, dashboard(SCOPE[acme]), "stream")
backlog, _ = s.until(lambda x: False, 1.5)
bs = SSE(cookie=BTOK)
bs.until(lambda x: False, 1.5)  # its first frames
last_before = db("select max(id) from event")[0][0]
# a state change: a credit to an Acme account
r = admin(f"/api/v1/accounts/{a101}/credits", {"amount_fen": 1234, "id": uuid.uuid4().hex, "reason": "sse test"})
check(r.status in (200, 201), f"credit {r.status}")
t0 = time.time()
ev, seen = s.until(lambda x: x.get("event") == "event" and json.loads(x["data"])["kind"] == "credit", 5)
check(ev is not None, f"credit event within 5 s: {seen}")
if ev:
    e = json.loads(ev["data"])
    check(e["account_id"] == a101 and int(ev["id"]) == e["id"] and e["id"] > last_before, f"event {ev}")
    credit_id = e["id"]
    print(f"   event after {time.time() - t0:.1f} s")
dm, seen2 = s.until(lambda x: x.get("event") == "dashboard" and
                    json.loads(x["data"])["liability_fen"] == d0["liability_fen"] + 1234, 5)
check(dm is not None, f"dashboard with the new liability: {[x for x in seen + seen2 if x.get('event') == 'dashboard']}")
# Birch's stream saw nothing of it
_, bseen = bs.until(lambda x: False, 2)
check(not any(x.get("event") == "event" and json.loads(x["data"]).get("account_id") == a101 for x in bseen),
      f"birch stream got an Acme event: {bseen}")
check(not any(x.get("event") == "dashboard" for x in bseen), "birch dashboard unchanged by Acme's credit")
bs.close()
s.close()

group("event stream: Last-Event-ID resumes")
s = SSE(cookie=TOK, last_id=credit_id - 1)
msgs, _ = s.until(lambda x: x.get("event") == "event", 3)
check(msgs and int(msgs["id"]) == min(i for (i,) in db(f"""select e.id from event e left join meter m on m.id=e.meter_id
      left join account a on a.id=e.account_id join unit u on u.id=coalesce(m.unit_id, a.unit_id) join building b
      on b.id=u.building_id where b.community_id={lakeside} and e.id >= {credit_id}""")),
      f"resumed at the first event after Last-Event-ID: {msgs}")
s.close()
r = SSE(cookie=TOK, last_id="abc")
check(r.status == 400, f"bad Last-Event-ID 400 ({r.status})")
r.close()
for who, tok, status in (("resident", RES, 403), ("nobody", None, 401)):
    x = SSE(cookie=tok)
    check(x.status == status, f"{who} stream {x.status}")
    x.close()

group("event stream: logout ends it; heartbeat")
t2, c2 = login("acme-tech")
s = SSE(cookie=t2)
s.until(lambda x: False, 1)
req("POST", "/api/v1/logout", {}, cookie=t2, headers={"X-CSRF-Token": c2})
m, seen = s.until(lambda x: x.get("event") == "end", 4)
check(m is not None, f"event: end after logout: {seen}")
check(s.next(3) is None and s.closed, "stream closed after the end")
s.close()
s = SSE(cookie=TOK)
m, seen = s.until(lambda x: "comment" in x, 18)
check(m is not None and m["comment"] == "heartbeat", f"heartbeat within 15 s: {[x for x in seen if 'event' not in x]}")
s.close()
group("event stream: clients that went away are cleaned up")
time.sleep(3)
streams = []
for i in range(64):
    x = SSE(cookie=TOK)
    if x.status != 200:
        break
    streams.append(x)
check(len(streams) == 64, f"64 streams open again ({len(streams)})")
for x in streams:
    x.close()

done()
