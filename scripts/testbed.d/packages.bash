# shellcheck shell=bash
# Part of scripts/testbed (sourced; defines functions and settings only): the machine's
# packages and the controller's virtualenv.

PACKAGES=(
  # libvirt with QEMU; the -sysv variant keeps apt from pulling in (and upgrading) systemd
  libvirt-daemon libvirt-daemon-driver-qemu libvirt-daemon-system libvirt-daemon-system-sysv
  libvirt-clients qemu-system-x86 qemu-utils dnsmasq-base iptables libxml2-utils
  # targets run modules with /usr/bin/python3; the controller venv, made from it too, builds
  # libvirt-python
  python3-libvirt python3-lxml libvirt-dev pkg-config gcc python3-venv python3-dev
  # boot media; a real installer kernel and initrd for install trees; UEFI firmware
  isolinux syslinux-common pxelinux xorriso debian-installer-12-netboot-amd64 ovmf cpio
  # the emulated TPM (swtpm) libvirt starts for a guest's vTPM
  swtpm swtpm-tools
  # the Debian cloud image with cloud-init (testbed.d/cloudimage.bash), and its compressed copies
  debootstrap e2fsprogs xz-utils gzip
  # the LVM tools libvirt's logical pools run (vgcreate, lvcreate...); the virt_pool target builds
  # a volume group on a loop device with them
  lvm2
  # an NFS server in user space for install trees, and the libnfs tools hosts read them with
  nfs-ganesha nfs-ganesha-vfs libnfs-utils
  # transport, namespaces, syslog, linting
  openssh-server iproute2 rsyslog shellcheck
  # mDNS on the discovery LAN (scripts/testbed lan-up): the daemon the advertise role configures,
  # and avahi-publish for the discovery benchmark
  avahi-daemon avahi-utils
  # dpkg-scanpackages, for the flat apt repository the advertise_daemon target gives its guest
  dpkg-dev
)

install_packages() {
  local installed missing=() p policy=/usr/sbin/policy-rc.d own_policy='' rc=0
  installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${PACKAGES[@]}" 2>/dev/null || true)
  for p in "${PACKAGES[@]}"; do
    grep -qx "$p installed" <<<"$installed" || missing+=("$p")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  say "installing ${missing[*]}"
  # Package scripts would start the distribution's own rsyslogd/sshd/libvirtd with the
  # system configuration; this script starts its own, so forbid that during the install.
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod 0755 "$policy"; own_policy=1
  fi
  {
    apt-get update &&
    apt-get install -y --no-install-recommends "${missing[@]}"
  } > "$TB/logs/apt.log" 2>&1 || rc=$?
  [ -z "$own_policy" ] || rm -f "$policy"
  if [ "$rc" -ne 0 ]; then
    cat "$TB/logs/apt.log" >&2
    die "apt failed (log: $TB/logs/apt.log)"
  fi
}

# The controller's venv is made from Debian's own Python 3.11, whatever python3 PATH finds first:
# it is built with profile-guided and link-time optimisation, and ansible-playbook, where most of
# the test command's CPU goes, runs about 11 % less CPU on it than on a build without them (such
# as pyenv's default).
CONTROLLER_PYTHON=/usr/bin/python3
setup_venv() {
  local req=$ROOT/requirements/controller.txt venv=$TB/venv sum
  [ -f "$req" ] || die "missing $req"
  sum=$(sha256sum < "$req"); sum=${sum%% *}
  if "$venv/bin/python" -c '' 2>/dev/null && [ "$(cat "$venv/.base-python" 2>/dev/null)" = "$CONTROLLER_PYTHON" ]; then
    # pip only when the pinned requirements changed: re-runs stay instant
    [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$sum" ] || return 0
  else
    rm -rf "$venv"
    "$CONTROLLER_PYTHON" -m venv "$venv" || die "$CONTROLLER_PYTHON -m venv failed"
    echo "$CONTROLLER_PYTHON" > "$venv/.base-python"
  fi
  say "pip install -r requirements/controller.txt"
  # libvirt-python has no wheels: it builds here (libvirt-dev, pkg-config, gcc)
  if ! "$venv/bin/pip" install --disable-pip-version-check -r "$req" > "$TB/logs/pip.log" 2>&1; then
    cat "$TB/logs/pip.log" >&2
    die "pip install failed (log: $TB/logs/pip.log)"
  fi
  echo "$sum" > "$venv/.requirements.sha256"
}
