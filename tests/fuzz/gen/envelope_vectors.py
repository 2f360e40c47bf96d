#!/usr/bin/env python3
"""Known-answer vectors for the vault's encryption envelope, computed from
docs/FORMAT.md alone with Python's `cryptography` package (and hashlib,
zlib from the standard library) -- no stowage code involved.

For two algorithm choices (hmac-sha256 + aes-256-gcm, blake2b-256 +
chacha20-poly1305) it builds a whole repository from fixed inputs: the
derived keys (§2), a pack with two blobs and its trailer (§5), an index
object listing it (§4.2), a config (§4.1), a snapshot-kind sealed object
(§4) and a key slot (§2.1). tests/unit/test_envelope.c checks the C code
against these bytes.

Usage:
  envelope_vectors.py            print the C block
  envelope_vectors.py --update tests/unit/test_envelope.c
                                 replace the block between the markers
"""
import hashlib
import hmac
import json
import struct
import sys
import zlib

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

BEGIN = "/* BEGIN GENERATED VECTORS (tests/fuzz/gen/envelope_vectors.py) */"
END = "/* END GENERATED VECTORS */"

MASTER = bytes(range(64))
REPO_ID = b"\xa5" * 32
PACK_ID = bytes(range(0x20, 0x40))
INDEX_NAME = "index/" + "3c" * 32
SNAP_NAME = "snapshots/" + "5a" * 32
SLOT_NAME = "keys/00112233aabbccdd"
PASSWORD = "kat password"
CREATED = 1700000000

PT0 = b"stowage known-answer blob 0: stored without compression\n"
PT1 = b"".join(b"line %03d: the quick brown fox jumps over the lazy dog\n" % i
               for i in range(12))
SNAP = b'{"version":1,"kat":"snapshot payload"}'


def hkdf(ikm, salt, info, n=32):
    return HKDF(algorithm=hashes.SHA256(), length=n, salt=salt,
                info=info.encode()).derive(ikm)


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def le32(v):
    return struct.pack("<I", v)


def le64(v):
    return struct.pack("<Q", v)


def aead(alg, key):
    return AESGCM(key) if alg == 1 else ChaCha20Poly1305(key)


def content_id(hash_alg, hash_key, data):
    if hash_alg == "hmac-sha256":
        return hmac.new(hash_key, data, hashlib.sha256).digest()
    return hashlib.blake2b(data, digest_size=32, key=hash_key).digest()


def sealed(alg, enc_root, kind, name, salt, payload):
    """§4: header || AEAD(u8 comp=0 || varint len || payload)."""
    header = b"STOWSEAL" + le32(1) + bytes([kind, alg, 0, 0]) + salt
    key = hkdf(enc_root, salt, "stowage sealed v1")
    pt = b"\x00" + varint(len(payload)) + payload
    return header + aead(alg, key).encrypt(b"\x00" * 12, pt,
                                           header + name.encode())


def build(hash_alg, cipher, alg):
    v = {}
    hash_key = hkdf(MASTER, REPO_ID, "stowage content-id v1")
    enc_root = hkdf(MASTER, REPO_ID, "stowage encryption v1")
    v["hash_key"] = hash_key
    v["enc_root"] = enc_root
    v["chunk_seed"] = hkdf(MASTER, REPO_ID, "stowage chunker seed v1")
    pack_key = hkdf(enc_root, PACK_ID, "stowage pack v1")
    v["pack_key"] = pack_key
    a = aead(alg, pack_key)

    # §5 pack: header, blob 0 (comp 0), blob 1 (comp 3, zlib stream),
    # trailer, footer.
    header = b"STOWPACK" + le32(1) + bytes([0, alg, 0, 0]) + PACK_ID
    entries = []
    body = bytearray(header)
    for pt, comp, payload in ((PT0, 0, PT0),
                              (PT1, 3, zlib.compress(PT1, 9))):
        bid = content_id(hash_alg, hash_key, pt)
        off = len(body)
        nonce = le64(off) + b"\x00" * 4
        aad = bid + bytes([0, comp]) + le32(len(pt))
        ct = a.encrypt(nonce, payload, aad)
        entries.append((bid, 0, comp, off, len(ct), len(pt)))
        body += ct
        v["blob%d_nonce" % len(entries[:-1])] = nonce
        v["blob%d_aad" % len(entries[:-1])] = aad
        v["blob%d_ct" % len(entries[:-1])] = ct
    v["id0"], v["id1"] = entries[0][0], entries[1][0]
    v["zlib1"] = zlib.compress(PT1, 9)
    tpt = varint(len(entries)) + b"".join(
        e[0] + bytes([e[1], e[2]]) + varint(e[3]) + varint(e[4]) +
        varint(e[5]) for e in entries)
    tct = a.encrypt(b"\xff" * 12, tpt, b"stowage trailer v1" + header)
    body += tct + le32(len(tct)) + b"STOWPEND"
    v["pack"] = bytes(body)

    # §4.2 index payload and object.
    idx = b"\x01" + varint(1) + PACK_ID + b"\x00" + varint(len(entries))
    idx += b"".join(e[0] + bytes([e[1], e[2]]) + varint(e[3]) +
                    varint(e[4]) + varint(e[5]) for e in entries)
    v["index_payload"] = idx
    v["index_obj"] = sealed(alg, enc_root, 2, INDEX_NAME,
                            bytes(range(0x40, 0x60)), idx)

    # §4.1 config.
    cfg = json.dumps({
        "version": 1, "id": REPO_ID.hex(), "hash": hash_alg,
        "cipher": cipher, "compression": "zstd:3",
        "chunker": {"min": 262144, "avg": 1048576, "max": 4194304},
        "data_pack_size": 16777216, "meta_pack_size": 4194304,
        "created": CREATED}, sort_keys=True, separators=(",", ":"))
    v["config_obj"] = sealed(alg, enc_root, 1, "config",
                             bytes(range(0x60, 0x80)), cfg.encode())
    v["snap_obj"] = sealed(alg, enc_root, 3, SNAP_NAME,
                           bytes(range(0x80, 0xa0)), SNAP)

    # §2.1 key slot: always AES-256-GCM, scrypt N = 2^10, r = 8, p = 1.
    salt = bytes(range(0xc0, 0xe0))
    nonce = bytes(range(0xe0, 0xec))
    sh = (b"STOWKEYS" + le32(1) + bytes([1, 10, 8, 1]) + le64(CREATED) +
          salt + nonce)
    kek = Scrypt(salt=salt, length=32, n=1 << 10, r=8, p=1).derive(
        PASSWORD.encode())
    slot = sh + AESGCM(kek).encrypt(nonce, MASTER + REPO_ID,
                                    sh + SLOT_NAME.encode())
    assert len(slot) == 180
    v["slot"] = slot
    return v


def c_hex(name, data):
    h = data.hex()
    lines = [h[i:i + 64] for i in range(0, len(h), 64)] or [""]
    body = "\n".join('\t"%s"' % l for l in lines)
    return "static const char %s[] =\n%s;\n" % (name, body)


def c_str(name, text):
    """A string constant, split after its '/' to stay within 80 columns."""
    if "/" in text:
        d, rest = text.split("/", 1)
        return 'static const char %s[] =\n\t"%s/"\n\t"%s";\n' % (name, d,
                                                               rest)
    return 'static const char %s[] = "%s";\n' % (name, text)


def render():
    out = [BEGIN, ""]
    for cname, text in (("kat_index_name", INDEX_NAME),
                        ("kat_snap_name", SNAP_NAME),
                        ("kat_slot_name", SLOT_NAME),
                        ("kat_password", PASSWORD)):
        out.append(c_str(cname, text))
    out.append(c_hex("kat_pt0", PT0))
    out.append(c_hex("kat_pt1", PT1))
    out.append(c_hex("kat_snap", SNAP))
    out.append(c_hex("kat_pack_id", PACK_ID))
    names = ["hash_key", "enc_root", "chunk_seed", "pack_key", "id0", "id1",
             "blob0_nonce", "blob0_aad", "blob0_ct", "blob1_nonce",
             "blob1_aad", "blob1_ct", "zlib1", "pack", "index_payload",
             "index_obj", "config_obj", "snap_obj", "slot"]
    suites = (("aes", "hmac-sha256", "aes-256-gcm", 1),
              ("chacha", "blake2b-256", "chacha20-poly1305", 2))
    for tag, h, c, alg in suites:
        v = build(h, c, alg)
        for n in names:
            out.append(c_hex("kat_%s_%s" % (tag, n), v[n]))
    out.append("typedef struct kat_suite {")
    out.append("\tconst char *name;")
    out.append("\tstow_hash_alg hash;")
    out.append("\tstow_aead_alg aead;")
    for n in names:
        out.append("\tconst char *%s;" % n)
    out.append("} kat_suite;")
    out.append("")
    out.append("static const kat_suite kat_suites[] = {")
    for tag, h, c, alg in suites:
        out.append("\t{")
        out.append('\t\t"%s + %s",' % (h, c))
        out.append("\t\t%s," % ("STOW_HASH_HMAC_SHA256" if alg == 1
                               else "STOW_HASH_BLAKE2B_256"))
        out.append("\t\t%s," % ("STOW_AEAD_AES256GCM" if alg == 1
                               else "STOW_AEAD_CHACHA20POLY1305"))
        for n in names:
            out.append("\t\tkat_%s_%s," % (tag, n))
        out.append("\t},")
    out.append("};")
    out.append("")
    out.append(END)
    return "\n".join(out) + "\n"


def main():
    block = render()
    if len(sys.argv) == 3 and sys.argv[1] == "--update":
        path = sys.argv[2]
        src = open(path).read()
        a = src.index(BEGIN)
        b = src.index(END) + len(END) + 1
        open(path, "w").write(src[:a] + block + src[b:])
    else:
        sys.stdout.write(block)


if __name__ == "__main__":
    main()
