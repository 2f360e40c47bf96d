#!/usr/bin/env python3
"""A loopback proxy that verifies AWS Signature Version 4 on every request
before forwarding it to an S3 server (s3rver), as AWS S3 would.

The signature is recomputed independently with botocore's signer
(botocore.auth.S3SigV4Auth: canonical request, string to sign, signing key)
from what arrived on the wire: the client's X-Amz-Date, exactly the
headers listed in its SignedHeaders, its X-Amz-Content-SHA256, the URI
path and query decoded and re-encoded the way S3 canonicalises them, and
the known secret key. On top of the signature itself it checks what S3
checks: the credential scope (access key, date, region, service "s3",
"aws4_request"), a request time within 15 minutes, X-Amz-Content-SHA256
present and, when it is a hash, equal to the SHA-256 of the body that
arrived, every x-amz-* header signed, Host signed, Content-Length on PUT.
A request that fails gets S3's error (403 SignatureDoesNotMatch with the
StringToSign and CanonicalRequest that were expected, 403
InvalidAccessKeyId, 400 XAmzContentSHA256Mismatch, ...) and is not
forwarded.

Config (POST /__proxy/config): access_key, secret_key, region, and
clock_skew_s: seconds the proxy's clock is ahead of the machine's (to
play a server whose clock is off: requests then fail with
RequestTimeTooSkewed, and the proxy's replies carry the skewed Date).

Counters (GET /__proxy/stats): requests, verified, rejected,
unsigned_payload (verified requests whose body was sent UNSIGNED-PAYLOAD)
and rejected_by_code. With --tls-cert/--tls-key it serves https. The last rejections are kept in "last_rejections" and
each is also logged on stderr.

usage: sigv4_proxy.py --upstream 127.0.0.1:PORT [--access-key S3RVER]
           [--secret-key S3RVER] [--region us-east-1] [--port-file F]
           [--self-check]

--self-check: start on a free port, send a correctly signed and a wrongly
signed request (and a few other malformed ones) through itself to the
upstream and exit 0 only if the first is forwarded and every other one is
rejected with the expected code. It proves that a test using this proxy
can fail.
"""
import datetime
import hashlib
import hmac
import http.client
import json
import os
import sys
import threading
from urllib.parse import quote, unquote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import proxycore  # noqa: E402

try:
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.compat import HTTPHeaders
    from botocore.credentials import Credentials
except ImportError as e:  # pragma: no cover
    sys.stderr.write(f"sigv4_proxy.py needs botocore (Debian: python3-botocore): {e}\n")
    sys.exit(3)

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
MAX_SKEW = datetime.timedelta(minutes=15)


class Reject(Exception):
    def __init__(self, status, code, message, extra=None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.extra = extra or {}


class ExactHeadersSigner(S3SigV4Auth):
    """botocore's S3 signer, signing exactly the headers the client
    listed (botocore itself would drop some, e.g. User-Agent and Expect,
    and add Host)."""

    def __init__(self, credentials, region, signed):
        super().__init__(credentials, "s3", region)
        self._signed = signed

    def headers_to_sign(self, request):
        hm = HTTPHeaders()
        for name in self._signed:
            for v in request.headers.get_all(name) or []:
                hm[name] = v
        return hm


def canonical_path(raw_path):
    # S3 canonicalises the decoded path, each byte URI-encoded once
    # except unreserved characters and '/'.
    return quote(unquote(raw_path), safe="/~")


def query_params(raw_query):
    params = []
    if raw_query:
        for pair in raw_query.split("&"):
            if pair == "":
                continue
            k, _, v = pair.partition("=")
            params.append((unquote(k), unquote(v)))
    return params


def parse_authorization(value):
    algo, _, rest = value.strip().partition(" ")
    if algo != "AWS4-HMAC-SHA256":
        raise Reject(400, "AuthorizationHeaderMalformed",
                     f"unsupported authorization algorithm {algo!r} (want AWS4-HMAC-SHA256)")
    fields = {}
    for part in rest.split(","):
        k, eq, v = part.strip().partition("=")
        if not eq:
            raise Reject(400, "AuthorizationHeaderMalformed",
                         f"the authorization header is malformed: bad part {part.strip()!r}")
        fields[k] = v
    for k in ("Credential", "SignedHeaders", "Signature"):
        if k not in fields:
            raise Reject(400, "AuthorizationHeaderMalformed",
                         f"the authorization header is malformed: no {k}")
    return fields


class SigV4Server(proxycore.ProxyServer):
    def extra_reset(self):
        self.stats.update({"verified": 0, "rejected": 0, "rejected_by_code": {},
                           "last_rejections": []})

    def record_reject(self, rej, line):
        with self.lock:
            self.stats["rejected"] += 1
            by = self.stats["rejected_by_code"]
            by[rej.code] = by.get(rej.code, 0) + 1
            last = self.stats["last_rejections"]
            last.append(f"{line}: {rej.status} {rej.code}: {rej.message}")
            del last[:-10]


class SigV4Handler(proxycore.ProxyHandler):
    def date_time_string(self, timestamp=None):
        # A server whose clock is off (config clock_skew_s) says so in
        # the Date of its own replies, as S3 would.
        if timestamp is None:
            import time
            timestamp = time.time() + self.server.config["clock_skew_s"]
        return super().date_time_string(timestamp)

    def verify_headers(self):
        """All checks that need no body; returns the content hash claim."""
        cfg = self.server.config
        auth = self.headers.get("Authorization")
        _, raw_query = self.split_target()
        if auth is None:
            if "X-Amz-Signature=" in raw_query:
                raise Reject(403, "AccessDenied",
                             "presigned URLs are not checked by this test proxy; sign with the Authorization header")
            raise Reject(403, "AccessDenied", "anonymous request: no Authorization header")
        f = parse_authorization(auth)
        scope = f["Credential"].split("/")
        if len(scope) != 5:
            raise Reject(400, "AuthorizationHeaderMalformed",
                         f"the Credential {f['Credential']!r} is not KEY/DATE/REGION/SERVICE/aws4_request")
        akid, sdate, region, service, term = scope
        if akid != cfg["access_key"]:
            raise Reject(403, "InvalidAccessKeyId",
                         "The AWS Access Key Id you provided does not exist in our records.",
                         {"AWSAccessKeyId": akid})
        if cfg["region"] and region != cfg["region"]:
            raise Reject(400, "AuthorizationHeaderMalformed",
                         f"the region '{region}' is wrong; expecting '{cfg['region']}'",
                         {"Region": cfg["region"]})
        if service != "s3" or term != "aws4_request":
            raise Reject(400, "AuthorizationHeaderMalformed",
                         f"the credential scope ends in {service}/{term}, not s3/aws4_request")
        amzdate = self.headers.get("X-Amz-Date")
        if amzdate is None:
            raise Reject(403, "AccessDenied",
                         "AWS authentication requires a valid Date or x-amz-date header (this proxy wants X-Amz-Date)")
        try:
            t = datetime.datetime.strptime(amzdate, "%Y%m%dT%H%M%SZ")
        except ValueError:
            raise Reject(403, "AccessDenied", f"X-Amz-Date {amzdate!r} is not YYYYMMDDTHHMMSSZ")
        if amzdate[:8] != sdate:
            raise Reject(403, "SignatureDoesNotMatch",
                         f"the credential scope date {sdate} is not the X-Amz-Date day {amzdate[:8]}")
        now = datetime.datetime.utcnow() + datetime.timedelta(seconds=cfg["clock_skew_s"])
        if abs(now - t) > MAX_SKEW:
            raise Reject(403, "RequestTimeTooSkewed",
                         "The difference between the request time and the current time is too large.",
                         {"RequestTime": amzdate, "ServerTime": now.strftime("%Y-%m-%dT%H:%M:%SZ")})
        content_sha = self.headers.get("X-Amz-Content-SHA256")
        if content_sha is None:
            raise Reject(400, "InvalidRequest",
                         "Missing required header for this request: x-amz-content-sha256")
        if content_sha.startswith("STREAMING-"):
            raise Reject(501, "NotImplemented",
                         f"x-amz-content-sha256 {content_sha} (aws-chunked) is not supported by this test proxy")
        if content_sha != "UNSIGNED-PAYLOAD" and not (
                len(content_sha) == 64 and all(c in "0123456789abcdef" for c in content_sha)):
            raise Reject(400, "InvalidArgument",
                         f"x-amz-content-sha256 must be UNSIGNED-PAYLOAD or a lowercase SHA-256 hex digest, got {content_sha!r}")
        signed = f["SignedHeaders"].split(";")
        if signed != sorted(signed) or any(h != h.lower() or not h for h in signed):
            raise Reject(403, "SignatureDoesNotMatch",
                         f"SignedHeaders {f['SignedHeaders']!r} must be lowercase and sorted")
        if "host" not in signed:
            raise Reject(403, "SignatureDoesNotMatch", "the Host header is not signed")
        for h in signed:
            if h not in self.headers:
                raise Reject(403, "SignatureDoesNotMatch", f"signed header {h!r} is not in the request")
        unsigned_amz = sorted({k.lower() for k in self.headers.keys()
                               if k.lower().startswith("x-amz-") and k.lower() not in signed})
        if unsigned_amz:
            raise Reject(403, "AccessDenied",
                         "There were headers present in the request which were not signed",
                         {"HeadersNotSigned": ", ".join(unsigned_amz)})
        if self.command == "PUT" and self.request_length() < 0:
            raise Reject(411, "MissingContentLength", "You must provide the Content-Length HTTP header.")

        # The signature, recomputed by botocore.
        raw_path, raw_query = self.split_target()
        host = self.headers["Host"]
        hdrs = HTTPHeaders()
        for h in signed:
            for v in self.headers.get_all(h):
                hdrs[h] = v
        req = AWSRequest(method=self.command, url=f"http://{host}{canonical_path(raw_path)}",
                         headers=hdrs)
        req.params = query_params(raw_query)
        req.context["timestamp"] = amzdate
        signer = ExactHeadersSigner(Credentials(akid, cfg["secret_key"]), region, signed)
        creq = signer.canonical_request(req)
        sts = signer.string_to_sign(req, creq)
        want = signer.signature(sts, req)
        if not hmac.compare_digest(want, f["Signature"]):
            raise Reject(403, "SignatureDoesNotMatch",
                         "The request signature we calculated does not match the signature you provided. "
                         "Check your key and signing method.",
                         {"AWSAccessKeyId": akid, "StringToSign": sts,
                          "SignatureProvided": f["Signature"], "CanonicalRequest": creq})
        return content_sha

    def handle_s3(self):
        line = f"{self.command} {self.path}"
        try:
            content_sha = self.verify_headers()
            body = self.read_body()
            if content_sha == "UNSIGNED-PAYLOAD":
                self.server.bump("unsigned_payload")
            else:
                h = hashlib.sha256()
                while True:
                    b = body.read(proxycore.CHUNK)
                    if not b:
                        break
                    h.update(b)
                body.seek(0)
                if h.hexdigest() != content_sha:
                    raise Reject(400, "XAmzContentSHA256Mismatch",
                                 "The provided 'x-amz-content-sha256' header does not match what was computed.",
                                 {"ClientComputedContentSHA256": content_sha,
                                  "S3ComputedContentSHA256": h.hexdigest()})
        except Reject as rej:
            self.server.record_reject(rej, line)
            self.log_line(f"REJECT {line}: {rej.status} {rej.code}: {rej.message}")
            for k in ("CanonicalRequest", "StringToSign"):
                if k in rej.extra:
                    self.log_line(f"  expected {k}:\n    " + rej.extra[k].replace("\n", "\n    "))
            self.send_s3_error(rej.status, rej.code, rej.message, rej.extra)
            return
        self.server.bump("verified")
        self.forward_and_relay()


# ------------------------------------------------------------ self-check

def sign(method, host, path, query, headers, body, akid, secret, region, when=None):
    """Sign with botocore's S3SigV4Auth the ordinary way (what a correct
    client sends)."""
    import botocore.auth
    req = AWSRequest(method=method, url=f"http://{host}{path}" + (f"?{query}" if query else ""),
                     data=body, headers=dict(headers))
    req.headers["X-Amz-Content-SHA256"] = hashlib.sha256(body or b"").hexdigest()
    signer = S3SigV4Auth(Credentials(akid, secret), "s3", region)
    if when is not None:
        # botocore takes "now" from datetime; sign at a given time by hand.
        req.context["timestamp"] = when
        signer._modify_request_before_signing(req)
        creq = signer.canonical_request(req)
        sts = signer.string_to_sign(req, creq)
        sig = signer.signature(sts, req)
        signer._inject_signature_to_request(req, sig)
    else:
        signer.add_auth(req)
    return {k: v for k, v in req.headers.items()}


def self_check(args):
    srv = SigV4Server(("127.0.0.1", 0), SigV4Handler, args.upstream,
                      {"access_key": args.access_key, "secret_key": args.secret_key,
                       "region": args.region, "clock_skew_s": 0.0})
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    port = srv.server_address[1]
    host = f"127.0.0.1:{port}"
    region = args.region or "us-east-1"
    bucket = args.bucket
    fails = []

    def send(method, path, headers, body=b"", query=""):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.putrequest(method, path + (f"?{query}" if query else ""), skip_host=True,
                     skip_accept_encoding=True)
        for k, v in headers.items():
            c.putheader(k, v)
        if method in ("PUT", "POST") or body:
            c.putheader("Content-Length", str(len(body)))
        c.endheaders()
        if body:
            c.send(body)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, data

    def expect(desc, status, data, want_status, want_code=None):
        code = ""
        if b"<Code>" in data:
            code = data.split(b"<Code>")[1].split(b"</Code>")[0].decode()
        ok = status == want_status and (want_code is None or code == want_code)
        print(f"{'ok' if ok else 'FAIL'}: self-check {desc}: expected {want_status} {want_code or ''}, "
              f"got {status} {code}")
        if not ok:
            fails.append(desc)

    key = f"/{bucket}/sigv4-self-check/obj"
    body = b"hello, signature\n"
    h = sign("PUT", host, key, "", {"Host": host}, body, args.access_key, args.secret_key, region)
    expect("correctly signed PUT", *send("PUT", key, h, body), 200)
    h = sign("GET", host, key, "", {"Host": host, "Range": "bytes=7-15"}, b"",
             args.access_key, args.secret_key, region)
    st, data = send("GET", key, h)
    expect("correctly signed ranged GET", st, data, 206)
    if data != body[7:16]:
        print(f"FAIL: self-check ranged GET body: expected {body[7:16]!r}, got {data!r}")
        fails.append("range body")
    q = "list-type=2&prefix=sigv4-self-check%2F"
    h = sign("GET", host, f"/{bucket}", q, {"Host": host}, b"", args.access_key, args.secret_key, region)
    expect("correctly signed ListObjectsV2 with an encoded prefix", *send("GET", f"/{bucket}", h, query=q), 200)

    h = sign("GET", host, key, "", {"Host": host}, b"", args.access_key, "wrong-secret", region)
    expect("GET signed with a wrong secret", *send("GET", key, h), 403, "SignatureDoesNotMatch")
    h = sign("GET", host, key, "", {"Host": host}, b"", args.access_key, args.secret_key, region)
    sig = h["Authorization"].rsplit("Signature=", 1)[1]
    bad = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    h["Authorization"] = h["Authorization"].replace(sig, bad)
    expect("GET with one signature digit changed", *send("GET", key, h), 403, "SignatureDoesNotMatch")
    h = sign("GET", host, key, "", {"Host": host}, b"", args.access_key, args.secret_key, region)
    expect("GET to another key than signed", *send("GET", key + "x", h), 403, "SignatureDoesNotMatch")
    h = sign("PUT", host, key, "", {"Host": host}, body, args.access_key, args.secret_key, region)
    expect("PUT whose body differs from the signed hash",
           *send("PUT", key, h, body.upper()), 400, "XAmzContentSHA256Mismatch")
    h = sign("GET", host, key, "", {"Host": host}, b"", "NOSUCHKEY", args.secret_key, region)
    expect("GET with an unknown access key", *send("GET", key, h), 403, "InvalidAccessKeyId")
    h = sign("GET", host, key, "", {"Host": host}, b"", args.access_key, args.secret_key, region)
    h["X-Amz-Meta-Sneaky"] = "1"
    expect("GET with an unsigned x-amz-* header", *send("GET", key, h), 403, "AccessDenied")
    old = (datetime.datetime.utcnow() - datetime.timedelta(hours=1)).strftime("%Y%m%dT%H%M%SZ")
    h = sign("GET", host, key, "", {"Host": host}, b"", args.access_key, args.secret_key, region, when=old)
    expect("GET signed an hour ago", *send("GET", key, h), 403, "RequestTimeTooSkewed")
    expect("anonymous GET", *send("GET", key, {"Host": host}), 403, "AccessDenied")
    now = datetime.datetime.utcnow().strftime("%Y%m%dT%H%M%SZ")
    h = {"Host": host, "X-Amz-Date": now, "X-Amz-Content-SHA256": EMPTY_SHA256,
         "Authorization": f"AWS4-HMAC-SHA256 Credential={args.access_key}/{now[:8]}/{region}/s3/aws4_request, "
         "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=" + "0" * 64}
    expect("GET with a made-up signature", *send("GET", key, h), 403, "SignatureDoesNotMatch")
    h = sign("DELETE", host, key, "", {"Host": host}, b"", args.access_key, args.secret_key, region)
    expect("correctly signed DELETE", *send("DELETE", key, h), 204)

    st = srv.snapshot_stats()
    print(f"self-check stats: verified={st['verified']} rejected={st['rejected']} "
          f"by code {json.dumps(st['rejected_by_code'], sort_keys=True)}")
    if st["verified"] != 4 or st["rejected"] != 9:
        print(f"FAIL: self-check counters: expected verified=4 rejected=9, got {st['verified']} {st['rejected']}")
        fails.append("counters")
    srv.shutdown()
    if fails:
        print(f"sigv4 proxy self-check FAILED: {', '.join(fails)}")
        return 1
    print("sigv4 proxy self-check passed")
    return 0


def main():
    ap = proxycore.common_args(__doc__.split("\n\n")[0])
    ap.add_argument("--access-key", default="S3RVER")
    ap.add_argument("--secret-key", default="S3RVER")
    ap.add_argument("--region", default="us-east-1",
                    help="the region the credential scope must name ('' = any)")
    ap.add_argument("--self-check", action="store_true")
    ap.add_argument("--bucket", default="stowage-test",
                    help="an existing bucket (self-check only)")
    args = ap.parse_args()
    if args.self_check:
        sys.exit(self_check(args))
    srv = SigV4Server(("127.0.0.1", args.port), SigV4Handler, args.upstream,
                      {"access_key": args.access_key, "secret_key": args.secret_key,
                       "region": args.region, "clock_skew_s": 0.0}, verbose=args.verbose)
    proxycore.serve(srv, args.port_file, "sigv4_proxy", args.tls_cert, args.tls_key)


if __name__ == "__main__":
    main()
