#!/usr/bin/env bash
# Hugepage tuning of a DUT with its exact revert, per stack.
#
#   dut-hugepages.sh apply    make the pool of HUGEPAGES_SIZE hold HUGEPAGES_COUNT pages for this
#                             stack on top of what the other stacks' records need, mount a
#                             hugetlbfs of that page size for this stack
#   dut-hugepages.sh revert   unmount and remove what apply mounted and created, give back the
#                             pages this stack added, into the pool of the recorded size
#
# Environment:
#   HUGEPAGES_SIZE   2M or 1G (default 2M)
#   HUGEPAGES_COUNT  pages this stack needs (default 0)
#   HUGEPAGES_MOUNT  the hugetlbfs mount point (default $LAB_RUN_DIR/hugepages-<size>, e.g.
#                    /run/vhost-perf-lab/<stack>/hugepages-2M); an absolute path of letters,
#                    digits and ._+@:/-
#   LAB_STACK, LAB_RUN_DIR, LAB_STATE_DIR, LAB_STATE_ROOT   see scripts/lib/tuning-common.sh
#   HUGEPAGES_NODE   the DUT's NUMA node (digits; default empty: the host-wide pool): the pages
#                    are reserved in /sys/devices/system/node/node<N>/hugepages/... instead; when
#                    that node directory is missing, the host-wide pool is used (said on stderr)
#   TUNING_SYSFS     the sys tree (default /sys; tests point it at a fake tree)
#   TUNING_PROCFS    the proc tree (default /proc), for mounts
#
# Pages are additive per stack: apply asks for need = HUGEPAGES_COUNT + the counts of the other
# stacks' records of the same size ($LAB_STATE_ROOT/<other>/hugepages.rec); when the pool holds
# fewer it is raised to need and the difference is this stack's `added`. A later apply with a
# lower count gives back what this stack added beyond the new need; one with another size (or
# mount) first gives back the old size's pages (and mount). revert lowers the pool of the
# recorded size by `added`, never below what the remaining stacks' records need, and unmounts
# and removes the mount point (and the directories) only if apply created them.
#
# Record: $LAB_STATE_DIR/hugepages.rec, key=value lines: size (2M|1G), count (this stack's
# pages), before (the pool when this stack first applied), added (pages this stack added),
# mount (path), mount_created (yes|no: apply mounted it), dirs_created (the topmost directory
# apply created for the mount point, or empty). The record is written before a mount and
# right after a pool change. node=<N> (written only for a per-node pool; a record without it
# is host-wide) names the NUMA node whose pool apply changed; revert gives back there. A 1G
# pool the kernel cannot fill at run time (no contiguous memory) is put back and apply fails
# naming the boot-time fix (hugepagesz=1G hugepages=<N> via tuning.apply kernel-args); a pool
# that already holds enough pages (e.g. reserved at boot) is taken over without a write (a KILL in between can leak the pages of that one change, never
# take back pages the stack did not add).
#
# A record of the version before this one ($LAB_STATE_DIR/hugepages.prev: size, pages = the
# pool before, mounted = whether /dev/hugepages was mounted before) is taken over: the lab
# added what the pool holds beyond `pages`, and mounted /dev/hugepages if it was not; it is
# removed once an apply or revert has finished.
#
# A failing apply puts back what it changed (pool, mount, directories, record) and exits 1;
# SIGTERM/SIGINT do the same and exit 143/130. A revert that cannot unmount (in use) fails
# and keeps the record, so a second revert can finish.
#
# stdout, one JSON line:
#   apply   {"size":"2M","requested":<count>,"total":<pool now>,"free":<free now>,
#            "mount":<path>,"mounted":true,"before":<pool before this stack>,
#            "added":<pages this stack added>,"others":<pages the other stacks' records need>}
#           plus "node":<N> when a per-node pool was used (also on revert)
#   revert  {"size":<recorded size>,"total":..,"free":..,"mount":<path>,"mounted":false,
#            "released":<pages given back>}
# Progress on stderr as `[hugepages] ...`.
set -euo pipefail
export LC_ALL=C

sysfs=${TUNING_SYSFS:-/sys}
procfs=${TUNING_PROCFS:-/proc}
size=${HUGEPAGES_SIZE:-2M}
count=${HUGEPAGES_COUNT:-0}
node=${HUGEPAGES_NODE:-}

log_tag=hugepages
record_name=hugepages.rec
# shellcheck source-path=SCRIPTDIR source=lib/tuning-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/tuning-common.sh"

mnt=${HUGEPAGES_MOUNT:-$run_dir/hugepages-$size}
pages=0
others=0
released=0

# pool_of SIZE [NODE]: the pool directory, host-wide or of NUMA node NODE
pool_of() {
  local base=$sysfs/kernel/mm/hugepages
  [ -z "${2:-}" ] || base=$sysfs/devices/system/node/node$2/hugepages
  case "$1" in
    2M) printf '%s/hugepages-2048kB' "$base" ;;
    1G) printf '%s/hugepages-1048576kB' "$base" ;;
    *) return 1 ;;
  esac
}

# pool_read POOL [free]: sets $pages to the pool's nr_hugepages (or free_hugepages)
# (a global, not printed: die must run in this shell, where the undo is)
pool_read() {
  local f="$1/${2:-nr}_hugepages"
  read_value "$f" || die "cannot read $f: $read_err"
  [[ "$value" =~ ^[0-9]{1,12}$ ]] || die "$f reads '$value', not a number"
  pages=$((10#$value))
}

# the type and options of what is mounted at $1 (the last mount there): "hugetlbfs rw,...,pagesize=2M"
mount_at() {
  awk -v m="$1" '$2 == m {found = $3 " " $4} END {if (found == "") exit 1; print found}' "$procfs/mounts"
}
# a hugetlbfs of page size $2 is mounted at $1
hugetlbfs_at() {
  local m
  m=$(mount_at "$1") || return 1
  [ "${m%% *}" = hugetlbfs ] && [[ ",${m#* }," == *",pagesize=$2,"* ]]
}

# others_need SIZE [NODE]: sets $others to the counts of the other stacks' records of that size
# (and node: empty = host-wide), summed
others_need() {
  local f d line sum=0 rsize rcount rnode
  for f in "$state_root"/*/"$record_name"; do
    [ -f "$f" ] || continue
    d=$(dirname -- "$f")
    [ "$d" != "$state_dir" ] || continue
    [ ! -d "$state_dir" ] || [ ! "$d" -ef "$state_dir" ] || continue
    rsize="" rcount="" rnode=""
    while IFS= read -r line || [ -n "$line" ]; do
      case "$line" in
        size=*) rsize=${line#size=} ;;
        count=*) rcount=${line#count=} ;;
        node=*) rnode=${line#node=} ;;
      esac
    done <"$f"
    [ "$rsize" = "$1" ] || continue
    [ "$rnode" = "${2:-}" ] || continue
    [[ "$rcount" =~ ^[0-9]{1,9}$ ]] ||
      die "$f: count '$rcount' is not a number; fix: check that stack's hugepages by hand and correct or remove its record"
    sum=$((sum + 10#$rcount))
  done
  others=$sum
}

# the record: r_size r_count r_before r_added r_mount r_mount_created r_dirs
r_size="" r_count=0 r_before=0 r_added=0 r_mount="" r_mount_created=no r_dirs="" r_node=""
legacy="$state_dir/hugepages.prev"
load_record() {
  local line
  if [ ! -f "$prev" ] && [ -f "$legacy" ]; then
    load_legacy
    return
  fi
  [ -f "$prev" ] || return 0
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in
      size=*) r_size=${line#*=} ;;
      count=*) r_count=${line#*=} ;;
      before=*) r_before=${line#*=} ;;
      added=*) r_added=${line#*=} ;;
      mount=*) r_mount=${line#*=} ;;
      mount_created=*) r_mount_created=${line#*=} ;;
      dirs_created=*) r_dirs=${line#*=} ;;
      node=*) r_node=${line#*=} ;;
      '') ;;
      *) die "$prev: unexpected line '$line'; fix: check the hugepage pools and mounts by hand, then remove the file" ;;
    esac
  done <"$prev"
  [[ "$r_node" =~ ^([0-9]{1,4})?$ ]] ||
    die "$prev: node '$r_node' is not a NUMA node number; fix: check the hugepage pools by hand, then remove the file"
  pool_of "$r_size" >/dev/null ||
    die "$prev: size '$r_size' is not 2M or 1G; fix: check the hugepage pools and mounts by hand, then remove the file"
  case "$r_mount" in
    /*) ;;
    *) die "$prev: mount '$r_mount' is not an absolute path; fix: check the hugepage mounts by hand, then remove the file" ;;
  esac
  local n
  for n in "$r_count" "$r_before" "$r_added"; do
    [[ "$n" =~ ^[0-9]{1,9}$ ]] ||
      die "$prev: '$n' is not a page count; fix: check the hugepage pools and mounts by hand, then remove the file"
  done
  r_count=$((10#$r_count)) r_before=$((10#$r_before)) r_added=$((10#$r_added))
}

# the record of the version before (size=, pages= the pool before, mounted= yes|no for
# /dev/hugepages) as this version's: added = what the pool holds beyond pages now
load_legacy() {
  local line lsize="" lpages="" lmounted="" p
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in
      size=*) lsize=${line#*=} ;;
      pages=*) lpages=${line#*=} ;;
      mounted=*) lmounted=${line#*=} ;;
    esac
  done <"$legacy"
  if ! p=$(pool_of "$lsize") || ! [[ "$lpages" =~ ^[0-9]{1,9}$ && "$lmounted" =~ ^(yes|no)$ ]]; then
    die "$legacy: not a record of size=2M|1G, pages=<n>, mounted=yes|no; fix: check the hugepage pools and mounts by hand, then remove the file"
  fi
  r_size=$lsize r_before=$((10#$lpages)) r_added=0
  if [ -d "$p" ]; then
    pool_read "$p"
    [ "$pages" -le "$r_before" ] || r_added=$((pages - r_before))
  fi
  r_count=$r_added r_mount=/dev/hugepages r_dirs=""
  r_mount_created=no
  [ "$lmounted" = yes ] || r_mount_created=yes
  log "taking over the record of the version before ($legacy): $r_added x $r_size pages added, /dev/hugepages mounted by the lab: $r_mount_created"
}

save_record() {
  mkdir -p -- "$state_dir"
  printf 'size=%s\ncount=%s\nbefore=%s\nadded=%s\nmount=%s\nmount_created=%s\ndirs_created=%s\n' \
    "$r_size" "$r_count" "$r_before" "$r_added" "$r_mount" "$r_mount_created" "$r_dirs" >"$prev.tmp"
  [ -z "$r_node" ] || printf 'node=%s\n' "$r_node" >>"$prev.tmp"
  mv -f -- "$prev.tmp" "$prev"
}

# remove the directories apply created for mount point $1, up to and including $2 (when empty)
remove_dirs() {
  local d=$1 top=$2
  [ -n "$top" ] || return 0
  case "$d/" in "$top"/*) ;; *) return 0 ;; esac # only below what apply created
  while :; do
    if [ -d "$d" ] && ! rmdir -- "$d" 2>/dev/null; then
      log "WARNING: $d is not empty: left in place"
      return 0
    fi
    [ "$d" != "$top" ] && [ "$d" != / ] || return 0
    d=$(dirname -- "$d")
  done
}

do_mount() {
  mount -t hugetlbfs -o "pagesize=$2" -- nodev "$1"
}

# this run's changes, newest last: "pool<US>path<US>value", "umount<US>path",
# "rmdir<US>path<US>top", "mount<US>path<US>size<US>top" (pushed BEFORE each change, so a
# signal right after it still finds it; each undo checks the host first)
readonly US=$'\x1f'
undo_acts=()

undo() {
  local i act
  local -a a
  applying=0
  for ((i = ${#undo_acts[@]} - 1; i >= 0; i--)); do
    IFS=$US read -r -a a <<<"${undo_acts[$i]}"
    act=${a[0]}
    case "$act" in
      pool)
        if read_value "${a[1]}" && [ "$value" = "${a[2]}" ]; then
          :
        elif write_value "${a[1]}" "${a[2]}"; then
          log "put back ${a[1]} = ${a[2]}"
        else
          log "WARNING: could not put back ${a[1]} = ${a[2]}: $write_err"
        fi
        ;;
      umount)
        if mount_at "${a[1]}" >/dev/null; then
          if umount -- "${a[1]}"; then
            log "unmounted ${a[1]} again"
          else
            log "WARNING: could not unmount ${a[1]}"
          fi
        fi
        ;;
      rmdir) remove_dirs "${a[1]}" "${a[2]:-}" ;;
      mount)
        if ! hugetlbfs_at "${a[1]}" "${a[2]}"; then
          if mkdir -p -- "${a[1]}" && do_mount "${a[1]}" "${a[2]}"; then
            log "mounted ${a[1]} again"
          else
            log "WARNING: could not mount ${a[1]} again"
          fi
        fi
        ;;
    esac
  done
  restore_record
}

result() {
  local p=$1 total=0 free=0 mounted=false
  if [ -d "$p" ]; then
    pool_read "$p"
    total=$pages
    pool_read "$p" free
    free=$pages
  fi
  ! hugetlbfs_at "$3" "$2" || mounted=true
  printf '{"size":"%s",%s"total":%s,"free":%s,"mount":%s,"mounted":%s%s%s}\n' \
    "$2" "${5:+$5,}" "$total" "$free" "$(json_str "$3")" "$mounted" "${4:+,$4}" "${6:+,\"node\":$6}"
}

check_mount_path() {
  [[ "$1" =~ ^/[A-Za-z0-9._+@:/-]*$ ]] ||
    die "HUGEPAGES_MOUNT='$1' is not an absolute path of letters, digits and ._+@:/-"
  case "/$1/" in */../* | */./*) die "HUGEPAGES_MOUNT='$1' has . or .. in it; give the plain path" ;; esac
}

# lower pool $1 (the record's size $2) by up to $3 pages this stack added, not below $4 pages;
# sets released; fails (with $write_err) when the kernel refuses the write
give_back() {
  local p=$1 psize=$2 added=$3 floor=$4 have target now
  released=0
  pool_read "$p"
  have=$pages
  target=$((have - added))
  [ "$target" -ge "$floor" ] || target=$floor
  [ "$target" -lt "$have" ] || return 0
  [ "$applying" = 0 ] || undo_acts+=("pool$US$p/nr_hugepages$US$have")
  write_value "$p/nr_hugepages" "$target" || return 1
  pool_read "$p"
  now=$pages
  released=$((have - now))
  [ "$released" -ge 0 ] || released=0
  log "gave back $released x $psize pages (pool $have -> $now)"
}

apply() {
  local p have want now fresh=0
  [[ "$node" =~ ^[0-9]{1,4}$ || -z "$node" ]] || die "HUGEPAGES_NODE='$node' is not a NUMA node number"
  [ -z "$node" ] || node=$((10#$node))
  p=$(pool_of "$size") || die "HUGEPAGES_SIZE='$size' is not 2M or 1G"
  if [ -n "$node" ]; then
    if [ -d "$(pool_of "$size" "$node")" ]; then
      p=$(pool_of "$size" "$node")
    else
      log "no $size pool of NUMA node $node ($(pool_of "$size" "$node")): using the host-wide pool"
      node=""
    fi
  fi
  [[ "$count" =~ ^[0-9]{1,9}$ ]] || die "HUGEPAGES_COUNT='$count' is not a number of pages"
  count=$((10#$count))
  [ "$mnt" = / ] || mnt=${mnt%/}
  check_mount_path "$mnt"
  [ -d "$p" ] || die "this kernel has no $size hugepage pool ($p); fix: use a size this host has (see the facts' hugepageSizesKiB)"
  load_record
  remember_record
  local found old_others=0 old_pool=""
  if found=$(mount_at "$mnt") && ! hugetlbfs_at "$mnt" "$size" &&
    ! { [ "$r_mount" = "$mnt" ] && [ "$r_mount_created" = yes ]; }; then
    die "$mnt has '$found' mounted, not a hugetlbfs of $size pages; fix: unmount it or set another HUGEPAGES_MOUNT"
  fi
  if [ -e "$mnt" ] && [ ! -d "$mnt" ]; then
    die "$mnt exists and is not a directory; fix: remove it or set another HUGEPAGES_MOUNT"
  fi
  if [ -n "$r_size" ] && { [ "$r_size" != "$size" ] || [ "$r_node" != "$node" ]; }; then
    old_pool=$(pool_of "$r_size" "$r_node")
    others_need "$r_size" "$r_node"
    old_others=$others
  fi
  others_need "$size" "$node"

  applying=1
  # what an earlier apply of this stack set up that this one no longer wants
  if [ -n "$r_size" ] && { [ "$r_size" != "$size" ] || [ "$r_node" != "$node" ] || [ "$r_mount" != "$mnt" ]; }; then
    if [ "$r_mount_created" = yes ] && hugetlbfs_at "$r_mount" "$r_size"; then
      undo_acts+=("mount$US$r_mount$US$r_size")
      umount -- "$r_mount" ||
        die "cannot unmount $r_mount (this stack's $r_size mount before; in use: $(fuser -m "$r_mount" 2>/dev/null || true)); fix: stop the processes using it, then apply again"
      log "unmounted $r_mount ($r_size, no longer wanted)"
    fi
    remove_dirs "$r_mount" "$r_dirs"
    r_mount_created=no r_dirs=""
    if [ -n "$old_pool" ]; then
      [ -d "$old_pool" ] || die "no $r_size hugepage pool ($old_pool) to give this stack's $r_added pages back to"
      give_back "$old_pool" "$r_size" "$r_added" "$old_others" ||
        die "cannot lower $old_pool/nr_hugepages: $write_err"
      fresh=1
    fi
    save_record
  fi
  [ -n "$r_size" ] || fresh=1

  pool_read "$p"
  have=$pages
  want=$((count + others))
  if [ "$fresh" = 1 ]; then
    r_before=$have r_added=0
  fi
  if [ "$have" -lt "$want" ]; then
    undo_acts+=("pool$US$p/nr_hugepages$US$have")
    write_value "$p/nr_hugepages" "$want" ||
      die "cannot write $want to $p/nr_hugepages: $write_err"
    pool_read "$p"
    now=$pages
    [ "$now" -ge "$want" ] || [ "$size" != 1G ] ||
      die "asked the kernel for $want x 1G hugepages${node:+ on NUMA node $node} ($count for this stack, $others for the others), got $now: the kernel found no contiguous memory at run time (pool put back); fix: 1G pages on this host must be reserved at boot: put hugepagesz=1G hugepages=$want on the kernel command line (add kernel-args to tuning.apply, which adds default_hugepagesz=1G hugepagesz=1G hugepages=<count> with 1G pages), reboot, and apply again: a pool that holds enough pages is taken over without a write"
    [ "$now" -ge "$want" ] ||
      die "asked the kernel for $want x $size hugepages ($count for this stack, $others for the others), got $now (memory fragmented or too small); fix: lower hosts[].hugepages.count or reserve them at boot (hugepages= on the kernel cmdline)"
    r_added=$((r_added + now - have))
    log "pool $have -> $now x $size ($count for this stack, $others for the others)"
  elif [ "$have" -gt "$want" ] && [ "$r_added" -gt 0 ]; then
    give_back "$p" "$size" "$r_added" "$want" ||
      die "cannot lower $p/nr_hugepages: $write_err"
    r_added=$((r_added - released))
  else
    log "pool holds $have x $size: enough for $count here + $others for the others"
  fi
  r_size=$size r_count=$count r_mount=$mnt r_node=$node
  save_record

  if hugetlbfs_at "$mnt" "$size"; then
    log "hugetlbfs ($size) mounted at $mnt already"
  else
    if [ ! -e "$mnt" ]; then
      local top="" d=$mnt
      while [ ! -e "$d" ]; do
        top=$d
        d=$(dirname -- "$d")
      done
      r_dirs=$top
      save_record
      undo_acts+=("rmdir$US$mnt$US$top")
      mkdir -p -- "$mnt"
    fi
    r_mount_created=yes
    save_record
    undo_acts+=("umount$US$mnt")
    local err
    err=$(do_mount "$mnt" "$size" 2>&1) ||
      die "cannot mount hugetlbfs (pagesize=$size) at $mnt: ${err:-mount failed}"
    log "mounted hugetlbfs ($size) at $mnt"
  fi
  applying=0
  rm -f -- "$legacy"
  result "$p" "$size" "$mnt" "\"before\":$r_before,\"added\":$r_added,\"others\":$others" "\"requested\":$count" "$node"
}

# Processes still using the stack's own mount (under its run dir, used by nothing else) were
# left by an interrupted run whose steps Pulumi never recorded (e.g. a VM whose start finished
# after the CLI was killed): stop them, TERM then KILL, and say which.
stop_stack_users() {
  local m=$1 pids pid i
  case "$m" in "${LAB_RUN_DIR:-/nonexistent}"/*) ;; *) return 0 ;; esac
  # only a real hugetlbfs mount: on any other path `fuser -m` names every process of the file
  # system that holds it (the fake trees of the tests: the whole machine)
  mountpoint -q -- "$m" 2>/dev/null || return 0
  [ "$(stat -f -c %T -- "$m" 2>/dev/null)" = hugetlbfs ] || return 0
  pids=$(fuser -m "$m" 2>/dev/null | tr -s ' ' '\n' | grep -E '^[0-9]+$' || true)
  [ -n "$pids" ] || return 0
  for pid in $pids; do
    log "stopping pid $pid ($(cat "/proc/$pid/comm" 2>/dev/null || echo gone)): it still uses this stack's mount $m (left by an interrupted run)"
    kill -TERM "$pid" 2>/dev/null || true
  done
  for i in $(seq 1 50); do
    pids=$(fuser -m "$m" 2>/dev/null | tr -s ' ' '\n' | grep -E '^[0-9]+$' || true)
    [ -n "$pids" ] || return 0
    [ "$i" -lt 50 ] && sleep 0.1
  done
  for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
  sleep 0.5
}

revert() {
  local p
  if [ ! -f "$prev" ] && [ ! -f "$legacy" ]; then
    log "nothing recorded in $prev: nothing to revert"
    p=$(pool_of "$size") || p=""
    [ "$mnt" = / ] || mnt=${mnt%/}
    result "$p" "$size" "$mnt" '"released":0'
    return
  fi
  load_record
  p=$(pool_of "$r_size" "$r_node")
  if [ "$r_mount_created" = yes ]; then
    if mount_at "$r_mount" >/dev/null; then
      stop_stack_users "$r_mount"
      umount -- "$r_mount" ||
        die "cannot unmount $r_mount (in use: $(fuser -m "$r_mount" 2>/dev/null || true)); fix: stop the lab's processes that use it and run revert again; what is left is in $prev"
      log "unmounted $r_mount"
    fi
    r_mount_created=no
    remove_dirs "$r_mount" "$r_dirs"
    r_dirs=""
    save_record
  elif [ -n "$r_dirs" ]; then
    remove_dirs "$r_mount" "$r_dirs"
    r_dirs=""
    save_record
  fi
  if [ "$r_added" -gt 0 ]; then
    [ -d "$p" ] || die "no $r_size hugepage pool ($p) to give this stack's $r_added pages back to; what is left is in $prev"
    others_need "$r_size" "$r_node"
    give_back "$p" "$r_size" "$r_added" "$others" ||
      die "cannot lower $p/nr_hugepages: $write_err; fix: stop what uses the pages and run revert again; what is left is in $prev"
    [ "$released" -gt 0 ] || log "pool of $r_size kept: the other stacks' records need $others pages"
  fi
  rm -f -- "$prev" "$legacy"
  result "$p" "$r_size" "$r_mount" "\"released\":$released" "" "$r_node"
}

case "${1:-}" in
  apply) apply ;;
  revert) revert ;;
  *) die "usage: $0 apply|revert" ;;
esac
