#!/usr/bin/env bash
# The DUT's kernel command line (tunings isolcpus and kernel-args), with its exact revert.
#
#   dut-kernel-args.sh apply    write KARGS into the grub drop-in, regenerate grub.cfg when the
#                               drop-in changed; report whether the running kernel lacks any of
#                               them (a reboot is needed). Never reboots: the reboot and the
#                               check after it are the next step's (scripts/kernel-reboot.sh)
#   dut-kernel-args.sh revert   put the drop-in back as apply found it (absent, or its old
#                               content), regenerate grub.cfg, forget the record
#
# Debian/Ubuntu only (update-grub reads /etc/default/grub.d/*.cfg). A RHEL-like host (grubby,
# BLS entries) is refused before anything changes.
#
# Environment:
#   KARGS             apply: the arguments, space-separated, each `name` or `name=value`
#                     (letters, digits and ._-; values also ,:/+)
#   KARGS_GRUB_DIR    the drop-in directory (default /etc/default/grub.d; tests: a temp dir)
#   KARGS_UPDATE      the regenerating command (default update-grub; tests: a fake)
#   KARGS_PROC        the proc tree (default /proc), for cmdline
#   KARGS_OS_RELEASE  (default /etc/os-release)
#   LAB_STACK, LAB_STATE_ROOT   see scripts/lib/tuning-common.sh
#
# Record: $LAB_STATE_ROOT/.kernel-args/<stack>.rec (outside the stack's state dir: it must
# outlive the lab directories, which are removed before this step's revert), key=value lines:
# dropin_existed (yes|no), cmdline (the running kernel's command line when this stack first
# applied), args (what the drop-in holds now). A drop-in that existed before is kept beside the
# record as <stack>.orig and put back by revert. Another stack's record refuses apply: the
# drop-in is host-wide.
#
# A failing apply puts the drop-in back and regenerates grub.cfg again, exits 1.
#
# stdout, one JSON line:
#   {"tuning":"kernel-args","action":"apply"|"revert","changed":bool,"rebootNeeded":bool,
#    "cmdline":<running>,"missing":[<wanted, not running>],"stale":[<running, no longer wanted>],
#    "dropin":<path>,"originalCmdline":<recorded>}
# Progress on stderr as `[kernel-args] ...`.
set -euo pipefail
export LC_ALL=C

log_tag=kernel-args
record_name=kernel-args.rec
# shellcheck source-path=SCRIPTDIR source=lib/tuning-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/tuning-common.sh"

grub_dir=${KARGS_GRUB_DIR:-/etc/default/grub.d}
update_cmd=${KARGS_UPDATE:-update-grub}
procfs=${KARGS_PROC:-/proc}
os_release=${KARGS_OS_RELEASE:-/etc/os-release}
dropin=$grub_dir/vhost-perf-lab.cfg
stack=${LAB_STACK:-by-hand}
[[ "$stack" =~ ^[a-z0-9][a-z0-9-]{0,30}$ ]] || die "LAB_STACK='$stack' is not a stack name"
rec_dir=$state_root/.kernel-args
rec=$rec_dir/$stack.rec
orig=$rec_dir/$stack.orig

ARG_RE='^[A-Za-z0-9_.-]+(=[A-Za-z0-9_.,:/+-]+)?$'

refuse_rhel() {
  local id="" like=""
  if [ -r "$os_release" ]; then
    id=$(sed -n 's/^ID=//p' "$os_release" | tr -d '"')
    like=$(sed -n 's/^ID_LIKE=//p' "$os_release" | tr -d '"')
  fi
  case " $id $like " in
    *" rhel "* | *" fedora "* | *" centos "* | *" rocky "* | *" almalinux "*)
      die "this host is RHEL-like (ID=$id${like:+, ID_LIKE=$like}): its kernel arguments belong to grubby, which this project does not drive yet; nothing was changed; fix: set them by hand (grubby --update-kernel=ALL --args='$*') and remove isolcpus/kernel-args from vhost-perf-lab:tuning.apply"
      ;;
  esac
  if ! command -v "${update_cmd%% *}" >/dev/null 2>&1; then
    if command -v grubby >/dev/null 2>&1; then
      die "no $update_cmd but grubby on this host: grubby is not driven yet; nothing was changed; fix: set the arguments by hand with grubby and remove isolcpus/kernel-args from vhost-perf-lab:tuning.apply"
    fi
    die "no $update_cmd on this host (package grub2-common/grub-pc); nothing was changed; fix: install grub-pc or grub-efi, or remove isolcpus/kernel-args from vhost-perf-lab:tuning.apply"
  fi
}

cmdline_now() {
  read_value "$procfs/cmdline" || die "cannot read $procfs/cmdline: $read_err"
  printf '%s' "$value"
}

# has_word LIST WORD: WORD is one of the space-separated words of LIST
has_word() { [[ " $1 " == *" $2 "* ]]; }

json_list() {
  local w out="" sep=""
  for w in $1; do
    out+="$sep$(json_str "$w")"
    sep=,
  done
  printf '[%s]' "$out"
}

r_existed="" r_cmdline="" r_args=""
load_rec() {
  local line
  [ -f "$rec" ] || return 1
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in
      dropin_existed=*) r_existed=${line#*=} ;;
      cmdline=*) r_cmdline=${line#*=} ;;
      args=*) r_args=${line#*=} ;;
      '') ;;
      *) die "$rec: unexpected line '$line'; fix: check $dropin by hand, then remove the record" ;;
    esac
  done <"$rec"
  case "$r_existed" in yes | no) ;; *) die "$rec: dropin_existed '$r_existed' is not yes/no; fix: check $dropin by hand, then remove the record" ;; esac
}

save_rec() {
  mkdir -p -- "$rec_dir"
  printf 'dropin_existed=%s\ncmdline=%s\nargs=%s\n' "$r_existed" "$r_cmdline" "$r_args" >"$rec.tmp"
  mv -f -- "$rec.tmp" "$rec"
}

regenerate() {
  local out
  log "regenerating the boot configuration ($update_cmd)"
  # shellcheck disable=SC2086 # KARGS_UPDATE may carry arguments (tests)
  if ! out=$($update_cmd 2>&1); then
    printf '%s\n' "$out" | tail -n 5 >&2
    return 1
  fi
}

# wanted args and the running kernel: sets missing (wanted, not running) and stale (applied
# before by this stack, not wanted now, not in the original cmdline, still running)
compare() {
  local running=$1 want=$2 w
  missing="" stale=""
  for w in $want; do has_word "$running" "$w" || missing+="${missing:+ }$w"; done
  for w in $r_args; do
    has_word "$want" "$w" && continue
    has_word "$r_cmdline" "$w" && continue
    ! has_word "$running" "$w" || stale+="${stale:+ }$w"
  done
}

# content of the drop-in for the args
dropin_text() {
  printf '# vhost-perf-lab (stack %s): the DUT kernel arguments (tunings isolcpus, kernel-args).\n' "$stack"
  printf '# Written by scripts/dut-kernel-args.sh; pulumi destroy puts back what was here before.\n'
  # shellcheck disable=SC2016 # the variable is grub's, expanded when update-grub sources the file
  printf 'GRUB_CMDLINE_LINUX="${GRUB_CMDLINE_LINUX} %s"\n' "$1"
}

# put the drop-in back to what it was before this run (undo of a failed apply)
dropin_before="" dropin_had=0
undo() {
  applying=0
  if [ "$dropin_had" = 1 ]; then
    printf '%s' "$dropin_before" >"$dropin" && log "put back $dropin"
  else
    rm -f -- "$dropin" && log "removed $dropin again"
  fi
  regenerate || log "WARNING: regenerating the boot configuration failed during the undo: run $update_cmd by hand"
  restore_record
}

result() {
  printf '{"tuning":"kernel-args","action":"%s","changed":%s,"rebootNeeded":%s,"cmdline":%s,"missing":%s,"stale":%s,"dropin":%s,"originalCmdline":%s}\n' \
    "$1" "$2" "$3" "$(json_str "$4")" "$(json_list "$missing")" "$(json_list "$stale")" \
    "$(json_str "$dropin")" "$(json_str "$r_cmdline")"
}

apply() {
  local want="" w running did=false need=false f
  for w in ${KARGS:-}; do
    [[ "$w" =~ $ARG_RE ]] || die "KARGS: '$w' is not a kernel argument (name or name=value of letters, digits and ._-,:/+)"
    has_word "$want" "$w" || want+="${want:+ }$w"
  done
  [ -n "$want" ] || die "KARGS is empty: nothing to apply"
  refuse_rhel "$want"
  [ -d "$grub_dir" ] || [ -d "$(dirname -- "$grub_dir")" ] ||
    die "$(dirname -- "$grub_dir") does not exist: not a grub host; fix: install grub-pc or remove isolcpus/kernel-args from vhost-perf-lab:tuning.apply"
  for f in "$rec_dir"/*.rec; do
    if [ ! -f "$f" ] || [ "$f" = "$rec" ]; then continue; fi
    die "the kernel command line is held by stack $(basename -- "$f" .rec) (record $f); fix: destroy that stack or remove isolcpus/kernel-args from vhost-perf-lab:tuning.apply"
  done
  running=$(cmdline_now)
  prev=$rec
  remember_record
  if ! load_rec; then
    r_cmdline=$running r_args=""
    if [ -f "$dropin" ]; then
      r_existed=yes
      mkdir -p -- "$rec_dir"
      cp -p -- "$dropin" "$orig"
      log "$dropin exists (not recorded by this stack): kept as $orig for the revert"
    else
      r_existed=no
    fi
  fi
  if [ -f "$dropin" ]; then
    dropin_had=1
    dropin_before=$(cat -- "$dropin"; printf x)
    dropin_before=${dropin_before%x}
  fi
  local text
  text=$(dropin_text "$want")
  if [ "$dropin_had" = 1 ] && [ "${dropin_before%$'\n'}" = "$text" ]; then
    log "$dropin holds these arguments already: nothing to regenerate"
  else
    applying=1
    save_rec
    mkdir -p -- "$grub_dir"
    printf '%s\n' "$text" >"$dropin.tmp"
    mv -f -- "$dropin.tmp" "$dropin"
    log "wrote $dropin: $want"
    regenerate || die "$update_cmd failed (drop-in put back); fix: run $update_cmd on the host to see why"
    did=true
  fi
  compare "$running" "$want"
  r_args=$want
  save_rec
  applying=0
  if [ -n "$missing$stale" ]; then
    need=true
    log "the running kernel lacks: ${missing:-none}; still runs with: ${stale:-none}: a reboot is needed"
  else
    log "the running kernel has every argument"
  fi
  result apply "$did" "$need" "$running"
}

revert() {
  local running w
  running=$(cmdline_now)
  missing="" stale=""
  if ! load_rec; then
    log "nothing recorded in $rec: nothing to revert"
    result revert false false "$running"
    return
  fi
  if [ "$r_existed" = yes ] && [ -f "$orig" ]; then
    cp -p -- "$orig" "$dropin"
    log "put back the drop-in that was there before ($dropin)"
  else
    rm -f -- "$dropin"
    log "removed $dropin"
  fi
  regenerate || die "$update_cmd failed; the drop-in is back as before; fix: run $update_cmd on the host, then destroy again"
  # what the running kernel still carries of this stack's arguments
  for w in $r_args; do
    has_word "$r_cmdline" "$w" && continue
    ! has_word "$running" "$w" || stale+="${stale:+ }$w"
  done
  rm -f -- "$rec" "$orig"
  rmdir -- "$rec_dir" 2>/dev/null || true
  result revert true "$([ -n "$stale" ] && echo true || echo false)" "$running"
}

case "${1:-}" in
  apply) apply ;;
  revert) revert ;;
  *) die "usage: $0 apply|revert" ;;
esac
