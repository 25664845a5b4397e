#!/usr/bin/env python3
"""A recording webhook receiver for summit's notification tests.

Usage: python3 webhook_server.py PORT_FILE LOG_FILE

Listens on 127.0.0.1 on an ephemeral port and writes the port number to
PORT_FILE once it accepts connections. Every request is appended to
LOG_FILE as one JSON line {"method", "path", "headers", "body"} (body as
text) before it is answered, so a test counts what arrived. Runs until
killed. Answers by path:

  /ok/...          200 "ok" (what Slack answers)
  /fail/...        500 "internal error"
  /gone/...        404 "no_service"
  /flaky/N/...     500 for the first N requests to this exact path, then 200
  /slow/S/...      answers 200 after S seconds (a run can be killed meanwhile)
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
HITS = {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def reply(self, code, text):
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:  # the client was killed meanwhile
            pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode("utf-8", "replace") if n else ""
        rec = {"method": self.command, "path": self.path,
               "headers": {k.lower(): v for k, v in self.headers.items()},
               "body": body}
        with LOCK:
            HITS[self.path] = HITS.get(self.path, 0) + 1
            hit = HITS[self.path]
            with open(LOG, "a") as f:
                f.write(json.dumps(rec) + "\n")
        parts = self.path.strip("/").split("/")
        kind = parts[0] if parts else ""
        if kind == "ok":
            self.reply(200, "ok")
        elif kind == "fail":
            self.reply(500, "internal error")
        elif kind == "gone":
            self.reply(404, "no_service")
        elif kind == "flaky" and len(parts) > 1:
            self.reply(500 if hit <= int(parts[1]) else 200,
                       "not yet" if hit <= int(parts[1]) else "ok")
        elif kind == "slow" and len(parts) > 1:
            time.sleep(float(parts[1]))
            self.reply(200, "ok")
        else:
            self.reply(400, "unknown path")

    do_PUT = do_POST


if __name__ == "__main__":
    PORT_FILE, LOG = sys.argv[1], sys.argv[2]
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    with open(PORT_FILE + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(PORT_FILE + ".tmp", PORT_FILE)
    srv.serve_forever()
