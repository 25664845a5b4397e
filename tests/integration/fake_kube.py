#!/usr/bin/env python3
"""A scripted stand-in for a Kubernetes API server, for the client's
failure paths that the simulated cluster never produces on purpose:

  expired    the first watch answers an ERROR 410 Expired; the re-list then
             shows the deployment rolled out (the client must re-list)
  truncated  the watch stream stops in the middle of an event
  badjson    every answer is "not json{"
  auth       answers a ConfigMap and records the Authorization it got

Usage: fake_kube.py MODE PORTFILE COUNTFILE. Writes its port to PORTFILE
and, on every request, "list N" / "watch N" counters to COUNTFILE.
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODE, PORTFILE, COUNTFILE = sys.argv[1], sys.argv[2], sys.argv[3]
counts = {"list": 0, "watch": 0, "get": 0}


def deployment(done):
    d = {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "web", "namespace": "default", "generation": 2,
                      "resourceVersion": "7" if done else "5",
                      "annotations": {"deployment.kubernetes.io/revision": "2"}},
         "spec": {"replicas": 2},
         "status": {"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2 if done else 1,
                    "availableReplicas": 2 if done else 1}}
    return d


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, code, body, ctype="application/json"):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if MODE == "auth":
            with open(COUNTFILE, "a") as f:
                f.write("auth %s\n" % self.headers.get("Authorization"))
            return self.send(200, json.dumps({"kind": "ConfigMap", "apiVersion": "v1",
                                              "metadata": {"name": "x"}, "data": {"a": "1"}}))
        if MODE == "badjson":
            counts["get"] += 1
            self.save()
            return self.send(200, "not json{")
        if "watch=true" in self.path:
            counts["watch"] += 1
            self.save()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if MODE == "expired":
                ev = {"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1",
                      "status": "Failure", "message": "too old resource version: 5 (9)",
                      "reason": "Expired", "code": 410}}
                line = json.dumps(ev) + "\n"
            else:
                line = json.dumps({"type": "MODIFIED", "object": deployment(False)})[:40]
            data = line.encode()
            self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data))
            return
        counts["list"] += 1
        self.save()
        done = MODE == "expired" and counts["list"] > 1
        body = {"kind": "DeploymentList", "apiVersion": "apps/v1",
                "metadata": {"resourceVersion": "9" if done else "5"},
                "items": [deployment(done)]}
        self.send(200, json.dumps(body))

    def save(self):
        with open(COUNTFILE, "w") as f:
            f.write(" ".join("%s %d" % kv for kv in sorted(counts.items())) + "\n")


srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(PORTFILE, "w") as f:
    f.write(str(srv.server_port))
srv.serve_forever()
