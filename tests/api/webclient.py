"""webclient.py - what the HTTP checkers of the web API share (tests/api/*_check.py):
command-line arguments (--port --db, and the optional ones some checkers need), check()/group()
counters that stop at the first failed group, req() over a fresh loopback source address per
group (the login rate limit is per address), login()/Session, is_error() for the error body
shape, wait(), api_token() and db() to read the SQLite file (only to know what exists and to
confirm that rejected requests changed nothing)."""
import argparse, hashlib, http.client, json, os, re, secrets, sqlite3, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--db", required=True)
ap.add_argument("--src")                # the source tree
ap.add_argument("--bin")                # the wattkeeper binary
ap.add_argument("--ini")                # serve's configuration file
ap.add_argument("--token-file")         # a file holding the admin API token
ap.add_argument("--ps", "--paysim", dest="paysim")  # base URL of `wattkeeper paysim serve`
ap.add_argument("--dir")                # the test's scratch directory
ap.add_argument("--sim-pid", type=int)  # pid of `wattkeeper sim`
A = ap.parse_args()
A.ps = A.paysim
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
        """Every value of the header (a list)."""
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def header1(self, name):
        """The first value of the header, or None."""
        return next(iter(self.header(name)), None)


SRC_ADDR = ["127.0.2.0"]


def req(method, path, body=None, cookie=None, csrf=None, ctype="application/json",
        source=None, raw=None, bearer=None, headers=None, timeout=30):
    source = source or SRC_ADDR[0]
    c = http.client.HTTPConnection("127.0.0.1", A.port, timeout=timeout, source_address=(source, 0))
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


def cookie_of(r):
    """(session token, the whole Set-Cookie value) of a login answer, or (None, None)."""
    for v in r.header("Set-Cookie"):
        m = re.match(r"wk_session=([0-9a-f]*);", v)
        if m:
            return m.group(1), v
    return None, None


def login(name, pw=None, source=None, planted=None):
    """(answer, session token, CSRF token) of POST /login; planted = a cookie to bring along."""
    r = req("POST", "/api/v1/login", {"login": name, "password": pw or PW}, cookie=planted, source=source)
    tok, _ = cookie_of(r)
    return r, tok, (r.json or {}).get("csrf")


def login_ok(name, source=None):
    """login() that must succeed."""
    r, tok, csrf = login(name, source=source)
    assert r.status == 200 and tok, (name, r.status, r.raw)
    return r, tok, csrf


class Session:
    """A logged-in user: s.get(path), s.post(path, body) carry the cookie and CSRF token."""

    def __init__(self, name, pw=None):
        r, self.cookie, _ = login(name, pw)
        if r.status != 200:
            raise SystemExit(f"login {name}: {r.status} {r.raw[:200]}")
        self.me = r.json
        self.csrf = r.json["csrf"]

    def get(self, path):
        return req("GET", path, cookie=self.cookie)

    def post(self, path, body=None, csrf=True):
        return req("POST", path, {} if body is None else body, cookie=self.cookie,
                   csrf=self.csrf if csrf else None)


ANY = "-"  # is_error(field=ANY): whatever the field


def is_error(r, status, code=None, field=ANY):
    """r is the error body {code, message, field} with that status (and code, and field:
    None = the field must be null)."""
    e = (r.json or {}).get("error") if isinstance(r.json, dict) else None
    return (r.status == status and e is not None and set(e) == {"code", "message", "field"}
            and (code is None or e["code"] == code) and (field == ANY or e["field"] == field))


def wait(cond, secs=30):
    """cond()'s first true value within secs, polling; else its last value."""
    until = time.time() + secs
    while time.time() < until:
        v = cond()
        if v:
            return v
        time.sleep(0.2)
    return cond()


def api_token(login, name):
    """A new API token of the user, written straight into the database (valid for an hour)."""
    tok = "wkt_" + secrets.token_hex(32)
    c = sqlite3.connect(A.db, timeout=10)
    with c:
        c.execute("insert into api_token (user_id, name, token_sha256, created_s, expires_s)"
                  " select id, ?, ?, ?, ? from app_user where login = ?",
                  (name, hashlib.sha256(tok.encode()).digest(), int(time.time()), int(time.time()) + 3600, login))
    c.close()
    return tok


def group(name):
    if _n["fails"]:
        print(f"{_n['passes']} passed, {_n['fails']} failed (stopped before: {name})")
        sys.exit(1)
    print("--", name, flush=True)
    SRC_ADDR[0] = "127.0.2.%d" % (int(SRC_ADDR[0].rsplit(".", 1)[1]) + 1)


def done():
    group("end")
    print(f"{_n['passes']} checks passed")
