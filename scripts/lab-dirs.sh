#!/usr/bin/env bash
# The lab's own directories on a host: created first, removed last (after every other step's
# teardown has emptied them). Only empty directories are removed; anything left inside is
# reported, not deleted.
#
#   lab-dirs.sh up     mkdir -p the directories
#   lab-dirs.sh down   remove each (deepest first) when empty
# Environment: LAB_DIRS (space-separated absolute paths; default
#   "/run/vhost-perf-lab /var/lib/vhost-perf-lab")
set -euo pipefail

read -r -a dirs <<<"${LAB_DIRS:-/run/vhost-perf-lab /var/lib/vhost-perf-lab}"
for d in "${dirs[@]}"; do
  case "$d" in /?*) ;; *) printf '[lab-dirs] ERROR: %s is not an absolute path\n' "$d" >&2; exit 1 ;; esac
done

case "${1:-}" in
  up)
    mkdir -p "${dirs[@]}"
    ;;
  down)
    for d in "${dirs[@]}"; do
      [ -d "$d" ] || continue
      # empty subdirectories first (e.g. a state dir a step left empty), then the directory
      find "$d" -mindepth 1 -depth -type d -empty -delete 2>/dev/null || true
      if ! rmdir "$d" 2>/dev/null; then
        printf '[lab-dirs] %s is not empty, left in place: %s\n' "$d" "$(find "$d" -mindepth 1 -maxdepth 2 | head -5 | tr '\n' ' ')" >&2
      fi
    done
    ;;
  *) printf '[lab-dirs] usage: %s up|down\n' "$0" >&2; exit 2 ;;
esac
printf '{"dirs":"%s"}\n' "${dirs[*]}"
