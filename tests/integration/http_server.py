#!/usr/bin/env python3
"""A tiny threaded HTTP/1.1 server for summit's integration tests.

Usage: python3 http_server.py PORT_FILE [CERT_PEM KEY_PEM]

Listens on 127.0.0.1 on an ephemeral port and writes the port number to
PORT_FILE once it accepts connections; with CERT_PEM and KEY_PEM it speaks
HTTPS (tests/integration/tls/ holds a self-signed pair for 127.0.0.1).
Runs until killed. Routes:

  /ok                 200 {"ok": true}
  /count[?delay=S]    counts hits; 200 {"count": N}, N = this request's
                      number on arrival (answered after S seconds)
  /flaky?id=X         500 for the first two hits of each id, then 200 JSON
  /hang               sleeps 60 s before answering
  /drop-once?id=X     the first hit of each id: the connection is closed
                      without a byte of reply; later hits: 200 {"hit": N}
  /big                200 with a 5 MiB body (Content-Length announced)
  /slow-big           streams 8 MiB in chunked encoding, 64 KiB every 50 ms
                      (no length announced: a size cap must cut it mid-body)
  /badjson            200, Content-Type application/json, body "{not json"
                      (valid JSON after /control?badjson=good)
  /echo-auth          200 {"ok": true}; records the Authorization and
                      X-Api-Key headers and the query string (echoes none)
  /redirect           302 to /ok
  /control?badjson=good|bad   switches /badjson
  /stats              JSON: hits per path, flaky hits per id, the recorded
                      Authorization / X-Api-Key / query values, the requests in
                      flight now (inflight) and the most at once
                      (max_inflight)
"""
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LOCK = threading.Lock()
STATE = {
    "hits": {},          # path -> count
    "flaky": {},         # id -> count
    "drops": {},         # id -> hits of /drop-once
    "auth": [],          # Authorization values received by /echo-auth
    "api_key": [],       # X-Api-Key values received by /echo-auth
    "queries": [],       # query strings received by /echo-auth
    "inflight": 0,
    "max_inflight": 0,
    "badjson": "bad",
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "summit-test/1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def reply(self, code, body, ctype="application/json"):
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        u = urlsplit(self.path)
        path, q = u.path, parse_qs(u.query)
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        with LOCK:
            STATE["hits"][path] = STATE["hits"].get(path, 0) + 1
            self.hit_no = STATE["hits"][path]
            STATE["inflight"] += 1
            STATE["max_inflight"] = max(STATE["max_inflight"], STATE["inflight"])
        try:
            self.route(path, q)
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            with LOCK:
                STATE["inflight"] -= 1

    def route(self, path, q):
        if path == "/ok":
            return self.reply(200, {"ok": True})
        if path == "/count":
            c = self.hit_no  # this request's number, counted on arrival
            delay = float(q.get("delay", ["0"])[0])
            if delay > 0:
                time.sleep(delay)
            return self.reply(200, {"count": c})
        if path == "/flaky":
            fid = q.get("id", [""])[0]
            with LOCK:
                STATE["flaky"][fid] = STATE["flaky"].get(fid, 0) + 1
                c = STATE["flaky"][fid]
            if c <= 2:
                return self.reply(500, {"error": "flaky", "hit": c})
            return self.reply(200, {"ok": True, "hit": c})
        if path == "/drop-once":
            fid = q.get("id", [""])[0]
            with LOCK:
                STATE["drops"][fid] = STATE["drops"].get(fid, 0) + 1
                c = STATE["drops"][fid]
            if c == 1:
                self.close_connection = True
                return None
            return self.reply(200, {"hit": c})
        if path == "/hang":
            time.sleep(60)
            return self.reply(200, {"ok": True})
        if path == "/big":
            return self.reply(200, b"x" * (5 * 1024 * 1024), "application/octet-stream")
        if path == "/slow-big":
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"y" * 65536
            for _ in range(128):  # 8 MiB over ~6.4 s
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
                time.sleep(0.05)
            self.wfile.write(b"0\r\n\r\n")
            return None
        if path == "/badjson":
            with LOCK:
                mode = STATE["badjson"]
            return self.reply(200, "{not json" if mode == "bad" else '{"fixed": true}')
        if path == "/echo-auth":
            with LOCK:
                STATE["auth"].append(self.headers.get("Authorization"))
                STATE["api_key"].append(self.headers.get("X-Api-Key"))
                STATE["queries"].append(urlsplit(self.path).query)
            return self.reply(200, {"ok": True})
        if path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/ok")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if path == "/control":
            with LOCK:
                if "badjson" in q:
                    STATE["badjson"] = q["badjson"][0]
            return self.reply(200, {"ok": True})
        if path == "/stats":
            with LOCK:
                s = json.loads(json.dumps(STATE))
            return self.reply(200, s)
        return self.reply(404, {"error": "no route " + path})

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # 100+ connections arrive at once


def main():
    if len(sys.argv) not in (2, 4):
        sys.exit("usage: http_server.py PORT_FILE [CERT_PEM KEY_PEM]")
    srv = Server(("127.0.0.1", 0), Handler)
    if len(sys.argv) == 4:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[2], sys.argv[3])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    tmp = sys.argv[1] + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, sys.argv[1])
    srv.serve_forever()


if __name__ == "__main__":
    main()
