#!/usr/bin/env python3
"""Unit tests of kubesim's WebSocket layer (tools/kubesim/kubesim/ws.py) and
of its exec service (execsvc.py) through a plain-HTTP loopback server with a
fake store: framing (masking, 7/16/64-bit lengths, fragmentation, control
frames between fragments, protocol errors), the handshake, the channel
protocol (stdout/stderr/exit status, stdin with the v5 close signal, v4
fallback, pre-upgrade errors).

Run: python3 kubesim_ws_unit.py   (exit 0 when all pass)
"""

import base64
import http.server
import json
import os
import socket
import sys
import tempfile
import threading
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "kubesim"))

from kubesim import ws, execsvc, kubelet  # noqa: E402

MASK = b"\x37\xfa\x21\x3d"


class FramingTest(unittest.TestCase):
    def test_accept_key_rfc_example(self):
        self.assertEqual(ws.accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
                         "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")

    def test_choose_protocol_prefers_v5(self):
        self.assertEqual(ws.choose_protocol("v4.channel.k8s.io, v5.channel.k8s.io",
                                            execsvc.PROTOCOLS), "v5.channel.k8s.io")
        self.assertEqual(ws.choose_protocol("v4.channel.k8s.io,channel.k8s.io",
                                            execsvc.PROTOCOLS), "v4.channel.k8s.io")
        self.assertIsNone(ws.choose_protocol("base64.channel.k8s.io", execsvc.PROTOCOLS))
        self.assertIsNone(ws.choose_protocol(None, execsvc.PROTOCOLS))

    def test_masked_rfc_example(self):
        # RFC 6455 §5.7: a masked "Hello" from a client.
        frame = bytes.fromhex("818537fa213d7f9f4d5158")
        self.assertEqual(ws.FrameParser().feed(frame), [(ws.OP_TEXT, b"Hello")])
        self.assertEqual(ws.encode_frame(ws.OP_TEXT, b"Hello", mask=MASK), frame)

    def test_lengths_7_16_64(self):
        for n, hdr in ((0, 2), (125, 2), (126, 4), (65535, 4), (65536, 10), (70000, 10)):
            payload = os.urandom(n)
            frame = ws.encode_frame(ws.OP_BINARY, payload, mask=MASK)
            self.assertEqual(len(frame), hdr + 4 + n, n)
            self.assertEqual(ws.FrameParser().feed(frame), [(ws.OP_BINARY, payload)], n)
            # the same frame from the server: unmasked
            plain = ws.encode_frame(ws.OP_BINARY, payload)
            self.assertEqual(len(plain), hdr + n)
            self.assertEqual(ws.FrameParser(require_mask=False).feed(plain),
                             [(ws.OP_BINARY, payload)])

    def test_byte_by_byte(self):
        payload = os.urandom(300)
        frame = ws.encode_frame(ws.OP_BINARY, payload, mask=MASK)
        p = ws.FrameParser()
        got = []
        for i in range(len(frame)):
            got += p.feed(frame[i:i + 1])
        self.assertEqual(got, [(ws.OP_BINARY, payload)])

    def test_fragmented_with_ping_between(self):
        p = ws.FrameParser()
        data = (ws.encode_frame(ws.OP_BINARY, b"\x00abc", fin=False, mask=MASK)
                + ws.encode_frame(ws.OP_PING, b"hb", mask=MASK)
                + ws.encode_frame(ws.OP_CONT, b"def", fin=False, mask=MASK)
                + ws.encode_frame(ws.OP_CONT, b"ghi", fin=True, mask=MASK)
                + ws.encode_frame(ws.OP_TEXT, b"next", mask=MASK))
        self.assertEqual(p.feed(data), [(ws.OP_PING, b"hb"),
                                        (ws.OP_BINARY, b"\x00abcdefghi"),
                                        (ws.OP_TEXT, b"next")])

    def test_protocol_errors(self):
        bad = {
            "unmasked": ws.encode_frame(ws.OP_BINARY, b"x"),
            "continuation first": ws.encode_frame(ws.OP_CONT, b"x", mask=MASK),
            "fragmented control": ws.encode_frame(ws.OP_PING, b"x", fin=False, mask=MASK),
            "long control": ws.encode_frame(ws.OP_PING, b"x" * 126, mask=MASK),
            "rsv bits": ws.encode_frame(ws.OP_BINARY, b"x", mask=MASK, rsv=4),
            "opcode 3": ws.encode_frame(3, b"x", mask=MASK),
            "data inside fragments": ws.encode_frame(ws.OP_BINARY, b"a", fin=False, mask=MASK)
            + ws.encode_frame(ws.OP_BINARY, b"b", mask=MASK),
            "non-minimal 16-bit": bytes([0x82, 0x80 | 126, 0, 5]) + MASK + b"12345",
            "64-bit top bit": bytes([0x82, 0x80 | 127]) + b"\x80" + b"\x00" * 7 + MASK,
        }
        for name, frame in bad.items():
            with self.assertRaises(ws.ProtocolError, msg=name):
                ws.FrameParser().feed(frame)

    def test_size_cap_before_allocation(self):
        p = ws.FrameParser(max_message=1000)
        # A header announcing 2^40 bytes: refused from the header alone.
        hdr = bytes([0x82, 0x80 | 127]) + (1 << 40).to_bytes(8, "big") + MASK
        with self.assertRaises(ws.ProtocolError) as cm:
            p.feed(hdr)
        self.assertEqual(cm.exception.code, ws.CLOSE_TOO_BIG)
        p = ws.FrameParser(max_message=1000)
        frag = ws.encode_frame(ws.OP_BINARY, b"a" * 600, fin=False, mask=MASK)
        self.assertEqual(p.feed(frag), [])
        with self.assertRaises(ws.ProtocolError):
            p.feed(ws.encode_frame(ws.OP_CONT, b"b" * 600, mask=MASK))

    def test_close_payload(self):
        f = ws.encode_close(1000, "bye", mask=MASK)
        [(op, payload)] = ws.FrameParser().feed(f)
        self.assertEqual(op, ws.OP_CLOSE)
        self.assertEqual(ws.parse_close(payload), (1000, "bye"))


# ---------------------------------------------------------------- exec end to end

class FakeStore:
    def __init__(self):
        self.pods = {}

    def get(self, group, version, resource, namespace, name):
        if resource == "pods":
            return json.loads(json.dumps(self.pods.get((namespace, name)))) \
                if (namespace, name) in self.pods else None
        return None

    def list(self, group, version, resource, namespace=None):
        return []


STORE = FakeStore()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        parts = u.path.strip("/").split("/")
        # api/v1/namespaces/{ns}/pods/{name}/exec
        execsvc.handle(self, STORE, parts[3], parts[5], urllib.parse.parse_qs(u.query))

    do_POST = do_GET


class Client:
    """A minimal masking WebSocket client speaking the channel protocol."""

    def __init__(self, port, query, protocols="v5.channel.k8s.io, v4.channel.k8s.io",
                 pod="p1", upgrade=True):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = ["GET /api/v1/namespaces/ns/pods/%s/exec?%s HTTP/1.1" % (pod, query),
                 "Host: 127.0.0.1"]
        if upgrade:
            lines += ["Upgrade: websocket", "Connection: Upgrade",
                      "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: " + key]
        if protocols:
            lines.append("Sec-WebSocket-Protocol: " + protocols)
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        self.head = head.decode()
        self.status = int(self.head.split()[1])
        self.key = key
        self.parser = ws.FrameParser(require_mask=False)

    def body(self):
        length = 0
        for line in self.head.split("\r\n"):
            if line.lower().startswith("content-length:"):
                length = int(line.split(":")[1])
        while len(self.buf) < length:
            self.buf += self.sock.recv(4096)
        self.sock.close()
        return json.loads(self.buf[:length])

    def send(self, stream, data):
        self.sock.sendall(ws.encode_frame(ws.OP_BINARY, bytes([stream]) + data,
                                          mask=os.urandom(4)))

    def collect(self):
        """Read until the server's close; (stdout, stderr, status, saw_close)."""
        out = {1: b"", 2: b"", 3: b""}
        msgs = self.parser.feed(self.buf)
        self.buf = b""
        while True:
            for op, payload in msgs:
                if op == ws.OP_CLOSE:
                    self.sock.sendall(ws.encode_close(1000, mask=MASK))
                    self.sock.close()
                    return out[1], out[2], json.loads(out[3] or b"null"), True
                if op == ws.OP_BINARY and payload:
                    out[payload[0]] = out.get(payload[0], b"") + payload[1:]
            data = self.sock.recv(65536)
            if not data:
                self.sock.close()
                return out[1], out[2], json.loads(out[3] or b"null"), False
            msgs = self.parser.feed(data)


def _q(cmd, **flags):
    items = [("command", c) for c in cmd]
    items += [(k, v) for k, v in flags.items()]
    return urllib.parse.urlencode(items)


class ExecTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="kubesim-ws-")
        kubelet._set_host_root(cls.tmp)
        STORE.pods[("ns", "p1")] = {
            "metadata": {"name": "p1", "namespace": "ns", "uid": "uid-1"},
            "spec": {"containers": [{"name": "app", "image": "busybox",
                                     "env": [{"name": "GREETING", "value": "hello"}]}]},
            "status": {"phase": "Running"}}
        STORE.pods[("ns", "pending")] = {
            "metadata": {"name": "pending", "namespace": "ns", "uid": "uid-2"},
            "spec": {"containers": [{"name": "app"}]}, "status": {"phase": "Pending"}}
        cls.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        cls.server.daemon_threads = True
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()
        cls.port = cls.server.server_address[1]

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()

    def test_stdout_stderr_exit_code(self):
        c = Client(self.port, _q(["sh", "-c", "echo hi; echo err >&2; exit 3"],
                                 container="app", stdout="true", stderr="true"))
        self.assertEqual(c.status, 101)
        self.assertIn("Sec-WebSocket-Protocol: v5.channel.k8s.io", c.head)
        self.assertIn("Sec-WebSocket-Accept: " + ws.accept_key(c.key), c.head)
        out, err, st, closed = c.collect()
        self.assertEqual((out, err), (b"hi\n", b"err\n"))
        self.assertEqual(st["status"], "Failure")
        self.assertEqual(st["reason"], "NonZeroExitCode")
        self.assertEqual(st["details"]["causes"], [{"reason": "ExitCode", "message": "3"}])
        self.assertTrue(closed)

    def test_success_env_and_workdir(self):
        c = Client(self.port, _q(["sh", "-c", "echo $GREETING; pwd"], container="app",
                                 stdout="true"))
        out, err, st, _ = c.collect()
        self.assertEqual(st, {"metadata": {}, "status": "Success"})
        self.assertEqual(out.decode().split("\n")[0], "hello")
        self.assertEqual(os.path.realpath(out.decode().split("\n")[1]),
                         os.path.realpath(os.path.join(self.tmp, "containers", "uid-1", "app")))

    def test_stdin_v5_close_signal(self):
        c = Client(self.port, _q(["sh", "-c", "wc -c; echo done"], container="app",
                                 stdin="true", stdout="true"))
        big = b"x" * 70000            # a 64-bit-length frame
        c.send(0, big)
        c.send(0, b"y" * 200)          # a 16-bit-length frame
        c.sock.sendall(ws.encode_frame(ws.OP_PING, b"p", mask=MASK))
        c.send(255, b"\x00")           # v5: close stdin
        out, _, st, _ = c.collect()
        self.assertEqual(out.split(), [b"70200", b"done"])
        self.assertEqual(st["status"], "Success")

    def test_v4_fallback_fragmented_stdin(self):
        c = Client(self.port, _q(["head", "-c", "6"], container="app", stdin="true",
                                 stdout="true"), protocols="v4.channel.k8s.io")
        self.assertIn("Sec-WebSocket-Protocol: v4.channel.k8s.io", c.head)
        c.sock.sendall(ws.encode_frame(ws.OP_BINARY, b"\x00abc", fin=False, mask=MASK)
                       + ws.encode_frame(ws.OP_CONT, b"def", mask=MASK))
        out, _, st, _ = c.collect()
        self.assertEqual(out, b"abcdef")
        self.assertEqual(st["status"], "Success")

    def test_client_gone_kills_process(self):
        marker = os.path.join(self.tmp, "killed-marker")
        c = Client(self.port, _q(["sh", "-c", "sleep 1; touch %s" % marker],
                                 container="app", stdout="true"))
        self.assertEqual(c.status, 101)
        c.sock.close()
        import time
        time.sleep(1.5)
        self.assertFalse(os.path.exists(marker))

    def test_background_child_keeps_pipes(self):
        # The shell exits at once; its background child holds stdout open.
        import time
        t0 = time.monotonic()
        c = Client(self.port, _q(["sh", "-c", "(sleep 4 &); echo x"], container="app",
                                 stdout="true"))
        out, _, st, _ = c.collect()
        self.assertEqual((out, st["status"]), (b"x\n", "Success"))
        self.assertLess(time.monotonic() - t0, 2.5)

    def test_missing_executable(self):
        c = Client(self.port, _q(["no-such-binary-xyz"], container="app", stdout="true"))
        _, _, st, _ = c.collect()
        self.assertEqual(st["status"], "Failure")
        self.assertIn("executable file not found", st["message"])

    def test_errors_before_upgrade(self):
        c = Client(self.port, _q(["true"], container="app", stdout="true"), pod="nope")
        self.assertEqual(c.status, 404)
        self.assertEqual(c.body()["message"], 'pods "nope" not found')
        c = Client(self.port, _q(["true"], container="bad", stdout="true"))
        self.assertEqual(c.status, 400)
        self.assertEqual(c.body()["message"], "container bad is not valid for pod p1")
        c = Client(self.port, _q(["true"], container="app", stdout="true"), pod="pending")
        self.assertEqual(c.status, 400)
        self.assertIn("not running", c.body()["message"])
        c = Client(self.port, _q(["true"], container="app", stdout="true"),
                   protocols="base64.channel.k8s.io")
        self.assertEqual(c.status, 400)
        self.assertIn("subprotocols", c.body()["message"])
        c = Client(self.port, _q(["true"], container="app", stdout="true"), upgrade=False)
        self.assertEqual(c.status, 400)


if __name__ == "__main__":
    unittest.main(verbosity=1)
