# shellcheck shell=bash
# Part of scripts/testbed (sourced; defines functions and settings only): the discovery LAN.
# A bridge of its own in network namespace "rvlan" joins a second leg ("lan0") of each
# namespaced host (HOSTS) and the controller-side namespace "rvlanctl", from which the mdns
# inventory plugin browses. Each host runs avahi-daemon on its LAN leg only, with a private
# D-Bus, and an extra sshd on its LAN address. Multicast never leaves these namespaces: the
# bridge has no leg into the root namespace, and avahi ignores the hosts' other interfaces.
#
#   rvhostN   10.253.0.(10+N)   fd72:7674:6c61::(10+N)   sshd :22, avahi-daemon
#   rvlanctl  10.253.0.100      fd72:7674:6c61::100      the controller's side

LAN_NETNS=rvlan
LAN_CTL=rvlanctl
LAN_IF=lan0                  # the LAN leg's name inside each namespace
LAN_V4=10.253.0
LAN_V6=fd72:7674:6c61:       # a ULA prefix of the test bed's own

lan_v4() { echo "$LAN_V4.$1"; }   # HOSTNUMBER (10+N for rvhostN, 100 for the controller)
lan_v6() { echo "$LAN_V6:$1"; }

# lan_host_number HOST: 11 for rvhost1, 12 for rvhost2, ...
lan_host_number() {
  local i
  for i in "${!HOSTS[@]}"; do
    [ "${HOSTS[$i]}" != "$1" ] || { echo $((11 + i)); return 0; }
  done
  return 1
}

lan_state() { echo "$TB/lan/$1"; }   # HOST: its private avahi and D-Bus directories

lan_dbus_conf() { # HOST
  # shellcheck disable=SC2034 # render reads it by name
  local LAN_HOST=$1
  render lan-dbus.conf.in LAN_HOST
}

lan_avahi_conf() { # HOST
  # shellcheck disable=SC2034 # render reads them by name
  local LAN_HOST=$1
  render lan-avahi-daemon.conf.in LAN_HOST LAN_IF
}

# lan_leg NS IFNAME-IN-NS PEER-IN-RVLAN NUMBER: a veth pair from the bridge into NS, addressed
lan_leg() {
  local ns=$1 ifname=$2 peer=$3 n=$4
  ip -n "$LAN_NETNS" link show "$peer" >/dev/null 2>&1 \
    || ip -n "$LAN_NETNS" link add "$peer" type veth peer name "$ifname" netns "$ns"
  ip -n "$LAN_NETNS" link set "$peer" master br0 up
  ip -n "$ns" addr replace "$(lan_v4 "$n")/24" dev "$ifname"
  # nodad: usable at once (duplicate address detection would hold it back for a second or two)
  ip -n "$ns" addr replace "$(lan_v6 "$n")/64" dev "$ifname" nodad
  ip -n "$ns" link set "$ifname" up
}

# The bridge, with multicast snooping off: without an IGMP querier on this LAN a snooping
# bridge may stop flooding mDNS to ports it has not seen a report from.
lan_network() {
  local ns
  ensure_netns "$LAN_NETNS"
  ensure_netns "$LAN_CTL"
  ip -n "$LAN_NETNS" link show br0 >/dev/null 2>&1 \
    || ip -n "$LAN_NETNS" link add br0 type bridge mcast_snooping 0
  ip -n "$LAN_NETNS" link set br0 up
  for ns in "${HOSTS[@]}"; do
    lan_leg "$ns" "$LAN_IF" "$ns" "$(lan_host_number "$ns")"
  done
  lan_leg "$LAN_CTL" "$LAN_IF" ctl 100
  # the controller side has no default route: multicast goes out on the LAN leg
  ip -n "$LAN_CTL" route replace 224.0.0.0/4 dev "$LAN_IF"
}

# lan_exec HOST CMD...: run CMD in the host's network namespace and in a mount namespace of
# the LAN's own, made from the host's (so libvirt's private directories are there too) with
# private /etc/avahi, /run/avahi-daemon and /run/dbus on top. The SSH sessions of the LAN's
# sshd start in it: what the advertise role writes to /etc/avahi/services reaches that host's
# avahi-daemon, and no other. It lives as long as one of the LAN daemons does; join it through
# one of them, or make it anew.
lan_exec() {
  local ns=$1 l f pid; shift
  l=$(lan_state "$ns")
  for f in "$l/run-dbus/pid" "$l/run-avahi/pid" "$TB/run/sshd-$ns-lan.pid"; do
    if pid=$(pid_of "$f"); then
      nsenter -t "$pid" -m -n -- "$@"
      return
    fi
  done
  # shellcheck disable=SC2016 # expanded by the inner shell
  host_exec "$ns" "$TB/hosts/$ns" unshare -m --propagation private -- sh -ec '
    l=$1; shift
    for m in etc-avahi:/etc/avahi run-avahi:/run/avahi-daemon run-dbus:/run/dbus; do
      mount --bind "$l/${m%%:*}" "${m#*:}"
    done
    exec "$@"' sh "$l" "$@"
}

# lan_host HOST: private avahi state seeded from the package's files, a private D-Bus, avahi-daemon,
# an sshd on the LAN address
lan_host() {
  local ns=$1 n l
  n=$(lan_host_number "$ns")
  l=$(lan_state "$ns")
  mkdir -p "$l/run-dbus" "$l/run-avahi" "$l/etc-avahi/services"
  # the mount points, in the namespaces' common root file system
  mkdir -p /etc/avahi /run/avahi-daemon /run/dbus
  # avahi-daemon drops to user avahi and writes its pid file in /run/avahi-daemon
  chown avahi:avahi "$l/run-avahi"
  write_file "$l/dbus.conf" lan_dbus_conf "$ns"
  write_file "$l/etc-avahi/avahi-daemon.conf" lan_avahi_conf "$ns"
  write_file "$TB/ssh/sshd_config.$ns-lan" sshd_config 22 "$(lan_v4 "$n")" "$TB/run/sshd-$ns-lan.pid"
  ensure_daemon "$ns-dbus" "$l/run-dbus/pid" \
    lan_exec "$ns" dbus-daemon --config-file="$l/dbus.conf"
  ensure_daemon "$ns-avahi" "$l/run-avahi/pid" \
    lan_exec "$ns" avahi-daemon --daemonize --no-chroot
  ensure_daemon "$ns-lan-sshd" "$TB/run/sshd-$ns-lan.pid" \
    lan_exec "$ns" /usr/sbin/sshd -f "$TB/ssh/sshd_config.$ns-lan" -E "$TB/logs/sshd-$ns-lan.log"
  wait_for 30 lan_exec "$ns" avahi-daemon --check || die "avahi-daemon of $ns does not run"
  # the root namespace has no leg on the LAN: its controller side is $LAN_CTL
  wait_for 30 ip netns exec "$LAN_CTL" ssh "${SSH_OPTS[@]}" "root@$(lan_v4 "$n")" \
    test -S /run/dbus/system_bus_socket -a -d /etc/avahi/services \
    || die "ssh root@$(lan_v4 "$n") does not reach the LAN namespace of $ns"
}

lan_up() {
  local ns
  hosts_up || die "the namespaced hosts are not up (scripts/testbed up --hosts)"
  mkdir -p "$TB/lan"
  install_packages
  lan_network
  for ns in "${HOSTS[@]}"; do lan_host "$ns"; done
}

# lan_is_up: every host's LAN daemons run and the controller's namespace exists
lan_is_up() {
  local ns
  [ -e "/run/netns/$LAN_CTL" ] || return 1
  for ns in "${HOSTS[@]}"; do
    pid_of "$(lan_state "$ns")/run-avahi/pid" >/dev/null || return 1
    pid_of "$TB/run/sshd-$ns-lan.pid" >/dev/null || return 1
  done
}

# lan_down: stop the LAN's daemons (sessions of its sshds first: they keep the LAN's mount
# namespaces alive) and delete its namespaces; the hosts' LAN legs go with the bridge's.
lan_down() {
  local ns pid c
  for ns in "${HOSTS[@]}"; do
    pid=$(started_pid "$ns-lan-sshd") || continue
    for c in $(children_of "$pid"); do kill "$c" 2>/dev/null || true; done
  done
  stop "${HOSTS[@]/%/-lan-sshd}"
  stop "${HOSTS[@]/%/-avahi}"
  stop "${HOSTS[@]/%/-dbus}"
  delete_netns "$LAN_NETNS" "$LAN_CTL"
}

lan_daemons() { # "NAME PIDFILE" lines, as daemons() in lifecycle.bash
  local ns
  for ns in "${HOSTS[@]}"; do
    echo "$ns-dbus $(lan_state "$ns")/run-dbus/pid"
    echo "$ns-avahi $(lan_state "$ns")/run-avahi/pid"
    echo "$ns-lan-sshd $TB/run/sshd-$ns-lan.pid"
  done
}

cmd_lan_up() {
  [ $# -eq 0 ] || usage
  lan_up
  say "discovery LAN up: hosts $(for ns in "${HOSTS[@]}"; do printf '%s ' "$ns=$(lan_v4 "$(lan_host_number "$ns")")"; done)" \
    "browse from: ip netns exec $LAN_CTL ...; started: ${STARTED_NOW[*]:-nothing}"
}

cmd_lan_down() {
  [ $# -eq 0 ] || usage
  STOPPED=0
  lan_down
  [ "$STOPPED" -gt 0 ] || say "nothing to stop"
}
