"""Shared core of the loopback test proxies in front of s3rver.

Python 3 standard library only. A proxy is a ThreadingHTTPServer whose
handler reads each request (headers, then the body into a spooled temp
file), lets the subclass decide what to do with it, and forwards it to the
upstream S3 server over a keep-alive connection owned by the client
connection's handler thread. Responses are streamed back as the upstream
sends them: with Content-Length, chunked (re-chunked to the client) or
close-delimited; HEAD, 204 and 304 without a body; Range requests and 206
responses pass through untouched.

Every proxy also answers a small control API under /__proxy/ (a path no S3
bucket can have: bucket names cannot start with '_'):

  GET  /__proxy/stats    JSON counters
  POST /__proxy/config   JSON object merged into the proxy's config
  POST /__proxy/reset    zero the counters

Start-up prints "listening on 127.0.0.1:PORT" on stdout (and writes PORT
to --port-file), so a test can start it on port 0 and learn the port.
"""
import argparse
import http.client
import http.server
import json
import os
import signal
import socket
import socketserver
import struct
import sys
import tempfile
import threading
import time
from xml.sax.saxutils import escape as xml_escape

HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
    "te", "trailer", "trailers", "transfer-encoding", "upgrade",
    "proxy-connection",
}
CHUNK = 64 * 1024
SPOOL_MAX = 16 * 1024 * 1024


class Abort(Exception):
    """Raised to end the client connection at once (RST if rst)."""

    def __init__(self, rst=True):
        super().__init__("abort")
        self.rst = rst


def s3_error_xml(code, message, resource="", request_id="proxy", extra=None):
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<Error>',
             f"<Code>{xml_escape(code)}</Code>",
             f"<Message>{xml_escape(message)}</Message>"]
    if resource:
        parts.append(f"<Resource>{xml_escape(resource)}</Resource>")
    for k, v in (extra or {}).items():
        parts.append(f"<{k}>{xml_escape(str(v))}</{k}>")
    parts.append(f"<RequestId>{xml_escape(request_id)}</RequestId></Error>")
    return "".join(parts).encode()


class ProxyServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(self, addr, handler, upstream, config, verbose=False):
        super().__init__(addr, handler)
        host, _, port = upstream.rpartition(":")
        self.upstream = (host or "127.0.0.1", int(port))
        self.config = config
        self.verbose = verbose
        self.lock = threading.Lock()
        self.stats = {}
        self.reset_stats()

    def reset_stats(self):
        with self.lock:
            self.stats = {"requests": 0, "forwarded": 0, "upstream_errors": 0}
            self.extra_reset()

    def extra_reset(self):
        pass

    def update_config(self, upd):
        """Merge a JSON object into the config; unknown keys are an
        error, values are converted to the existing value's type."""
        with self.lock:
            for k, v in upd.items():
                if k not in self.config:
                    raise KeyError(f"unknown config key {k!r}")
                old = self.config[k]
                if isinstance(old, bool):
                    v = v if isinstance(v, bool) else str(v).lower() in ("1", "true", "yes", "on")
                elif isinstance(old, list) and isinstance(v, str):
                    v = [x for x in v.split(",") if x]
                elif old is not None and not isinstance(old, list):
                    v = type(old)(v)
                self.config[k] = v
            self.config_changed()

    def config_changed(self):
        pass

    def bump(self, key, n=1):
        with self.lock:
            self.stats[key] = self.stats.get(key, 0) + n

    def snapshot_stats(self):
        with self.lock:
            return json.loads(json.dumps(self.stats))


class ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "stowage-test-proxy"
    # The upstream connection, one per client connection (so per thread).
    upstream_conn = None

    # ----------------------------------------------------------- plumbing

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("%s %s\n" % (time.strftime("%H:%M:%S"), fmt % args))
            sys.stderr.flush()

    def log_line(self, msg):
        sys.stderr.write("%s %s\n" % (time.strftime("%H:%M:%S"), msg))
        sys.stderr.flush()

    def handle_expect_100(self):
        # Decide first (a proxy may reject before the body is sent, as S3
        # does); send_continue() is called when the body is wanted.
        self.expect_100 = True
        return True

    def send_continue(self):
        if getattr(self, "expect_100", False):
            self.expect_100 = False
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.wfile.flush()

    def handle_one_request(self):
        self.expect_100 = False
        self.body = None
        try:
            super().handle_one_request()
        except Abort as a:
            self.abort(a.rst)
        except (ConnectionError, socket.timeout, BrokenPipeError):
            self.close_connection = True

    def abort(self, rst=True):
        """End the client connection now: RST (rst) or FIN."""
        self.close_connection = True
        try:
            if rst:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.connection.close()
            else:
                self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass
        self.drop_upstream()

    def drop_upstream(self):
        if self.upstream_conn is not None:
            try:
                self.upstream_conn.close()
            except OSError:
                pass
            self.upstream_conn = None

    def split_target(self):
        target = self.path
        if target.startswith("http://") or target.startswith("https://"):
            rest = target.split("://", 1)[1]
            slash = rest.find("/")
            target = rest[slash:] if slash >= 0 else "/"
        path, _, query = target.partition("?")
        return path, query

    # ------------------------------------------------------------- bodies

    def request_length(self):
        cl = self.headers.get("Content-Length")
        if cl is not None:
            try:
                n = int(cl)
            except ValueError:
                return -2
            return n if n >= 0 else -2
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return -1
        return 0

    def read_body(self, limit=None):
        """Read the request body into a spooled file (self.body); returns
        it. limit: read only that many bytes (a fault), then stop."""
        self.send_continue()
        f = tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX)
        n = self.request_length()
        got = 0
        if n >= 0:
            want = n if limit is None else min(n, limit)
            while got < want:
                b = self.rfile.read(min(CHUNK, want - got))
                if not b:
                    raise ConnectionError("client closed mid-body")
                f.write(b)
                got += len(b)
        elif n == -1:  # chunked
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    raise ConnectionError("client closed mid-chunk")
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                rem = size
                while rem:
                    b = self.rfile.read(min(CHUNK, rem))
                    if not b:
                        raise ConnectionError("client closed mid-chunk")
                    f.write(b)
                    rem -= len(b)
                    got += len(b)
                    if limit is not None and got >= limit:
                        f.seek(0)
                        self.body = f
                        return f
                self.rfile.readline(8)
        f.seek(0)
        self.body = f
        return f

    def drain_or_close(self):
        """Before an early response: consume a small unread body so the
        connection stays usable, else mark it for closing."""
        if self.body is not None:
            return
        n = self.request_length()
        if getattr(self, "expect_100", False):
            self.expect_100 = False  # the client will not send the body
            self.close_connection = True
            return
        if 0 <= n <= 1 << 20:
            try:
                self.read_body()
            except (ConnectionError, OSError):
                self.close_connection = True
        else:
            self.close_connection = True

    # ---------------------------------------------------------- responses

    def send_bytes(self, status, body, ctype="application/xml", headers=None,
                   reason=None):
        self.send_response_only(status, reason)
        self.send_header("Date", self.date_time_string())
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def send_s3_error(self, status, code, message, extra=None, headers=None):
        self.drain_or_close()
        path, _ = self.split_target()
        self.send_bytes(status, s3_error_xml(code, message, path, extra=extra),
                        headers=headers)

    # ----------------------------------------------------------- upstream

    def upstream(self):
        if self.upstream_conn is None:
            host, port = self.server.upstream
            self.upstream_conn = http.client.HTTPConnection(host, port, timeout=300)
        return self.upstream_conn

    def forward(self):
        """Send the request (self.body read already) upstream; return the
        http.client response, headers read, body not yet."""
        body = self.body
        length = 0
        if body is not None:
            body.seek(0, os.SEEK_END)
            length = body.tell()
        for attempt in (0, 1):
            conn = self.upstream()
            try:
                conn.putrequest(self.command, self.path, skip_host=True,
                                skip_accept_encoding=True)
                for k, v in self.headers.items():
                    lk = k.lower()
                    if lk in HOP_BY_HOP or lk in ("content-length", "expect"):
                        continue
                    conn.putheader(k, v)
                if body is not None or self.command in ("PUT", "POST"):
                    conn.putheader("Content-Length", str(length))
                conn.endheaders()
                if body is not None:
                    body.seek(0)
                    while True:
                        b = body.read(CHUNK)
                        if not b:
                            break
                        conn.send(b)
                resp = conn.getresponse()
                self.server.bump("forwarded")
                return resp
            except (ConnectionError, http.client.HTTPException, OSError):
                # A stale keep-alive connection: one more try on a new one.
                self.drop_upstream()
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def response_headers(self, resp):
        out = []
        for k, v in resp.getheaders():
            if k.lower() in HOP_BY_HOP:
                continue
            out.append((k, v))
        return out

    def relay(self, resp, cut_at=None, on_cut=None):
        """Stream resp to the client. cut_at: stop after that many body
        bytes and call on_cut() (a fault), which must end the connection."""
        self.send_response_only(resp.status, resp.reason)
        no_body = (self.command == "HEAD" or resp.status in (204, 304)
                   or 100 <= resp.status < 200)
        length = None
        for k, v in self.response_headers(resp):
            if k.lower() == "content-length":
                length = int(v)
            self.send_header(k, v)
        chunked = False
        if not no_body and length is None:
            if resp.chunked:
                chunked = True
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.close_connection = True
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        sent = 0
        if not no_body:
            while True:
                want = CHUNK
                if cut_at is not None:
                    want = min(want, cut_at - sent)
                    if want <= 0:
                        self.wfile.flush()
                        self.drop_upstream()
                        on_cut()
                        return
                b = resp.read(want)
                if not b:
                    break
                if chunked:
                    self.wfile.write(b"%x\r\n" % len(b) + b + b"\r\n")
                else:
                    self.wfile.write(b)
                sent += len(b)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        else:
            resp.read()
        self.wfile.flush()
        if resp.will_close:
            self.drop_upstream()

    def forward_and_relay(self, **kw):
        try:
            resp = self.forward()
        except (ConnectionError, http.client.HTTPException, OSError) as e:
            self.server.bump("upstream_errors")
            self.log_line(f"upstream error for {self.command} {self.path}: {e}")
            self.close_connection = True
            self.send_s3_error(502, "BadGateway", f"test proxy: upstream failed: {e}")
            return
        self.relay(resp, **kw)

    # ------------------------------------------------------- dispatching

    def control(self):
        path, _ = self.split_target()
        if self.command == "GET" and path == "/__proxy/stats":
            body = json.dumps(self.server.snapshot_stats(), sort_keys=True).encode()
            self.send_bytes(200, body + b"\n", "application/json")
        elif self.command == "POST" and path == "/__proxy/config":
            data = self.read_body().read()
            try:
                upd = json.loads(data or b"{}")
                self.server.update_config(upd)
            except (ValueError, KeyError, TypeError) as e:
                self.send_bytes(400, f"bad config: {e}\n".encode(), "text/plain")
                return
            body = json.dumps(self.server.config, sort_keys=True).encode()
            self.send_bytes(200, body + b"\n", "application/json")
        elif self.command == "POST" and path == "/__proxy/reset":
            self.read_body()
            self.server.reset_stats()
            self.send_bytes(200, b"{}\n", "application/json")
        else:
            self.drain_or_close()
            self.send_bytes(404, b"unknown control request\n", "text/plain")

    def dispatch(self):
        path, _ = self.split_target()
        if path.startswith("/__proxy/"):
            self.control()
            return
        self.server.bump("requests")
        self.handle_s3()

    def handle_s3(self):  # overridden
        self.read_body()
        self.forward_and_relay()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_OPTIONS = dispatch


def common_args(desc):
    ap = argparse.ArgumentParser(description=desc)
    ap.add_argument("--upstream", required=True, help="HOST:PORT of the S3 server")
    ap.add_argument("--port", type=int, default=0, help="port to listen on (0: any free)")
    ap.add_argument("--port-file", help="write the port here once listening")
    ap.add_argument("--verbose", action="store_true", help="log every request")
    ap.add_argument("--tls-cert", help="serve https with this PEM certificate (needs --tls-key)")
    ap.add_argument("--tls-key", help="the certificate's PEM private key")
    return ap


def serve(server, port_file=None, name="proxy", tls_cert=None, tls_key=None):
    if tls_cert:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(tls_cert, tls_key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    port = server.server_address[1]
    if port_file:
        tmp = port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.replace(tmp, port_file)
    print(f"listening on 127.0.0.1:{port}", flush=True)

    def stop(signum, frame):
        sys.stderr.write(f"{name}: final stats {json.dumps(server.snapshot_stats(), sort_keys=True)}\n")
        sys.stderr.flush()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever(poll_interval=0.2)
