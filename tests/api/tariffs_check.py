#!/usr/bin/env python3
"""tariffs_check.py - HTTP checks of the tariff and bill routes, run by
tests/api/tariffs_test.sh against a live `wattkeeper serve`. Reads the SQLite file only to
know what exists and to confirm that rejected requests changed nothing and that a bill
equals the ledger. Exits 1 at the first failed group, printing every failed check."""
import copy, datetime, hashlib, json, os, re, sqlite3, subprocess, sys, tempfile, time
from decimal import Decimal
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import webclient
from webclient import A, check, db, login_ok, group, done, ANY

CST = datetime.timezone(datetime.timedelta(hours=8))


def req(method, path, body=None, s=None, csrf=True, **kw):
    """s = a login() (token, csrf): its cookie, and its CSRF token on state changes unless csrf=False."""
    return webclient.req(method, path, body, cookie=s and s[0], timeout=60,
                         csrf=s[1] if s and csrf and method != "GET" else None, **kw)


def login(name, source):
    """A session (token, csrf); each login from its own loopback address (the login rate
    limit is per address)."""
    return login_ok(name, source)[1:]


def err(r, status, code=None, field=None):
    ok = webclient.is_error(r, status, code, ANY if field is None else field)
    if not ok:
        print("   got", r.status, r.raw[:300])
    return ok


def price_uyuan(s):
    return int(Decimal(str(s)) * 1000000)


def expected_matrix(path):
    """slot -> [uyuan per tier] from an example file, computed here independently."""
    doc = json.load(open(path))
    v = doc["versions"][-1]
    p = v["prices"]
    if "matrix" in p:
        return {s: [price_uyuan(x) for x in xs] for s, xs in p["matrix"].items()}, doc
    inc = [price_uyuan(x) for x in p["additive"]["tier_increments"]]
    return {s: [price_uyuan(b) + i for i in inc] for s, b in p["additive"]["base"].items()}, doc


def yuan4(u):
    s = f"{Decimal(u) / Decimal(1000000):.6f}".rstrip("0")
    whole, frac = s.split(".")
    return whole + "." + frac.ljust(4, "0")


def state():
    return (db("select name, doc, rev, origin from tariff order by name"),
            db("select count(*) from audit")[0][0])


admin, tech, birch, fin, res101, res102, resh11 = (
    login(n, f"127.0.3.{i + 1}") for i, n in enumerate(
        ["acme-admin", "acme-tech", "birch-admin", "locky", "res-101", "res-102", "res-h11"]))
now = datetime.datetime.now(CST)
today = now.date()
tomorrow = today + datetime.timedelta(days=1)

# ---------------------------------------------------------------- list and view
group("list: the tariffs of the caller's communities")
r = req("GET", "/api/v1/tariffs", s=admin)
check(r.status == 200, f"list {r.status} {r.raw[:200]}")
items = {t["name"]: t for t in r.json["items"]}
check(set(items) == {"beijing-residential", "zhejiang-residential"}, f"acme sees {sorted(items)}")
zj = items.get("zhejiang-residential", {})
check([c["name"] for c in zj.get("communities", [])] == ["Lakeside"],
      f"zhejiang used by Lakeside only for Acme (no Birch community named): {zj.get('communities')}")
check(zj.get("can_add") is False, "zhejiang is shared with Birch: Acme cannot add")
check(items.get("beijing-residential", {}).get("can_add") is True, "beijing is Acme's only: can add")
check([v["effective_from"] for v in zj.get("versions", [])] == ["2024-01-01T00:00:00+08:00"],
      f"versions with effective dates {zj.get('versions')}")
check(zj.get("origin") == "file" and zj.get("rev") == 1, "seeded from the file")
r = req("GET", "/api/v1/tariffs", s=birch)
check(r.status == 200 and {t["name"] for t in r.json["items"]} ==
      {"guangdong-residential", "zhejiang-residential"}, f"birch list {r.raw[:300]}")
bz = [t for t in r.json["items"] if t["name"] == "zhejiang-residential"]
check(bz and [c["name"] for c in bz[0]["communities"]] == ["Hillview"], "birch sees only Hillview")
r = req("GET", "/api/v1/tariffs", s=tech)
check(r.status == 200 and all(not t["can_add"] for t in r.json["items"]), "technician: can_add false")
check(err(req("GET", "/api/v1/tariffs", s=res101), 403, "forbidden"), "resident: 403")
check(err(req("GET", "/api/v1/tariffs"), 401), "no session: 401")

group("view: the price matrix equals the example files")
for name in ["zhejiang-residential", "beijing-residential"]:
    exp, doc = expected_matrix(f"{A.src}/examples/tariffs/{name}.json")
    r = req("GET", f"/api/v1/tariffs/{name}", s=tech)
    check(r.status == 200, f"GET {name} {r.status}")
    v = r.json["versions"][-1]
    got = {row["slot"]: [p["price_uyuan_per_kwh"] for p in row["prices"]] for row in v["matrix"]}
    check(got == exp, f"{name} matrix {got} expected {exp}")
    for row in v["matrix"]:
        for p in row["prices"]:
            check(p["price_yuan"] == yuan4(p["price_uyuan_per_kwh"]), f"yuan string {p}")
    vt = doc["versions"][-1]["tiers"]
    check(v["thresholds_kwh"] == vt["thresholds_kwh"], f"thresholds {v['thresholds_kwh']}")
    check(v["thresholds_wh"] == [int(x) * 1000 for x in vt["thresholds_kwh"]], "thresholds in Wh")
    check(v["cycle"] == vt["cycle"] and v["tiers"] == 3, "cycle and tier count")
    check(v["json"] == doc["versions"][-1], "the version's own JSON for the form")
    check(r.json["engine_versions"] == [x["effective_from"] for x in doc["versions"]],
          f"head-end has the same versions {r.json['engine_versions']}")
r = req("GET", "/api/v1/tariffs/zhejiang-residential", s=tech)
v = r.json["versions"][0]
check(v["maps"] == [{"name": "day", "ranges": [
    {"from": "00:00", "to": "08:00", "slot": "valley"}, {"from": "08:00", "to": "22:00", "slot": "peak"},
    {"from": "22:00", "to": "24:00", "slot": "valley"}]}], f"slot map {v['maps']}")
check(v["seasons"] == [{"name": "all-year", "months": list(range(1, 13)), "dates": None,
                        "days": {"workday": "day", "weekend": "day", "holiday": "day"},
                        "thresholds_kwh": []}], f"seasons {v['seasons']}")
check(v["effective_to"] is None and r.json["current_version"] == 0, "open-ended, in force")
r = req("GET", "/api/v1/tariffs/guangdong-residential", s=birch)
gs = {s["name"]: s["thresholds_kwh"] for s in r.json["versions"][0]["seasons"]}
check(gs == {"summer": ["260", "600"], "non-summer": ["200", "400"]}, f"seasonal thresholds {gs}")
for who, name in [(birch, "beijing-residential"), (admin, "guangdong-residential"),
                  (admin, "shanghai-residential"), (admin, "no-such-tariff")]:
    check(err(req("GET", f"/api/v1/tariffs/{name}", s=who), 404, "not_found"),
          f"{name} not visible: 404 like a missing one")
check(err(req("GET", "/api/v1/tariffs/Bad%20Name", s=admin), 404), "bad name 404")
# the sweep: every stored tariff, for staff of both companies: visible iff one of the
# company's communities uses it; residents 403 everywhere
for who, company in [(admin, "Acme Property"), (tech, "Acme Property"), (birch, "Birch Estates")]:
    for (name,) in db("select name from tariff"):
        used = db("select count(*) from community c join company co on co.id=c.company_id"
                  " where c.tariff=? and co.name=?", name, company)[0][0] > 0
        r = req("GET", f"/api/v1/tariffs/{name}", s=who)
        if used:
            check(r.status == 200 and r.json["name"] == name, f"{company} sees {name}")
        else:
            check(err(r, 404, "not_found") and b"versions" not in r.raw, f"{company}: {name} is 404")
    r = req("GET", "/api/v1/tariffs", s=who)
    want = {n for (n,) in db("select distinct c.tariff from community c join company co on co.id=c.company_id"
                             " where co.name=?", company)}
    check({t["name"] for t in r.json["items"]} == want, f"{company}: list = the tariffs its communities use")
for who in (res101, resh11):
    for (name,) in db("select name from tariff"):
        check(err(req("GET", f"/api/v1/tariffs/{name}", s=who), 403, "forbidden"), f"resident: {name} 403")
check(err(req("GET", "/api/v1/tariffs/beijing-residential", s=res101), 403), "resident 403")

# ---------------------------------------------------------------- add a version
group("add a version: validation in place, nothing changes")
bj_doc = json.load(open(f"{A.src}/examples/tariffs/beijing-residential.json"))
newv = copy.deepcopy(bj_doc["versions"][-1])
del newv["effective_from"]
newv["prices"] = {"matrix": {"flat": ["0.5000", "0.5500", "0.8000"]}}
P = "/api/v1/tariffs/beijing-residential/versions"
before = state()
bad = copy.deepcopy(newv)
bad["prices"]["matrix"]["flat"][0] = "abc"
check(err(req("POST", P, {"effective_date": str(tomorrow), "version": bad}, s=admin), 400, "invalid",
          "version.prices.matrix.flat[0]"), "bad price: field names the JSON path")
bad = copy.deepcopy(newv)
bad["tiers"]["cylce"] = "annual"
r = req("POST", P, {"effective_date": str(tomorrow), "version": bad}, s=admin)
check(err(r, 400, "invalid", "version.tiers") and "cylce" in r.json["error"]["message"],
      "unknown key: field version.tiers, message names it")
bad = copy.deepcopy(newv)
bad["prices"]["matrix"]["flat"] = ["0.5", "0.6"]
check(err(req("POST", P, {"effective_date": str(tomorrow), "version": bad}, s=admin), 400, "invalid",
          "version.prices.matrix.flat"), "wrong number of tier prices")
bad = copy.deepcopy(newv)
bad["tiers"]["thresholds_kwh"] = ["4800", "2880"]
check(err(req("POST", P, {"effective_date": str(tomorrow), "version": bad}, s=admin), 400, "invalid",
          "version.tiers.thresholds_kwh[1]"), "decreasing thresholds")
check(err(req("POST", P, {"effective_date": str(today), "version": newv}, s=admin), 400, "invalid",
          "effective_date"), "today is refused (a past bill never changes)")
check(err(req("POST", P, {"effective_date": "2020-01-01", "version": newv}, s=admin), 400, "invalid",
          "effective_date"), "a past date is refused")
check(err(req("POST", P, {"effective_date": "2030-02-30", "version": newv}, s=admin), 400, "invalid",
          "effective_date"), "not a date")
check(err(req("POST", P, {"version": newv}, s=admin), 400, "invalid", "effective_date"), "missing date")
check(err(req("POST", P, {"effective_date": str(tomorrow), "version": "x"}, s=admin), 400, "invalid",
          "version"), "version not an object")
check(err(req("POST", P, {"effective_date": str(tomorrow), "version": newv, "x": 1}, s=admin), 400,
          "invalid", "x"), "unknown field")
bad = dict(newv, effective_to="2040-01-01T00:00:00+08:00")
check(err(req("POST", P, {"effective_date": str(tomorrow), "version": bad}, s=admin), 400, "invalid",
          "version.effective_to"), "effective_to refused")
bad = dict(newv, effective_from="2031-01-01T00:00:00+08:00")
check(err(req("POST", P, {"effective_date": str(tomorrow), "version": bad}, s=admin), 400, "invalid",
          "version.effective_from"), "effective_from must match the date")
check(err(req("POST", P, {"effective_date": str(tomorrow), "version": newv}, s=tech), 403, "forbidden"),
      "technician 403")
check(err(req("POST", P, {"effective_date": str(tomorrow), "version": newv}, s=res101), 403),
      "resident 403")
check(err(req("POST", P, {"effective_date": str(tomorrow), "version": newv}, s=admin, csrf=False), 403,
          "csrf", "X-CSRF-Token"), "no CSRF header 403")
check(err(req("POST", P, {"effective_date": str(tomorrow), "version": newv}, s=admin, ctype="text/plain"),
          415), "not JSON 415")
check(err(req("POST", P, {"effective_date": str(tomorrow), "version": newv}, s=birch), 404, "not_found"),
      "Birch cannot add to (or see) a tariff only Acme uses: 404")
check(err(req("POST", "/api/v1/tariffs/zhejiang-residential/versions",
              {"effective_date": str(tomorrow), "version": newv}, s=admin), 403, "forbidden"),
      "a tariff shared with Birch: Acme cannot change it (403)")
check(err(req("POST", "/api/v1/tariffs/zhejiang-residential/versions",
              {"effective_date": str(tomorrow), "version": newv}, s=birch), 403, "forbidden"),
      "... nor can Birch")
check(err(req("POST", "/api/v1/tariffs/beijing-residential/other", {}, s=admin), 404), "bad route 404")
check(state() == before, "rejected requests changed no tariff and wrote no audit row")

group("add a version: finance, effective tomorrow, the head-end has it")
r = req("POST", P, {"effective_date": str(tomorrow), "version": newv, "reason": "NDRC notice 2026-11"},
        s=fin)
check(r.status == 201, f"finance adds: {r.status} {r.raw[:300]}")
tm = f"{tomorrow}T00:00:00+08:00"
if r.status == 201:
    vs = r.json["versions"]
    check([v["effective_from"] for v in vs] == ["2012-07-01T00:00:00+08:00", tm], f"ordered {vs}")
    check(vs[0]["effective_to"] == tm and vs[1]["effective_to"] is None, "the old version ends at the new")
    check([p["price_uyuan_per_kwh"] for p in vs[1]["matrix"][0]["prices"]] == [500000, 550000, 800000],
          "new prices")
    check(r.json["rev"] == 2 and r.json["origin"] == "web", "rev 2, origin web")
r = req("GET", "/api/v1/tariffs/beijing-residential", s=tech)
check(r.json["engine_versions"] == ["2012-07-01T00:00:00+08:00", tm],
      f"the head-end reloaded without a restart: {r.json['engine_versions']}")
check(r.json["current_version"] == 0, "today the old version is still in force")
row = db("select doc, rev from tariff where name='beijing-residential'")[0]
stored = json.loads(row[0])
check(len(stored["versions"]) == 2 and stored["versions"][1]["effective_from"] == tm and row[1] == 2,
      "stored in the database")
au = db("select login, action, object, object_id, reason, before, after from audit"
        " where action='tariff_version_add' order by id")
check(len(au) == 1, f"one audit row {au}")
if au:
    a = au[0]
    check(a[0] == "locky" and a[2] == "tariff" and a[4] == "NDRC notice 2026-11", f"audit who/why {a}")
    check(json.loads(a[5]) == {"versions": 1, "effective_from": ["2012-07-01T00:00:00+08:00"]},
          f"audit before {a[5]}")
    check(json.loads(a[6]) == {"versions": 2, "effective_from": ["2012-07-01T00:00:00+08:00", tm]},
          f"audit after {a[6]}")
r = req("GET", "/api/v1/audit", s=admin)
check(r.status == 200 and any(x.get("action") == "tariff_version_add" for x in r.json.get("items", [])),
      "the audit row is in Acme's audit list")
r = req("GET", "/api/v1/audit", s=birch)
check(r.status == 200 and not any(x.get("action") == "tariff_version_add" for x in r.json.get("items", [])),
      "... not in Birch's")
before = state()
check(err(req("POST", P, {"effective_date": str(tomorrow), "version": newv}, s=admin), 409, "conflict",
          "effective_date"), "a second version on the same date: 409")
check(state() == before, "the 409 changed nothing")
d5, d3 = tomorrow + datetime.timedelta(days=5), tomorrow + datetime.timedelta(days=3)
v5 = copy.deepcopy(newv)
v5["prices"]["matrix"]["flat"] = ["0.6000", "0.6500", "0.9000"]
check(req("POST", P, {"effective_date": str(d5), "version": v5}, s=admin).status == 201, "admin adds +5")
v3 = dict(copy.deepcopy(newv), effective_from=f"{d3}T00:00:00+08:00")
r = req("POST", P, {"effective_date": str(d3), "version": v3}, s=admin)
check(r.status == 201 and [v["effective_from"] for v in r.json["versions"]] ==
      ["2012-07-01T00:00:00+08:00", tm, f"{d3}T00:00:00+08:00", f"{d5}T00:00:00+08:00"],
      f"a version between two is inserted in order {r.raw[:400]}")
r = req("GET", "/api/v1/tariffs", s=admin)
bj = [t for t in r.json["items"] if t["name"] == "beijing-residential"][0]
check(len(bj["versions"]) == 4 and bj["rev"] == 4, "the list shows 4 versions, rev 4")

# ---------------------------------------------------------------- bills
group("bill of a day: lines, and the total equals the ledger")
os.kill(A.sim_pid, 15)  # readings stop: the ledger and the bill are compared at rest
time.sleep(3)
acct = {u: db("select a.id from account a join unit u on u.id=a.unit_id where u.name=?", u)[0][0]
        for u in ["101", "102", "103", "1-1"]}
start = int(datetime.datetime.combine(today, datetime.time(), CST).timestamp())
for unit in ["101", "103", "1-1"]:
    aid = acct[unit]
    who = resh11 if unit == "1-1" else admin
    r = req("GET", f"/api/v1/bills/{aid}?date={today}", s=who)
    check(r.status == 200, f"bill {unit}: {r.status} {r.raw[:300]}")
    b = r.json
    check(b["consistent"] is True, f"replay equals what was deducted ({unit})")
    rows = db("select r.total_wh, r.deduction_fen, r.energy_wh, m.address from reading r"
              " join meter m on m.id=r.meter_id where r.account_id=? and r.time_s>=? and r.time_s<?",
              aid, start, start + 86400)
    check(b["total_fen"] == sum(x[1] for x in rows), f"total {b['total_fen']} = readings of the day")
    check(b["energy_wh"] == sum(x[2] for x in rows), "energy of the day")
    wallet = db("select wallet_account_id from account where id=?", aid)[0][0]
    led = db("select coalesce(sum(amount_fen),0) from ledger_transfer where debit_account_id=?"
             " and reason like 'energy meter %' and time_s>=? and time_s<?", wallet, start, start + 86400)[0][0]
    check(b["total_fen"] == led, f"{unit}: bill total {b['total_fen']} fen = ledger deductions {led} fen")
    ids = {hashlib.sha256(f"wk-deduct:{x[3]}:{x[0]}".encode()).digest()[:16]: x[1] for x in rows if x[1] > 0}
    by_id = sum(db("select amount_fen from ledger_transfer where id=?", i)[0][0] for i in ids)
    check(by_id == b["total_fen"], "each deduction transfer found by its id")
    check(b["total"] == f"{Decimal(b['total_fen']) / 100:.2f}", "yuan string")
    first = db("select count(*) from reading r where r.account_id=? and r.time_s>=? and r.time_s<?"
               " and not exists (select 1 from reading p where p.meter_id=r.meter_id and p.time_s<r.time_s)",
               aid, start, start + 86400)[0][0]
    check(len(b["intervals"]) == len(rows) - first,
          f"one interval per reading of the day after the meter's first ({len(b['intervals'])}, {len(rows)}, {first})")
    exact = 0
    for iv in b["intervals"]:
        s = 0
        for l in iv["lines"]:
            check(l["amount_nyuan"] == l["energy_wh"] * l["price_uyuan_per_kwh"], f"amount = kWh x price {l}")
            check(l["slot"] in ("peak", "valley") and 1 <= l["tier"] <= 3, "tier and slot")
            check(l["version_effective_from"] == "2024-01-01T00:00:00+08:00", "tariff version named")
            s += l["amount_nyuan"]
        exact += s
        check(sum(l["energy_wh"] for l in iv["lines"]) == iv["energy_wh"], "lines cover the interval's energy")
    check(sum(l["amount_nyuan"] for l in b["lines"]) == exact, "day lines = sum of interval lines")
    check(sum(l["energy_wh"] for l in b["lines"]) == b["energy_wh"], "day lines cover the energy")
    if unit == "101":
        check(b["total_fen"] > 0 and len(b["lines"]) >= 1, f"101 has deductions today {b['total_fen']}")
        check(b["tariff"] == "zhejiang-residential" and b["date"] == str(today), "tariff and date")
r = req("GET", f"/api/v1/bills/{acct['101']}?date=2020-01-01", s=tech)
check(r.status == 200 and r.json["total_fen"] == 0 and r.json["intervals"] == [], "a day without readings")

group("bill: re-rating starts at a billing cycle, exactly (monthly tiers, `wattkeeper rate`)")
# Synthetic history on Birch Annex (guangdong-residential: monthly cycles, summer tiers
# 260 / 600 kWh): a meter read every 6 h from 25 July to 5 September 2026 at 03, 09, 15, 21 h
# (intervals straddle the cycle starts). The deductions the head-end would have booked are
# computed by `wattkeeper rate` (the same engine, from the first reading) and stored; the
# bill re-rates from the latest cycle start it can and must reproduce them exactly.
conn = sqlite3.connect(A.db, timeout=10)
cur = conn.cursor()
cid = cur.execute("select id from community where name='Birch Annex'").fetchone()[0]
cur.execute("insert into building (community_id, name) values (?, 'BA1')", (cid,))
bid = cur.lastrowid
cur.execute("insert into unit (building_id, name, kind) values (?, 'BA-1', 'home')", (bid,))
uid = cur.lastrowid
cur.execute("insert into meter (address, unit_id, close_mode, auth, key) values ('990000000001', ?, 'direct', 'plain', x'00')", (uid,))
mid = cur.lastrowid
cur.execute("insert into account (unit_id, holder, kind, wallet_account_id, status, opened_s)"
            " values (?, 'synthetic', 'resident', 987654321, 'closed', 0)", (uid,))
syn = cur.lastrowid
conn.commit()
t0 = int(datetime.datetime(2026, 7, 25, 3, tzinfo=CST).timestamp())
rows, total = [], 1000000  # Wh
for i in range(0, 4 * 43):
    ts = t0 + i * 6 * 3600
    if i:
        total += 3000 + (i * 7919) % 4000  # 3..7 kWh per 6 h
    rows.append((ts, total))
csv = "time,meter,total_kwh,t1_kwh,t2_kwh,t3_kwh,t4_kwh\n" + "".join(
    f"{datetime.datetime.fromtimestamp(ts, CST).isoformat()},990000000001,{w / 1000:.3f},0,0,{w / 1000:.3f},0\n"
    for ts, w in rows)
with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
    f.write(csv)
out = subprocess.run([A.bin, "rate", "--tariff", f"{A.src}/examples/tariffs/guangdong-residential.json",
                      "--readings", f.name, "--json"], capture_output=True, text=True)
os.unlink(f.name)
check(out.returncode == 0, f"wattkeeper rate: {out.stderr[:300]}")
rated = {int(datetime.datetime.fromisoformat(l["to"]).timestamp()): l["deduction_fen"]
         for l in json.loads(out.stdout)["lines"]}
check(len(rated) == len(rows) - 1, f"one deduction per interval ({len(rated)})")
prev = None
for ts, w in rows:
    cur.execute("insert into reading (meter_id, total_wh, time_s, t1_wh, t2_wh, t3_wh, t4_wh, energy_wh,"
                " deduction_fen, account_id) values (?, ?, ?, 0, 0, ?, 0, ?, ?, ?)",
                (mid, w, ts, w, w - prev if prev else 0, rated.get(ts, 0), syn))
    prev = w
conn.commit()
conn.close()
for day in ["2026-07-25", "2026-07-31", "2026-08-01", "2026-08-02", "2026-08-31", "2026-09-01",
            "2026-09-02", "2026-09-05"]:
    d0 = int(datetime.datetime.fromisoformat(day + "T00:00:00+08:00").timestamp())
    want = sum(v for ts, v in rated.items() if d0 <= ts < d0 + 86400)
    r = req("GET", f"/api/v1/bills/{syn}?date={day}", s=birch)
    check(r.status == 200 and r.json["consistent"] is True and r.json["total_fen"] == want,
          f"{day}: bill {r.json and r.json.get('total_fen')} fen consistent={r.json and r.json.get('consistent')},"
          f" `wattkeeper rate` says {want}")
    if r.status == 200:
        tiers = {l["tier"] for l in r.json["lines"]}
        exact = sum(l["amount_nyuan"] for l in r.json["lines"])
        check(abs(exact - want * 10000000) < 10000000, f"{day}: exact charge within a fen of the deductions")
        if day == "2026-08-31":
            check(2 in tiers and 1 not in tiers, f"{day}: late in the cycle, upper tiers {tiers}")
        if day == "2026-09-02":
            check(tiers == {1}, f"{day}: the new cycle starts again at tier 1 {tiers}")
        if day == "2026-09-01":
            check(1 in tiers and len(tiers) > 1, f"{day}: the interval across the cycle start {tiers}")
check(err(req("GET", f"/api/v1/bills/{syn}?date=2026-09-02", s=admin), 404), "Acme cannot see Birch's account")

group("bill: residents see their own only, tenancy, validation")
check(req("GET", f"/api/v1/bills/{acct['101']}?date={today}", s=res101).status == 200, "resident own 200")
for who, name in [(res101, "res-101"), (res102, "res-102"), (resh11, "res-h11"), (birch, "birch-admin")]:
    mine = db("select account_id from app_user where login=?", name)[0][0]
    for (aid,) in db("select id from account"):
        if name == "birch-admin":
            visible = db("select c.company_id = (select id from company where name='Birch Estates')"
                         " from account a join unit u on u.id=a.unit_id join building b on b.id=u.building_id"
                         " join community c on c.id=b.community_id where a.id=?", aid)[0][0] == 1
        else:
            visible = aid == mine
        r = req("GET", f"/api/v1/bills/{aid}?date={today}", s=who)
        if visible:
            check(r.status == 200, f"{name} sees bill {aid}")
        else:
            check(err(r, 404, "not_found") and b"lines" not in r.raw, f"{name}: bill {aid} is 404")
check(err(req("GET", "/api/v1/bills/999999?date=2026-01-01", s=admin), 404), "unknown account 404")
check(err(req("GET", f"/api/v1/bills/{acct['101']}", s=admin), 400, "invalid", "date"), "missing date")
for bad in ["2026-1-01", "2026-02-30", "yesterday", "2026-01-01x"]:
    check(err(req("GET", f"/api/v1/bills/{acct['101']}?date={bad}", s=admin), 400, "invalid", "date"),
          f"bad date {bad}")
check(err(req("GET", f"/api/v1/bills/{acct['101']}?date={today}"), 401), "no session 401")

done()
