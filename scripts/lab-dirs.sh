#!/usr/bin/env bash
# The lab's own directories on a host: created first, removed last (after every other step's
# teardown has emptied them). Every level this script creates gets a .vhost-perf-lab-created
# marker; down removes exactly the marked levels (deepest first) when they are empty apart
# from empty subdirectories. Directories that existed before are never removed; anything
# else found inside is reported and left in place.
#
#   lab-dirs.sh up       create the missing levels of each directory (and mark them)
#   lab-dirs.sh down     remove the levels we created, when empty
#   lab-dirs.sh status   exit 0 when every directory is there, 3 when one is gone (read-only)
# The stack's run directory ($LAB_RUN_DIR, from scripts/lib/step.sh) belongs to the stack alone:
# whatever is still in it at the end (sockets or logs of a process that died) is listed and
# removed with it. Anything left elsewhere is reported and kept.
# Environment: LAB_DIRS (space-separated absolute paths; default "$LAB_RUN_DIR $LAB_STATE_DIR").
set -euo pipefail

readonly MARK=.vhost-perf-lab-created
read -r -a dirs <<<"${LAB_DIRS:-${LAB_RUN_DIR:?} ${LAB_STATE_DIR:?}}"
for d in "${dirs[@]}"; do
  if ! [[ "$d" =~ ^(/[A-Za-z0-9_][A-Za-z0-9_.+-]*)+$ ]] || [[ "$d" == */../* || "$d" == */.. ]]; then
    printf '[lab-dirs] ERROR: %s is not a plain absolute path\n' "$d" >&2
    exit 1
  fi
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
  local d p left
  # liveness records of steps Pulumi no longer tracks (an interrupted up): metadata only
  if [ -n "${LAB_STATE_DIR:-}" ] && [ -d "$LAB_STATE_DIR/steps" ]; then
    left=$(find "$LAB_STATE_DIR/steps" -mindepth 1 -maxdepth 1 ! -name "${LAB_STEP_NAME:-/}" -printf '%f\n')
    [ -z "$left" ] || printf '[lab-dirs] liveness records of untracked steps removed: %s\n' "$(echo "$left" | tr '\n' ' ')" >&2
    rm -rf -- "$LAB_STATE_DIR/steps"
  fi
  for d in "${dirs[@]}"; do
    if [ -n "${LAB_RUN_DIR:-}" ] && [ "$d" = "$LAB_RUN_DIR" ] && [ -d "$d" ]; then
      left=$(find "$d" -mindepth 1 ! -name "$MARK" ! -type d -printf '%P ' 2>/dev/null | head -c 400)
      if [ -n "$left" ]; then
        printf '[lab-dirs] removing leftovers in the stack run dir %s: %s\n' "$d" "$left" >&2
        find "$d" -mindepth 1 ! -name "$MARK" -delete 2>/dev/null || true
      fi
    fi
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

status() {
  local d
  for d in "${dirs[@]}"; do
    if [ ! -d "$d" ]; then
      printf '[lab-dirs] %s is gone\n' "$d" >&2
      exit 3
    fi
  done
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) printf '[lab-dirs] usage: %s up|down|status\n' "$0" >&2; exit 2 ;;
esac
printf '{"dirs":"%s"}\n' "${dirs[*]}"
