#!/usr/bin/env bash
# Build the vhost-perf-lab guest image (the CSIT "vhost-nested" VM) on the DUT, as root.
#
# A Debian minbase root file system made with debootstrap, configured for the seed's
# requirements (see docs/guest-image.md), written as ext4 at a 1 MiB offset into an MBR disk
# (no loop partitions needed), made bootable with extlinux, converted to a compressed qcow2.
# Idempotent: when IMAGE_OUT exists with its .sha256 and .inputs beside it, the file still
# matches its sha256 and the inputs fingerprint is the same, nothing is built.
#
# Environment (all optional):
#   IMAGE_OUT            output qcow2 (default /var/cache/vhost-perf-lab/images/vhost-nested-<fp>.qcow2,
#                        <fp> = first 16 hex digits of the inputs fingerprint)
#   IMAGE_WORK_DIR       scratch + package caches (default <dir of IMAGE_OUT>/.work); builds that
#                        share a work dir are serialised by a lock on it
#   IMAGE_LOG            log of the long steps (default $IMAGE_WORK_DIR/build.log)
#   IMAGE_MIRROR         Debian mirror (default: the one in this host's apt sources for the suite,
#                        else http://deb.debian.org/debian)
#   IMAGE_SECURITY_MIRROR  security mirror (default: this host's <suite>-security source, else
#                        http://deb.debian.org/debian-security; "none" to leave it out)
#   IMAGE_SUITE          Debian suite (default bookworm)
#   IMAGE_SIZE           virtual disk size (default 2G)
#   IMAGE_HUGEPAGES      2 MiB hugepages reserved by the guest kernel command line (default 512 =
#                        1 GiB, sized for a 2 GiB guest; 0 = none)
#   IMAGE_L3FWD          1 = build DPDK's l3fwd example into the image as /usr/local/bin/dpdk-l3fwd
#                        (default 1; 0 = skip)
#   IMAGE_KEEP_WORK      1 = keep the root file system and raw disk in the work dir afterwards
#   GUEST_USER           guest login with NOPASSWD sudo (default cisco)
#   GUEST_PASSWORD_FILE  file whose first line is the guest user's password (default: the seed's
#                        password "cisco"); the password never appears in argv, env or logs
#   GUEST_AUTHORIZED_KEY optional SSH public key (one line) for the guest user
#   IMAGE_FILES_DIR      the guest files (default: files/ beside this script)
#
# Output: progress on stderr ("[image 12s] ..."), ONE JSON line on stdout:
#   {"image":"<path>","sha256":"<hex>","bytes":N,"format":"qcow2","built":true|false,"seconds":N}
# Beside the image: <image>.sha256 (sha256sum format), <image>.inputs (fingerprint),
# <image>.manifest.json (package versions and checks, for humans and the project).
# The image holds the guest password's hash: it is written 0600 (and a cached one made 0600).
# Host requirements: debootstrap, e2fsprogs (mke2fs -d), fdisk (sfdisk), extlinux +
# syslinux-common (mbr.bin), qemu-utils, util-linux (mount, flock), coreutils.
set -euo pipefail

t0=$SECONDS
say() { printf '[image %ds] %s\n' "$((SECONDS - t0))" "$*" >&2; }
die() {
  printf '[image %ds] ERROR: %s\n' "$((SECONDS - t0))" "$1" >&2
  [ $# -gt 1 ] && printf '[image] fix: %s\n' "$2" >&2
  exit 1
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
self="$here/$(basename "${BASH_SOURCE[0]}")"
files=${IMAGE_FILES_DIR:-$here/files}
suite=${IMAGE_SUITE:-bookworm}
size=${IMAGE_SIZE:-2G}
hugepages=${IMAGE_HUGEPAGES:-512}
l3fwd=${IMAGE_L3FWD:-1}
keep_work=${IMAGE_KEEP_WORK:-0}
guest_user=${GUEST_USER:-cisco}
authorized_key=${GUEST_AUTHORIZED_KEY:-}
label=vhost-nested
hostname=vhost-nested
fs_offset=$((1024 * 1024))

# ------------------------------------------------------------------ inputs and checks
[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, chroot, mount)" "run it over the lab's root SSH or with sudo"
for tool in debootstrap chroot sfdisk mkfs.ext4 extlinux qemu-img sha256sum flock mount umount findmnt truncate dd; do
  command -v "$tool" >/dev/null || die "'$tool' not found" "apt-get install -y debootstrap e2fsprogs fdisk extlinux syslinux-common qemu-utils util-linux"
done
mbr_bin=/usr/lib/syslinux/mbr/mbr.bin
[ -r "$mbr_bin" ] || die "$mbr_bin not found" "apt-get install -y syslinux-common"
[ -d "$files" ] || die "guest files directory $files not found" "ship scripts/guest-image/files beside build.sh or set IMAGE_FILES_DIR"
[[ $guest_user =~ ^[a-z_][a-z0-9_-]{0,30}$ ]] || die "GUEST_USER '$guest_user' is not a valid user name"
[[ $hugepages =~ ^[0-9]+$ ]] || die "IMAGE_HUGEPAGES must be a number of 2 MiB pages, got '$hugepages'"
[[ $l3fwd =~ ^[01]$ ]] || die "IMAGE_L3FWD must be 0 or 1, got '$l3fwd'"
[[ $size =~ ^[0-9]+[MG]$ ]] || die "IMAGE_SIZE must look like 2G or 1536M, got '$size'"
if [ -n "$authorized_key" ]; then
  [[ $authorized_key =~ ^(ssh-|ecdsa-|sk-)[^[:cntrl:]]+$ ]] ||
    die "GUEST_AUTHORIZED_KEY is not a one-line OpenSSH public key"
fi

# The password: from a file, never from argv or the environment; never printed.
if [ -n "${GUEST_PASSWORD_FILE:-}" ]; then
  [ -r "$GUEST_PASSWORD_FILE" ] || die "GUEST_PASSWORD_FILE $GUEST_PASSWORD_FILE is not readable"
  guest_password=
  IFS= read -r guest_password <"$GUEST_PASSWORD_FILE" || [ -n "$guest_password" ] ||
    die "GUEST_PASSWORD_FILE $GUEST_PASSWORD_FILE is empty"
else
  guest_password=cisco # the seed's cisco/cisco
fi
[ -n "$guest_password" ] || die "the guest password is empty"
[[ $guest_password != *:* ]] || die "the guest password must not contain ':' (chpasswd format)"

# Mirrors: the ones this host's apt uses for the suite (deb822 .sources, then one-line lists).
host_mirror() {
  # host_mirror <suite> -> first http(s) URI of a "deb" source carrying exactly that suite
  local want=$1 f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    awk -v want="$want" 'BEGIN { RS = ""; FS = "\n" }
      {
        types = ""; uris = ""; suites = ""
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^Types:/) types = " " substr($i, 7) " "
          if ($i ~ /^URIs:/) uris = substr($i, 6)
          if ($i ~ /^Suites:/) suites = " " substr($i, 8) " "
        }
        if (types ~ / deb / && suites ~ (" " want " ")) {
          split(uris, u, " "); for (j in u) if (u[j] ~ /^https?:/) { print u[j]; exit }
        }
      }' "$f"
  done | head -n 1
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -r "$f" ] || continue
    awk -v want="$want" '$1 == "deb" {
        i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
        if ($(i + 1) == want && $i ~ /^https?:/) { print $i; exit }
      }' "$f"
  done | head -n 1
}
mirror=${IMAGE_MIRROR:-$(host_mirror "$suite" | head -n 1)}
mirror=${mirror:-http://deb.debian.org/debian}
security_mirror=${IMAGE_SECURITY_MIRROR:-$(host_mirror "$suite-security" | head -n 1)}
security_mirror=${security_mirror:-http://deb.debian.org/debian-security}

# Fingerprint of everything that shapes the image (the password only as part of one hash).
fingerprint() {
  {
    printf 'suite=%s\nmirror=%s\nsecurity=%s\nsize=%s\nhugepages=%s\nl3fwd=%s\nuser=%s\nkey=%s\n' \
      "$suite" "$mirror" "$security_mirror" "$size" "$hugepages" "$l3fwd" "$guest_user" "$authorized_key"
    printf '%s' "$guest_password" | sha256sum
    sha256sum <"$self"
    (cd "$files" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
  } | sha256sum | cut -d ' ' -f 1
}
fp=$(fingerprint)

out=${IMAGE_OUT:-/var/cache/vhost-perf-lab/images/vhost-nested-${fp:0:16}.qcow2}
[[ $out == /* ]] || die "IMAGE_OUT must be an absolute path, got '$out'"
out_dir=$(dirname "$out")
work=${IMAGE_WORK_DIR:-$out_dir/.work}
mkdir -p "$out_dir" "$work"
log=${IMAGE_LOG:-$work/build.log}

json_str() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  printf '"%s"' "$s"
}
result() {
  # result <built:true|false> <sha256>
  printf '{"image":%s,"sha256":"%s","bytes":%d,"format":"qcow2","built":%s,"seconds":%d}\n' \
    "$(json_str "$out")" "$2" "$(stat -c %s "$out")" "$1" "$((SECONDS - t0))"
}

# One build per work dir at a time (package caches and the root file system live there).
exec 9<"$work"
if ! flock -n 9; then
  say "another build holds $work: waiting for it"
  flock -w 3600 9 || die "timed out after 1 h waiting for the build lock on $work"
fi

# ------------------------------------------------------------------ up to date?
if [ -f "$out" ] && [ -f "$out.sha256" ] && [ -f "$out.inputs" ]; then
  want_sha=$(cut -d ' ' -f 1 "$out.sha256")
  if [ "$(cat "$out.inputs")" != "$fp" ]; then
    say "$out exists but was built from other inputs (these are $fp): rebuilding"
  elif [ "$(sha256sum "$out" | cut -d ' ' -f 1)" != "$want_sha" ]; then
    say "$out does not match $out.sha256: rebuilding"
  else
    chmod 0600 -- "$out" # built 0644 by an earlier version of this script
    say "up to date: $out (sha256 $want_sha)"
    result false "$want_sha"
    exit 0
  fi
fi

# ------------------------------------------------------------------ build
root=$work/rootfs
raw=$work/disk.raw
part=$work/part.ext4
mnt=$work/mnt
archives=$work/apt-archives
: >"$log"
say "building $out (suite $suite, mirror $mirror, size $size); log: $log"

mounted=()
unmount_all() {
  local i m
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    m=${mounted[i]}
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
  mounted=()
}
kill_chroot_procs() {
  # processes whose root is our chroot were started by this build (package scripts)
  local p
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && kill -9 "${p#/proc/}" 2>/dev/null
  done
  return 0
}
mounts_below() {
  findmnt -rn -o TARGET | awk -v p="$1" 'index($0, p "/") == 1 || $0 == p'
}
remove_tree() {
  [ -e "$1" ] || return 0
  [ -z "$(mounts_below "$1")" ] || die "refusing to delete $1: file systems are still mounted below it" \
    "umount them (findmnt | grep $1) and run again"
  rm -rf --one-file-system "$1"
}
cleanup() {
  local rc=$?
  kill_chroot_procs
  unmount_all
  rm -f "$out.tmp.$$"
  if [ "$rc" -ne 0 ]; then
    printf '[image %ds] FAILED (exit %d); last lines of %s:\n' "$((SECONDS - t0))" "$rc" "$log" >&2
    tail -n 25 "$log" | sed 's/^/    /' >&2 || true
  fi
  if [ "$keep_work" != 1 ] && [ -z "$(mounts_below "$root")" ]; then
    rm -rf --one-file-system "$root" "$raw" "$part" 2>/dev/null || true
  fi
}
trap cleanup EXIT

logged() {
  # logged <description> <command...>: run with output to the log
  local what=$1
  shift
  printf '\n=== %s: %s\n' "$what" "$*" >>"$log"
  "$@" >>"$log" 2>&1 || die "$what failed (see $log)"
}
in_root() {
  chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C HOME=/root \
    DEBIAN_FRONTEND=noninteractive "$@"
}
mount_at() {
  # mount_at <target> <mount args...>
  local target=$1
  shift
  mount "$@" "$target"
  mounted+=("$target")
}

remove_tree "$root"
rm -f "$raw" "$part"
mkdir -p "$work/debootstrap-cache" "$archives/partial" "$mnt"

say "debootstrap $suite (minbase)"
keyring=()
[ -r /usr/share/keyrings/debian-archive-keyring.gpg ] && keyring=(--keyring=/usr/share/keyrings/debian-archive-keyring.gpg)
logged debootstrap debootstrap --variant=minbase "${keyring[@]}" --cache-dir="$work/debootstrap-cache" \
  "$suite" "$root" "$mirror"
cp -L /etc/resolv.conf "$root/etc/resolv.conf" # apt in the chroot needs the host's resolver

# Package sources of the guest (kept, so that apt works inside a VM with network).
{
  printf 'deb %s %s main\n' "$mirror" "$suite"
  printf 'deb %s %s-updates main\n' "$mirror" "$suite"
  [ "$security_mirror" = none ] || printf 'deb %s %s-security main\n' "$security_mirror" "$suite"
} >"$root/etc/apt/sources.list"
printf '#!/bin/sh\n# no daemons during the image build\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
install -D -m 0644 "$files/build/dpkg-vhost-perf-lab.cfg" "$root/etc/dpkg/dpkg.cfg.d/vhost-perf-lab"
install -D -m 0644 "$files/build/initramfs-vhost-perf-lab.conf" "$root/etc/initramfs-tools/conf.d/vhost-perf-lab"
install -D -m 0644 "$files/build/initramfs-modules" "$root/usr/share/initramfs-tools/modules.d/vhost-perf-lab"
printf '%s\n' "$hostname" >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n' "$hostname" >"$root/etc/hosts"
printf 'LABEL=%s\t/\text4\terrors=remount-ro,noatime\t0\t1\n' "$label" >"$root/etc/fstab"

mount_at "$root/proc" -t proc proc
mount_at "$root/sys" -t sysfs sysfs
mount_at "$root/dev" --bind /dev
mount_at "$root/dev/pts" --bind /dev/pts
mount_at "$root/var/cache/apt/archives" --bind "$archives"

packages=(
  systemd-sysv udev kmod dbus systemd-resolved linux-image-amd64 initramfs-tools
  qemu-guest-agent openssh-server sudo bridge-utils iproute2 iputils-ping ethtool pciutils
  procps less netbase ca-certificates python3 dpdk dpdk-dev
)
say "apt-get install (${#packages[@]} packages + dependencies)"
logged "apt-get update" in_root apt-get update
logged "apt-get install" in_root apt-get install -y --no-install-recommends \
  -o Dpkg::Options::=--force-confold "${packages[@]}"
# systemd-resolved points /etc/resolv.conf at its stub; keep the host's resolver while building.
rm -f "$root/etc/resolv.conf"
cp -L /etc/resolv.conf "$root/etc/resolv.conf"

l3fwd_note="skipped (IMAGE_L3FWD=0)"
if [ "$l3fwd" = 1 ]; then
  say "building DPDK l3fwd from dpdk-doc's example source (build tools removed afterwards)"
  # shellcheck disable=SC2016 # expanded by dpkg-query / the chroot shell, not here
  dpdk_version=$(in_root dpkg-query -W -f '${Version}' libdpdk-dev)
  # shellcheck disable=SC2016 # expanded by dpkg-query / the chroot shell, not here
  before=$(in_root dpkg-query -W -f '${Package}\n' | LC_ALL=C sort)
  logged "install l3fwd build tools" in_root apt-get install -y --no-install-recommends gcc make pkg-config libc6-dev
  # shellcheck disable=SC2016 # expanded by dpkg-query / the chroot shell, not here
  after=$(in_root dpkg-query -W -f '${Package}\n' | LC_ALL=C sort)
  mapfile -t build_only < <(LC_ALL=C comm -13 <(printf '%s\n' "$before") <(printf '%s\n' "$after"))
  mkdir -p "$root/tmp/l3fwd"
  logged "download dpdk-doc" in_root sh -c "cd /tmp/l3fwd && apt-get -o APT::Sandbox::User=root download 'dpdk-doc=$dpdk_version'"
  logged "unpack l3fwd source" in_root sh -c 'cd /tmp/l3fwd && dpkg-deb --fsys-tarfile dpdk-doc_*.deb |
    tar -x --wildcards "./usr/share/dpdk/examples/l3fwd/*" "./usr/share/dpdk/examples/common/*"'
  logged "make l3fwd" in_root make -C /tmp/l3fwd/usr/share/dpdk/examples/l3fwd shared
  install -D -m 0755 "$root/tmp/l3fwd/usr/share/dpdk/examples/l3fwd/build/l3fwd-shared" "$root/usr/local/bin/dpdk-l3fwd"
  install -d "$root/usr/local/share/dpdk-l3fwd"
  install -m 0644 "$root"/tmp/l3fwd/usr/share/dpdk/examples/l3fwd/*.cfg "$root/usr/local/share/dpdk-l3fwd/"
  rm -rf "$root/tmp/l3fwd"
  if [ "${#build_only[@]}" -gt 0 ]; then
    logged "purge l3fwd build tools" in_root apt-get purge -y "${build_only[@]}"
  fi
  # shellcheck disable=SC2016 # expanded by dpkg-query / the chroot shell, not here
  logged "check l3fwd libraries" in_root sh -c 'libs=$(ldd /usr/local/bin/dpdk-l3fwd) && ! printf "%s\n" "$libs" | grep "not found"'
  l3fwd_note="/usr/local/bin/dpdk-l3fwd (DPDK $dpdk_version example, rule files in /usr/local/share/dpdk-l3fwd)"
fi

say "configuring the guest"
# user with NOPASSWD sudo; the password goes through a pipe (printf is a builtin: no argv)
logged "useradd" in_root useradd -m -s /bin/bash -G sudo "$guest_user"
printf '%s:%s\n' "$guest_user" "$guest_password" | in_root chpasswd 2>>"$log" || die "setting the guest password failed"
printf '%s ALL=(ALL) NOPASSWD:ALL\n' "$guest_user" >"$root/etc/sudoers.d/vhost-perf-lab"
chmod 0440 "$root/etc/sudoers.d/vhost-perf-lab"
logged "visudo" in_root visudo -cf /etc/sudoers.d/vhost-perf-lab
if [ -n "$authorized_key" ]; then
  home=$root/home/$guest_user
  install -d -m 0700 "$home/.ssh"
  printf '%s\n' "$authorized_key" >"$home/.ssh/authorized_keys"
  chmod 0600 "$home/.ssh/authorized_keys"
  logged "chown .ssh" in_root chown -R "$guest_user:$guest_user" "/home/$guest_user/.ssh"
fi

# guest files
install -D -m 0755 "$files/nic-naming/nic-name" "$root/usr/local/lib/vhost-perf-lab/nic-name"
install -D -m 0644 "$files/nic-naming/70-vhost-perf-lab-net-names.rules" "$root/etc/udev/rules.d/70-vhost-perf-lab-net-names.rules"
install -D -m 0644 "$files/agent/qemu-guest-agent.service" "$root/etc/systemd/system/qemu-guest-agent.service"
install -D -m 0644 "$files/agent/qemu-guest-agent.default" "$root/etc/default/qemu-guest-agent"
install -D -m 0644 "$files/ssh/vhost-perf-lab-ssh-hostkeys.service" "$root/etc/systemd/system/vhost-perf-lab-ssh-hostkeys.service"
install -D -m 0644 "$files/ssh/vhost-perf-lab.conf" "$root/etc/ssh/sshd_config.d/vhost-perf-lab.conf"
install -D -m 0644 "$files/network/10-vhost-perf-lab-mgmt0.network" "$root/etc/systemd/network/10-vhost-perf-lab-mgmt0.network"
install -D -m 0644 "$files/dpdk/vhost-perf-lab-dpdk.conf" "$root/etc/modules-load.d/vhost-perf-lab-dpdk.conf"
logged "systemctl enable" in_root systemctl enable qemu-guest-agent.service vhost-perf-lab-ssh-hostkeys.service \
  systemd-networkd.service systemd-resolved.service ssh.service
# Periodic jobs would steal CPU from the data plane during a benchmark.
for timer in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer dpkg-db-backup.timer; do
  if [ -e "$root/lib/systemd/system/$timer" ]; then
    logged "mask $timer" in_root systemctl mask "$timer"
  fi
done
# Every VM is a new machine: own host keys (first boot), own machine-id, no build leftovers.
rm -f "$root"/etc/ssh/ssh_host_*
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"

# extlinux: kernel and initrd through Debian's /vmlinuz and /initrd.img links
kernel_version=$(basename "$(readlink -f "$root/vmlinuz")")
kernel_version=${kernel_version#vmlinuz-}
[ -f "$root/boot/initrd.img-$kernel_version" ] || die "no initrd for kernel $kernel_version in the image"
cmdline="root=LABEL=$label ro console=tty0 console=ttyS0,115200n8"
[ "$hugepages" -eq 0 ] || cmdline+=" default_hugepagesz=2M hugepagesz=2M hugepages=$hugepages"
install -d "$root/boot/extlinux"
cat >"$root/boot/extlinux/extlinux.conf" <<EOF
# vhost-perf-lab guest image: serial console on ttyS0 (ttyS1 belongs to the guest agent)
SERIAL 0 115200
DEFAULT $label
PROMPT 0
TIMEOUT 1
LABEL $label
  LINUX /vmlinuz
  INITRD /initrd.img
  APPEND $cmdline
EOF

# ------------------------------------------------------------------ checks inside the image
say "checking the root file system"
check() {
  # check <what> <command...> (run in the chroot)
  in_root "${@:2}" >>"$log" 2>&1 || die "image check failed: $1 (see $log)"
}
check "dpdk-testpmd present" test -x /usr/bin/dpdk-testpmd
check "dpdk-devbind present" test -x /usr/bin/dpdk-devbind.py
check "qemu-ga present" test -x /usr/sbin/qemu-ga
check "sshd present" test -x /usr/sbin/sshd
check "brctl present" test -x /usr/sbin/brctl
check "sudo present" test -x /usr/bin/sudo
check "uio_pci_generic module" modinfo -k "$kernel_version" uio_pci_generic
check "e1000 module" modinfo -k "$kernel_version" e1000
check "virtio_net module" modinfo -k "$kernel_version" virtio_net
check "initramfs has virtio_blk, virtio_pci, virtio_scsi, ext4" sh -c \
  "lsinitramfs /boot/initrd.img-$kernel_version >/tmp/initrd.list &&
   for m in virtio_blk virtio_pci virtio_scsi ext4; do grep -q \"/\$m.ko\" /tmp/initrd.list || { echo \"missing \$m\"; exit 1; }; done;
   rm -f /tmp/initrd.list"
check "agent unit enabled" test -L /etc/systemd/system/multi-user.target.wants/qemu-guest-agent.service
check "udev tags ttyS* for systemd (agent unit binds to dev-ttyS1.device)" grep -qsF 'tty[a-zA-Z]*' /lib/udev/rules.d/99-systemd.rules
vfio_noiommu=$(grep -s '^CONFIG_VFIO_NOIOMMU=' "$root/boot/config-$kernel_version" || true)
vfio_noiommu=${vfio_noiommu:-CONFIG_VFIO_NOIOMMU is not set}
say "guest kernel $kernel_version: uio_pci_generic present; VFIO no-IOMMU: $vfio_noiommu"

version_of() {
  # shellcheck disable=SC2016 # a dpkg-query format
  in_root dpkg-query -W -f '${Version}' "$1" 2>/dev/null || echo none
}
manifest=$(
  printf '{"suite":%s,"mirror":%s,"kernel":%s,"kernel_cmdline":%s,' "$(json_str "$suite")" \
    "$(json_str "$mirror")" "$(json_str "$kernel_version")" "$(json_str "$cmdline")"
  printf '"hugepages_2m":%d,"guest_user":%s,"authorized_key":%s,' "$hugepages" "$(json_str "$guest_user")" \
    "$([ -n "$authorized_key" ] && echo true || echo false)"
  printf '"dpdk":%s,"qemu_guest_agent":%s,"openssh_server":%s,' "$(json_str "$(version_of dpdk-dev)")" \
    "$(json_str "$(version_of qemu-guest-agent)")" "$(json_str "$(version_of openssh-server)")"
  printf '"l3fwd":%s,"vfio_noiommu":%s,"fingerprint":"%s"}' "$(json_str "$l3fwd_note")" \
    "$(json_str "$vfio_noiommu")" "$fp"
)

# ------------------------------------------------------------------ leave the chroot
kill_chroot_procs
unmount_all # also drops the bind mount of the package cache (kept in the work dir for the next build)
rm -f "$root/usr/sbin/policy-rc.d"
ln -sfn ../run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/tmp/* "$root"/var/tmp/* "$root"/var/cache/debconf/*-old \
  "$root"/root/.bash_history
find "$root/var/log" -type f -exec truncate -s 0 {} +

rootfs_kib=$(du -sk --one-file-system "$root" | cut -f 1)
say "root file system: $((rootfs_kib / 1024)) MiB"

# ------------------------------------------------------------------ disk image
say "writing the disk: MBR + bootable ext4 at 1 MiB"
truncate -s "$size" "$raw"
disk_bytes=$(stat -c %s "$raw")
part_bytes=$((disk_bytes - fs_offset))
[ $((rootfs_kib * 1024 * 10 / 8)) -lt "$part_bytes" ] ||
  die "the root file system ($((rootfs_kib / 1024)) MiB) does not fit comfortably in IMAGE_SIZE=$size" "raise IMAGE_SIZE"
printf 'label: dos\nstart=%d, type=83, bootable\n' "$((fs_offset / 512))" | logged sfdisk sfdisk "$raw"
truncate -s "$part_bytes" "$part"
# syslinux 6.04 cannot read ext4 with 64bit or metadata_csum: leave both out
logged mkfs.ext4 mkfs.ext4 -F -q -L "$label" -O ^64bit,^metadata_csum -d "$root" "$part"
logged "copy file system into the disk" dd if="$part" of="$raw" bs=1M seek=1 conv=notrunc,sparse status=none
rm -f "$part"
mount_at "$mnt" -o loop,offset="$fs_offset" "$raw"
logged extlinux extlinux --install "$mnt/boot/extlinux"
unmount_all
logged "write MBR boot code" dd if="$mbr_bin" of="$raw" bs=440 count=1 conv=notrunc status=none
say "converting to compressed qcow2"
# 0600 from the first byte: the image holds the guest password's hash
umask_before=$(umask)
umask 077
logged "qemu-img convert" qemu-img convert -c -f raw -O qcow2 -- "$raw" "$out.tmp.$$"
umask "$umask_before"
chmod 0600 -- "$out.tmp.$$"
rm -f "$raw"
sha=$(sha256sum "$out.tmp.$$" | cut -d ' ' -f 1)
mv -f "$out.tmp.$$" "$out"
printf '%s  %s\n' "$sha" "$(basename "$out")" >"$out.sha256.tmp"
mv -f "$out.sha256.tmp" "$out.sha256"
printf '%s\n' "$manifest" >"$out.manifest.json"
printf '%s\n' "$fp" >"$out.inputs"
[ "$keep_work" = 1 ] || remove_tree "$root"
say "done: $out ($(($(stat -c %s "$out") / 1024 / 1024)) MiB, sha256 $sha)"
result true "$sha"
