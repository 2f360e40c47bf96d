#!/usr/bin/env python3
"""kubesim: a Kubernetes API-server emulator for tests (see docs/kubesim.md).

    python3 tools/kubesim/kubesim.py --state-dir DIR [--port 0] [--host-root DIR]
        [--persist FILE] [--token TOKEN] [--nodes node-1,node-2]
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kubesim import server  # noqa: E402


def parse_args(argv):
    p = argparse.ArgumentParser(prog="kubesim", description=__doc__.strip().splitlines()[0])
    p.add_argument("--state-dir", required=True,
                   help="certificates, token, kubeconfig, port and ready files go here")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free one)")
    p.add_argument("--host-root", help="root of the simulated nodes' filesystems "
                   "(default STATE_DIR/host)")
    p.add_argument("--persist", help="keep the whole store in this JSON file")
    p.add_argument("--token", help="bearer token (default: random, or the one in STATE_DIR/token)")
    p.add_argument("--nodes", default="node-1", help="comma-separated node names")
    return p.parse_args(argv)


if __name__ == "__main__":
    sys.exit(server.main(parse_args(sys.argv[1:])))
