#!/usr/bin/env python3
"""Talk to a QEMU guest agent over its chardev unix socket (python3 stdlib only).

The VM runs the agent on a serial port (CSIT: isa-serial /dev/ttyS1) whose QEMU chardev is a
unix socket server; this program connects as the one client. Serial lines keep stale bytes
(half-written commands, answers nobody read), so every session starts with
guest-sync-delimited: send 0xFF + sync(id), drop everything up to the 0xFF the agent sends back,
and read answers until the one carrying our id.

Usage:
  qga.py [-s SOCKET] [-t SECONDS] ping
      wait until the agent answers guest-ping (retrying until the deadline: the VM may still be
      booting, QEMU may not have created the socket yet); prints
      {"ok": true, "seconds": S, "attempts": N}
  qga.py [-s SOCKET] [-t SECONDS] exec [--stdin] '<shell command>'
      run `/bin/sh -c '<shell command>'` in the guest (guest-exec, output captured), wait for
      it to exit, write its stdout/stderr to ours, exit with its exit code (128+N for signal N)
  qga.py [-s SOCKET] [-t SECONDS] ifaces
      guest-network-get-interfaces, printed as JSON

SOCKET defaults to $QGA_SOCKET. The deadline (-t, default 60 s for ping, 120 s otherwise) bounds
the whole command. Exit codes: the guest's code for exec; 0 success; 1 agent/protocol error;
2 usage; 124 deadline passed.
"""

import argparse
import base64
import json
import os
import random
import socket
import sys
import time

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_TIMEOUT = 124
SYNC_TRY_SECONDS = 3.0  # one sync attempt; the agent answers in well under a second once up


class QgaError(Exception):
    """The agent answered with an error, or the stream made no sense."""


class Deadline(Exception):
    """The command's deadline passed."""


class Agent:
    """One connection to the agent socket, with a deadline for everything done on it."""

    def __init__(self, path, deadline):
        self.path = path
        self.deadline = deadline
        self.sock = None
        self.buf = b""

    def remaining(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise Deadline()
        return left

    def connect(self):
        self.close()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(min(self.remaining(), 5.0))
        try:
            sock.connect(self.path)
        except OSError:
            sock.close()
            raise
        self.sock = sock
        self.buf = b""

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None

    def send(self, data):
        self.sock.settimeout(min(self.remaining(), 5.0))
        self.sock.sendall(data)

    def _fill(self, until):
        """Read more bytes; False when `until` (monotonic) passed first."""
        left = min(until, self.deadline) - time.monotonic()
        if left > 0:
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                chunk = None
            if chunk == b"":
                raise ConnectionError("QEMU closed the agent socket (VM stopped?)")
            if chunk:
                self.buf += chunk
                return True
        if time.monotonic() >= self.deadline:
            raise Deadline()
        return False

    def read_message(self, until):
        """Next JSON object (the agent ends each one with a newline), or None when `until` passed."""
        while True:
            nl = self.buf.find(b"\n")
            if nl < 0:
                if not self._fill(until):
                    return None
                continue
            line, self.buf = self.buf[:nl], self.buf[nl + 1:]
            cut = line.rfind(b"\xff")  # a delimited answer starts after 0xFF: drop stale bytes
            if cut >= 0:
                line = line[cut + 1:]
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line.decode("utf-8", "replace"))
            except ValueError:
                continue  # noise on the serial line
            if isinstance(obj, dict):
                return obj

    def sync(self):
        """guest-sync-delimited handshake; False when the agent did not answer in one try."""
        sync_id = random.randint(1, 2**31 - 1)
        request = {"execute": "guest-sync-delimited", "arguments": {"id": sync_id}}
        # the leading 0xFF makes the agent drop a half-received request
        self.send(b"\xff" + json.dumps(request).encode() + b"\n")
        until = time.monotonic() + SYNC_TRY_SECONDS
        while True:
            msg = self.read_message(until)
            if msg is None:
                return False
            if msg.get("return") == sync_id:
                return True

    def command(self, execute, arguments=None):
        request = {"execute": execute}
        if arguments is not None:
            request["arguments"] = arguments
        self.send(json.dumps(request).encode() + b"\n")
        msg = self.read_message(self.deadline)
        if msg is None:
            raise Deadline()
        if "error" in msg:
            err = msg["error"]
            raise QgaError("%s: %s (%s)" % (execute, err.get("desc", err), err.get("class", "?")))
        if "return" not in msg:
            raise QgaError("%s: unexpected answer %r" % (execute, msg))
        return msg["return"]


def open_agent(path, deadline, wait):
    """Connect and sync. With wait=True, retry (socket missing, agent not up) until the deadline."""
    agent = Agent(path, deadline)
    attempts = 0
    last = None
    while True:
        attempts += 1
        try:
            agent.connect()
            if agent.sync():
                return agent, attempts
            last = "no answer to guest-sync-delimited (agent not running yet, or another client holds the socket)"
        except (FileNotFoundError, ConnectionRefusedError) as e:
            last = "cannot connect to %s: %s" % (path, e.strerror)
            if not wait:
                raise QgaError(last)
        except ConnectionError as e:
            last = str(e)
        except socket.timeout:
            last = "timeout connecting to %s" % path
        except Deadline:
            raise Deadline(last)
        if not wait:
            raise QgaError(last)
        agent.close()
        if time.monotonic() + 1.0 >= deadline:
            raise Deadline(last)
        time.sleep(1.0)


def cmd_ping(args, deadline, t0):
    agent, attempts = open_agent(args.socket, deadline, wait=True)
    try:
        agent.command("guest-ping")
    finally:
        agent.close()
    print(json.dumps({"ok": True, "seconds": round(time.monotonic() - t0, 1), "attempts": attempts}))
    return 0


def cmd_exec(args, deadline, _t0):
    arguments = {"path": "/bin/sh", "arg": ["-c", args.command], "capture-output": True}
    if args.stdin:
        arguments["input-data"] = base64.b64encode(sys.stdin.buffer.read()).decode()
    agent, _ = open_agent(args.socket, deadline, wait=False)
    try:
        pid = agent.command("guest-exec", arguments)["pid"]
        delay = 0.05
        while True:
            status = agent.command("guest-exec-status", {"pid": pid})
            if status.get("exited"):
                break
            if time.monotonic() + delay >= deadline:
                raise Deadline("guest command (pid %d) still running" % pid)
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
    finally:
        agent.close()
    for key, stream in (("out-data", sys.stdout), ("err-data", sys.stderr)):
        if key in status:
            stream.flush()
            stream.buffer.write(base64.b64decode(status[key]))
            stream.flush()
    if status.get("out-truncated") or status.get("err-truncated"):
        print("qga.py: the agent truncated the captured output", file=sys.stderr)
    if "signal" in status:
        return 128 + int(status["signal"])
    return int(status.get("exitcode", 0))


def cmd_ifaces(args, deadline, _t0):
    agent, _ = open_agent(args.socket, deadline, wait=False)
    try:
        ifaces = agent.command("guest-network-get-interfaces")
    finally:
        agent.close()
    print(json.dumps(ifaces, indent=2))
    return 0


def main(argv):
    # -s/-t are accepted before and after the sub-command
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-s", "--socket", default=argparse.SUPPRESS,
                        help="agent chardev unix socket (default: $QGA_SOCKET)")
    common.add_argument("-t", "--timeout", type=float, default=argparse.SUPPRESS,
                        help="deadline in seconds for the whole command (default: ping 60, others 120)")
    parser = argparse.ArgumentParser(
        prog="qga.py", description="QEMU guest agent client (unix socket chardev).", parents=[common]
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("ping", parents=[common], help="wait until the agent answers guest-ping")
    p_exec = sub.add_parser("exec", parents=[common], help="run a shell command in the guest")
    p_exec.add_argument("--stdin", action="store_true", help="pass our stdin to the command")
    p_exec.add_argument("command", help="shell command, run with /bin/sh -c")
    sub.add_parser("ifaces", parents=[common], help="guest-network-get-interfaces as JSON")
    args = parser.parse_args(argv)
    args.socket = getattr(args, "socket", None) or os.environ.get("QGA_SOCKET")
    args.timeout = getattr(args, "timeout", None)
    if not args.socket:
        parser.error("no agent socket: give -s SOCKET or set QGA_SOCKET")
    timeout = args.timeout if args.timeout is not None else (60.0 if args.cmd == "ping" else 120.0)
    if timeout <= 0:
        parser.error("--timeout must be positive")
    t0 = time.monotonic()
    deadline = t0 + timeout
    handler = {"ping": cmd_ping, "exec": cmd_exec, "ifaces": cmd_ifaces}[args.cmd]
    try:
        return handler(args, deadline, t0)
    except Deadline as e:
        why = (": last problem: %s" % e.args[0]) if e.args and e.args[0] else ""
        print("qga.py: %s: no result within %gs%s" % (args.cmd, timeout, why), file=sys.stderr)
        return EXIT_TIMEOUT
    except (QgaError, OSError) as e:
        print("qga.py: %s: %s" % (args.cmd, e), file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
