# shellcheck shell=bash
# shellcheck disable=SC2034 # results handed to the sourcing script in globals
# The guest side of a vhost-user VM, sourced by scripts/vm.sh (QEMU backend) and
# scripts/vm-libvirt.sh (libvirt backend), so both wait for, check and drive the guest the same
# way (moved here unchanged from vm.sh). The sourcing script defines before it: say, die, run_bg,
# bg_out, bg_out_all, is_uint, and the inputs VM_QGA_SOCKET, VM_QMP_SOCKET, QGA_PY, QMP_PY,
# ARG_VCPUS, VIRTIO_NICS, VM_GUEST_NICS, GUEST_TESTPMD, GUEST_HUGEPAGES, VRING_CHECK, VRING_TIMEOUT.

# "tid name" of the vCPU threads ("CPU <n>/KVM|TCG", named with debug-threads=on), by vCPU number
vcpu_threads() {
  local t comm
  for t in "/proc/$1/task/"*; do
    comm=$(cat "$t/comm" 2>/dev/null) || continue
    if [[ "$comm" =~ ^CPU\ ([0-9]+)/ ]]; then printf '%s %s %s\n' "${BASH_REMATCH[1]}" "${t##*/}" "$comm"; fi
  done | sort -n
}
vcpu_tids_json() {
  local out="" idx tid name
  while read -r idx tid name; do out+="${out:+,}$tid"; done < <(vcpu_threads "$1")
  printf '[%s]\n' "$out"
}
vcpu_threads_json() {
  local out="" idx tid name
  while read -r idx tid name; do
    out+="${out:+,}{\"vcpu\":$idx,\"tid\":$tid,\"name\":\"$name\"}"
  done < <(vcpu_threads "$1")
  printf '[%s]\n' "$out"
}

# ---------------------------------------------------------------------------------------------
# helpers around the agent and QMP

need_qga() {
  if [ -z "$QGA_PY" ] || [ ! -f "$QGA_PY" ]; then
    die "QGA_PY='$QGA_PY' is not a file (upload scripts/guest-image/qga.py)"
  fi
}
qga() { run_bg python3 "$QGA_PY" -s "$VM_QGA_SOCKET" "$@"; }
qmp() {
  if [ -z "$QMP_PY" ] || [ ! -f "$QMP_PY" ]; then return 3; fi
  run_bg python3 "$QMP_PY" "$@"
}

# one JSON object from (type key value) triples; type s = string, j = JSON text
json_obj() {
  python3 -c '
import json, sys
a = sys.argv[1:]
o = {}
for i in range(0, len(a), 3):
    t, k, v = a[i:i + 3]
    o[k] = v if t == "s" else json.loads(v)
print(json.dumps(o, separators=(",", ":")))
' "$@"
}

# IFACES_JSON = names of the guest's interfaces (JSON list), from guest-network-get-interfaces
IFACES_JSON='[]'
guest_ifaces_json() {
  local raw
  bg_out raw python3 "$QGA_PY" -s "$VM_QGA_SOCKET" -t 60 ifaces || return 1
  IFACES_JSON=$(python3 -c '
import json, sys
names = sorted(i.get("name", "") for i in json.loads(sys.argv[1]) if i.get("name") not in (None, "lo"))
print(json.dumps(names))
' "$raw")
}

# guest side: files of the guest testpmd
G_PIDF=/run/vm-testpmd.pid
G_LOG=/var/log/vm-testpmd.log
G_NICS=/run/vm-testpmd.nics

# TESTPMD_STATE = running | off | unknown
guest_testpmd_state() {
  bg_out TESTPMD_STATE python3 "$QGA_PY" -s "$VM_QGA_SOCKET" -t 30 exec "if [ -s $G_PIDF ] && kill -0 \"\$(cat $G_PIDF)\" 2>/dev/null; then echo running; else echo off; fi" 2>/dev/null ||
    TESTPMD_STATE=unknown
}
# BOUND_NICS = NIC names an earlier start bound to uio_pci_generic (they no longer show as
# interfaces), space-separated
guest_bound_nics() {
  bg_out BOUND_NICS python3 "$QGA_PY" -s "$VM_QGA_SOCKET" -t 30 exec "[ -s $G_NICS ] || exit 0; while read -r n p; do [ -e /sys/bus/pci/drivers/uio_pci_generic/\$p ] && echo \$n; done < $G_NICS; true" 2>/dev/null || BOUND_NICS=""
  BOUND_NICS=${BOUND_NICS//$'\n'/ }
}

# The script run in the guest (as root, by the agent) to start testpmd on the virtio NICs.
# Every value spliced in was validated above (mode, counts, NIC names, lcore list).
guest_testpmd_script() {
  local mode="$1" pages="$2" nics="$3" lcores="$4" nbc="$5" nports="$6" mask="$7" extra="${8:-}"
  cat <<EOF
set -eu
pidf=$G_PIDF; log=$G_LOG; state=$G_NICS
running() { [ -s "\$pidf" ] && kill -0 "\$(cat "\$pidf")" 2>/dev/null; }
if running; then echo "testpmd already running (pid \$(cat "\$pidf"))"; exit 0; fi
modprobe uio_pci_generic
[ "\$(cat /proc/sys/vm/nr_hugepages)" -ge $pages ] || echo $pages > /proc/sys/vm/nr_hugepages
have=\$(cat /proc/sys/vm/nr_hugepages)
[ "\$have" -ge $pages ] || { echo "only \$have of $pages hugepages in the guest" >&2; exit 1; }
grep -qs '^[^ ]* /dev/hugepages hugetlbfs' /proc/mounts || { mkdir -p /dev/hugepages; mount -t hugetlbfs nodev /dev/hugepages; }
: > "\$state.new"; pcis=""
for n in $nics; do
  if [ -e "/sys/class/net/\$n/device" ]; then
    p=\$(basename "\$(dirname "\$(readlink -f "/sys/class/net/\$n/device")")")
    ip link set "\$n" down
  else
    p=\$(awk -v n="\$n" '\$1 == n { print \$2 }' "\$state" 2>/dev/null || true)
    [ -n "\$p" ] || { echo "no NIC \$n in the guest" >&2; exit 1; }
  fi
  echo "\$n \$p" >> "\$state.new"; pcis="\$pcis \$p"
done
mv "\$state.new" "\$state"
dpdk-devbind.py --force -b uio_pci_generic \$pcis
allow=""; for p in \$pcis; do allow="\$allow -a \$p"; done
rm -f /dev/hugepages/vm-testpmd* 2>/dev/null || true
setsid nohup dpdk-testpmd -l $lcores -n 1 \$allow --file-prefix=vm-testpmd -- \\
  --forward-mode=$mode --burst=64 --txd=1024 --rxd=1024 --auto-start --disable-link-check \\
  --nb-ports=$nports --portmask=$mask --nb-cores=$nbc --stats-period=10$extra \\
  </dev/null >"\$log" 2>&1 &
echo \$! > "\$pidf"
i=0
while ! grep -q 'packet forwarding - ports=' "\$log"; do
  running || { echo "guest testpmd exited:" >&2; tail -n 25 "\$log" >&2; exit 1; }
  i=\$((i + 1)); [ \$i -le 120 ] || { echo "guest testpmd did not start forwarding in 120 s" >&2; tail -n 25 "\$log" >&2; exit 1; }
  sleep 1
done
sleep 1
running || { echo "guest testpmd exited:" >&2; tail -n 25 "\$log" >&2; exit 1; }
echo "testpmd pid \$(cat "\$pidf"): \$(grep -m 1 'packet forwarding - ports=' "\$log")"
EOF
}

guest_testpmd_stop_script() {
  cat <<EOF
pidf=$G_PIDF
if [ -s "\$pidf" ] && kill -0 "\$(cat "\$pidf")" 2>/dev/null; then
  p=\$(cat "\$pidf"); kill -INT "\$p"; i=0
  while kill -0 "\$p" 2>/dev/null && [ \$i -lt 50 ]; do sleep 0.2; i=\$((i + 1)); done
  kill -KILL "\$p" 2>/dev/null || true
  echo stopped
fi
rm -f "\$pidf"
EOF
}

start_guest_testpmd() {
  local vcpus="$ARG_VCPUS" n="${#VIRTIO_NICS[@]}" lcores nbc mask
  is_uint "$vcpus" || vcpus=1
  [ "$vcpus" -ge 2 ] || die "guest testpmd needs 2 or more vCPUs (one main lcore, one forwarding); the VM has $vcpus"
  [ "$n" -ge 1 ] || die "no virtio NICs for the guest testpmd (VM_GUEST_NICS='$VM_GUEST_NICS')"
  lcores="0-$((vcpus - 1))"
  nbc=$((vcpus - 1))
  [ "$nbc" -le "$n" ] || nbc=$n
  mask=$(printf '0x%x' "$(((1 << n) - 1))")
  say "guest: testpmd $GUEST_TESTPMD forwarding on ${VIRTIO_NICS[*]} (uio_pci_generic, $GUEST_HUGEPAGES hugepages, lcores $lcores${GUEST_JUMBO_OPTS:+,$GUEST_JUMBO_OPTS})"
  local out
  if ! bg_out_all out python3 "$QGA_PY" -s "$VM_QGA_SOCKET" -t 240 exec \
    "$(guest_testpmd_script "$GUEST_TESTPMD" "$GUEST_HUGEPAGES" "${VIRTIO_NICS[*]}" "$lcores" "$nbc" "$n" "$mask" "${GUEST_JUMBO_OPTS:-}")"; then
    printf '%s\n' "$out" >&2
    die "starting testpmd in the guest failed (guest log: $G_LOG)"
  fi
  say "guest: ${out//$'\n'/ | }"
}

# VRINGS = the vring sizes (JSON); VRING_CHECK=strict: every virtio-net device must run vhost
# with its configured sizes within VRING_TIMEOUT s, else start fails
VRINGS=null
check_vrings() {
  local vrings bad end=$((SECONDS + VRING_TIMEOUT))
  while :; do
    query_vrings
    vrings=$VRINGS_JSON
    [ "$VRING_CHECK" = strict ] || break
    bad=$(python3 -c '
import json, sys
v = json.loads(sys.argv[1])
if not v:
    print("no vring sizes (QMP query failed or no virtio-net device)")
for dev, q in sorted((v or {}).items()):
    if not q.get("vhostStarted"):
        print("%s: vhost not started" % dev)
    elif (q.get("rx"), q.get("tx")) != (q.get("rxMax"), q.get("txMax")):
        print("%s: rx %s tx %s, configured %s/%s" % (dev, q.get("rx"), q.get("tx"), q.get("rxMax"), q.get("txMax")))
' "$vrings" | paste -sd ';' -)
    [ -n "$bad" ] || break
    [ "$SECONDS" -lt "$end" ] || die "vring check failed: ${bad} (VM_VRING_CHECK=strict)"
    say "vring check: $bad; asking again"
    sleep 2
  done
  VRINGS=$vrings
}

# VRINGS_JSON = the vring sizes over QMP (JSON), or null
VRINGS_JSON=null
query_vrings() {
  local out
  if [ -z "$QMP_PY" ] || [ ! -f "$QMP_PY" ]; then
    say "WARNING: could not query vring sizes over QMP: no QMP_PY"
    VRINGS_JSON=null
    return 0
  fi
  if bg_out_all out python3 "$QMP_PY" --timeout 15 "$VM_QMP_SOCKET" vrings; then
    VRINGS_JSON=$out
    say "vring sizes: $(python3 -c '
import json, sys
for dev, v in sorted(json.loads(sys.argv[1]).items()):
    warn = "" if (v["rx"], v["tx"]) == (v["rxMax"], v["txMax"]) else "  <-- SMALLER THAN CONFIGURED"
    print("%s rx %s tx %s (configured %s/%s, %s)%s" % (dev, v["rx"], v["tx"], v["rxMax"], v["txMax"],
          "vhost started" if v["vhostStarted"] else "vhost not started", warn))
' "$out" | paste -sd ';' -)"
  else
    say "WARNING: could not query vring sizes over QMP: $out"
    VRINGS_JSON=null
  fi
}

