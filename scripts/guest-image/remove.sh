#!/usr/bin/env bash
# Teardown of deploy.sh: remove only what this stack deployed at the lab image path.
#
# Reads the marker deploy.sh wrote (.<name>.vhost-perf-lab beside the image). Without a marker,
# or with another stack's marker, nothing is touched. With this stack's marker: removes the
# image, the marker and leftovers of an interrupted copy, and the directory levels deploy.sh
# created when they are empty. A level that still holds another stack's deployed image is
# handed over to that stack's marker (its created_levels), so the last one removes it.
# Markers of earlier lab versions (no stack recorded; maybe a backup of a file that was there
# before) are removed by any stack, the backup put back.
#
# Environment:
#   LAB_STACK   the stack (required; set by the step wrapper)
#   IMAGE_PATH  the deployed image (default /var/lib/vm/vhost-nested.img)
#
# Output: progress on stderr, ONE JSON line on stdout:
#   {"image":"<target>","removed":true|false,"restored":true|false,"dir_removed":true|false,
#    "owner":"<stack>"|null,"seconds":N}
# Exit codes: 0 done (also when there was nothing of this stack's); 1 failed.
set -euo pipefail

t0=$SECONDS
say() { printf '[remove %ds] %s\n' "$((SECONDS - t0))" "$*" >&2; }
die() {
  say "ERROR: $*"
  exit 1
}
json_str() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  printf '"%s"' "$s"
}

stack=${LAB_STACK:-}
target=${IMAGE_PATH:-/var/lib/vm/vhost-nested.img}
[[ $stack =~ ^[a-z0-9][a-z0-9-]{0,30}$ ]] || die "LAB_STACK '$stack' is not a stack name (the step wrapper sets it)"
[[ $target == /* ]] || die "IMAGE_PATH must be absolute, got '$target'"
case "$target/" in */../* | */./* | *//*) die "IMAGE_PATH must be a plain path (no ., .. or empty components), got '$target'" ;; esac
dir=$(dirname -- "$target")
name=$(basename -- "$target")
marker=$dir/.$name.vhost-perf-lab

result() {
  local o=null
  [ -z "$4" ] || o=$(json_str "$4")
  printf '{"image":%s,"removed":%s,"restored":%s,"dir_removed":%s,"owner":%s,"seconds":%d}\n' \
    "$(json_str "$target")" "$1" "$2" "$3" "$o" "$((SECONDS - t0))"
}
marker_get() { sed -n "s/^$1=//p" -- "$marker" | head -n 1; }

if [ ! -f "$marker" ]; then
  say "no marker $marker: nothing of ours at $target, left as it is"
  result false false false ""
  exit 0
fi
grep -qx 'managed_by=vhost-perf-lab' -- "$marker" || die "$marker is not a vhost-perf-lab marker; not touching $target"
owner=$(marker_get stack)
if [ -n "$owner" ] && [ "$owner" != "$stack" ]; then
  say "$target was deployed by stack $owner, not by this stack ($stack): left as it is"
  result false false false "$owner"
  exit 0
fi
exec 9<"$dir"
flock -w 600 9 || die "a deploy holds $dir for more than 10 min"

levels=$(marker_get created_levels)
if [ -z "$levels" ]; then levels=$(marker_get created_dir); fi # earlier versions: 0 or 1
[[ $levels =~ ^[0-9]+$ ]] || levels=0
backup=$(marker_get backup) # earlier versions only
removed=false restored=false dir_removed=false

if [ -e "$target" ] || [ -L "$target" ]; then
  rm -f -- "$target"
  removed=true
  say "removed $target"
fi
if [ -n "$backup" ] && [ -f "$backup" ]; then
  mv -- "$backup" "$target"
  restored=true
  say "restored the previous $target from $backup"
fi
rm -f -- "$dir/.$name.tmp."* "$marker.tmp" "$marker"

d=$dir
for ((i = 0; i < levels; i++)); do
  if rmdir -- "$d" 2>/dev/null; then
    dir_removed=true
    say "removed $d (created by deploy.sh, now empty)"
    d=$(dirname -- "$d")
    continue
  fi
  # Not empty. Another image of the lab deployed in or below $d keeps it: hand the levels
  # from $d up over to its marker (created_levels counts from its own dir), so that the last
  # image out removes them.
  while IFS= read -r m; do
    grep -qx 'managed_by=vhost-perf-lab' -- "$m" || continue
    rel=${m%/*}
    rel=${rel#"$d"}
    slashes=${rel//[!\/]/}
    need=$((${#slashes} + levels - i))
    theirs=$(sed -n 's/^created_levels=//p' -- "$m" | head -n 1)
    [[ $theirs =~ ^[0-9]+$ ]] || theirs=0
    if [ "$theirs" -lt "$need" ]; then
      sed -i -e '/^created_levels=/d' -- "$m"
      printf 'created_levels=%s\n' "$need" >>"$m"
    fi
    say "$d still holds the lab image $(sed -n 's/^image=//p' -- "$m" | head -n 1): $d and the level(s) above it that deploy.sh created are handed over to $m"
    break
  done < <(find "$d" -maxdepth 4 -type f -name '.*.vhost-perf-lab' 2>/dev/null | sort)
  break
done
result "$removed" "$restored" "$dir_removed" "${owner:-}"
