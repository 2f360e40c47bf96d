"""WebSocket (RFC 6455), server side, as the Kubernetes channel protocols use it.

This module knows nothing about Kubernetes objects. It provides:

- the opening handshake: `check_upgrade()` validates an HTTP request and picks
  a subprotocol, `send_upgrade()` writes the 101 response;
- frame encoding (`encode_frame`) for both directions -- the server sends
  unmasked frames, tests use the same function with a mask to play a client;
- `FrameParser`, an incremental decoder: feed it bytes in any split, it
  returns whole messages (fragments reassembled, masks removed, control
  frames passed through between fragments), and raises `ProtocolError` on
  anything RFC 6455 forbids;
- `Connection`, a socket wrapper used from ONE thread: it answers pings,
  completes the close handshake and serialises writes. Reads and writes of
  one TLS socket must not run concurrently from two threads (OpenSSL objects
  are not thread-safe), so callers multiplex with select() on `fileno()`
  and check `pending()` for bytes that TLS has already decrypted.

Untrusted input: every length comes from the peer; messages are capped at
`max_message` bytes (default 16 MiB) before anything is allocated.
"""

import base64
import hashlib
import select
import struct
import time

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

CLOSE_NORMAL = 1000
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_TOO_BIG = 1009

DEFAULT_MAX_MESSAGE = 16 << 20


class ProtocolError(Exception):
    """The peer broke RFC 6455; `code` is the close code to answer with."""

    def __init__(self, message, code=CLOSE_PROTOCOL_ERROR):
        super().__init__(message)
        self.code = code


# ---------------------------------------------------------------- handshake

def accept_key(key):
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 §4.2.2)."""
    digest = hashlib.sha1((key.strip() + GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


def header_tokens(value):
    """A comma-separated header as a list of trimmed, non-empty tokens."""
    if not value:
        return []
    return [t.strip() for t in value.split(",") if t.strip()]


def choose_protocol(offered, supported):
    """The first of `supported` (server preference order) that the client
    offered, or None. `offered` is the raw Sec-WebSocket-Protocol value (or
    several values joined with ',')."""
    tokens = header_tokens(offered)
    for proto in supported:
        if proto in tokens:
            return proto
    return None


def check_upgrade(headers, supported):
    """Validate a WebSocket upgrade request.

    headers: a mapping with case-insensitive get() (http.client.HTTPMessage).
    Returns (protocol, None) on success or (None, reason) where reason says
    what is wrong, for a 400 answer."""
    upgrade = [t.lower() for t in header_tokens(headers.get("Upgrade"))]
    if "websocket" not in upgrade:
        return None, "not a WebSocket upgrade request"
    connection = [t.lower() for t in header_tokens(headers.get("Connection"))]
    if "upgrade" not in connection:
        return None, "missing 'Connection: Upgrade'"
    if (headers.get("Sec-WebSocket-Version") or "").strip() != "13":
        return None, "unsupported Sec-WebSocket-Version (want 13)"
    key = (headers.get("Sec-WebSocket-Key") or "").strip()
    try:
        if len(base64.b64decode(key, validate=True)) != 16:
            raise ValueError
    except ValueError:
        return None, "invalid Sec-WebSocket-Key"
    offered = ",".join(headers.get_all("Sec-WebSocket-Protocol") or []) \
        if hasattr(headers, "get_all") else headers.get("Sec-WebSocket-Protocol")
    proto = choose_protocol(offered, supported)
    if proto is None:
        return None, ("none of the requested subprotocols %s is supported "
                      "(supported: %s)" % (header_tokens(offered) or "[]",
                                           ", ".join(supported)))
    return proto, None


def send_upgrade(wfile, key, protocol):
    """Write the 101 Switching Protocols response."""
    lines = [
        "HTTP/1.1 101 Switching Protocols",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Accept: " + accept_key(key),
    ]
    if protocol:
        lines.append("Sec-WebSocket-Protocol: " + protocol)
    wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("ascii"))
    wfile.flush()


# ---------------------------------------------------------------- frames

def apply_mask(mask, data):
    """XOR data with the 4-byte mask, repeated (RFC 6455 §5.3)."""
    n = len(data)
    if n == 0:
        return b""
    # One big-integer XOR instead of a Python loop per byte.
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")


def encode_frame(opcode, payload=b"", fin=True, mask=None, rsv=0):
    """One frame. mask: None (server to client) or 4 bytes (client to server)."""
    payload = bytes(payload)
    head = bytearray()
    head.append((0x80 if fin else 0) | (rsv & 0x7) << 4 | (opcode & 0x0F))
    mbit = 0x80 if mask is not None else 0
    n = len(payload)
    if n < 126:
        head.append(mbit | n)
    elif n < 1 << 16:
        head.append(mbit | 126)
        head += struct.pack("!H", n)
    else:
        head.append(mbit | 127)
        head += struct.pack("!Q", n)
    if mask is not None:
        if len(mask) != 4:
            raise ValueError("mask must be 4 bytes")
        head += mask
        payload = apply_mask(mask, payload)
    return bytes(head) + payload


def encode_close(code=CLOSE_NORMAL, reason="", mask=None):
    body = struct.pack("!H", code) + reason.encode("utf-8")[:123]
    return encode_frame(OP_CLOSE, body, mask=mask)


class FrameParser:
    """Incremental frame decoder.

    feed(data) returns a list of (opcode, payload) messages completed by
    data: data messages (TEXT/BINARY) reassembled from their fragments, and
    control messages (CLOSE/PING/PONG) as they come, even between the
    fragments of a data message.

    require_mask: frames from a client must be masked (§5.1); a server
    parses with True, a test client parsing server frames with False."""

    def __init__(self, require_mask=True, max_message=DEFAULT_MAX_MESSAGE):
        self.require_mask = require_mask
        self.max_message = max_message
        self._buf = bytearray()
        self._frag_op = None        # opcode of the data message being assembled
        self._frag = bytearray()

    def feed(self, data):
        self._buf += data
        out = []
        while True:
            frame = self._take_frame()
            if frame is None:
                return out
            msg = self._assemble(*frame)
            if msg is not None:
                out.append(msg)

    def _take_frame(self):
        buf = self._buf
        if len(buf) < 2:
            return None
        b0, b1 = buf[0], buf[1]
        fin = bool(b0 & 0x80)
        if b0 & 0x70:
            raise ProtocolError("reserved bits set without a negotiated extension")
        opcode = b0 & 0x0F
        masked = bool(b1 & 0x80)
        length = b1 & 0x7F
        pos = 2
        if length == 126:
            if len(buf) < 4:
                return None
            length = struct.unpack_from("!H", buf, 2)[0]
            pos = 4
            if length < 126:
                raise ProtocolError("16-bit length used for a short payload")
        elif length == 127:
            if len(buf) < 10:
                return None
            length = struct.unpack_from("!Q", buf, 2)[0]
            pos = 10
            if length >> 63:
                raise ProtocolError("64-bit length with the top bit set")
            if length < 1 << 16:
                raise ProtocolError("64-bit length used for a short payload")
        if opcode >= 0x8:
            if not fin:
                raise ProtocolError("fragmented control frame")
            if length > 125:
                raise ProtocolError("control frame payload over 125 bytes")
        elif opcode not in (OP_CONT, OP_TEXT, OP_BINARY):
            raise ProtocolError("unknown opcode %#x" % opcode)
        if self.require_mask and not masked:
            raise ProtocolError("unmasked frame from the client")
        # Checked before the payload is buffered: the peer cannot make us
        # hold more than max_message bytes of one message.
        if length + (len(self._frag) if opcode == OP_CONT else 0) > self.max_message:
            raise ProtocolError("message larger than %d bytes" % self.max_message,
                                CLOSE_TOO_BIG)
        mask = None
        if masked:
            if len(buf) < pos + 4:
                return None
            mask = bytes(buf[pos:pos + 4])
            pos += 4
        if len(buf) < pos + length:
            return None
        payload = bytes(buf[pos:pos + length])
        del buf[:pos + length]
        if mask is not None:
            payload = apply_mask(mask, payload)
        return fin, opcode, payload

    def _assemble(self, fin, opcode, payload):
        if opcode >= 0x8:
            return opcode, payload
        if opcode == OP_CONT:
            if self._frag_op is None:
                raise ProtocolError("continuation frame without a message to continue")
            self._frag += payload
            if not fin:
                return None
            op, data = self._frag_op, bytes(self._frag)
            self._frag_op, self._frag = None, bytearray()
            return op, data
        if self._frag_op is not None:
            raise ProtocolError("new data frame inside a fragmented message")
        if fin:
            return opcode, payload
        self._frag_op = opcode
        self._frag = bytearray(payload)
        return None


def parse_close(payload):
    """(code, reason) of a close frame's payload; code None if it has none."""
    if len(payload) < 2:
        return None, ""
    return struct.unpack("!H", payload[:2])[0], payload[2:].decode("utf-8", "replace")


# ---------------------------------------------------------------- connection

class Connection:
    """A server-side WebSocket over an already-upgraded socket.

    Single-threaded use: one thread calls read_messages() when select() says
    fileno() is readable or pending() is true, and also calls the send
    methods. Ping is answered with pong and close with close inside
    read_messages(); the caller sees data messages only, plus `closed`."""

    def __init__(self, sock, initial=b"", max_message=DEFAULT_MAX_MESSAGE):
        self.sock = sock
        self.parser = FrameParser(require_mask=True, max_message=max_message)
        self.closed = False            # no more reads: close received, EOF or error
        self.close_sent = False
        self.close_code = None
        self._initial = initial

    def fileno(self):
        return self.sock.fileno()

    def pending(self):
        """Bytes already read from the network but not yet parsed: the
        constructor's leftovers or TLS records decrypted by OpenSSL."""
        if self._initial:
            return True
        pend = getattr(self.sock, "pending", None)
        return bool(pend and pend() > 0)

    def read_messages(self, bufsize=65536):
        """One read from the socket; returns the data messages completed by
        it as (opcode, payload). On EOF, a close frame or a protocol error,
        sets closed (answering the close handshake if it can)."""
        if self.closed:
            return []
        if self._initial:
            data, self._initial = self._initial, b""
        else:
            try:
                data = self.sock.recv(bufsize)
            except (OSError, ValueError):
                data = b""
            if not data:
                self.closed = True
                return []
        out = []
        try:
            msgs = self.parser.feed(data)
        except ProtocolError as e:
            self.closed = True
            self.close(e.code, str(e))
            return out
        for op, payload in msgs:
            if op == OP_PING:
                self.send(OP_PONG, payload)
            elif op == OP_PONG:
                pass
            elif op == OP_CLOSE:
                self.closed = True
                self.close_code, _ = parse_close(payload)
                self.close(self.close_code or CLOSE_NORMAL)
                break
            else:
                out.append((op, payload))
        return out

    def send(self, opcode, payload=b""):
        """Send one unfragmented frame; False if the peer is gone."""
        if self.close_sent:
            return False
        try:
            self.sock.sendall(encode_frame(opcode, payload))
            return True
        except (OSError, ValueError):
            self.closed = True
            self.close_sent = True
            return False

    def send_binary(self, payload):
        return self.send(OP_BINARY, payload)

    def close(self, code=CLOSE_NORMAL, reason=""):
        """Send a close frame (once)."""
        if self.close_sent:
            return
        try:
            self.sock.sendall(encode_close(code, reason))
        except (OSError, ValueError):
            self.closed = True
        self.close_sent = True

    def finish(self, timeout=2.0):
        """Close handshake from our side: send close, wait up to timeout for
        the peer's close (or EOF), discarding data."""
        self.close()
        end = time.monotonic() + timeout
        while not self.closed:
            deadline_left = end - time.monotonic()
            if deadline_left <= 0:
                break
            if not self.pending():
                try:
                    r, _, _ = select.select([self.sock], [], [], deadline_left)
                except (OSError, ValueError):
                    break
                if not r:
                    break
            self.read_messages()
