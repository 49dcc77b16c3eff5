#!/usr/bin/env bash
# The configuration files scripts/testbed writes, rendered from its templates with fixed
# settings, are byte for byte the expected ones (expected/default: the usual state directory;
# expected/odd-path: one with a space, '&', '\1' and a placeholder in its name, which must be
# copied as it is); and render refuses templates and names that do not match. Starts nothing,
# writes only into a temporary directory, needs no root.
#   tests/testbed/render_test.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd -P)
PARTS=$here/../../scripts/testbed.d
# shellcheck disable=SC2034 # settings of scripts/testbed the sourced parts read
TEMPLATES=$PARTS/templates HOSTS=(rvhost1 rvhost2) TB=/var/tmp/remotevirt-testbed
for part in common media cloudimage services libvirt ssh hosts lan config; do
  # shellcheck source=/dev/null
  . "$PARTS/$part.bash"
done
out=$(mktemp -d "${TMPDIR:-/tmp}/testbed-render.XXXXXX")
trap 'rm -rf "$out"' EXIT
failed=0

# render_all DIR: every file scripts/testbed renders, by the functions `up` uses
render_all() {
  mkdir -p "$1"
  isolinux_cfg > "$1/isolinux.cfg"
  pxelinux_default > "$1/pxelinux.cfg-default"
  ganesha_conf > "$1/ganesha.conf"
  rsyslog_conf > "$1/rsyslog.conf"
  pxe_network_xml > "$1/rvtb-pxe.xml"
  sshd_config 2222 127.0.0.1 "$TB/run/sshd.pid" > "$1/sshd_config"
  sshd_config 22 10.254.1.2 "$TB/run/sshd-rvhost1.pid" > "$1/sshd_config.rvhost1"
  sshd_config 22 10.254.2.2 "$TB/run/sshd-rvhost2.pid" > "$1/sshd_config.rvhost2"
  libvirtd_tls_conf > "$1/libvirtd-tls.conf.rvhost1"
  sshd_config 22 10.253.0.11 "$TB/run/sshd-rvhost1-lan.pid" > "$1/sshd_config.rvhost1-lan"
  lan_dbus_conf rvhost1 > "$1/lan-dbus.conf.rvhost1"
  lan_avahi_conf rvhost1 > "$1/lan-avahi-daemon.conf.rvhost1"
  inventory_ini > "$1/inventory.ini"
  inventory_ini rvhost1 rvhost2 > "$1/inventory-hosts.ini"
  ansible_cfg > "$1/ansible.cfg"
  cloud_image_cloud_cfg > "$1/cloud-image-cloud.cfg"
  cloud_image_fstab > "$1/cloud-image-fstab"
}

# refused MESSAGE RENDER-ARGS...: render fails with MESSAGE on stderr and prints nothing
refused() {
  local want=$1 stdout rc=0; shift
  stdout=$(render "$@" 2> "$out/stderr") || rc=$?
  if [ "$rc" -eq 0 ] || [ -n "$stdout" ] || ! grep -qF "$want" "$out/stderr"; then
    echo "FAIL: render $* (rc $rc): expected '$want', got: $(cat "$out/stderr")"
    failed=1
  fi
}

render_all "$out/default"
TB='/tmp/odd tb/a&b\1@NFS_PORT@'
render_all "$out/odd-path"
diff -r "$here/expected" "$out" --exclude=stderr || failed=1

TB=/tb
refused '@NFS_PORT@ is not filled in' ganesha.conf.in TB
refused 'has no placeholder @NFS_PORT@' rsyslog.conf.in TB NFS_PORT
refused 'no variable UNSET_NAME' rsyslog.conf.in TB UNSET_NAME
refused 'no variable lower' rsyslog.conf.in TB lower
refused 'cannot read template' no-such-template.in

[ "$failed" = 0 ] || exit 1
echo "testbed templates: all rendered files as expected"
