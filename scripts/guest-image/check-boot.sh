#!/usr/bin/env bash
# Smoke test of a guest image: boot it once, the way the lab boots its VMs, check the seed's
# requirements from the inside, shut it down and remove everything the test created.
#
# The VM writes to a qcow2 overlay only (the image itself is never written). NICs as in CSIT:
# one e1000 management NIC on user networking with SSH forwarded to 127.0.0.1:<free port>, two
# virtio-net NICs (rx/tx_queue_size=1024) on isolated user netdevs (restrict=on); serial0 =
# console (logged), serial1 = guest agent (unix socket).
#
# Checks: agent answers (time to first guest-ping), NIC names mgmt0/virtio0/virtio1, qemu-ga
# runs on /dev/ttyS1, uio_pci_generic loaded, hugepages reserved, dpdk-testpmd and dpdk-l3fwd
# present, SSH login with the password, `sudo -n true`; with CHECK_TESTPMD=1 also a short
# testpmd io run on virtio0/virtio1 bound to uio_pci_generic.
#
# Environment:
#   IMAGE               image to boot (default /var/lib/vm/vhost-nested.img; qcow2)
#   QEMU                qemu-system-x86_64 to use (default: newest /opt/vhost-perf-lab/qemu/*/bin/...,
#                       else the one on PATH)
#   ACCEL               tcg (default) or kvm
#   VM_MEMORY_MB        guest memory (default 2048)   VM_SMP  vCPUs (default 2)
#   GUEST_USER          (default cisco)   GUEST_PASSWORD_FILE  (default: the seed's "cisco")
#   CHECK_TESTPMD       1 = run testpmd on the virtio NICs in the guest (default 1)
#   CHECK_L3FWD         1 = require dpdk-l3fwd (default 1; 0 for images built with IMAGE_L3FWD=0)
#   BOOT_TIMEOUT        seconds to wait for the agent (default 300)
#   CHECK_KEEP          1 = keep the run directory (overlay, logs) afterwards
#   CHECK_SSH_KEY       private key to check a key login as well (image built with GUEST_AUTHORIZED_KEY)
# Needs: qemu-img, python3, sshpass (Debian package) for the password login.
# Output: progress and the guests' outputs on stderr, ONE JSON line on stdout.
set -euo pipefail

t0=$SECONDS
say() { printf '[check %ds] %s\n' "$((SECONDS - t0))" "$*" >&2; }
die() {
  printf '[check %ds] ERROR: %s\n' "$((SECONDS - t0))" "$*" >&2
  exit 1
}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
qga=$here/qga.py

image=${IMAGE:-/var/lib/vm/vhost-nested.img}
accel=${ACCEL:-tcg}
mem=${VM_MEMORY_MB:-2048}
smp=${VM_SMP:-2}
guest_user=${GUEST_USER:-cisco}
check_testpmd=${CHECK_TESTPMD:-1}
boot_timeout=${BOOT_TIMEOUT:-300}
if [ -z "${QEMU:-}" ]; then
  QEMU=$(find /opt/vhost-perf-lab/qemu -path '*/bin/qemu-system-x86_64' -perm -u+x 2>/dev/null | sort -V | tail -n 1 || true)
  QEMU=${QEMU:-$(command -v qemu-system-x86_64 || true)}
fi
[ -x "$QEMU" ] || die "no qemu-system-x86_64 (set QEMU, or apt-get install --no-install-recommends qemu-system-x86)"
[ -f "$image" ] || die "image $image not found"
command -v sshpass >/dev/null || die "sshpass not found (apt-get install sshpass)"
case "$accel" in
tcg) accel_args=(-accel "tcg,thread=multi" -cpu EPYC) ;;
kvm) accel_args=(-accel kvm -cpu host) ;;
*) die "ACCEL must be tcg or kvm" ;;
esac

# A QEMU built with --disable-install-blobs has no firmware of its own: use Debian's
# (seabios, ipxe-qemu, qemu-system-data).
firmware_args=()
if [ ! -e "$(dirname "$QEMU")/../share/qemu/bios-256k.bin" ]; then
  for d in /usr/share/seabios /usr/lib/ipxe/qemu /usr/share/qemu; do
    [ -d "$d" ] && firmware_args+=(-L "$d")
  done
fi

run=$(mktemp -d /tmp/vhost-perf-lab-check.XXXXXX)
chmod 0700 "$run"
pidfile=$run/qemu.pid
qga_sock=$run/qga.sock
if [ -n "${GUEST_PASSWORD_FILE:-}" ]; then
  cp "$GUEST_PASSWORD_FILE" "$run/password"
else
  printf 'cisco\n' >"$run/password"
fi
chmod 0600 "$run/password"

qemu_pid=
cleanup() {
  local rc=$? i
  if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
    say "stopping QEMU (pid $qemu_pid)"
    kill "$qemu_pid" 2>/dev/null || true
    for ((i = 0; i < 20; i++)); do kill -0 "$qemu_pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$qemu_pid" 2>/dev/null || true
  fi
  if [ "$rc" -ne 0 ] && [ -f "$run/console.log" ]; then
    say "last console lines:"
    tail -n 15 "$run/console.log" | sed 's/^/    /' >&2
  fi
  if [ "${CHECK_KEEP:-0}" = 1 ]; then
    say "kept $run"
  else
    rm -rf "$run"
  fi
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
qemu-img create -q -f qcow2 -F qcow2 -b "$image" "$run/overlay.qcow2"
qemu_version=$("$QEMU" --version | head -n 1)
say "booting $image under $accel with $QEMU ($qemu_version); ssh on 127.0.0.1:$port"
"$QEMU" "${accel_args[@]}" "${firmware_args[@]}" -machine pc -m "$mem" -smp "$smp" -name vhost-perf-lab-check,debug-threads=on \
  -nodefaults -display none -vga none -daemonize -pidfile "$pidfile" \
  -drive "file=$run/overlay.qcow2,format=qcow2,if=virtio,cache=unsafe" \
  -chardev "file,id=console0,path=$run/console.log" -serial chardev:console0 \
  -chardev "socket,id=qga0,path=$qga_sock,server=on,wait=off" -serial chardev:qga0 \
  -netdev "user,id=mgmt0,hostfwd=tcp:127.0.0.1:$port-:22" \
  -device e1000,netdev=mgmt0,mac=52:54:00:00:00:10 \
  -netdev user,id=data0,restrict=on \
  -device virtio-net-pci,netdev=data0,mac=52:54:00:00:01:01,rx_queue_size=1024,tx_queue_size=1024 \
  -netdev user,id=data1,restrict=on \
  -device virtio-net-pci,netdev=data1,mac=52:54:00:00:01:02,rx_queue_size=1024,tx_queue_size=1024 \
  >"$run/qemu.log" 2>&1 || die "QEMU did not start: $(cat "$run/qemu.log")"
qemu_pid=$(cat "$pidfile")
boot_t0=$SECONDS

say "waiting for the guest agent (deadline ${boot_timeout}s)"
"$qga" -s "$qga_sock" -t "$boot_timeout" ping >"$run/ping.json" || die "the guest agent did not answer"
agent_seconds=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["seconds"])' "$run/ping.json")
say "agent answered after ${agent_seconds}s (first guest-ping after QEMU start)"

fails=()
say "ssh $guest_user@127.0.0.1:$port with the password, then sudo -n true"
ssh_ok=false
for ((i = 0; i < 30; i++)); do
  if out=$(sshpass -f "$run/password" ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
    -o LogLevel=ERROR -o ConnectTimeout=10 -o PreferredAuthentications=password -o PubkeyAuthentication=no \
    -p "$port" "$guest_user@127.0.0.1" 'id -un; sudo -n true && echo sudo-ok' 2>&1); then
    ssh_ok=true
    break
  fi
  sleep 2
done
printf '  $ ssh %s@127.0.0.1 -p %s "id -un; sudo -n true && echo sudo-ok"\n%s\n' "$guest_user" "$port" \
  "$(printf '%s\n' "$out" | sed 's/^/    /')" >&2
sudo_ok=false
grep -qx sudo-ok <<<"$out" && sudo_ok=true
[ "$ssh_ok" = true ] || fails+=("ssh login")
[ "$sudo_ok" = true ] || fails+=("sudo -n true")
ssh_seconds=$((SECONDS - boot_t0))
say "ssh ready after ${ssh_seconds}s"
key_login=skipped
if [ -n "${CHECK_SSH_KEY:-}" ]; then
  if out=$(ssh -i "$CHECK_SSH_KEY" -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o PasswordAuthentication=no \
    -p "$port" "$guest_user@127.0.0.1" 'echo key-ok' 2>&1) && [ "$out" = key-ok ]; then
    key_login=ok
  else
    key_login=failed
    fails+=("ssh key login")
  fi
  say "ssh key login: $key_login"
fi

g_out=
guest() {
  # guest <label> <shell command>: run through the agent, show the output (also in $g_out),
  # remember a failure
  local rc=0
  g_out=$("$qga" -s "$qga_sock" -t 120 exec "$2" 2>&1) || rc=$?
  printf '  # %s\n  $ %s\n%s\n' "$1" "$2" "$(printf '%s\n' "$g_out" | sed 's/^/    /')" >&2
  [ "$rc" -eq 0 ] || fails+=("$1 (exit $rc)")
  return "$rc"
}

# systemd may still be starting units when the agent answers: wait for the boot to settle
guest "boot finished" 'systemctl is-system-running --wait >/dev/null 2>&1; systemctl is-system-running' || true
guest "ip -br link" 'ip -br link' || true
links=$g_out
for n in mgmt0 virtio0 virtio1; do
  grep -q "^$n " <<<"$links" || fails+=("NIC $n missing")
done
agent_ifaces=$("$qga" -s "$qga_sock" -t 60 ifaces | python3 -c '
import json, sys
print(" ".join("%s=%s" % (i["name"], i.get("hardware-address", "-")) for i in json.load(sys.stdin)))') ||
  fails+=("guest-network-get-interfaces")
printf '  # guest-network-get-interfaces (qga.py ifaces)\n    %s\n' "$agent_ifaces" >&2
guest "mgmt0 address (DHCP)" 'ip -br -4 addr show dev mgmt0' || true
# shellcheck disable=SC2016 # expanded in the guest
guest "NICs by PCI address" 'for n in mgmt0 virtio0 virtio1; do printf "%s %s\n" "$n" "$(basename "$(readlink -f /sys/class/net/$n/device/..)")/$(basename "$(readlink -f /sys/class/net/$n/device)")"; done' || true
guest "qemu-ga on ttyS1" 'systemctl is-active qemu-guest-agent && ps -o pid=,args= -C qemu-ga | grep -- "--path=/dev/ttyS1"' || true
guest "uio_pci_generic loaded" 'lsmod | grep uio_pci_generic' || true
guest "hugepages" 'grep -E "HugePages_Total|Hugepagesize" /proc/meminfo; cat /proc/cmdline' || true
# shellcheck disable=SC2016 # expanded in the guest
guest "VFIO no-IOMMU in the kernel" 'grep -E "CONFIG_VFIO_NOIOMMU|CONFIG_UIO_PCI_GENERIC" /boot/config-$(uname -r)' || true
guest "testpmd present" 'command -v dpdk-testpmd && dpdk-testpmd -v --no-huge --no-pci -m 64 --file-prefix vcheck -- -h 2>&1 | grep -m1 -i "version"' || true
if [ "${CHECK_L3FWD:-1}" = 1 ]; then
  guest "l3fwd present" 'command -v dpdk-l3fwd && ldd /usr/local/bin/dpdk-l3fwd | grep -c librte_' || true
fi
guest "bridge-utils" 'brctl --version' || true

testpmd=skipped
if [ "$check_testpmd" = 1 ]; then
  say "testpmd io on virtio0/virtio1 bound to uio_pci_generic (about 15 s)"
  # shellcheck disable=SC2016 # runs in the guest
  if guest "testpmd on the virtio NICs" 'set -e
    pci0=$(basename "$(readlink -f /sys/class/net/virtio0/device/..)")
    pci1=$(basename "$(readlink -f /sys/class/net/virtio1/device/..)")
    dpdk-devbind.py -b uio_pci_generic "$pci0" "$pci1"
    dpdk-devbind.py --status-dev net | grep -E "drv=uio_pci_generic"
    timeout -s INT 15 dpdk-testpmd -l 0,1 -n 1 --file-prefix vcheck -a "$pci0" -a "$pci1" -- \
      --forward-mode=io --auto-start --stats-period 5 --rxd=1024 --txd=1024 --total-num-mbufs=8192 \
      --disable-link-check </dev/null >/tmp/testpmd.log 2>&1 || true
    grep -E "^Port [01]: |packet forwarding|ring size|RX-packets|TX-packets|Bye" /tmp/testpmd.log | head -n 16
    dpdk-devbind.py -b virtio-pci "$pci0" "$pci1"
    grep -q "io packet forwarding" /tmp/testpmd.log && grep -q "^Bye" /tmp/testpmd.log'; then testpmd=ok; else testpmd=failed; fi
fi


say "shutting the guest down (systemctl poweroff through the agent)"
"$qga" -s "$qga_sock" -t 20 exec 'systemctl poweroff' >/dev/null 2>&1 || true
for ((i = 0; i < 120; i++)); do kill -0 "$qemu_pid" 2>/dev/null || break; sleep 1; done
if kill -0 "$qemu_pid" 2>/dev/null; then
  fails+=("guest did not power off within 120 s")
else
  say "QEMU exited after guest poweroff"
  qemu_pid=
fi

nics=$(awk '{printf "%s\"%s\"", (NR > 1 ? "," : ""), $1}' <<<"$links")
ok=true
[ "${#fails[@]}" -eq 0 ] || ok=false
printf '{"ok":%s,"image":"%s","accel":"%s","qemu":"%s","agent_seconds":%s,"ssh_ready_seconds":%d,"nics":[%s],"ssh":%s,"sudo":%s,"key_login":"%s","testpmd":"%s","failed":[%s],"seconds":%d}\n' \
  "$ok" "$image" "$accel" "$qemu_version" "$agent_seconds" "$ssh_seconds" "$nics" "$ssh_ok" "$sudo_ok" "$key_login" "$testpmd" \
  "$(for f in "${fails[@]}"; do printf '"%s",' "$f"; done | sed 's/,$//')" "$((SECONDS - t0))"
[ "$ok" = true ] || {
  say "FAILED: ${fails[*]}"
  exit 1
}
say "all checks passed"
