#!/usr/bin/env bash
# The reboot of a DUT for its kernel command line, and the check after it. Runs on the machine
# that runs Pulumi (a local command: the host cannot wait for its own reboot) and talks to the
# DUT with OpenSSH, key and pinned host key from stdin.
#
#   kernel-reboot.sh record   print the running kernel's command line (the original, before the
#                             lab's arguments; kept in the step's state for `revert`)
#   kernel-reboot.sh apply    the running kernel must carry every KARGS word and, when
#                             KARGS_ISOLATED is set, /sys/devices/system/cpu/isolated must be that
#                             list. Already so: nothing happens. Else with REBOOT_ALLOWED=1:
#                             reboot, wait for SSH within REBOOT_TIMEOUT_S, check again and fail
#                             naming what is missing; without: fail saying a reboot is pending
#   kernel-reboot.sh revert   the running kernel must carry none of the KARGS words the recorded
#                             original lacked ($PULUMI_COMMAND_STDOUT, the record's JSON line);
#                             else reboot when allowed and check; without permission: a warning
#                             (a destroy is not blocked), exit 0
#
# Environment: DUT_NAME (for messages), DUT_HOST, DUT_PORT, DUT_USER, KARGS (space-separated),
#   KARGS_ISOLATED (CPU list or empty), REBOOT_ALLOWED (0|1), REBOOT_TIMEOUT_S (10..7200),
#   REBOOT_POLL_S (seconds between attempts, default 5)
# stdin: line 1 the private key, base64 of the whole PEM; line 2 the pinned host key
#   ("ssh-ed25519 AAAA...").
# stdout, one JSON line: {"action":..,"rebooted":bool,"cmdline":..,"isolated":..,"bootId":..,
#   "waitedS":N}. Progress on stderr as `[reboot <host> <s>s] ...`.
set -euo pipefail
export LC_ALL=C

t0=$SECONDS
name=${DUT_NAME:-${DUT_HOST:-dut}}
say() { printf '[reboot %s %ds] %s\n' "$name" "$((SECONDS - t0))" "$*" >&2 || true; }
die() {
  say "ERROR: $*"
  exit 1
}
json_str() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//[[:cntrl:]]/}
  printf '"%s"' "$s"
}

mode=${1:-}
host=${DUT_HOST:?DUT_HOST}
port=${DUT_PORT:-22}
user=${DUT_USER:-root}
allowed=${REBOOT_ALLOWED:-0}
timeout_s=${REBOOT_TIMEOUT_S:-900}
poll_s=${REBOOT_POLL_S:-5}
kargs=${KARGS:-}
isolated_want=${KARGS_ISOLATED:-}
[[ "$host" =~ ^[A-Za-z0-9.:-]+$ ]] || die "DUT_HOST='$host' is not a host name or address"
[[ "$port" =~ ^[0-9]{1,5}$ ]] || die "DUT_PORT='$port' is not a port"
[[ "$user" =~ ^[a-z_][a-z0-9_-]{0,31}$ ]] || die "DUT_USER='$user' is not a user name"
[[ "$allowed" =~ ^[01]$ ]] || die "REBOOT_ALLOWED='$allowed' is not 0 or 1"
[[ "$timeout_s" =~ ^[0-9]{2,4}$ ]] || die "REBOOT_TIMEOUT_S='$timeout_s' is not 10..7200"
[[ "$poll_s" =~ ^[0-9]{1,3}$ ]] || die "REBOOT_POLL_S='$poll_s' is not a number of seconds"
[[ "$isolated_want" =~ ^[0-9,-]*$ ]] || die "KARGS_ISOLATED='$isolated_want' is not a CPU list"
for w in $kargs; do
  [[ "$w" =~ ^[A-Za-z0-9_.-]+(=[A-Za-z0-9_.,:/+-]+)?$ ]] || die "KARGS: '$w' is not a kernel argument"
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/vpl-reboot.XXXXXX")
trap 'rm -rf -- "$dir"' EXIT
(
  umask 077
  IFS= read -r key_b64 || die "stdin: no private key line"
  printf '%s' "$key_b64" | base64 -d >"$dir/key" 2>/dev/null || die "stdin: the private key line is not base64"
  IFS= read -r host_key || die "stdin: no host key line"
  [[ "$host_key" =~ ^(ssh-|ecdsa-)[A-Za-z0-9-]+\ [A-Za-z0-9+/=]+$ ]] || die "stdin: the host key line is not 'type base64'"
  if [ "$port" = 22 ]; then kh_host=$host; else kh_host="[$host]:$port"; fi
  printf '%s %s\n' "$kh_host" "$host_key" >"$dir/known_hosts"
)

ssh_opts=(-F /dev/null -i "$dir/key" -p "$port" -o BatchMode=yes -o IdentitiesOnly=yes
  -o StrictHostKeyChecking=yes -o "UserKnownHostsFile=$dir/known_hosts" -o GlobalKnownHostsFile=/dev/null
  -o ConnectTimeout=10 -o ServerAliveInterval=5 -o ServerAliveCountMax=2 -o LogLevel=ERROR)
# shellcheck disable=SC2029 # the remote commands are fixed strings of this script
remote() { ssh "${ssh_opts[@]}" "$user@$host" "$@" </dev/null; }

# state of the running kernel: sets cmdline, isolated, boot_id (fails when SSH does)
read_state() {
  local out
  out=$(remote 'cat /proc/cmdline; cat /sys/devices/system/cpu/isolated 2>/dev/null || echo; cat /proc/sys/kernel/random/boot_id' 2>"$dir/err") || return 1
  cmdline=$(sed -n 1p <<<"$out")
  isolated=$(sed -n 2p <<<"$out")
  boot_id=$(sed -n 3p <<<"$out")
  [ -n "$boot_id" ]
}

has_word() { [[ " $1 " == *" $2 "* ]]; }

# what is wrong with the running kernel for the mode: sets problems ("" = fine)
check() {
  local w
  problems=""
  if [ "$mode" = apply ]; then
    for w in $kargs; do has_word "$cmdline" "$w" || problems+="${problems:+; }missing $w"; done
    if [ -n "$isolated_want" ] && [ "$isolated" != "$isolated_want" ]; then
      problems+="${problems:+; }/sys/devices/system/cpu/isolated is '${isolated}', wanted '$isolated_want'"
    fi
  else
    for w in $kargs; do
      has_word "$original" "$w" && continue
      ! has_word "$cmdline" "$w" || problems+="${problems:+; }still has $w"
    done
  fi
}

result() {
  printf '{"action":"%s","rebooted":%s,"cmdline":%s,"isolated":%s,"bootId":%s,"waitedS":%d}\n' \
    "$mode" "$1" "$(json_str "$cmdline")" "$(json_str "$isolated")" "$(json_str "$boot_id")" "$2"
}

connect() {
  read_state || die "cannot reach $user@$host:$port over SSH: $(tr '\n' ' ' <"$dir/err"); fix: check the host's address, key and pinned host key"
}

reboot_and_wait() {
  local old=$boot_id deadline last_err
  say "rebooting $host (boot id $old); waiting up to ${timeout_s}s for SSH"
  # shellcheck disable=SC2016 # expanded on the host
  remote 'if [ "$(id -u)" = 0 ]; then s=""; else s="sudo -n"; fi
    nohup setsid sh -c "sleep 2; $s systemctl reboot || $s reboot" >/dev/null 2>&1 </dev/null &' ||
    die "could not ask $host to reboot (root or NOPASSWD sudo needed)"
  local start=$SECONDS
  deadline=$((SECONDS + timeout_s))
  while :; do
    sleep "$poll_s"
    if read_state; then
      if [ "$boot_id" != "$old" ]; then
        say "back after $((SECONDS - start))s (boot id $boot_id)"
        waited=$((SECONDS - start))
        return 0
      fi
      say "still the old boot: waiting for the reboot to start"
    else
      last_err=$(tr '\n' ' ' <"$dir/err")
      say "waiting for SSH on $host:$port ($((SECONDS - start))s of ${timeout_s}s): ${last_err:-no answer}"
    fi
    [ "$SECONDS" -lt "$deadline" ] ||
      die "$host did not come back over SSH within ${timeout_s}s (vhost-perf-lab:tuning.reboot.timeoutS); fix: check its console; raise the timeout if it boots slowly"
  done
}

cmdline="" isolated="" boot_id="" original="" problems="" waited=0
case "$mode" in
  record)
    connect
    result false 0
    ;;
  apply | revert)
    if [ "$mode" = revert ]; then
      original=$(sed -n 's/.*"cmdline":"\(\([^"\\]\|\\.\)*\)".*/\1/p' <<<"${PULUMI_COMMAND_STDOUT:-}" | tail -n 1)
      original=${original//\\\"/\"}
      original=${original//\\\\/\\}
      [ -n "$original" ] || say "no recorded original command line: checking only that the lab's arguments are gone"
    fi
    connect
    check
    if [ -z "$problems" ]; then
      say "the running kernel is as wanted: no reboot"
      result false 0
      exit 0
    fi
    if [ "$allowed" != 1 ]; then
      if [ "$mode" = revert ]; then
        say "WARNING: a reboot is pending on $host ($problems): the boot configuration is back, the running kernel not; reboot it when convenient"
        result false 0
        exit 0
      fi
      die "a reboot is pending on $host: the boot configuration has the lab's kernel arguments, the running kernel not ($problems). Nothing was rebooted: vhost-perf-lab:tuning.reboot.allowed is false. Fix: reboot $host yourself (ssh -p $port $user@$host sudo reboot), then run pulumi up again; or set vhost-perf-lab:tuning.reboot.allowed to true"
    fi
    say "the running kernel differs from the boot configuration ($problems)"
    reboot_and_wait
    check
    [ -z "$problems" ] ||
      die "after the reboot the kernel of $host is still not as wanted: $problems; fix: check /etc/default/grub and /etc/default/grub.d on the host (another drop-in may override GRUB_CMDLINE_LINUX), and that grub boots the configuration update-grub wrote"
    say "verified: $([ "$mode" = apply ] && echo "every argument present${isolated_want:+, isolated $isolated}" || echo "the lab's arguments are gone")"
    result true "$waited"
    ;;
  *) die "usage: $0 record|apply|revert" ;;
esac
