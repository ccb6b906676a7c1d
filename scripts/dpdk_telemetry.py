#!/usr/bin/env python3
"""Tiny client for DPDK's telemetry socket (v2, DPDK >= 20.05), standard library only.

The socket is /var/run/dpdk/<file-prefix>/dpdk_telemetry.v2 (SOCK_SEQPACKET). On connect the
server sends one JSON object ({"version", "pid", "max_output_len"}); after that every request
("/ethdev/stats,0") gets exactly one JSON reply ({"/ethdev/stats": {...}}).

Usage:
  dpdk_telemetry.py --prefix vpl-vswitch --ports          port ids, names and basic stats
  dpdk_telemetry.py --socket /path/dpdk_telemetry.v2 /ethdev/list /ethdev/stats,0
Prints one JSON document on stdout; exits 2 when the socket is absent or does not answer.
Also runs from stdin: `python3 - --prefix p --ports < dpdk_telemetry.py`.
"""

import argparse
import json
import os
import socket
import sys

RUNTIME_BASE = "/var/run/dpdk"
STAT_KEYS = ("ipackets", "opackets", "ibytes", "obytes", "imissed", "ierrors", "oerrors", "rx_nombuf")


class TelemetryError(Exception):
    pass


class Telemetry:
    def __init__(self, path, timeout=2.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
            hello = json.loads(self.sock.recv(16384).decode())
        except (OSError, ValueError) as exc:
            self.sock.close()
            raise TelemetryError(f"cannot talk to {path}: {exc}") from exc
        self.max_len = int(hello.get("max_output_len", 16384))
        self.hello = hello

    def query(self, command):
        try:
            self.sock.send(command.encode())
            raw = self.sock.recv(self.max_len)
        except OSError as exc:
            raise TelemetryError(f"{command}: {exc}") from exc
        if not raw:
            raise TelemetryError(f"{command}: connection closed")
        reply = json.loads(raw.decode())
        # Replies are keyed by the command without its parameter.
        return reply.get(command.split(",", 1)[0])

    def close(self):
        self.sock.close()


def port_report(tel):
    ports = []
    for port_id in tel.query("/ethdev/list") or []:
        info = tel.query(f"/ethdev/info,{port_id}") or {}
        stats = tel.query(f"/ethdev/stats,{port_id}") or {}
        ports.append(
            {
                "id": port_id,
                "name": info.get("name"),
                "stats": {key: stats.get(key) for key in STAT_KEYS if key in stats},
            }
        )
    return {"pid": tel.hello.get("pid"), "ports": ports}


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--prefix", help="DPDK --file-prefix of the process")
    where.add_argument("--socket", help="path of dpdk_telemetry.v2")
    parser.add_argument("--ports", action="store_true", help="report every ethdev with its stats")
    parser.add_argument("--timeout", type=float, default=2.0)
    parser.add_argument("commands", nargs="*", help="raw telemetry commands, e.g. /ethdev/stats,0")
    args = parser.parse_args(argv)
    path = args.socket or os.path.join(RUNTIME_BASE, args.prefix, "dpdk_telemetry.v2")
    if not os.path.exists(path):
        print(json.dumps({"error": f"no telemetry socket at {path}"}))
        return 2
    try:
        tel = Telemetry(path, args.timeout)
    except TelemetryError as exc:
        print(json.dumps({"error": str(exc)}))
        return 2
    try:
        out = port_report(tel) if args.ports else {}
        for command in args.commands:
            out[command] = tel.query(command)
    except (TelemetryError, ValueError) as exc:
        print(json.dumps({"error": str(exc)}))
        return 2
    finally:
        tel.close()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
