#!/usr/bin/env bash
# Teardown of deploy.sh: remove only what this project put at the lab image path.
#
# Reads the marker deploy.sh wrote (.<name>.vhost-perf-lab beside the image). Without a marker
# nothing is touched. With one: removes the image, puts back the file that was there before
# (<target>.vhost-perf-lab-orig), removes the marker and leftovers of an interrupted copy, and
# removes the directory when deploy.sh created it and it is now empty.
#
# Environment:
#   IMAGE_PATH  the deployed image (default /var/lib/vm/vhost-nested.img)
#
# Output: progress on stderr, ONE JSON line on stdout:
#   {"image":"<target>","removed":true|false,"restored":true|false,"dir_removed":true|false,"seconds":N}
set -euo pipefail

t0=$SECONDS
say() { printf '[remove %ds] %s\n' "$((SECONDS - t0))" "$*" >&2; }
json_str() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  printf '"%s"' "$s"
}

target=${IMAGE_PATH:-/var/lib/vm/vhost-nested.img}
[[ $target == /* ]] || {
  say "ERROR: IMAGE_PATH must be absolute, got '$target'"
  exit 1
}
dir=$(dirname "$target")
name=$(basename "$target")
marker=$dir/.$name.vhost-perf-lab

result() {
  printf '{"image":%s,"removed":%s,"restored":%s,"dir_removed":%s,"seconds":%d}\n' \
    "$(json_str "$target")" "$1" "$2" "$3" "$((SECONDS - t0))"
}
marker_get() { sed -n "s/^$1=//p" "$marker" | head -n 1; }

if [ ! -f "$marker" ]; then
  say "no marker $marker: nothing of ours at $target, left as it is"
  result false false false
  exit 0
fi
grep -qx 'managed_by=vhost-perf-lab' "$marker" || {
  say "ERROR: $marker is not a vhost-perf-lab marker; not touching $target"
  exit 1
}
exec 9<"$dir"
flock -w 600 9 || {
  say "ERROR: a deploy holds $dir for more than 10 min"
  exit 1
}

created_dir=$(marker_get created_dir)
backup=$(marker_get backup)
removed=false restored=false dir_removed=false

if [ -e "$target" ]; then
  rm -f "$target"
  removed=true
  say "removed $target"
fi
if [ -n "$backup" ] && [ -f "$backup" ]; then
  mv "$backup" "$target"
  restored=true
  say "restored the previous $target from $backup"
fi
rm -f "$dir/.$name.tmp."* "$marker.tmp" "$marker"
if [ "$created_dir" = 1 ] && rmdir "$dir" 2>/dev/null; then
  dir_removed=true
  say "removed $dir (created by deploy.sh, now empty)"
fi
result "$removed" "$restored" "$dir_removed"
