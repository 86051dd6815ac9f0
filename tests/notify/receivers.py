#!/usr/bin/python3
"""Local receivers for the notification tests (started by notify_test.sh).

  receivers.py DIR WEBHOOK_SECRET SMS_SECRET WECHAT_APPID WECHAT_SECRET

Starts, on loopback:
  - an HTTP server: POST /hook (webhook: checks X-Wattkeeper-Signature over timestamp "."
    body with WEBHOOK_SECRET, deduplicates by Idempotency-Key), POST /sms (checks
    X-Sms-Signature with SMS_SECRET), GET /cgi-bin/token and POST
    /cgi-bin/message/template/send (a WeChat official-account API with the given app id);
  - an SMTP server (aiosmtpd) that requires STARTTLS with DIR/cert.pem + DIR/key.pem.
Every request is appended as one JSON line to DIR/<name>.jsonl. Fault injection through
files: DIR/fail_hook holds N = answer the next N webhook requests with 503; DIR/slow_hook
holds S = sleep S seconds before answering (to kill the sender mid-request).
Writes "http=PORT smtp=PORT" to DIR/ports when ready.
"""
import email, email.policy, hashlib, hmac, json, os, socket, ssl, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse
from aiosmtpd.controller import Controller

DIR, HOOK_SECRET, SMS_SECRET, APPID, APPSECRET = sys.argv[1:6]
lock = threading.Lock()
seen_keys = set()
TOKEN = "tok-" + os.urandom(8).hex()


def record(name, obj):
    with lock:
        with open(os.path.join(DIR, name + ".jsonl"), "a") as f:
            f.write(json.dumps(obj, ensure_ascii=False) + "\n")


def take_fault(name):
    """Returns True (and decrements) when DIR/name holds a positive count."""
    path = os.path.join(DIR, name)
    with lock:
        try:
            n = int(open(path).read().strip() or 0)
        except (OSError, ValueError):
            return False
        if n <= 0:
            return False
        open(path, "w").write(str(n - 1))
        return True


def check_sig(secret, ts, body, sig):
    want = "v1=" + hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    fresh = ts.isdigit() and abs(time.time() - int(ts)) < 300
    return fresh and hmac.compare_digest(want, sig or "")


class Http(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def reply(self, code, obj):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        u = urlparse(self.path)
        q = parse_qs(u.query)
        if u.path == "/cgi-bin/token":
            ok = q.get("appid") == [APPID] and q.get("secret") == [APPSECRET]
            record("wechat_token", {"ok": ok})
            self.reply(200, {"access_token": TOKEN, "expires_in": 7200} if ok else {"errcode": 40013, "errmsg": "invalid appid"})
        else:
            self.reply(404, {})

    def do_POST(self):
        u = urlparse(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if u.path == "/hook":
            key = self.headers.get("Idempotency-Key")
            ok = check_sig(HOOK_SECRET, self.headers.get("X-Wattkeeper-Timestamp", ""), body,
                           self.headers.get("X-Wattkeeper-Signature"))
            msg = json.loads(body) if ok else {}
            record("hook_start", {"key": key})
            try:
                time.sleep(float(open(os.path.join(DIR, "slow_hook")).read().strip() or 0))
            except (OSError, ValueError):
                pass
            if not ok:
                record("hook", {"key": key, "status": 401})
                return self.reply(401, {"error": "bad signature"})
            if take_fault("fail_hook"):
                record("hook", {"key": key, "status": 503, "event": msg.get("event")})
                return self.reply(503, {"error": "injected"})
            with lock:
                dup = key in seen_keys
                seen_keys.add(key)
            record("hook", {"key": key, "status": 200, "dup": dup, "event": msg.get("event"),
                            "id": msg.get("id"), "lang": msg.get("lang"), "text": msg.get("text"),
                            "subject": msg.get("subject")})
            return self.reply(200, {"ok": True})
        if u.path == "/sms":
            ok = check_sig(SMS_SECRET, self.headers.get("X-Sms-Timestamp", ""), body,
                           self.headers.get("X-Sms-Signature"))
            msg = json.loads(body) if ok else {}
            record("sms", {"ok": ok, "to": msg.get("to"), "event": msg.get("event"), "text": msg.get("text"),
                           "key": msg.get("idempotency_key")})
            return self.reply(200 if ok else 401, {})
        if u.path == "/cgi-bin/message/template/send":
            q = parse_qs(u.query)
            if q.get("access_token") != [TOKEN]:
                return self.reply(200, {"errcode": 40001, "errmsg": "invalid credential"})
            msg = json.loads(body)
            record("wechat", {"touser": msg.get("touser"), "template_id": msg.get("template_id"),
                              "first": msg["data"]["first"]["value"], "text": msg["data"]["keyword1"]["value"]})
            return self.reply(200, {"errcode": 0, "errmsg": "ok", "msgid": 1})
        self.reply(404, {})


class Smtp:
    async def handle_DATA(self, server, session, envelope):
        m = email.message_from_bytes(envelope.content, policy=email.policy.default)
        record("mail", {"from": envelope.mail_from, "to": envelope.rcpt_tos, "subject": str(m["subject"]),
                        "message_id": str(m["message-id"]), "event": str(m["x-wattkeeper-event"]),
                        "text": m.get_content().strip(), "tls": session.ssl is not None})
        return "250 OK"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(os.path.join(DIR, "cert.pem"), os.path.join(DIR, "key.pem"))
smtp_port = free_port()
ctl = Controller(Smtp(), hostname="127.0.0.1", port=smtp_port, tls_context=ctx, require_starttls=True)
ctl.start()
httpd = ThreadingHTTPServer(("127.0.0.1", 0), Http)
with open(os.path.join(DIR, "ports.tmp"), "w") as f:
    f.write(f"http={httpd.server_address[1]} smtp={smtp_port}\n")
os.rename(os.path.join(DIR, "ports.tmp"), os.path.join(DIR, "ports"))
try:
    httpd.serve_forever()
finally:
    ctl.stop()
