#!/usr/bin/env bash
# Deploy a built guest image to the lab path the VMs boot from (CSIT: /var/lib/vm/vhost-nested.img).
#
# Idempotent: when the target already has the expected sha256, nothing is copied. Otherwise the
# image is copied beside the target, its sha256 verified, and renamed into place (atomic).
# A marker beside the image (.<name>.vhost-perf-lab) records what this project did, so that
# remove.sh takes away only that: the image, the directory if we created it (and it is empty),
# and puts back a file that was there before us (kept as <target>.vhost-perf-lab-orig).
#
# Environment:
#   IMAGE_SRC     the built image (required), e.g. /var/cache/vhost-perf-lab/images/vhost-nested-<key>.qcow2
#   IMAGE_SHA256  its expected sha256 (default: the first field of $IMAGE_SRC.sha256)
#   IMAGE_PATH    target (default /var/lib/vm/vhost-nested.img)
#
# Output: progress on stderr ("[deploy 3s] ..."), ONE JSON line on stdout:
#   {"image":"<target>","sha256":"<hex>","bytes":N,"deployed":true|false,"owned":true|false,
#    "backup":"<path>"|null,"seconds":N}
# deployed=false: the target already had that content. owned=false: the identical file was
# there before us and is not claimed (remove.sh leaves it).
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

src=${IMAGE_SRC:-}
target=${IMAGE_PATH:-/var/lib/vm/vhost-nested.img}
[ -n "$src" ] || die "IMAGE_SRC is not set" "IMAGE_SRC=<built image> $0"
[ -f "$src" ] || die "IMAGE_SRC $src does not exist" "build it first (scripts/guest-image/build.sh)"
src=$(realpath "$src")
want=${IMAGE_SHA256:-}
if [ -z "$want" ]; then
  [ -r "$src.sha256" ] || die "IMAGE_SHA256 not set and $src.sha256 missing"
  want=$(cut -d ' ' -f 1 "$src.sha256")
fi
[[ $want =~ ^[0-9a-f]{64}$ ]] || die "IMAGE_SHA256 '$want' is not a sha256 hex digest"
[[ $target == /* ]] || die "IMAGE_PATH must be absolute, got '$target'"

dir=$(dirname "$target")
name=$(basename "$target")
marker=$dir/.$name.vhost-perf-lab
backup=$target.vhost-perf-lab-orig
tmp=$dir/.$name.tmp.$$

result() {
  # result <deployed> <owned> <backup or empty>
  local b=null
  [ -z "$3" ] || b=$(json_str "$3")
  printf '{"image":%s,"sha256":"%s","bytes":%d,"deployed":%s,"owned":%s,"backup":%s,"seconds":%d}\n' \
    "$(json_str "$target")" "$want" "$(stat -c %s "$target")" "$1" "$2" "$b" "$((SECONDS - t0))"
}
marker_get() { [ -f "$marker" ] && sed -n "s/^$1=//p" "$marker" | head -n 1; return 0; }
write_marker() {
  # write_marker <sha256 or pending> <created_dir 0|1> <backup or empty>
  {
    printf '# written by vhost-perf-lab scripts/guest-image/deploy.sh; read by remove.sh\n'
    printf 'managed_by=vhost-perf-lab\nimage=%s\nsha256=%s\nsource=%s\ncreated_dir=%s\nbackup=%s\ndeployed_at=%s\n' \
      "$target" "$1" "$src" "$2" "$3" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  } >"$marker.tmp"
  mv -f "$marker.tmp" "$marker"
}

created_dir=0
if [ ! -d "$dir" ]; then
  mkdir -p "$dir"
  chmod 0755 "$dir"
  created_dir=1
  say "created $dir"
fi
exec 9<"$dir"
flock -w 600 9 || die "another deploy holds $dir for more than 10 min"
trap 'rm -f "$tmp" "$marker.tmp"' EXIT

owned=0
if [ -f "$marker" ]; then
  owned=1
  created_dir=$(marker_get created_dir)
  backup_recorded=$(marker_get backup)
else
  backup_recorded=
fi

if [ -f "$target" ]; then
  have=$(sha256sum "$target" | cut -d ' ' -f 1)
  if [ "$have" = "$want" ]; then
    if [ "$owned" = 1 ]; then
      say "up to date: $target (sha256 $want)"
      result false true "$backup_recorded"
    else
      say "up to date: $target already has sha256 $want (not ours: left unclaimed)"
      result false false ""
    fi
    exit 0
  fi
  if [ "$owned" = 0 ]; then
    [ ! -e "$backup" ] || die "$target is not ours and $backup already exists" \
      "move one of them away by hand, then run again"
    write_marker pending "$created_dir" "$backup"
    mv "$target" "$backup"
    backup_recorded=$backup
    owned=1
    say "kept the previous (foreign) $target as $backup; remove.sh puts it back"
  fi
elif [ "$owned" = 0 ]; then
  write_marker pending "$created_dir" ""
  owned=1
fi

say "copying $src -> $target"
cp --sparse=always "$src" "$tmp"
got=$(sha256sum "$tmp" | cut -d ' ' -f 1)
[ "$got" = "$want" ] || die "sha256 of the copy is $got, expected $want" \
  "the source changed or is not the expected image: rebuild it (build.sh) and deploy again"
chmod 0644 "$tmp"
mv -f "$tmp" "$target"
write_marker "$want" "$created_dir" "$backup_recorded"
say "deployed $target (sha256 verified after the copy)"
result true true "$backup_recorded"
