#!/usr/bin/env bash
# A host-style disk with GRUB from the project's guest image: a VM booted from it is a machine
# whose kernel command line the lab can change (grub drop-in, update-grub, reboot) and check,
# standing in for a DUT (tests/kernel-vm.test.ts). As root.
#
# From BASE_IMAGE (a qcow2 of scripts/guest-image/build.sh: ext4 at 1 MiB in an MBR disk,
# extlinux): grub-pc installed in the image from the Debian archive, GRUB's boot code in the MBR
# and its core image in the gap before the partition (written with dd: no loop partition devices
# needed), grub.cfg made by grub-mkconfig with the image's kernel arguments in /etc/default/grub,
# root login with ROOT_PUBKEY only, SSH host keys made now (so they can be pinned). Cached by
# content: the sha256 of the base image, this script and the public key name the output.
#
# Environment:
#   BASE_IMAGE   the guest image (qcow2), default: the newest under /var/cache/vhost-perf-lab/images
#   OUT_DIR      where the disk goes (default ~/.cache/vhost-perf-lab/vmdut)
#   ROOT_PUBKEY  file with the one-line public key for root (required)
# stdout, one JSON line: {"image":<qcow2>,"hostKey":"ssh-ed25519 AAAA...","built":bool,"seconds":N}
set -euo pipefail
export LC_ALL=C

t0=$SECONDS
say() { printf '[grub-disk %ds] %s\n' "$((SECONDS - t0))" "$*" >&2; }
die() {
  say "ERROR: $*"
  exit 1
}
[ "$(id -u)" -eq 0 ] || die "must run as root (mount, chroot)"
for tool in qemu-img chroot mount umount sha256sum dd; do
  command -v "$tool" >/dev/null || die "'$tool' not found"
done
base=${BASE_IMAGE:-$(find /var/cache/vhost-perf-lab/images -maxdepth 1 -name 'vhost-nested-*.qcow2' -printf '%T@ %p\n' 2>/dev/null | sort -n | tail -n 1 | cut -d ' ' -f 2-)}
{ [ -n "$base" ] && [ -f "$base" ]; } ||
  die "no base image (BASE_IMAGE='$base'); fix: build one with scripts/guest-image/build.sh or set BASE_IMAGE"
out_dir=${OUT_DIR:-$HOME/.cache/vhost-perf-lab/vmdut}
pubkey_file=${ROOT_PUBKEY:?ROOT_PUBKEY: the public key file for root}
pubkey=$(head -n 1 "$pubkey_file")
[[ "$pubkey" =~ ^ssh-[a-z0-9-]+\ [A-Za-z0-9+/=]+( .*)?$ ]] || die "$pubkey_file is not a one-line OpenSSH public key"

if [ -f "$base.sha256" ]; then base_sha=$(cut -d ' ' -f 1 "$base.sha256"); else base_sha=$(sha256sum "$base" | cut -d ' ' -f 1); fi
key=$(printf '%s\n' "$base_sha" "$(sha256sum "${BASH_SOURCE[0]}" | cut -d ' ' -f 1)" "$pubkey" | sha256sum | cut -c 1-16)
out=$out_dir/grub-host-$key.qcow2
if [ -f "$out" ] && [ -f "$out.hostkey" ]; then
  say "cached: $out"
  printf '{"image":"%s","hostKey":"%s","built":false,"seconds":%d}\n' "$out" "$(cat "$out.hostkey")" "$((SECONDS - t0))"
  exit 0
fi

mkdir -p -- "$out_dir"
work=$(mktemp -d "$out_dir/.work.XXXXXX")
mnt=$work/mnt
raw=$work/disk.raw
mounted=()
cleanup() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}" 2>/dev/null || true
  done
  rm -rf -- "$work"
}
trap cleanup EXIT
mount_at() {
  local target=$1
  shift
  mount "$@" "$target"
  mounted+=("$target")
}
in_root() {
  chroot "$mnt" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C HOME=/root \
    DEBIAN_FRONTEND=noninteractive "$@"
}

say "base $base (sha256 ${base_sha:0:16}...): converting to raw"
qemu-img convert -f qcow2 -O raw -- "$base" "$raw"
mkdir -p "$mnt"
mount_at "$mnt" -o loop,offset=$((1024 * 1024)) "$raw"
for d in dev dev/pts proc sys; do mount_at "$mnt/$d" --bind "/$d"; done
resolv_link=$(readlink "$mnt/etc/resolv.conf" || true)
rm -f "$mnt/etc/resolv.conf"
cp -L /etc/resolv.conf "$mnt/etc/resolv.conf"

say "installing grub-pc in the image"
printf 'grub-pc grub-pc/install_devices multiselect \ngrub-pc grub-pc/install_devices_empty boolean true\n' |
  in_root debconf-set-selections
in_root apt-get update -q >"$work/apt.log" 2>&1 || { tail -n 20 "$work/apt.log" >&2; die "apt-get update in the image failed"; }
in_root apt-get install -y -q --no-install-recommends grub-pc >>"$work/apt.log" 2>&1 ||
  { tail -n 20 "$work/apt.log" >&2; die "installing grub-pc in the image failed"; }

# the image's kernel arguments (extlinux APPEND, without root= and ro: grub-mkconfig adds those)
append=$(sed -n 's/^[[:space:]]*APPEND[[:space:]]*//p' "$mnt/boot/extlinux/extlinux.conf" | head -n 1)
args=""
for w in $append; do
  case "$w" in root=* | ro) ;; *) args+="${args:+ }$w" ;; esac
done
say "kernel arguments of the image: $args"
sed -i -e 's/^GRUB_TIMEOUT=.*/GRUB_TIMEOUT=0/' \
  -e 's/^GRUB_CMDLINE_LINUX_DEFAULT=.*/GRUB_CMDLINE_LINUX_DEFAULT=""/' \
  -e "s|^GRUB_CMDLINE_LINUX=.*|GRUB_CMDLINE_LINUX=\"$args\"|" "$mnt/etc/default/grub"
printf 'GRUB_TERMINAL="console serial"\nGRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"\nGRUB_DISABLE_OS_PROBER=true\n' \
  >>"$mnt/etc/default/grub"

say "grub.cfg (grub-mkconfig) and the boot code"
# 10_linux skips a root on a loop device backed by a file (this build's mount): a losetup that
# names the VM's disk instead lets it write the entry it will write in the VM (root=UUID=...)
install -d "$mnt/usr/local/sbin"
# shellcheck disable=SC2016 # expanded by the fake losetup
printf '#!/bin/sh\necho "$1: [0]:0 (/dev/vda1)"\n' >"$mnt/usr/local/sbin/losetup"
chmod 0755 "$mnt/usr/local/sbin/losetup"
chroot "$mnt" /usr/bin/env -i PATH=/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C HOME=/root \
  grub-mkconfig -o /boot/grub/grub.cfg >"$work/mkconfig.log" 2>&1 ||
  { cat "$work/mkconfig.log" >&2; die "grub-mkconfig in the image failed"; }
rm -f "$mnt/usr/local/sbin/losetup"
# ... which still treats it as a file on a loop: drop the loopback lines and use the UUID, as
# update-grub in the VM writes it
uuid=$(sed -n 's/.*search --no-floppy --fs-uuid --set=root \([0-9a-f-]*\).*/\1/p' "$mnt/boot/grub/grub.cfg" | head -n 1)
[ -n "$uuid" ] || die "grub.cfg names no root file system UUID"
sed -i -e '/^[[:space:]]*loopback loop0 /d' -e '/^[[:space:]]*set root=(loop0)/d' \
  -e "s|root=/dev/vda1 |root=UUID=$uuid |" "$mnt/boot/grub/grub.cfg"
! grep -q 'loop0\|root=/dev/vda1' "$mnt/boot/grub/grub.cfg" || die "grub.cfg still names the build's loop device"
grep -q "^[[:space:]]*linux[[:space:]]" "$mnt/boot/grub/grub.cfg" || { cat "$work/mkconfig.log" "$mnt/boot/grub/grub.cfg" >&2; ls -la "$mnt/boot" "$mnt/etc/grub.d" >&2; die "grub.cfg has no linux entry"; }
mkdir -p "$mnt/boot/grub/i386-pc"
cp "$mnt"/usr/lib/grub/i386-pc/*.mod "$mnt"/usr/lib/grub/i386-pc/*.lst "$mnt/boot/grub/i386-pc/"
in_root grub-mkimage -O i386-pc -o /boot/grub/i386-pc/core.img -p '(hd0,msdos1)/boot/grub' \
  biosdisk part_msdos ext2 search search_fs_uuid
core_sectors=$((($(stat -c %s "$mnt/boot/grub/i386-pc/core.img") + 511) / 512))
[ "$core_sectors" -lt 2047 ] || die "core.img ($core_sectors sectors) does not fit before the partition"
cp "$mnt/usr/lib/grub/i386-pc/boot.img" "$work/boot.img"
cp "$mnt/boot/grub/i386-pc/core.img" "$work/core.img"

say "root login with the key, SSH host keys"
install -d -m 0700 "$mnt/root/.ssh"
printf '%s\n' "$pubkey" >"$mnt/root/.ssh/authorized_keys"
chmod 0600 "$mnt/root/.ssh/authorized_keys"
printf '# vmdut (kernel command line test): root with a key only\nPermitRootLogin prohibit-password\n' \
  >"$mnt/etc/ssh/sshd_config.d/00-vmdut.conf"
in_root ssh-keygen -A >/dev/null
host_key=$(cut -d ' ' -f 1-2 "$mnt/etc/ssh/ssh_host_ed25519_key.pub")

rm -f "$mnt/etc/resolv.conf"
if [ -n "$resolv_link" ]; then ln -s "$resolv_link" "$mnt/etc/resolv.conf"; fi
rm -rf "$mnt"/var/lib/apt/lists/*
for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount "${mounted[i]}"; done
mounted=()
# GRUB's boot code into the MBR (the partition table stays), its core image right after it
dd if="$work/boot.img" of="$raw" bs=440 count=1 conv=notrunc status=none
dd if="$work/core.img" of="$raw" bs=512 seek=1 conv=notrunc status=none
say "converting to qcow2"
qemu-img convert -c -f raw -O qcow2 -- "$raw" "$out.tmp"
printf '%s\n' "$host_key" >"$out.hostkey"
mv -f -- "$out.tmp" "$out"
say "done: $out"
printf '{"image":"%s","hostKey":"%s","built":true,"seconds":%d}\n' "$out" "$host_key" "$((SECONDS - t0))"
