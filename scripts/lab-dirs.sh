#!/usr/bin/env bash
# The lab's own directories on a host: created first, removed last (after every other step's
# teardown has emptied them). Every level this script creates gets a .vhost-perf-lab-created
# marker; down removes exactly the marked levels (deepest first) when they are empty apart
# from empty subdirectories. Directories that existed before are never removed; anything
# else found inside is reported and left in place.
#
#   lab-dirs.sh up     create the missing levels of each directory (and mark them)
#   lab-dirs.sh down   remove the levels we created, when empty
# Environment: LAB_DIRS (space-separated absolute paths; default
#   "/run/vhost-perf-lab /var/lib/vhost-perf-lab")
set -euo pipefail

readonly MARK=.vhost-perf-lab-created
read -r -a dirs <<<"${LAB_DIRS:-/run/vhost-perf-lab /var/lib/vhost-perf-lab}"
for d in "${dirs[@]}"; do
  case "$d" in
    /?*) ;;
    *) printf '[lab-dirs] ERROR: %s is not an absolute path below /\n' "$d" >&2; exit 1 ;;
  esac
done

up() {
  local d p part parts
  for d in "${dirs[@]}"; do
    p=""
    IFS=/ read -r -a parts <<<"${d#/}"
    for part in "${parts[@]}"; do
      [ -n "$part" ] || continue
      p="$p/$part"
      if [ ! -d "$p" ]; then
        mkdir "$p"
        : >"$p/$MARK"
      fi
    done
  done
}

down() {
  local d p
  for d in "${dirs[@]}"; do
    p=$d
    while [ "$p" != / ] && [ -f "$p/$MARK" ]; do
      rm -f "$p/$MARK"
      find "$p" -mindepth 1 -depth -type d -empty -delete 2>/dev/null || true
      if ! rmdir "$p" 2>/dev/null; then
        : >"$p/$MARK"
        printf '[lab-dirs] %s is not empty, left in place: %s\n' "$p" \
          "$(find "$p" -mindepth 1 -maxdepth 2 ! -name "$MARK" | head -5 | tr '\n' ' ')" >&2
        break
      fi
      p=$(dirname "$p")
    done
  done
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) printf '[lab-dirs] usage: %s up|down\n' "$0" >&2; exit 2 ;;
esac
printf '{"dirs":"%s"}\n' "${dirs[*]}"
