#!/usr/bin/env python3
"""A TLS stand-in for a Kubernetes API server's exec subresource, to run
summit's WebSocket exec client over https (the sim speaks plain http):
GET pods/x answers a running pod; GET pods/x/exec upgrades to
v5.channel.k8s.io, sends "hello over tls" on stdout (channel 1) and a
Success Status on channel 3, then closes. Records the Authorization it got.

Usage: wss_server.py PORTFILE LOGFILE CERT KEY
"""
import base64
import hashlib
import json
import ssl
import struct
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORTFILE, LOGFILE, CERT, KEY = sys.argv[1:5]
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def frame(payload, opcode=2):
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        with open(LOGFILE, "a") as f:
            f.write("%s auth=%s\n" % (self.path.split("?")[0], self.headers.get("Authorization")))
        if "/exec" in self.path:
            key = self.headers.get("Sec-WebSocket-Key", "")
            accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
            self.send_response(101)
            self.send_header("Upgrade", "websocket")
            self.send_header("Connection", "Upgrade")
            self.send_header("Sec-WebSocket-Accept", accept)
            self.send_header("Sec-WebSocket-Protocol", "v5.channel.k8s.io")
            self.end_headers()
            status = json.dumps({"metadata": {}, "status": "Success"}).encode()
            self.wfile.write(frame(b"\x01hello over tls\n") + frame(b"\x03" + status) +
                             frame(struct.pack("!H", 1000), opcode=8))
            self.wfile.flush()
            self.close_connection = True
            return
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "x", "namespace": "default"},
               "spec": {"containers": [{"name": "c", "image": "i"}]},
               "status": {"phase": "Running",
                          "containerStatuses": [{"name": "c", "ready": True,
                                                 "state": {"running": {}}}]}}
        body = json.dumps(pod).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(CERT, KEY)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
with open(PORTFILE, "w") as f:
    f.write(str(srv.server_port))
srv.serve_forever()
