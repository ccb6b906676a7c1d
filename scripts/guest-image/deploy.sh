#!/usr/bin/env bash
# Deploy a built guest image to the lab path the VMs boot from (CSIT: /var/lib/vm/vhost-nested.img).
#
# Idempotent: when the target already has the expected sha256, nothing is copied. Otherwise the
# image is copied beside the target, its sha256 verified, and renamed into place (atomic). The
# image holds the guest password's hash: it is 0600 from the first byte on.
# A marker beside the image (.<name>.vhost-perf-lab) records that this lab deployed it and for
# which stack, so that remove.sh of that stack takes away only that: the image, the marker and
# the directory levels deploy.sh created (when empty).
# Refused before anything is changed (exit 1):
#   - a file at the target that the lab did not deploy (no marker): never overwritten or moved;
#   - a file (or marker) deployed by ANOTHER stack (or by a lab version that recorded no stack).
#
# Environment:
#   LAB_STACK     the stack (required; set by the step wrapper)
#   IMAGE_SRC     the built image (required), e.g. /var/cache/vhost-perf-lab/images/vhost-nested-<key>.qcow2
#   IMAGE_SHA256  its expected sha256 (default: the first field of $IMAGE_SRC.sha256)
#   IMAGE_PATH    target (default /var/lib/vm/vhost-nested.img)
#
# Output: progress on stderr ("[deploy 3s] ..."), ONE JSON line on stdout:
#   {"image":"<target>","sha256":"<hex>","bytes":N,"deployed":true|false,"stack":"<s>","mode":"0600","seconds":N}
# deployed=false: the target already had that content.
# Exit codes: 0 deployed or up to date; 1 refused or failed (a failed or interrupted deploy
#   leaves the target as it was: the previous image of this stack, or nothing); 130/143 interrupted.
set -euo pipefail

t0=$SECONDS
say() { printf '[deploy %ds] %s\n' "$((SECONDS - t0))" "$*" >&2; }
die() {
  printf '[deploy %ds] ERROR: %s\n' "$((SECONDS - t0))" "$1" >&2
  [ $# -gt 1 ] && printf '[deploy] fix: %s\n' "$2" >&2
  exit 1
}
json_str() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  printf '"%s"' "$s"
}

stack=${LAB_STACK:-}
src=${IMAGE_SRC:-}
target=${IMAGE_PATH:-/var/lib/vm/vhost-nested.img}
[[ $stack =~ ^[a-z0-9][a-z0-9-]{0,30}$ ]] || die "LAB_STACK '$stack' is not a stack name" "run it through the lab's step wrapper (it sets LAB_STACK)"
[ -n "$src" ] || die "IMAGE_SRC is not set" "IMAGE_SRC=<built image> $0"
[ -f "$src" ] || die "IMAGE_SRC $src does not exist" "build it first (scripts/guest-image/build.sh)"
src=$(realpath -- "$src")
want=${IMAGE_SHA256:-}
if [ -z "$want" ]; then
  [ -r "$src.sha256" ] || die "IMAGE_SHA256 not set and $src.sha256 missing"
  want=$(cut -d ' ' -f 1 -- "$src.sha256")
fi
[[ $want =~ ^[0-9a-f]{64}$ ]] || die "IMAGE_SHA256 '$want' is not a sha256 hex digest"
[[ $target == /* ]] || die "IMAGE_PATH must be absolute, got '$target'"
case "$target/" in */../* | */./* | *//*) die "IMAGE_PATH must be a plain path (no ., .. or empty components), got '$target'" ;; esac

dir=$(dirname -- "$target")
name=$(basename -- "$target")
[ "$dir" != "$target" ] || die "IMAGE_PATH must name a file, got '$target'"
marker=$dir/.$name.vhost-perf-lab
tmp=$dir/.$name.tmp.$$

result() {
  # result <deployed>
  printf '{"image":%s,"sha256":"%s","bytes":%d,"deployed":%s,"stack":%s,"mode":"0600","seconds":%d}\n' \
    "$(json_str "$target")" "$want" "$(stat -c %s -- "$target")" "$1" "$(json_str "$stack")" "$((SECONDS - t0))"
}
marker_get() { [ -f "$marker" ] && sed -n "s/^$1=//p" -- "$marker" | head -n 1; return 0; }
write_marker() {
  # write_marker <sha256 or pending> <created_levels>
  {
    printf '# written by vhost-perf-lab scripts/guest-image/deploy.sh; read by remove.sh\n'
    printf 'managed_by=vhost-perf-lab\nstack=%s\nimage=%s\nsha256=%s\nsource=%s\ncreated_levels=%s\ndeployed_at=%s\n' \
      "$stack" "$target" "$1" "$src" "$2" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  } >"$marker.tmp"
  mv -f -- "$marker.tmp" "$marker"
}
# refuse, before changing anything, a target this stack did not deploy
check_ours() {
  local owner
  if [ -f "$marker" ]; then
    grep -qx 'managed_by=vhost-perf-lab' -- "$marker" ||
      die "$marker exists and is not a vhost-perf-lab marker" "choose another vhost-perf-lab:image.path or remove $marker"
    owner=$(marker_get stack)
    [ -n "$owner" ] || die "image.path $target was deployed by an earlier version of this lab that recorded no stack" \
      "destroy the stack that deployed it, or remove $target and $marker, or choose another vhost-perf-lab:image.path"
    [ "$owner" = "$stack" ] || die "image.path $target was deployed by stack $owner, not by this stack ($stack)" \
      "give each stack its own vhost-perf-lab:image.path, or destroy stack $owner first"
    if [ -L "$target" ] || { [ -e "$target" ] && [ ! -f "$target" ]; }; then
      die "image.path $target is not a regular file" "remove it, then deploy again"
    fi
    return 0
  fi
  if [ -e "$target" ] || [ -L "$target" ]; then
    die "image.path $target exists and was not deployed by this lab (stack $stack)" \
      "choose another vhost-perf-lab:image.path or remove the file"
  fi
}

# the directory: the levels this run creates are counted (remove.sh takes them away when empty)
created_levels=0
if [ -d "$dir" ]; then
  check_ours # nothing changed yet
else
  [ ! -e "$dir" ] || die "$dir exists and is not a directory" "choose another vhost-perf-lab:image.path"
  d=$dir
  while [ ! -e "$d" ]; do
    created_levels=$((created_levels + 1))
    d=$(dirname -- "$d")
  done
  mkdir -p -- "$dir"
  chmod 0755 -- "$dir"
  say "created $dir ($created_levels level(s))"
fi
exec 9<"$dir"
flock -w 600 9 || die "another deploy holds $dir for more than 10 min"
check_ours # again, under the lock
# copies of a deploy that was killed (no chance to clean up); deploys here hold the lock
for f in "$dir/.$name.tmp."*; do
  [ -f "$f" ] || continue
  rm -f -- "$f"
  say "removed $f (left by a deploy that was killed)"
done

# What this run changed, undone when it fails or is interrupted: the marker (put back as it
# was), the copy, the directory levels it created.
had_marker=0
[ ! -f "$marker" ] || had_marker=1
marker_before=""
[ "$had_marker" = 0 ] || marker_before=$(cat -- "$marker")
done_ok=0
undo() {
  local i d
  trap '' TERM INT
  rm -f -- "$tmp" "$marker.tmp"
  [ "$done_ok" = 0 ] || return 0
  if [ "$had_marker" = 1 ]; then
    printf '%s\n' "$marker_before" >"$marker"
  else
    rm -f -- "$marker"
    if [ "$created_levels" -gt 0 ]; then
      d=$dir
      for ((i = 0; i < created_levels; i++)); do
        rmdir -- "$d" 2>/dev/null || break
        d=$(dirname -- "$d")
      done
    fi
  fi
}
on_exit() {
  local rc=$?
  undo
  if [ "$rc" -ne 0 ] && [ "$done_ok" = 0 ]; then say "deploy failed (exit $rc): $target left as it was"; fi
}
trap on_exit EXIT
trap 'say "interrupted by SIGTERM"; exit 143' TERM
trap 'say "interrupted by SIGINT"; exit 130' INT

if [ "$had_marker" = 1 ]; then
  prev_levels=$(marker_get created_levels)
  [[ $prev_levels =~ ^[0-9]+$ ]] || prev_levels=0
  created_levels=$((created_levels > prev_levels ? created_levels : prev_levels))
fi

if [ -f "$target" ] && [ "$had_marker" = 1 ]; then
  have=$(sha256sum -- "$target" | cut -d ' ' -f 1)
  if [ "$have" = "$want" ]; then
    chmod 0600 -- "$target" # deployed 0644 by an older version of this script
    write_marker "$want" "$created_levels"
    done_ok=1
    say "up to date: $target (sha256 $want)"
    result false
    exit 0
  fi
fi
write_marker pending "$created_levels" # before the copy: remove.sh can clean up after a crash

say "copying $src -> $target"
(umask 077 && cp --sparse=always -- "$src" "$tmp")
chmod 0600 -- "$tmp"
got=$(sha256sum -- "$tmp" | cut -d ' ' -f 1)
[ "$got" = "$want" ] || die "sha256 of the copy is $got, expected $want" \
  "the source changed or is not the expected image: rebuild it (build.sh) and deploy again"
mv -f -- "$tmp" "$target"
write_marker "$want" "$created_levels"
done_ok=1
say "deployed $target (mode 0600, sha256 verified after the copy)"
result true
