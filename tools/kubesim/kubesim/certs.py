"""A CA, a serving certificate for 127.0.0.1/localhost and an admin client
certificate, made with the openssl command-line tool."""

import os
import subprocess


def _openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _key(name, cwd):
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-out", name, cwd=cwd)


def _sign(name, subj, ext, cwd):
    _key(name + ".key", cwd)
    _openssl("req", "-new", "-key", name + ".key", "-subj", subj, "-out", name + ".csr", cwd=cwd)
    with open(os.path.join(cwd, name + ".ext"), "w") as f:
        f.write(ext)
    _openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "3650", "-sha256", "-extfile", name + ".ext",
             "-out", name + ".crt", cwd=cwd)
    os.unlink(os.path.join(cwd, name + ".csr"))
    os.unlink(os.path.join(cwd, name + ".ext"))


def ensure(state_dir):
    """Create ca.crt/ca.key, server.crt/server.key, client.crt/client.key in
    state_dir unless they exist (a restarted kubesim keeps its CA)."""
    if all(os.path.exists(os.path.join(state_dir, f))
           for f in ("ca.crt", "server.crt", "server.key", "client.crt", "client.key")):
        return
    _key("ca.key", state_dir)
    _openssl("req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=kubesim-ca",
             "-days", "3650", "-sha256",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
             "-out", "ca.crt", cwd=state_dir)
    _sign("server", "/CN=kubesim",
          "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
          "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
          state_dir)
    _sign("client", "/O=system:masters/CN=kubesim-admin",
          "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
          "extendedKeyUsage=clientAuth\n", state_dir)
    for f in ("ca.key", "server.key", "client.key"):
        os.chmod(os.path.join(state_dir, f), 0o600)
