"""webclient.py - what the HTTP checkers of the web API share (tests/api/*_check.py):
command-line arguments (--port --db --src --bin), check()/group() counters that stop at the
first failed group, req() over a fresh loopback source address per group (the login rate
limit is per address), login(), is_error() for the error body shape, and db() to read the
SQLite file (only to know what exists and to confirm that rejected requests changed
nothing)."""
import argparse, http.client, json, os, re, sqlite3, sys

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--db", required=True)
ap.add_argument("--src", required=True)
ap.add_argument("--bin", required=True)
A = ap.parse_args()
PW, PW2 = os.environ["PW"], os.environ.get("PW2", "")
_n = {"fails": 0, "passes": 0}


def check(cond, what):
    if cond:
        _n["passes"] += 1
    else:
        _n["fails"] += 1
        print("FAIL:", what, flush=True)
    return cond


def db(sql, *args):
    c = sqlite3.connect(A.db, timeout=10)
    try:
        return c.execute(sql, args).fetchall()
    finally:
        c.close()


class Resp:
    def __init__(self, r):
        self.status = r.status
        self.headers = r.getheaders()
        self.raw = r.read()
        try:
            self.json = json.loads(self.raw) if self.raw else None
        except ValueError:
            self.json = None

    def header(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]


SRC_ADDR = ["127.0.2.0"]


def req(method, path, body=None, cookie=None, csrf=None, ctype="application/json",
        source=None, raw=None, bearer=None, headers=None):
    source = source or SRC_ADDR[0]
    c = http.client.HTTPConnection("127.0.0.1", A.port, timeout=30, source_address=(source, 0))
    h = dict(headers or {})
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
    if data is not None and ctype:
        h["Content-Type"] = ctype
    if cookie:
        h["Cookie"] = "wk_session=" + cookie
    if csrf:
        h["X-CSRF-Token"] = csrf
    if bearer:
        h["Authorization"] = "Bearer " + bearer
    c.request(method, path, body=data, headers=h)
    r = Resp(c.getresponse())
    c.close()
    return r


class Session:
    """A logged-in user: s.get(path), s.post(path, body) carry the cookie and CSRF token."""

    def __init__(self, name, pw=None):
        r = req("POST", "/api/v1/login", {"login": name, "password": pw or PW})
        if r.status != 200:
            raise SystemExit(f"login {name}: {r.status} {r.raw[:200]}")
        self.me = r.json
        self.csrf = r.json["csrf"]
        self.cookie = None
        for v in r.header("Set-Cookie"):
            m = re.match(r"wk_session=([0-9a-f]*);", v)
            if m:
                self.cookie = m.group(1)

    def get(self, path):
        return req("GET", path, cookie=self.cookie)

    def post(self, path, body=None, csrf=True):
        return req("POST", path, {} if body is None else body, cookie=self.cookie,
                   csrf=self.csrf if csrf else None)


def is_error(r, status, code=None, field=None):
    e = (r.json or {}).get("error") if isinstance(r.json, dict) else None
    return (r.status == status and e is not None and set(e) == {"code", "message", "field"}
            and (code is None or e["code"] == code) and (field is None or e["field"] == field))


def group(name):
    if _n["fails"]:
        print(f"{_n['passes']} passed, {_n['fails']} failed (stopped before: {name})")
        sys.exit(1)
    print("--", name, flush=True)
    SRC_ADDR[0] = "127.0.2.%d" % (int(SRC_ADDR[0].rsplit(".", 1)[1]) + 1)


def done():
    group("end")
    print(f"{_n['passes']} checks passed")
