# shellcheck shell=bash
# Part of scripts/testbed (sourced; defines functions and settings only): the namespaced
# "remote hypervisors" (HOSTS), each with its own sshd and libvirtd.

# copy_dirs SRC DST: the directory tree of SRC with owners and modes, but no files
copy_dirs() {
  local d
  while IFS= read -r -d '' d; do
    mkdir -p "$2/$d"
    chown --reference="$1/$d" "$2/$d"
    chmod --reference="$1/$d" "$2/$d"
  done < <(cd "$1" && find . -type d -print0)
}

# Private libvirt state of a namespaced host, seeded once from the machine's own: the
# configuration without any pools, domains, secrets, extra networks or autostart links; the
# empty directory layout of /var/lib/libvirt and /var/log/libvirt; and the QEMU capability
# cache (the local libvirtd has filled it by now, so the host's first start is quick).
seed_host_state() {
  local h=${1:?}
  [ ! -e "$h/.seeded" ] || return 0
  rm -rf "${h:?}"/{etc,lib,cache,log,run}
  mkdir -p "$h/run" "$h/pools"
  cp -a /etc/libvirt "$h/etc"
  cp -a /var/cache/libvirt "$h/cache"
  copy_dirs /var/lib/libvirt "$h/lib"
  copy_dirs /var/log/libvirt "$h/log"
  find "$h/etc/storage" "$h/etc/qemu" -maxdepth 1 -name '*.xml' -delete 2>/dev/null || true
  find "$h/etc/qemu/networks" -name '*.xml' ! -name default.xml -delete 2>/dev/null || true
  find "$h/etc" -path '*/autostart/*' -delete
  rm -rf "$h/etc/secrets"
  touch "$h/.seeded"
}

# host_exec HOST STATEDIR CMD...: run CMD in the host's network and mount namespace. The
# mount namespace (private libvirt directories bind-mounted over the standard paths) lives
# as long as one of the host's daemons does; join it through one of them, or make it anew.
host_exec() {
  local ns=$1 h=$2 f pid; shift 2
  for f in "$h/run/virtlogd.pid" "$h/run/libvirtd.pid" "$TB/run/sshd-$ns.pid"; do
    if pid=$(pid_of "$f"); then
      nsenter -t "$pid" -m -n -- "$@"
      return
    fi
  done
  # shellcheck disable=SC2016 # expanded by the inner shell
  ip netns exec "$ns" unshare -m --propagation private -- sh -ec '
    h=$1; shift
    for m in run:/run/libvirt lib:/var/lib/libvirt etc:/etc/libvirt \
             cache:/var/cache/libvirt log:/var/log/libvirt; do
      mount --bind "$h/${m%%:*}" "${m#*:}"
    done
    exec "$@"' sh "$h" "$@"
}

# start_host_libvirtd HOST: the host's libvirtd in its namespaces, recorded as ours
start_host_libvirtd() {
  local ns=$1 h=$TB/hosts/$1
  ensure_daemon "$ns-libvirtd" "$h/run/libvirtd.pid" \
    host_exec "$ns" "$h" env LIBVIRT_LOG_OUTPUTS="3:file:$TB/logs/libvirtd-$ns.log" \
    /usr/sbin/libvirtd -d -p "$h/run/libvirtd.pid"
}

# A "remote hypervisor": network namespace rvhostN reached over a veth pair
# (10.254.N.1 here, 10.254.N.2 there) with its own sshd and its own libvirtd. Only one
# libvirtd may use the standard paths of a mount namespace, hence the private mounts; an
# SSH session to the host starts inside them and so talks to that host's daemon.
start_host() {
  local ns=$1 n=$2 h=$TB/hosts/$1 veth=veth-$1 uri
  uri="qemu:///system?socket=$h/run/libvirt-sock"
  ensure_netns "$ns"
  ip link show "$veth" >/dev/null 2>&1 || ip link add "$veth" type veth peer name eth0 netns "$ns"
  ip addr replace "10.254.$n.1/24" dev "$veth"
  ip link set "$veth" up
  ip -n "$ns" addr replace "10.254.$n.2/24" dev eth0
  ip -n "$ns" link set eth0 up
  seed_host_state "$h"
  mkdir -p /run/libvirt /var/lib/libvirt /etc/libvirt /var/cache/libvirt /var/log/libvirt
  write_file "$TB/ssh/sshd_config.$ns" sshd_config 22 "10.254.$n.2" "$TB/run/sshd-$ns.pid"
  ensure_daemon "$ns-virtlogd" "$h/run/virtlogd.pid" \
    host_exec "$ns" "$h" /usr/sbin/virtlogd -d -p "$h/run/virtlogd.pid"
  start_host_libvirtd "$ns"
  ensure_daemon "$ns-sshd" "$TB/run/sshd-$ns.pid" \
    host_exec "$ns" "$h" /usr/sbin/sshd -f "$TB/ssh/sshd_config.$ns" -E "$TB/logs/sshd-$ns.log"
  wait_for 120 virsh -c "$uri" version || die "libvirtd of $ns does not answer"
  ensure_pool "$uri" rvtb "$h/pools/rvtb" running
  pxe_network "$uri"
  wait_for 30 ssh "${SSH_OPTS[@]}" "root@10.254.$n.2" virsh -c qemu:///system version \
    || die "ssh root@10.254.$n.2 virsh version fails"
}

start_hosts() {
  local i
  for i in "${!HOSTS[@]}"; do start_host "${HOSTS[$i]}" "$((i + 1))"; done
}

hosts_up() { # true when every namespaced host has its sshd running
  local ns
  for ns in "${HOSTS[@]}"; do pid_of "$TB/run/sshd-$ns.pid" >/dev/null || return 1; done
}
