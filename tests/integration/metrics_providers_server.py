#!/usr/bin/env python3
"""Stand-ins for the metrics providers summit cannot reach from a test:
a web JSON endpoint, Datadog's v1 query API and CloudWatch's
GetMetricData (JSON 1.0 protocol), each speaking its documented wire
format, and checking the credentials as the service would: Datadog's
DD-API-KEY / DD-APPLICATION-KEY headers, and CloudWatch's AWS Signature
Version 4, recomputed here independently from the request received (with
hmac and hashlib; the implementation is checked at start against the
get-vanilla example of AWS's SigV4 test suite).

Usage: python3 metrics_providers_server.py PORT_FILE
Credentials come from the environment: DD_API_KEY, DD_APP_KEY,
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION.

Routes:
  GET  /web/TRACK          {"data": {"errorRate": X, "track": TRACK}}
  GET  /api/v1/query       Datadog: series for the query; a wrong key is
                           answered 403 with the key in the message
  POST /                   CloudWatch: X-Amz-Target ...GetMetricData
  GET  /control?KEY=VALUE  sets a value: web.TRACK (an error rate),
                           dd (the value of Datadog's last point),
                           cw.METRIC (a CloudWatch metric's newest value)
  GET  /stats              JSON: hits per route, rejected requests and why,
                           the headers and bodies received per route
"""
import datetime
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlsplit

LOCK = threading.Lock()
STATE = {
    "values": {"web.canary": 0.001, "web.stable": 0.001, "dd": 0.25, "cw.HTTPCode_Target_5XX_Count": 7.0},
    "hits": {},
    "rejected": [],
    "requests": {},
}
ENV = os.environ


def sha256_hex(b):
    return hashlib.sha256(b).hexdigest()


def hmac256(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def canonical_query(q):
    pairs = []
    for part in q.split("&") if q else []:
        k, _, v = part.partition("=")
        pairs.append((quote(k, safe="-_.~"), quote(v, safe="-_.~")))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def signature(secret, method, path, query, headers, signed, payload, amz_date, region, service):
    """AWS SigV4, from the documented steps; headers: lower-case name -> value."""
    canon_headers = "".join(f"{h}:{' '.join(headers[h].split())}\n" for h in signed)
    canonical = "\n".join([method, quote(path, safe="/-_.~"), canonical_query(query),
                           canon_headers, ";".join(signed), sha256_hex(payload)])
    day = amz_date[:8]
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, sha256_hex(canonical.encode())])
    k = hmac256(("AWS4" + secret).encode(), day)
    k = hmac256(k, region)
    k = hmac256(k, service)
    k = hmac256(k, "aws4_request")
    return hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()


# AWS's SigV4 test suite, get-vanilla: this implementation must agree.
assert signature("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "GET", "/", "",
                 {"host": "example.amazonaws.com", "x-amz-date": "20150830T123600Z"},
                 ["host", "x-amz-date"], b"", "20150830T123600Z", "us-east-1", "service") \
    == "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, code, body, ctype="application/json"):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def note(self, route, body=b""):
        with LOCK:
            STATE["hits"][route] = STATE["hits"].get(route, 0) + 1
            STATE["requests"].setdefault(route, []).append(
                {"method": self.command, "path": self.path, "headers": dict(self.headers.items()),
                 "body": body.decode(errors="replace")})

    def reject(self, code, body, why):
        with LOCK:
            STATE["rejected"].append(why)
        self.reply(code, body)

    def do_GET(self):
        u = urlsplit(self.path)
        q = parse_qs(u.query)
        if u.path == "/stats":
            with LOCK:
                return self.reply(200, STATE)
        if u.path == "/control":
            with LOCK:
                for k, v in q.items():
                    STATE["values"][k] = float(v[0])
            return self.reply(200, {"ok": True})
        if u.path.startswith("/web/"):
            self.note("web")
            track = u.path[len("/web/"):]
            v = STATE["values"].get("web." + track)
            if v is None:
                return self.reply(404, {"error": "no such track"})
            return self.reply(200, {"data": {"errorRate": v, "track": track}})
        if u.path == "/api/v1/query":
            return self.datadog(q)
        self.reply(404, {"error": "not found"})

    def datadog(self, q):
        self.note("datadog")
        if self.headers.get("DD-API-KEY") != ENV["DD_API_KEY"] or \
                self.headers.get("DD-APPLICATION-KEY") != ENV["DD_APP_KEY"]:
            # Echoes the key it got: the test sees summit redact it.
            return self.reject(403, {"errors": ["Forbidden: API key %s is not valid"
                                                % self.headers.get("DD-API-KEY")]},
                               "datadog: bad keys")
        try:
            frm, to, query = int(q["from"][0]), int(q["to"][0]), q["query"][0]
        except (KeyError, ValueError):
            return self.reject(400, {"errors": ["from, to and query are required"]}, "datadog: params")
        if frm >= to:
            return self.reply(400, {"errors": ["from must be before to"]})
        if "nothing" in query:
            series = []
        else:
            v = STATE["values"]["dd"]
            series = [{
                "metric": "trace.http.request.errors", "scope": "service:web,env:prod",
                "tag_set": ["service:web", "env:prod"], "interval": 60, "length": 3,
                "pointlist": [[(to - 120) * 1000.0, v * 2], [(to - 60) * 1000.0, v],
                              [to * 1000.0, None]],
            }]
        self.reply(200, {"status": "ok", "res_type": "time_series", "series": series,
                         "from_date": frm * 1000, "to_date": to * 1000, "query": query})

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        u = urlsplit(self.path)
        if u.path != "/":
            self.note("other", body)
            return self.reply(404, {"error": "not found"})
        self.note("cloudwatch", body)
        if self.headers.get("X-Amz-Target") != "GraniteServiceVersion20100801.GetMetricData" or \
                self.headers.get("Content-Type") != "application/x-amz-json-1.0":
            return self.reject(400, {"__type": "UnknownOperationException"}, "cloudwatch: target")
        why = self.check_sigv4(u, body)
        if why:
            return self.reject(403, {"__type": "com.amazon.coral.service#InvalidSignatureException",
                                     "message": why}, "cloudwatch: " + why)
        req = json.loads(body)
        end = req["EndTime"]
        results = []
        for mq in req["MetricDataQueries"]:
            if "MetricStat" in mq:
                name = mq["MetricStat"]["Metric"]["MetricName"]
            else:
                name = "expr"
            v = STATE["values"].get("cw." + name, 3.0)
            results.append({"Id": mq["Id"], "Label": name, "StatusCode": "Complete",
                            "Timestamps": [end - 60, end - 120], "Values": [v, v + 100]})
        self.reply(200, {"MetricDataResults": results, "Messages": []},
                   "application/x-amz-json-1.0")

    def check_sigv4(self, u, body):
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            return "no AWS4-HMAC-SHA256 Authorization header"
        parts = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
        akid, day, region, service, term = parts["Credential"].split("/")
        signed = parts["SignedHeaders"].split(";")
        amz_date = self.headers.get("X-Amz-Date", "")
        if akid != ENV["AWS_ACCESS_KEY_ID"]:
            return "unknown access key id"
        if (region, service, term) != (ENV["AWS_REGION"], "monitoring", "aws4_request"):
            return f"wrong scope {region}/{service}/{term}"
        if amz_date[:8] != day:
            return "the scope's date is not X-Amz-Date's"
        t = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
        if abs(time.time() - t.timestamp()) > 300:
            return "X-Amz-Date is more than 5 minutes off"
        for h in ("host", "x-amz-date", "content-type", "x-amz-target"):
            if h not in signed:
                return f"{h} is not signed"
        token = ENV.get("AWS_SESSION_TOKEN")
        if token and (self.headers.get("X-Amz-Security-Token") != token or "x-amz-security-token" not in signed):
            return "the session token is missing or not signed"
        headers = {k.lower(): v for k, v in self.headers.items()}
        want = signature(ENV["AWS_SECRET_ACCESS_KEY"], self.command, u.path, u.query, headers,
                         signed, body, amz_date, region, service)
        if not hmac.compare_digest(want, parts["Signature"]):
            return "The request signature we calculated does not match the signature you provided."
        return None


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tmp = sys.argv[1] + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, sys.argv[1])
    srv.serve_forever()


if __name__ == "__main__":
    main()
