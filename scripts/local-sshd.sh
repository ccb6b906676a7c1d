#!/usr/bin/env bash
# The local lab's own sshd on a loopback port: every later step reaches "the DUT" over SSH,
# exactly as on a real lab, without touching the system's sshd.
#
#   local-sshd.sh up     generate keys (once), start sshd, print the connection as JSON
#   local-sshd.sh down   stop that sshd and remove its directory
#   local-sshd.sh probe  exit 0 when it runs (started again if it had died), 3 when its keys are gone
#
# Environment:
#   LAB_SSHD_DIR    directory for keys, config, pidfile, log (the stack's state dir)
#   LAB_SSHD_PORT   TCP port
#   LAB_SSHD_USER   login user (default root)
#   LAB_SSHD_NETNS  optional: run inside this network namespace (a host of its own: the local
#                   lab's TG server), listening on LAB_SSHD_ADDR (its management address)
# The sshd runs as "sshd-lab" (a symlink to /usr/sbin/sshd) so it is easy to tell apart.
set -euo pipefail

dir=${LAB_SSHD_DIR:?LAB_SSHD_DIR is required}
port=${LAB_SSHD_PORT:?LAB_SSHD_PORT is required}
user=${LAB_SSHD_USER:-root}
pidfile="$dir/sshd.pid"
netns=${LAB_SSHD_NETNS:-}
addr=127.0.0.1
in_ns=()
if [ -n "$netns" ]; then
  addr=${LAB_SSHD_ADDR:?LAB_SSHD_ADDR is required with LAB_SSHD_NETNS}
  [[ $netns =~ ^[a-z][a-z0-9-]{0,11}$ ]] || { printf '[local-sshd] ERROR: bad netns name %s\n' "$netns" >&2; exit 1; }
  [[ $addr =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}$ ]] || { printf '[local-sshd] ERROR: bad address %s\n' "$addr" >&2; exit 1; }
  in_ns=(ip netns exec "$netns")
fi

log() { printf '[local-sshd] %s\n' "$*" >&2; }

running_pid() {
  local pid
  [ -f "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = sshd-lab ] || return 1
  printf '%s\n' "$pid"
}

undo_failed_up() {
  local rc=$?
  if [ "$rc" -ne 0 ] && [ "$sshd_fresh" = 1 ]; then
    log "up failed (exit $rc): undoing it"
    down
  fi
}

up() {
  [ -x /usr/sbin/sshd ] || { log "ERROR: /usr/sbin/sshd not found; fix: apt-get install openssh-server"; exit 1; }
  case "$port" in '' | *[!0-9]*) log "ERROR: LAB_SSHD_PORT='$port' is not a port number"; exit 1 ;; esac
  # a failed first up takes away what it made (the sshd it started, its dir and the levels above)
  sshd_fresh=0
  [ -d "$dir" ] || sshd_fresh=1
  trap undo_failed_up EXIT
  mkdir -p "$dir"
  chmod 0700 "$dir"
  [ -f "$dir/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C vhost-perf-lab-host -f "$dir/host_ed25519"
  [ -f "$dir/client_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C vhost-perf-lab-client -f "$dir/client_ed25519"
  cp "$dir/client_ed25519.pub" "$dir/authorized_keys"
  chmod 0600 "$dir/authorized_keys"
  ln -sfn /usr/sbin/sshd "$dir/sshd-lab"
  cat >"$dir/sshd_config" <<EOF
ListenAddress $addr
Port $port
HostKey $dir/host_ed25519
AuthorizedKeysFile $dir/authorized_keys
PidFile $pidfile
AllowUsers $user
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
AcceptEnv LANG LC_*
MaxStartups 64:30:128
MaxSessions 64
LogLevel ERROR
EOF
  mkdir -p /run/sshd
  if ! running_pid >/dev/null; then
    "$dir/sshd-lab" -t -f "$dir/sshd_config" || { log "ERROR: sshd rejected $dir/sshd_config"; exit 1; }
    if [ -n "$netns" ] && ! ip netns exec "$netns" true 2>/dev/null; then
      log "ERROR: network namespace $netns does not exist (its wiring step makes it)"
      exit 1
    fi
    "${in_ns[@]}" "$dir/sshd-lab" -f "$dir/sshd_config" -E "$dir/sshd.log" </dev/null
    log "started sshd-lab on $addr:$port${netns:+ in netns $netns}"
  else
    log "sshd-lab already running (pid $(running_pid))"
  fi
  local i
  for i in $(seq 1 50); do
    running_pid >/dev/null && ssh-keyscan -T 1 -p "$port" -t ed25519 "$addr" >/dev/null 2>&1 && break
    [ "$i" = 50 ] && { log "ERROR: sshd-lab did not answer on $addr:$port (log: $dir/sshd.log)"; exit 1; }
    sleep 0.1
  done
  # one JSON line; the caller marks it secret (it carries the private key)
  python3 - "$dir" "$port" "$user" "$addr" <<'PY'
import json, sys
d, port, user, addr = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
host_key = " ".join(open(f"{d}/host_ed25519.pub").read().split()[:2])
print(json.dumps({"host": addr, "port": port, "user": user, "hostKey": host_key,
                  "privateKey": open(f"{d}/client_ed25519").read()}))
PY
}

down() {
  local pid
  if pid=$(running_pid); then
    kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    log "stopped sshd-lab (pid $pid)"
  fi
  rm -rf "$dir"
  # the per-stack directory above it and the "stacks" directory above that, when empty
  if rmdir "$(dirname "$dir")" 2>/dev/null; then
    rmdir "$(dirname "$(dirname "$dir")")" 2>/dev/null || true
  fi
}

# The lab's own sshd is the way to every other step of this stack: when it died, refresh starts
# it again with the same keys (so the other steps can be checked, changed and torn down) and
# says so; only when its keys are gone is it gone.
probe() {
  if running_pid >/dev/null; then
    exit 0
  fi
  if [ ! -f "$dir/host_ed25519" ] || [ ! -f "$dir/client_ed25519" ] || [ ! -f "$dir/sshd_config" ]; then
    log "sshd-lab on $addr:$port is not running and its keys are gone"
    exit 3
  fi
  if [ -n "$netns" ] && ! ip netns exec "$netns" true 2>/dev/null; then
    log "sshd-lab on $addr:$port is not running and its network namespace $netns is gone"
    exit 3
  fi
  "${in_ns[@]}" "$dir/sshd-lab" -f "$dir/sshd_config" -E "$dir/sshd.log" </dev/null
  local i
  for i in $(seq 1 50); do
    running_pid >/dev/null && break
    [ "$i" = 50 ] && { log "sshd-lab on $addr:$port was not running and did not start again (log: $dir/sshd.log)"; exit 1; }
    sleep 0.1
  done
  log "sshd-lab on $addr:$port was not running: started it again with the same keys"
  exit 0
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  probe) probe ;;
  *) log "usage: $0 up|down|probe"; exit 2 ;;
esac
