#!/usr/bin/env bash
# A disposable VM that stands in for a DUT (tests/kernel-vm.test.ts): QEMU under TCG (this
# machine's /dev/kvm cannot boot a guest, DESIGN.md §4) from a copy-on-write overlay of the GRUB
# disk of scripts/guest-image/grub-disk.sh, SSH through user networking on 127.0.0.1:VMDUT_PORT.
# A reboot inside the guest stays in the same QEMU process.
#
#   vmdut.sh start   start it (detached), wait until SSH answers with the pinned host key
#   vmdut.sh stop    stop it (TERM, then KILL), remove the overlay and the run dir
#
# Environment: VMDUT_IMAGE (the GRUB disk, qcow2; start), VMDUT_PORT (default 2051),
#   VMDUT_DIR (default /var/tmp/vmdut), VMDUT_KEY (private key for root), VMDUT_HOSTKEY
#   ("ssh-ed25519 AAAA..."), VMDUT_BOOT_TIMEOUT_S (default 300), QEMU (default qemu-system-x86_64)
# stdout, one JSON line: start {"pid":N,"port":P,"bootS":N}; stop {"stopped":bool}
set -euo pipefail

t0=$SECONDS
say() { printf '[vmdut %ds] %s\n' "$((SECONDS - t0))" "$*" >&2; }
die() {
  say "ERROR: $*"
  exit 1
}
dir=${VMDUT_DIR:-/var/tmp/vmdut}
port=${VMDUT_PORT:-2051}
qemu=${QEMU:-qemu-system-x86_64}
[[ "$port" =~ ^[0-9]{1,5}$ ]] || die "VMDUT_PORT='$port' is not a port"
case "$dir" in /var/tmp/vmdut*) ;; *) die "VMDUT_DIR='$dir' must be under /var/tmp/vmdut" ;; esac

stop() {
  local pid stopped=false
  if [ -f "$dir/qemu.pid" ]; then
    pid=$(cat "$dir/qemu.pid")
    if [[ "$pid" =~ ^[0-9]+$ ]] && tr "\0" " " <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-name vmdut "; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
      done
      kill -KILL "$pid" 2>/dev/null || true
      stopped=true
      say "stopped qemu $pid"
    fi
  fi
  rm -rf -- "$dir"
  printf '{"stopped":%s}\n' "$stopped"
}

start() {
  local image=${VMDUT_IMAGE:?VMDUT_IMAGE} key=${VMDUT_KEY:?VMDUT_KEY} hostkey=${VMDUT_HOSTKEY:?VMDUT_HOSTKEY}
  local timeout=${VMDUT_BOOT_TIMEOUT_S:-300} pid
  [ -f "$image" ] || die "no image $image"
  [ ! -f "$dir/qemu.pid" ] || die "$dir/qemu.pid exists: a VM of this dir runs (vmdut.sh stop first)"
  mkdir -p -- "$dir"
  qemu-img create -q -f qcow2 -F qcow2 -b "$image" "$dir/overlay.qcow2"
  printf '[127.0.0.1]:%s %s\n' "$port" "$hostkey" >"$dir/known_hosts"
  "$qemu" -name vmdut -machine pc -accel tcg,thread=multi -cpu EPYC -smp 2 -m 1024 \
    -drive "file=$dir/overlay.qcow2,if=virtio,format=qcow2" \
    -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$port-:22" -device e1000,netdev=n0 \
    -display none -serial "file:$dir/console.log" -monitor none \
    -daemonize -pidfile "$dir/qemu.pid"
  pid=$(cat "$dir/qemu.pid")
  say "qemu $pid started (TCG), console $dir/console.log; waiting for SSH on 127.0.0.1:$port"
  while :; do
    if ssh -F /dev/null -i "$key" -p "$port" -o BatchMode=yes -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes \
      -o "UserKnownHostsFile=$dir/known_hosts" -o ConnectTimeout=5 -o LogLevel=ERROR root@127.0.0.1 true </dev/null 2>/dev/null; then
      break
    fi
    kill -0 "$pid" 2>/dev/null || die "qemu exited; console: $(tail -n 5 "$dir/console.log" 2>/dev/null | tr '\n' ' ')"
    [ $((SECONDS - t0)) -lt "$timeout" ] || die "no SSH within ${timeout}s; console tail: $(tail -n 5 "$dir/console.log" | tr '\n' ' ')"
    sleep 2
  done
  say "SSH answers"
  printf '{"pid":%d,"port":%d,"bootS":%d}\n' "$pid" "$port" "$((SECONDS - t0))"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) die "usage: $0 start|stop" ;;
esac
