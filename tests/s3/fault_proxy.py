#!/usr/bin/env python3
"""A loopback proxy in front of an S3 server that injects faults.

Fault kinds (each request gets at most one):
  drop_request   read half of the request body (none if it has none), then
                 reset the connection (RST); nothing reaches the server
  drop_response  forward the request (the server carries it out), send the
                 response headers and half of the body, then reset the
                 connection (RST); with no body, reset before the headers
  truncate       forward, send the headers with the full Content-Length but
                 only half of the body, then close cleanly (FIN)
  error500       read the body, answer 500 InternalError (S3 XML) without
                 forwarding; the connection stays usable
  error503       the same with 503 SlowDown ("Please reduce your request
                 rate.")
  delay          read the body, wait `delay` seconds (past the client's
                 deadline), then close without forwarding
  stall          forward, send the headers and half of the body, wait
                 `delay` seconds, then close

Modes:
  off         forward everything
  transient   each request is faulted with probability `rate`, the kind
              drawn from `kinds`
  persistent  every request is faulted (kind drawn from `kinds`)

The decision for a request is a hash of (seed, method, target, how many
times that same method+target was seen before), so it does not depend on
thread timing: with one seed the same requests fail the same way on every
run, and a retry of a faulted request is decided afresh.

Configuration: command-line options, overridden by the environment
(FAULT_MODE, FAULT_RATE, FAULT_KINDS=comma list, FAULT_SEED, FAULT_DELAY,
FAULT_METHODS=comma list of HTTP methods to fault, default all,
FAULT_FIRST_N=fault only the first N sightings of a method+target: with
mode persistent and 1, every distinct request fails exactly once;
FAULT_MIN_FAULTS=in mode transient, fault every request until this many
have been faulted since the last reset, so a short run of requests cannot
escape the faults by chance),
and at run time by POST /__proxy/config with a JSON object, e.g.
{"mode": "persistent", "kinds": ["error503"]}. GET /__proxy/stats gives
requests, forwarded, faulted and a count per kind.

usage: fault_proxy.py --upstream 127.0.0.1:PORT [--mode transient]
           [--rate 0.15] [--kinds drop_request,error503,...] [--seed 1]
           [--delay 5] [--port-file F] [--self-check]

--self-check: run every fault kind in persistent mode against the
upstream with plain HTTP requests and check that each produces the
failure it promises (the upstream need not check signatures, so run it
against a test s3rver started with S3RVER_ALLOW_MISMATCHED=1 or point it
at any HTTP server that answers GET /).
"""
import hashlib
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import proxycore  # noqa: E402

KINDS = ["drop_request", "drop_response", "truncate", "error500", "error503",
         "delay", "stall"]


class FaultServer(proxycore.ProxyServer):
    def extra_reset(self):
        self.stats.update({"faulted": 0, "by_kind": {k: 0 for k in KINDS}})
        self.seen = {}
        self.decided = 0  # faults decided since the last reset

    def config_changed(self):
        c = self.config
        if c["mode"] not in ("off", "transient", "persistent"):
            raise ValueError(f"mode {c['mode']!r}: want off, transient or persistent")
        bad = [k for k in c["kinds"] if k not in KINDS]
        if bad or not c["kinds"]:
            raise ValueError(f"kinds {c['kinds']!r}: want a non-empty subset of {','.join(KINDS)}")
        if not 0 <= c["rate"] <= 1:
            raise ValueError(f"rate {c['rate']}: want 0..1")

    def decide(self, method, target):
        with self.lock:
            c = dict(self.config)
            if c["mode"] == "off":
                return None
            if c["methods"] and method not in c["methods"]:
                return None
            key = (method, target)
            n = self.seen.get(key, 0)
            self.seen[key] = n + 1
            if c["first_n"] > 0 and n >= c["first_n"]:
                return None
            forced = self.decided < c.get("min_faults", 0)
            h = hashlib.sha256(f"{c['seed']}|{method}|{target}|{n}".encode()).digest()
            r = int.from_bytes(h[:8], "big") / 2.0**64
            if c["mode"] == "transient" and r >= c["rate"] and not forced:
                return None
            self.decided += 1
        kinds = c["kinds"]
        return kinds[int.from_bytes(h[8:16], "big") % len(kinds)]


class FaultHandler(proxycore.ProxyHandler):
    def cut_point(self, resp):
        n = resp.getheader("Content-Length")
        if n is not None:
            return int(n) // 2
        return 1  # chunked or close-delimited: cut after the first byte

    def no_body(self, resp):
        return (self.command == "HEAD" or resp.status in (204, 304)
                or resp.getheader("Content-Length") == "0")

    def handle_s3(self):
        kind = self.server.decide(self.command, self.path)
        if kind is None:
            self.read_body()
            self.forward_and_relay()
            return
        self.server.bump("faulted")
        with self.server.lock:
            self.server.stats["by_kind"][kind] += 1
        self.log_line(f"FAULT {kind}: {self.command} {self.path}")
        delay = self.server.config["delay"]
        if kind == "drop_request":
            n = self.request_length()
            half = n // 2 if n > 0 else 0
            if half:
                self.read_body(limit=half)
            raise proxycore.Abort(rst=True)
        if kind in ("error500", "error503"):
            self.read_body()
            if kind == "error500":
                self.send_s3_error(500, "InternalError",
                                   "We encountered an internal error. Please try again.")
            else:
                self.send_s3_error(503, "SlowDown", "Please reduce your request rate.")
            return
        if kind == "delay":
            self.read_body()
            time.sleep(delay)
            raise proxycore.Abort(rst=False)
        # The rest forward the request and spoil the response.
        self.read_body()
        try:
            resp = self.forward()
        except (ConnectionError, OSError) as e:
            self.server.bump("upstream_errors")
            self.log_line(f"upstream error: {e}")
            raise proxycore.Abort(rst=True)
        if kind == "drop_response":
            if self.no_body(resp):
                self.drop_upstream()
                raise proxycore.Abort(rst=True)

            def cut():
                raise proxycore.Abort(rst=True)
            self.relay(resp, cut_at=self.cut_point(resp), on_cut=cut)
            return
        if kind == "truncate":
            if self.no_body(resp):
                # Nothing to truncate: close before the status line.
                self.drop_upstream()
                raise proxycore.Abort(rst=False)

            def cut():
                raise proxycore.Abort(rst=False)
            self.relay(resp, cut_at=self.cut_point(resp), on_cut=cut)
            return
        if kind == "stall":
            def cut():
                time.sleep(delay)
                raise proxycore.Abort(rst=False)
            if self.no_body(resp):
                self.drop_upstream()
                cut()
            self.relay(resp, cut_at=self.cut_point(resp), on_cut=cut)
            return
        raise AssertionError(kind)


# ------------------------------------------------------------ self-check

def self_check(args):
    import http.client
    import socket
    import threading
    cfg = {"mode": "persistent", "rate": 1.0, "kinds": ["error500"], "seed": "1",
           "delay": 1.5, "methods": [], "first_n": 0, "min_faults": 0}
    srv = FaultServer(("127.0.0.1", 0), FaultHandler, args.upstream, cfg)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    port = srv.server_address[1]
    fails = []

    def req(method, path, body=b"", timeout=1.0):
        """-> (status or exception name, body bytes, declared length)"""
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        try:
            c.request(method, path, body=body if method in ("PUT", "POST") else None)
            r = c.getresponse()
            try:
                data = r.read()
            except http.client.IncompleteRead as e:
                return "IncompleteRead", e.partial, r.getheader("Content-Length")
            return r.status, data, r.getheader("Content-Length")
        except (ConnectionResetError, ConnectionAbortedError) as e:
            return type(e).__name__, b"", None
        except http.client.RemoteDisconnected:
            return "RemoteDisconnected", b"", None
        except socket.timeout:
            return "timeout", b"", None
        finally:
            c.close()

    def expect(desc, got, want):
        ok = got[0] in want
        print(f"{'ok' if ok else 'FAIL'}: self-check {desc}: expected {' or '.join(map(str, want))}, got {got[0]}")
        if not ok:
            fails.append(desc)

    # A body to cut: the upstream's answer to GET / (s3rver: an XML
    # document). First without faults.
    srv.update_config({"mode": "off"})
    base = req("GET", "/")
    if not isinstance(base[0], int) or len(base[1]) < 4:
        print(f"FAIL: self-check: upstream GET / gave {base[0]} with {len(base[1])} bytes; need a body")
        return 1
    print(f"ok: self-check mode off forwards: {base[0]}, {len(base[1])} bytes")
    srv.update_config({"mode": "persistent"})
    for kind, want in [("error500", [500]), ("error503", [503]),
                       ("drop_request", ["ConnectionResetError", "RemoteDisconnected"]),
                       ("drop_response", ["ConnectionResetError", "IncompleteRead"]),
                       ("truncate", ["IncompleteRead"]),
                       ("delay", ["timeout"]), ("stall", ["timeout", "IncompleteRead"])]:
        srv.update_config({"kinds": [kind]})
        got = req("GET", "/")
        expect(f"{kind} on GET /", got, want)
        if kind == "error503" and b"<Code>SlowDown</Code>" not in got[1]:
            print("FAIL: self-check error503: expected an S3 XML body with Code SlowDown")
            fails.append("503 body")
    srv.update_config({"kinds": ["drop_request"]})
    expect("drop_request on a PUT with a body", req("PUT", "/x", b"x" * 100000),
           ["ConnectionResetError", "RemoteDisconnected", "BrokenPipeError"])
    srv.update_config({"kinds": ["error500"], "methods": ["PUT"]})
    expect("methods=PUT leaves a GET alone", req("GET", "/"), [base[0]])
    expect("methods=PUT faults a PUT", req("PUT", "/x", b"abc"), [500])
    srv.update_config({"methods": [], "first_n": 1})
    expect("first_n=1: the first GET /?once is faulted", req("GET", "/?once"), [500])
    expect("first_n=1: the second GET /?once is not", req("GET", "/?once"), [base[0]])
    srv.update_config({"mode": "transient", "rate": 0.5, "kinds": ["error500"], "methods": [], "first_n": 0})
    codes = [req("GET", f"/?n={i}")[0] for i in range(40)]
    n500 = codes.count(500)
    ok = 8 <= n500 <= 32
    print(f"{'ok' if ok else 'FAIL'}: self-check transient rate 0.5: expected 8..32 of 40 faulted, got {n500}")
    if not ok:
        fails.append("transient rate")
    srv.reset_stats()
    codes2 = [req("GET", f"/?n={i}")[0] for i in range(40)]
    srv.update_config({"rate": 0.0, "min_faults": 2})
    srv.reset_stats()
    codes3 = [req("GET", f"/?m={i}")[0] for i in range(6)]
    ok = codes3 == [500, 500, base[0], base[0], base[0], base[0]]
    print(f"{'ok' if ok else 'FAIL'}: self-check min_faults=2 at rate 0: expected the first two faulted, got {codes3}")
    if not ok:
        fails.append("min_faults")
    srv.update_config({"rate": 0.5, "min_faults": 0})
    if codes2 != codes:
        print("FAIL: self-check: the same seed gave different faults on a second run")
        fails.append("seed")
    else:
        print("ok: self-check: the same seed faults the same requests again")
    srv.shutdown()
    if fails:
        print(f"fault proxy self-check FAILED: {', '.join(fails)}")
        return 1
    print("fault proxy self-check passed")
    return 0


def main():
    ap = proxycore.common_args(__doc__.split("\n\n")[0])
    ap.add_argument("--mode", default="off", choices=["off", "transient", "persistent"])
    ap.add_argument("--rate", type=float, default=0.15)
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--seed", default="1")
    ap.add_argument("--delay", type=float, default=5.0)
    ap.add_argument("--methods", default="",
                    help="fault only these HTTP methods (comma list; default: all)")
    ap.add_argument("--first-n", type=int, default=0,
                    help="fault only the first N requests of each method+target (0: no limit)")
    ap.add_argument("--self-check", action="store_true")
    args = ap.parse_args()
    if args.self_check:
        sys.exit(self_check(args))
    env = os.environ
    cfg = {
        "mode": env.get("FAULT_MODE", args.mode),
        "rate": float(env.get("FAULT_RATE", args.rate)),
        "kinds": [k for k in env.get("FAULT_KINDS", args.kinds).split(",") if k],
        "seed": env.get("FAULT_SEED", args.seed),
        "delay": float(env.get("FAULT_DELAY", args.delay)),
        "methods": [m for m in env.get("FAULT_METHODS", args.methods).split(",") if m],
        "first_n": int(env.get("FAULT_FIRST_N", args.first_n)),
        "min_faults": int(env.get("FAULT_MIN_FAULTS", 0)),
    }
    srv = FaultServer(("127.0.0.1", args.port), FaultHandler, args.upstream, cfg,
                      verbose=args.verbose)
    srv.config_changed()
    proxycore.serve(srv, args.port_file, "fault_proxy")


if __name__ == "__main__":
    main()
