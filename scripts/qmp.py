#!/usr/bin/env python3
"""Minimal QMP client (stdlib only) for scripts/vm.sh.

Usage:
  qmp.py SOCKET cmd NAME [ARGS_JSON]   run one command, print its "return" as JSON
  qmp.py SOCKET vrings                 negotiated vring sizes of every virtio-net device (JSON)
  qmp.py SOCKET quit                   ask QEMU to exit (success also when it closes the socket)

Options (before SOCKET): --timeout SECONDS (default 10).
Exit status: 0 ok, 1 QMP error reply, 2 usage, 3 cannot connect / timeout / protocol error.

vrings: x-query-virtio lists the realized virtio devices; for each virtio-net one,
x-query-virtio-status tells whether vhost is started and how many virtqueues are in use
(queues 2k are rx, 2k+1 tx, a last odd one is the control queue). The ring sizes then come from:
- vhost started: x-query-virtio-vhost-queue-status `num` of queues 0 and 1 = the size QEMU gave
  the vhost-user backend (VHOST_USER_SET_VRING_NUM), i.e. what the vswitch really uses. QEMU 7.2
  reaches only the first queue pair this way ("queuePairsQueried").
- vhost not started: x-query-virtio-queue-status `vring-num` of every queue (what the guest
  driver set up so far, or the device default).
NEVER x-query-virtio-queue-status on a started vhost-user device: QEMU 7.2 then calls
vhost_get_vring_base, i.e. sends VHOST_USER_GET_VRING_BASE, which makes the backend STOP that
vring: the data path dies silently while QEMU still reports vhost started (seen here with DPDK
22.11's vhost PMD).
The configured maximum (rxMax/txMax) is the device's rx_queue_size/tx_queue_size (qom-get).
Output: {"nic1": {"path": ..., "rx": 1024, "tx": 1024, "rxMax": 1024, "txMax": 1024,
"queuePairs": 1, "queuePairsQueried": 1, "vhostStarted": true, "source": "vhost"}, ...} keyed by
the -device id; rx/tx are the smallest ring over the queried queue pairs.
"""
import json
import socket
import sys
import time


class QmpError(Exception):
    """QEMU answered with an error object."""


class QmpClient:
    def __init__(self, path, timeout):
        self.deadline = time.monotonic() + timeout
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        greeting = self._read()
        if "QMP" not in greeting:
            raise OSError("no QMP greeting on %s" % path)
        self.execute("qmp_capabilities")

    def _read(self):
        """Next JSON message that is not an asynchronous event."""
        while True:
            while b"\n" not in self.buf:
                left = self.deadline - time.monotonic()
                if left <= 0:
                    raise socket.timeout("QMP timeout")
                self.sock.settimeout(left)
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise EOFError("QMP socket closed")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\n", 1)
            if not line.strip():
                continue
            msg = json.loads(line)
            if "event" in msg:
                continue
            return msg

    def execute(self, name, arguments=None):
        req = {"execute": name}
        if arguments:
            req["arguments"] = arguments
        self.sock.sendall(json.dumps(req).encode() + b"\n")
        reply = self._read()
        if "error" in reply:
            err = reply["error"]
            raise QmpError("%s: %s" % (err.get("class"), err.get("desc")))
        return reply.get("return")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def device_id(path):
    # /machine/peripheral/<id>/virtio-backend  ->  <id>
    parts = path.strip("/").split("/")
    if len(parts) >= 3 and parts[0] == "machine" and parts[1] == "peripheral":
        return parts[2]
    return path


def qom_int(qmp, path, prop):
    try:
        return int(qmp.execute("qom-get", {"path": path, "property": prop}))
    except (QmpError, TypeError, ValueError):
        return None


def vrings(qmp):
    out = {}
    for dev in qmp.execute("x-query-virtio") or []:
        if dev.get("name") != "virtio-net":
            continue
        path = dev["path"]
        proxy = path.rsplit("/virtio-backend", 1)[0]
        status = qmp.execute("x-query-virtio-status", {"path": path})
        started = bool(status.get("vhost-started", False))
        pairs = int(status.get("num-vqs", 0)) // 2
        rx, tx = [], []
        if started:
            # read-only: QEMU's copy of what it sent the backend (see the module doc)
            rx.append(int(qmp.execute("x-query-virtio-vhost-queue-status", {"path": path, "queue": 0})["num"]))
            tx.append(int(qmp.execute("x-query-virtio-vhost-queue-status", {"path": path, "queue": 1})["num"]))
            queried = 1
        else:
            # safe only while vhost is not started
            for q in range(pairs * 2):
                qs = qmp.execute("x-query-virtio-queue-status", {"path": path, "queue": q})
                (rx if q % 2 == 0 else tx).append(int(qs["vring-num"]))
            queried = pairs
        out[device_id(path)] = {
            "path": path,
            "rx": min(rx) if rx else None,
            "tx": min(tx) if tx else None,
            "rxMax": qom_int(qmp, proxy, "rx_queue_size"),
            "txMax": qom_int(qmp, proxy, "tx_queue_size"),
            "queuePairs": pairs,
            "queuePairsQueried": queried,
            "vhostStarted": started,
            "source": "vhost" if started else "virtio",
        }
    return out


def main(argv):
    timeout = 10.0
    if len(argv) >= 2 and argv[0] == "--timeout":
        timeout = float(argv[1])
        argv = argv[2:]
    if len(argv) < 2 or argv[1] not in ("cmd", "vrings", "quit") or (argv[1] == "cmd" and len(argv) < 3):
        sys.stderr.write(__doc__)
        return 2
    path, what = argv[0], argv[1]
    try:
        qmp = QmpClient(path, timeout)
    except (OSError, ValueError, EOFError) as e:
        sys.stderr.write("qmp.py: cannot talk QMP on %s: %s\n" % (path, e))
        return 3
    try:
        if what == "cmd":
            args = json.loads(argv[3]) if len(argv) > 3 else None
            print(json.dumps(qmp.execute(argv[2], args)))
        elif what == "vrings":
            print(json.dumps(vrings(qmp), sort_keys=True))
        else:
            try:
                qmp.execute("quit")
            except EOFError:
                pass  # QEMU may close before the reply arrives
            print(json.dumps({}))
        return 0
    except QmpError as e:
        sys.stderr.write("qmp.py: %s\n" % e)
        return 1
    except (OSError, ValueError, EOFError, KeyError) as e:
        sys.stderr.write("qmp.py: %s: %s\n" % (what, e))
        return 3
    finally:
        qmp.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
