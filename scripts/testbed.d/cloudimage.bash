# shellcheck shell=bash
# Part of scripts/testbed (sourced; defines functions and settings only): a small Debian 12
# cloud image with cloud-init, for tests of image-based guests. Built from Debian's packages
# (debootstrap from the mirror apt uses here) once, and cached outside the repository under a
# key of everything it is made from: this file, its templates, the mirror, the release and the
# architecture. It is built again only when one of those changes.
#
# Booting: the image is one ext4 filesystem (mkfs.ext4 -d: no loop mount) without a partition
# table or boot loader; guests boot it directly with the kernel and initrd published beside it,
# <kernel>, <initrd> and <cmdline> in their definition (CLOUD_IMAGE_CMDLINE, also in image.json).
#
# What a built image directory holds (and $TB/media/cloud-image points to):
#   debian-12-rvtb.qcow2 (.xz, .gz)   the image, and compressed copies of it for download tests
#   vmlinuz, initrd.img               for direct kernel boot
#   SHA256SUMS, image.json            checksums and sizes of all of them, the command line, versions,
#                                     the packages named below (targets needing one look for it)
#   build.log

CLOUD_IMAGE_RELEASE=bookworm
CLOUD_IMAGE_CACHE=${REMOTEVIRT_IMAGE_CACHE:-/var/cache/remotevirt-testbed/cloud-image}
CLOUD_IMAGE_NAME=debian-12-rvtb
CLOUD_IMAGE_SIZE=1536M   # of the filesystem, so the qcow2's virtual size; cloud-init grows it
CLOUD_IMAGE_LABEL=rvtb-root
CLOUD_IMAGE_CMDLINE='root=/dev/vda rw console=ttyS0 nomodeset'
# On top of debootstrap's minbase (dependencies come along, recommendations do not)
CLOUD_IMAGE_PACKAGES=(
  linux-image-cloud-amd64 systemd systemd-sysv udev dbus e2fsprogs
  # networking is systemd-networkd's (part of systemd): cloud-init writes its .network files
  # (debootstrap resolves no virtual packages: python3-cryptography's cffi API is named here)
  cloud-init iproute2 python3-cffi-backend
  # addresses for `wait_for: ip` with the agent as source
  qemu-guest-agent
  # a host for roles applied over SSH (the advertise role's managed avahi-daemon): sshd, the
  # apt module's Python binding, avahi-daemon and avahi-browse (guests cannot reach a mirror)
  openssh-server python3-apt avahi-daemon avahi-utils
)
# Built into the kernel or in the initrd, or the initrd cannot mount root=/dev/vda
CLOUD_IMAGE_ROOT_DRIVERS=(virtio_pci:VIRTIO_PCI virtio_blk:VIRTIO_BLK ext4:EXT4_FS)

# debian_mirror RELEASE: the first mirror of apt's sources that has RELEASE itself (not
# -updates or -security); REMOTEVIRT_DEBIAN_MIRROR overrides. One-line (.list) and deb822
# (.sources) files.
debian_mirror() {
  if [ -n "${REMOTEVIRT_DEBIAN_MIRROR:-}" ]; then echo "$REMOTEVIRT_DEBIAN_MIRROR"; return 0; fi
  local files=() f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && files+=("$f")
  done
  [ ${#files[@]} -gt 0 ] || return 1
  awk -v release="$1" '
    function has(list, word,   n, i, w) {
      n = split(list, w, /[ \t]+/)
      for (i = 1; i <= n; i++) if (w[i] == word) return 1
      return 0
    }
    function stanza() {
      if (has(types, "deb") && has(suites, release) && tolower(enabled) != "no" && uris != "") {
        split(uris, u, /[ \t]+/); print u[1]; found = 1; exit
      }
      types = suites = uris = enabled = ""
    }
    FNR == 1 && deb822 { stanza() }
    FNR == 1 { deb822 = FILENAME ~ /\.sources$/ }
    /^[ \t]*#/ { next }
    !deb822 {
      sub(/\[[^]]*\]/, "")
      if ($1 == "deb" && $3 == release) { print $2; found = 1; exit }
      next
    }
    /^[ \t]*$/ { stanza(); next }
    {
      key = tolower($1); sub(/:.*/, "", key); value = $0; sub(/^[^:]*:[ \t]*/, "", value)
      if (key == "types") types = value
      else if (key == "suites") suites = value
      else if (key == "uris") uris = value
      else if (key == "enabled") enabled = value
    }
    END { if (!found && deb822) stanza(); if (!found) exit 1 }' "${files[@]}"
}

# cloud_image_key MIRROR: what the image is made from, hashed
cloud_image_key() {
  local sum
  sum=$({
    echo "$CLOUD_IMAGE_RELEASE $(dpkg --print-architecture) $1"
    cat "$PARTS/cloudimage.bash" "$TEMPLATES"/cloud-image-*.in
  } | sha256sum)
  echo "${sum:0:16}"
}

# build_cloud_image: the cached image of the current inputs, built if missing (under a lock: a
# concurrent run waits for it instead of building it twice), and $TB/media/cloud-image
# pointing at it. Entries of other inputs unused for 30 days are removed.
build_cloud_image() {
  local mirror key dir lock stale
  mirror=$(debian_mirror "$CLOUD_IMAGE_RELEASE") \
    || die "no Debian mirror for $CLOUD_IMAGE_RELEASE in /etc/apt/sources.list(.d) (set REMOTEVIRT_DEBIAN_MIRROR)"
  key=$(cloud_image_key "$mirror")
  dir=$CLOUD_IMAGE_CACHE/$key
  if [ ! -f "$dir/image.json" ]; then
    mkdir -p "$CLOUD_IMAGE_CACHE" "$TB/logs"
    exec {lock}> "$CLOUD_IMAGE_CACHE/.lock"
    flock "$lock"
    # what a build killed before its cleanup left (nothing else builds while we hold the lock)
    for stale in "$CLOUD_IMAGE_CACHE"/.build.*; do
      [ ! -d "$stale" ] || cloud_image_discard "$stale" || say "still mounted under $stale: left in place"
    done
    # not in a || list: that would switch off set -e inside the build
    if [ ! -f "$dir/image.json" ]; then make_cloud_image "$mirror" "$dir"; fi
    exec {lock}>&-
  fi
  touch "$dir"
  mkdir -p "$TB/media"
  if [ "$(readlink "$TB/media/cloud-image" || true)" != "$dir" ]; then
    ln -sfn "$dir" "$TB/media/cloud-image.new"
    mv -fT "$TB/media/cloud-image.new" "$TB/media/cloud-image"
  fi
  find "$CLOUD_IMAGE_CACHE" -mindepth 1 -maxdepth 1 -type d -regextype posix-extended \
    -regex '.*/[0-9a-f]{16}' ! -name "$key" -mtime +30 -exec rm -rf {} + 2>/dev/null || true
}

# make_cloud_image MIRROR DIR: build in a temporary directory beside DIR, rename it to DIR
# when complete (a build that stops half-way leaves nothing a later run would take for done).
# A subshell: its traps and redirections stay in it.
make_cloud_image() (
  local mirror=$1 dest=$2 work log=$TB/logs/cloud-image.log t0=$SECONDS
  work=$(mktemp -d "$CLOUD_IMAGE_CACHE/.build.XXXXXX")
  exec 3>&2
  trap 'cloud_image_cleanup $? "$work" "$log"' EXIT
  trap 'exit 130' INT   # so that the EXIT trap cleans up after an interruption too
  trap 'exit 143' TERM
  say "building the cloud image from $mirror (once, a few minutes; log: $log)"
  exec > "$log" 2>&1
  set -x
  mkdir "$work/out"
  cloud_image_tree "$mirror" "$work/root"
  cloud_image_configure "$work/root"
  cloud_image_boot_files "$work/root" "$work/out"
  cloud_image_slim "$work/root"
  cloud_image_disk "$work/root" "$work"
  cloud_image_compressed "$work/out"
  cloud_image_manifest "$work/root" "$work/out" "$((SECONDS - t0))"
  set +x
  cp "$log" "$work/out/build.log"
  chmod -R a+rX "$work/out"
  mv -T "$work/out" "$dest"
  say "cloud image built in $((SECONDS - t0)) s: $dest ($(cloud_image_sizes "$dest"))" >&3
)

# cloud_image_cleanup STATUS WORK LOG: the end of a build, done or not
cloud_image_cleanup() {
  local status=$1 work=$2 log=$3
  set +x
  if [ "$status" -ne 0 ] && [ -f "$work/root/debootstrap/debootstrap.log" ]; then
    tail -n 40 "$work/root/debootstrap/debootstrap.log" >> "$log"
  fi
  cloud_image_discard "$work" || say "still mounted under $work: left in place" >&3
  if [ "$status" -ne 0 ]; then
    tail -n 30 "$log" >&3
    printf 'testbed: error: the cloud image build failed (log: %s)\n' "$log" >&3
  fi
}

# cloud_image_discard WORK: remove a build directory, after unmounting what debootstrap may have
# left mounted in it (rm must never reach the machine's /proc or /dev); fails if that cannot be
cloud_image_discard() {
  local work=$1 mnt
  while read -r _ mnt _; do
    if [[ $mnt == "$work"/* ]]; then umount -l "$mnt" || true; fi
  done < <(sort -r -k2 /proc/mounts)
  if grep -qF " $work/" /proc/mounts; then return 1; fi
  rm -rf "$work"
}

# cloud_image_tree MIRROR ROOT: Debian's minbase and the packages above
cloud_image_tree() {
  local packages
  packages=$(IFS=,; echo "${CLOUD_IMAGE_PACKAGES[*]}")
  mkdir -p "$CLOUD_IMAGE_CACHE/debs"   # downloads, kept for the next build
  debootstrap --variant=minbase --include="$packages" --cache-dir="$CLOUD_IMAGE_CACHE/debs" \
    "$CLOUD_IMAGE_RELEASE" "$2" "$1"
}

cloud_image_cloud_cfg() { render cloud-image-cloud.cfg.in; }
cloud_image_fstab() { render cloud-image-fstab.in; }

cloud_image_configure() {
  local root=$1
  cloud_image_fstab > "$root/etc/fstab"
  cloud_image_cloud_cfg > "$root/etc/cloud/cloud.cfg.d/99-remotevirt-testbed.cfg"
  echo localhost > "$root/etc/hostname"
  # Each guest makes its own machine id on its first boot: systemd-networkd derives its DHCP
  # client id from it, and guests sharing one would share a lease.
  : > "$root/etc/machine-id"
  rm -f "$root/var/lib/dbus/machine-id"
  chroot "$root" systemctl enable systemd-networkd.service
  cloud_image_ssh_host_keys "$root"
  # Installed, not started at boot: a guest that needs sshd starts it (cloud-init's bootcmd),
  # the others boot as fast as before; avahi-daemon runs only where a test (the advertise
  # role) starts and enables it, which is what that test checks, and mDNS stays off elsewhere.
  chroot "$root" systemctl disable ssh.service avahi-daemon.service avahi-daemon.socket
}

# cloud_image_ssh_host_keys ROOT: none in the image (guests would share them); each guest makes
# its own ed25519 key before its sshd first starts (cloud-init's ssh module is not run: it costs
# seconds, and RSA key generation more under TCG).
cloud_image_ssh_host_keys() {
  local root=$1 key=/etc/ssh/ssh_host_ed25519_key
  rm -f "$root"/etc/ssh/ssh_host_*
  mkdir -p "$root/etc/systemd/system/ssh.service.d"
  cat > "$root/etc/systemd/system/ssh.service.d/host-key.conf" <<EOF
[Service]
ExecStartPre=
ExecStartPre=/bin/sh -c 'test -e $key || ssh-keygen -q -t ed25519 -N "" -f $key'
ExecStartPre=/usr/sbin/sshd -t
EOF
}

# cloud_image_boot_files ROOT OUT: the kernel and initrd, once it is sure they can mount the root
cloud_image_boot_files() {
  local root=$1 out=$2 kernels version listing entry module option
  kernels=("$root"/boot/vmlinuz-*)
  [ ${#kernels[@]} -eq 1 ] && [ -f "${kernels[0]}" ] || die "expected one kernel in $root/boot"
  version=${kernels[0]##*/vmlinuz-}
  # listed once, into a variable: grep -q in a pipe would stop lsinitramfs early (SIGPIPE)
  listing=$(chroot "$root" lsinitramfs "/boot/initrd.img-$version")
  for entry in "${CLOUD_IMAGE_ROOT_DRIVERS[@]}"; do
    module=${entry%%:*} option=${entry#*:}
    grep -qx "CONFIG_$option=y" "$root/boot/config-$version" ||
      grep -qE "/$module\.ko(\.[a-z]+)?$" <<<"$listing" ||
      die "neither the kernel $version nor its initrd has $module"
  done
  install -m 0644 "${kernels[0]}" "$out/vmlinuz"
  install -m 0644 "$root/boot/initrd.img-$version" "$out/initrd.img"
}

# cloud_image_slim ROOT: what no test guest reads (documentation, translations, locale sources:
# cloud-init's locale module is not run; apt's lists and downloads)
cloud_image_slim() {
  local root=$1
  rm -rf "$root"/usr/share/{doc,man,info,locale,lintian}/* "$root"/usr/share/i18n/{locales,charmaps} \
    "$root"/var/lib/apt/lists/* \
    "$root"/var/cache/apt/* "$root"/tmp/* "$root"/var/cache/debconf/*-old
  find "$root/var/log" -type f -delete
}

# cloud_image_disk ROOT WORK: the filesystem image of ROOT, as qcow2 in WORK/out
cloud_image_disk() {
  local root=$1 raw=$2/root.raw
  truncate -s "$CLOUD_IMAGE_SIZE" "$raw"
  mkfs.ext4 -q -L "$CLOUD_IMAGE_LABEL" -d "$root" "$raw"
  qemu-img convert -f raw -O qcow2 "$raw" "$2/out/$CLOUD_IMAGE_NAME.qcow2"
  rm -f "$raw"
}

cloud_image_compressed() {
  local image=$1/$CLOUD_IMAGE_NAME.qcow2
  xz -T0 -6 -c "$image" > "$image.xz"
  gzip -6 -n -c "$image" > "$image.gz"
}

# cloud_image_manifest ROOT OUT BUILD_SECONDS: SHA256SUMS and image.json
cloud_image_manifest() {
  local root=$1 out=$2 virtual kernel cloud_init
  (cd "$out" && sha256sum -- * > SHA256SUMS)
  virtual=$(qemu-img info --output=json "$out/$CLOUD_IMAGE_NAME.qcow2" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["virtual-size"])')
  kernel=$(chroot "$root" dpkg-query -W -f='${Version}' linux-image-cloud-amd64)
  cloud_init=$(chroot "$root" dpkg-query -W -f='${Version}' cloud-init)
  python3 - "$out" "$CLOUD_IMAGE_NAME" "$virtual" "$CLOUD_IMAGE_CMDLINE" "$kernel" "$cloud_init" "$3" \
    "${CLOUD_IMAGE_PACKAGES[*]}" <<'EOF' > "$out/image.json"
import json, os, sys
out, name, virtual, cmdline, kernel, cloud_init, seconds, packages = sys.argv[1:]
roles = {"qcow2": name + ".qcow2", "xz": name + ".qcow2.xz", "gz": name + ".qcow2.gz",
         "kernel": "vmlinuz", "initrd": "initrd.img"}
sums = {}
with open(os.path.join(out, "SHA256SUMS")) as f:
    for line in f:
        digest, file = line.split(None, 1)
        sums[file.strip()] = digest
files = {role: {"name": file, "sha256": sums[file], "size": os.path.getsize(os.path.join(out, file))}
         for role, file in roles.items()}
json.dump({"name": name, "format": "qcow2", "virtual_size": int(virtual), "cmdline": cmdline,
           "kernel_version": kernel, "cloud_init_version": cloud_init,
           "build_seconds": int(seconds), "packages": sorted(packages.split()), "files": files}, sys.stdout, indent=1, sort_keys=True)
print()
EOF
}

# cloud_image_sizes DIR: "qcow2 300 MiB, xz ..." for the summary
cloud_image_sizes() {
  python3 - "$1/image.json" <<'EOF'
import json, sys
image = json.load(open(sys.argv[1]))
print(", ".join("%s %.1f MiB" % (role, file["size"] / 1048576) for role, file in image["files"].items()))
EOF
}

# scripts/testbed cloud-image: build (or find) the image, print where it is
cmd_cloud_image() {
  local t0
  [ $# -eq 0 ] || usage
  t0=$(now_us)
  build_cloud_image
  say "cloud image: $(readlink "$TB/media/cloud-image") ($(cloud_image_sizes "$TB/media/cloud-image");" \
    "$(( ($(now_us) - t0) / 1000 )) ms)"
}
