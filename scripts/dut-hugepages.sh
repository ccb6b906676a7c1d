#!/usr/bin/env bash
# Hugepage tuning of a DUT with its exact revert.
#
#   dut-hugepages.sh apply    reserve HUGEPAGES_COUNT pages of HUGEPAGES_SIZE, mount hugetlbfs
#   dut-hugepages.sh revert   give the pages back and unmount what apply mounted
#
# The first apply records what it found (pool size, whether the mount existed) in
# $LAB_STATE_DIR/hugepages.prev; later applies keep that record, so revert restores the host
# to how it was before the lab, however often apply ran.
#
# Environment: HUGEPAGES_SIZE (2M|1G), HUGEPAGES_COUNT, HUGEPAGES_MOUNT (default
# /dev/hugepages), LAB_STATE_DIR (default /var/lib/vhost-perf-lab).
set -euo pipefail

size=${HUGEPAGES_SIZE:-2M}
count=${HUGEPAGES_COUNT:-0}
mnt=${HUGEPAGES_MOUNT:-/dev/hugepages}
state_dir=${LAB_STATE_DIR:-/var/lib/vhost-perf-lab}
prev="$state_dir/hugepages.prev"

log() { printf '[hugepages] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

case "$size" in
  2M) kib=2048 ;;
  1G) kib=1048576 ;;
  *) die "HUGEPAGES_SIZE='$size' is not 2M or 1G" ;;
esac
case "$count" in '' | *[!0-9]*) die "HUGEPAGES_COUNT='$count' is not a number" ;; esac
pool=/sys/kernel/mm/hugepages/hugepages-${kib}kB
[ -d "$pool" ] || die "this kernel has no $size hugepage pool ($pool)"

mounted() { awk -v m="$mnt" '$2 == m && $3 == "hugetlbfs" {found=1} END {exit !found}' /proc/mounts; }

result() {
  printf '{"size":"%s","requested":%s,"total":%s,"free":%s,"mount":"%s","mounted":%s}\n' \
    "$size" "$count" "$(cat "$pool/nr_hugepages")" "$(cat "$pool/free_hugepages")" "$mnt" \
    "$(mounted && echo true || echo false)"
}

apply() {
  mkdir -p "$state_dir"
  if [ ! -f "$prev" ]; then
    printf 'size=%s\npages=%s\nmounted=%s\n' "$size" "$(cat "$pool/nr_hugepages")" \
      "$(mounted && echo yes || echo no)" >"$prev.tmp"
    mv "$prev.tmp" "$prev"
  fi
  local have
  have=$(cat "$pool/nr_hugepages")
  if [ "$have" -lt "$count" ]; then
    echo "$count" >"$pool/nr_hugepages"
    have=$(cat "$pool/nr_hugepages")
    [ "$have" -ge "$count" ] ||
      die "asked the kernel for $count x $size hugepages, got $have (memory fragmented or too small); fix: lower hosts[].hugepages.count or reserve them at boot (hugepages= on the kernel cmdline)"
    log "reserved $count x $size hugepages"
  fi
  if ! mounted; then
    mkdir -p "$mnt"
    mount -t hugetlbfs -o "pagesize=$size" nodev "$mnt"
    log "mounted hugetlbfs at $mnt"
  fi
  result
}

revert() {
  if [ ! -f "$prev" ]; then
    log "nothing recorded in $prev: nothing to revert"
    result
    return
  fi
  local pages was_mounted
  pages=$(sed -n 's/^pages=//p' "$prev")
  was_mounted=$(sed -n 's/^mounted=//p' "$prev")
  if [ "$was_mounted" = no ] && mounted; then
    umount "$mnt" || die "cannot unmount $mnt (in use: $(fuser -m "$mnt" 2>/dev/null || true)); stop the lab's processes first"
    rmdir "$mnt" 2>/dev/null || true
    log "unmounted $mnt"
  fi
  echo "$pages" >"$pool/nr_hugepages"
  log "hugepage pool back to $pages x $size (now $(cat "$pool/nr_hugepages"))"
  rm -f "$prev"
  rmdir "$state_dir" 2>/dev/null || true
  result
}

case "${1:-}" in
  apply) apply ;;
  revert) revert ;;
  *) die "usage: $0 apply|revert" ;;
esac
