# shellcheck shell=bash
# Part of scripts/testbed (sourced; defines functions and settings only): the local libvirtd
# and virtlogd, storage pools, the PXE network, and stopping the guests of a libvirtd.

start_libvirt() {
  # never let libvirt bring up its 192.168.122.0/24 NAT network on its own
  rm -f /etc/libvirt/qemu/networks/autostart/default.xml
  # Without udev /dev/kvm is 0600 root:root. libvirtd probes QEMU as root but validates its
  # capability cache as libvirt-qemu, which then cannot open /dev/kvm: the cache is thrown
  # away and QEMU re-probed on every call (defining a domain takes ~50 s). Give it the usual
  # udev mode. (Guests still have to run under TCG on this kind of machine.)
  if [ -c /dev/kvm ] && getent group kvm >/dev/null; then
    chgrp kvm /dev/kvm
    chmod 0660 /dev/kvm
  fi
  # libvirtd runs swtpm as tss, but one started before the swtpm package made that user ran it as
  # root, whose certificate authority files tss cannot then use ("Need read/write rights on
  # /var/lib/swtpm-localca/.lock.swtpm-localca"): hand them to tss, as the package made the directory.
  if [ -d /var/lib/swtpm-localca ] && getent passwd tss >/dev/null; then
    chown -R tss /var/lib/swtpm-localca
  fi
  # No systemd: the daemons are started by hand, with -d, inside our network namespace.
  ensure_daemon virtlogd /run/virtlogd.pid \
    in_netns "$NETNS" /usr/sbin/virtlogd -d -p /run/virtlogd.pid
  ensure_daemon libvirtd /run/libvirtd.pid \
    in_netns "$NETNS" env LIBVIRT_LOG_OUTPUTS="3:file:$TB/logs/libvirtd.log" \
    /usr/sbin/libvirtd -d -p /run/libvirtd.pid
  # the very first start probes QEMU's capabilities (10-20 s); later ones take ~0.5 s
  wait_for 120 virsh -c qemu:///system version \
    || die "libvirtd does not answer (log: $TB/logs/libvirtd.log)"
}

# ensure_pool URI NAME DIR running|inactive: a dir pool, defined and built once, never
# autostarted, in the wanted state on every run
ensure_pool() {
  local v=(virsh -q -c "$1") name=$2 dir=$3 want=$4 info state autostart
  if ! "${v[@]}" pool-info "$name" >/dev/null 2>&1; then
    "${v[@]}" pool-define-as "$name" dir --target "$dir" >/dev/null
    "${v[@]}" pool-build "$name" >/dev/null
  fi
  info=$("${v[@]}" pool-info "$name")
  state=$(awk '$1 == "State:" {print $2}' <<<"$info")
  autostart=$(awk '$1 == "Autostart:" {print $2}' <<<"$info")
  if [ "$autostart" = yes ]; then "${v[@]}" pool-autostart --disable "$name" >/dev/null; fi
  if [ "$want" = running ] && [ "$state" != running ]; then
    [ -d "$dir" ] || "${v[@]}" pool-build "$name" >/dev/null
    "${v[@]}" pool-start "$name" >/dev/null
  elif [ "$want" = inactive ] && [ "$state" = running ]; then
    "${v[@]}" pool-destroy "$name" >/dev/null
  fi
}

local_pools() {
  ensure_pool qemu:///system rvtb "$TB/pools/rvtb" running
  ensure_pool qemu:///system rvtb-off "$TB/pools/rvtb-off" inactive
}

# A NAT network that PXE-boots guests from $TB/tftp (libvirt's dnsmasq serves DHCP + TFTP inside
# libvirtd's namespace). The IPv6 subnet makes dnsmasq send router advertisements, or iPXE waits
# ~15 s for them; DNS is off so nothing is forwarded to the machine's resolver.
PXE_NETWORK=rvtb-pxe
pxe_network_xml() { render pxe-network.xml.in PXE_NETWORK TB; }

pxe_network() { # [URI]
  local v=(virsh -q -c "${1:-qemu:///system}") xml
  if ! "${v[@]}" net-info "$PXE_NETWORK" >/dev/null 2>&1; then
    xml=$(mktemp)
    if ! pxe_network_xml > "$xml"; then rm -f "$xml"; die "could not write $xml"; fi
    "${v[@]}" net-define "$xml" >/dev/null
    rm -f "$xml"
  fi
  if [ "$("${v[@]}" net-info "$PXE_NETWORK" | awk '$1 == "Active:" {print $2}')" != yes ]; then
    "${v[@]}" net-start "$PXE_NETWORK" >/dev/null
  fi
}

# destroy the running guests and active networks of one of our daemons
stop_guests() {
  local uri=$1 d
  virsh -c "$uri" version >/dev/null 2>&1 || return 0
  for d in $(virsh -q -c "$uri" list --name); do
    virsh -q -c "$uri" destroy "$d" >/dev/null 2>&1 && say "destroyed guest $d ($uri)"
  done
  for d in $(virsh -q -c "$uri" net-list --name); do
    virsh -q -c "$uri" net-destroy "$d" >/dev/null 2>&1 && say "stopped network $d ($uri)"
  done
  return 0
}
