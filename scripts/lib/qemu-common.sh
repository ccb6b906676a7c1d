# shellcheck shell=bash
# What qemu-build.sh and qemu-remove.sh share: sourced by each after it defined die(), never run
# on its own.
#
# Provides
#   check_dir_var NAME VALUE   die unless VALUE is an absolute path, not /, without . or ..
#                              components (NAME names it in the message)
#   check_lab_state            check the stack's identity the step wrapper (scripts/lib/step.sh)
#                              sets and normalise it: LAB_STACK a stack name, LAB_STATE_DIR set,
#                              LAB_STATE_ROOT (default: the directory above LAB_STATE_DIR); both
#                              directories absolute and without a trailing /

check_dir_var() { # <name> <value>: absolute, not /, no . or .. component
  case "$2" in
    /*) ;;
    *) die "$1 must be an absolute path (got '$2')" ;;
  esac
  case "/$2/" in
    */../* | */./*) die "$1 must not contain . or .. components (got '$2')" ;;
  esac
  [ "${2%/}" != "" ] || die "$1 must not be /"
}

check_lab_state() {
  LAB_STACK=${LAB_STACK:-}
  LAB_STATE_DIR=${LAB_STATE_DIR:-}
  [[ "$LAB_STACK" =~ ^[a-z0-9][a-z0-9-]{0,30}$ ]] || die "LAB_STACK '$LAB_STACK' is not a stack name (the step wrapper sets it)"
  [ -n "$LAB_STATE_DIR" ] || die "LAB_STATE_DIR is not set (the step wrapper sets it)"
  check_dir_var LAB_STATE_DIR "$LAB_STATE_DIR"
  LAB_STATE_DIR=${LAB_STATE_DIR%/}
  LAB_STATE_ROOT=${LAB_STATE_ROOT:-$(dirname -- "$LAB_STATE_DIR")}
  check_dir_var LAB_STATE_ROOT "$LAB_STATE_ROOT"
  LAB_STATE_ROOT=${LAB_STATE_ROOT%/}
}
