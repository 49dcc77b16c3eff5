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

# --- remote URIs: TLS on one host, SSH host keys --------------------------------------------
# TLS_HOST's libvirtd also listens for qemu+tls://10.254.N.2:16514/system, with certificates of
# a CA the test bed makes (openssl) under $TB/pki; clients name them with ?pkipath=$TB/pki/client
# (cacert.pem, clientcert.pem, clientkey.pem), so nothing under /etc/pki changes.
TLS_HOST=rvhost1
# shellcheck disable=SC2034  # read by name: render fills the template with it
TLS_PORT=16514

# host_address HOST: 10.254.N.2 of the namespaced host HOST
host_address() {
  local i
  for i in "${!HOSTS[@]}"; do
    if [ "${HOSTS[$i]}" = "$1" ]; then echo "10.254.$((i + 1)).2"; return 0; fi
  done
  return 1
}

libvirtd_tls_conf() {
  # shellcheck disable=SC2034 # render reads them by name
  local TLS_ADDRESS PKI=$TB/pki
  # shellcheck disable=SC2034  # read by name: render fills the template with it
  TLS_ADDRESS=$(host_address "$TLS_HOST")
  render libvirtd-tls.conf.in TLS_HOST TLS_ADDRESS TLS_PORT PKI
}

# pki_cert DIR NAME CN EXTENSIONS: DIR/NAMEkey.pem and DIR/NAMEcert.pem signed by the test CA,
# made once (kept while the CA is the same one)
pki_cert() {
  local dir=$1 name=$2 cn=$3 ext=$4 PKI=$TB/pki
  [ "$dir/${name}cert.pem" -nt "$PKI/cacert.pem" ] && return 0
  mkdir -p "$dir"
  (umask 077 && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/${name}key.pem" 2>/dev/null)
  openssl req -new -key "$dir/${name}key.pem" -subj "/O=remotevirt testbed/CN=$cn" |
    openssl x509 -req -CA "$PKI/cacert.pem" -CAkey "$PKI/ca/cakey.pem" -CAcreateserial \
      -CAserial "$PKI/ca/serial" -days 3650 -extfile <(printf '%s\n' "$ext") -out "$dir/${name}cert.pem" 2>/dev/null
}

# make_pki: the CA, TLS_HOST's server certificate and the client's, under $PKI
make_pki() {
  local address PKI=$TB/pki
  address=$(host_address "$TLS_HOST")
  mkdir -p "$PKI/ca" && chmod 0700 "$PKI/ca"
  if [ ! -f "$PKI/cacert.pem" ]; then
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PKI/ca/cakey.pem" 2>/dev/null
    openssl req -x509 -new -key "$PKI/ca/cakey.pem" -days 3650 -subj "/O=remotevirt testbed/CN=remotevirt testbed CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -out "$PKI/cacert.pem"
  fi
  pki_cert "$PKI/$TLS_HOST" server "$address" "$(printf '%s\n' "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" \
    "subjectAltName=IP:$address,DNS:$TLS_HOST")"
  pki_cert "$PKI/client" client "remotevirt testbed client" "$(printf '%s\n' "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=clientAuth")"
  sync_file "$PKI/cacert.pem" "$PKI/client/cacert.pem"
}

# The namespaced sshds use this machine's host keys: $TB/ssh/known_hosts lists them for every
# host address, for SSH clients that check host keys (qemu+ssh through $TB/ssh/ssh-known-hosts,
# qemu+libssh with ?known_hosts=).
write_known_hosts() {
  local ns address key
  for ns in "${HOSTS[@]}"; do
    address=$(host_address "$ns")
    for key in /etc/ssh/ssh_host_*_key.pub; do
      printf '%s %s\n' "$address" "$(cut -d' ' -f1,2 "$key")"
    done
  done
}

# ssh_known_hosts_command: an ssh that checks host keys against $TB/ssh/known_hosts only, for
# qemu+ssh URIs (?command=): OpenSSH's own known_hosts option is not a libvirt URI parameter
ssh_known_hosts_command() {
  printf '#!/bin/sh\n# ssh checking host keys against the test bed known_hosts only\n'
  printf 'exec ssh -o UserKnownHostsFile=%q -o StrictHostKeyChecking=yes "$@"\n' "$TB/ssh/known_hosts"
}

remote_uri_files() {
  make_pki
  write_file "$TB/ssh/known_hosts" write_known_hosts
  write_file "$TB/ssh/ssh-known-hosts" ssh_known_hosts_command
  chmod 0755 "$TB/ssh/ssh-known-hosts"
}

# start_host_libvirtd HOST: the host's libvirtd in its namespaces, recorded as ours; TLS_HOST's
# also listens with TLS (-l, with its own configuration file)
start_host_libvirtd() {
  local ns=$1 h=$TB/hosts/$1 listen=()
  if [ "$ns" = "$TLS_HOST" ]; then
    remote_uri_files
    write_file "$h/libvirtd-tls.conf" libvirtd_tls_conf
    listen=(-l -f "$h/libvirtd-tls.conf")
  fi
  ensure_daemon "$ns-libvirtd" "$h/run/libvirtd.pid" \
    host_exec "$ns" "$h" env LIBVIRT_LOG_OUTPUTS="3:file:$TB/logs/libvirtd-$ns.log" \
    /usr/sbin/libvirtd -d -p "$h/run/libvirtd.pid" "${listen[@]}"
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
