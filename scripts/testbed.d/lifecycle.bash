# shellcheck shell=bash
# Part of scripts/testbed (sourced; defines functions and settings only): the commands up,
# down, status and restart-libvirtd.

cmd_up() {
  local hosts=0 cloud_image=1 t0 entry name ms slow='' total hvs
  [ "${TESTBED_HOSTS:-}" != 1 ] || hosts=1
  while [ $# -gt 0 ]; do
    case $1 in
      --hosts) hosts=1 ;;
      --no-cloud-image) cloud_image=0 ;;
      *) usage ;;
    esac
    shift
  done
  t0=$(now_us)
  mkdir -p "$TB"/{logs,run,ssh,media,tftp,pools,hosts,cp,collections}
  # QEMU runs as libvirt-qemu and must traverse $TB to reach media and pools
  chmod 0755 "$TB"
  chmod 0700 "$TB/ssh" "$TB/cp"
  step apt install_packages
  step venv setup_venv
  step collections link_collection
  step media build_media
  # minutes once, then only when its inputs change; with --no-cloud-image the caller gets it
  # from `scripts/testbed cloud-image` when it needs it (scripts/test builds it beside other work)
  [ "$cloud_image" = 0 ] || step cloud-image build_cloud_image
  step syslog start_syslog
  step libvirtd start_libvirt
  step pools local_pools
  step network pxe_network
  step nfs start_nfs
  step sshd start_sshd
  [ "$hosts" = 0 ] || step hosts start_hosts
  [ "$hosts" = 0 ] || step lan lan_up
  step config write_config
  total=$(( ($(now_us) - t0) / 1000 ))
  for entry in "${TIMES[@]}"; do
    read -r name ms <<<"$entry"
    [ "$ms" -lt 500 ] || slow+="${slow:+, }$name $(secs "$ms")"
  done
  hvs=hv-local
  if hosts_up; then hvs+=" ${HOSTS[*]}"; fi
  if lan_is_up; then hvs+=" (discovery LAN up)"; fi
  say "ready in $(secs "$total") (slow steps: ${slow:-none}); started: ${STARTED_NOW[*]:-nothing};" \
    "hypervisors: $hvs; use: eval \"\$(scripts/testbed env)\""
}

# --- down ----------------------------------------------------------------------------------

STOPPED=0
# stop NAME...: SIGTERM those we started, then wait for each to exit
stop() {
  local name pid pids=() names=() i
  for name; do
    if pid=$(started_pid "$name"); then
      kill "$pid" 2>/dev/null || true
      pids+=("$pid"); names+=("$name")
    fi
    forget "$name"
  done
  for i in "${!pids[@]}"; do
    if ! wait_gone "${pids[$i]}" 30; then
      say "${names[$i]} (pid ${pids[$i]}) ignores SIGTERM: SIGKILL"
      kill -KILL "${pids[$i]}" 2>/dev/null || true
      wait_gone "${pids[$i]}" 10 || die "${names[$i]} (pid ${pids[$i]}) does not exit"
    fi
    say "stopped ${names[$i]} (pid ${pids[$i]})"
    STOPPED=$((STOPPED + 1))
  done
}

cmd_down() {
  local ns s pid c
  [ $# -eq 0 ] || usage
  STOPPED=0
  if started_pid libvirtd >/dev/null; then stop_guests qemu:///system; fi
  for ns in "${HOSTS[@]}"; do
    if started_pid "$ns-libvirtd" >/dev/null; then
      stop_guests "qemu:///system?socket=$TB/hosts/$ns/run/libvirt-sock"
    fi
  done
  # Ansible's ControlPersist masters keep sessions open on the hosts (and with them the
  # hosts' namespaces) for a minute after the last task
  for s in "$TB"/cp/*; do
    [ -S "$s" ] || continue
    ssh -o ControlPath="$s" -O exit testbed >/dev/null 2>&1 || true
    wait_for 5 test ! -S "$s" || true   # the master exits asynchronously
  done
  # sessions still open on a namespaced sshd would keep its namespaces alive too
  for ns in "${HOSTS[@]}"; do
    pid=$(started_pid "$ns-sshd") || continue
    for c in $(children_of "$pid"); do kill "$c" 2>/dev/null || true; done
  done
  lan_down   # its sshds' sessions live in the hosts' namespaces too
  stop sshd "${HOSTS[@]/%/-sshd}"
  stop libvirtd "${HOSTS[@]/%/-libvirtd}"
  stop virtlogd "${HOSTS[@]/%/-virtlogd}"
  stop ganesha
  stop rsyslogd   # last: it logs the others' shutdown
  delete_netns "$NETNS" "${HOSTS[@]}"
  # Module tasks the fault tests kill on purpose leave the payload directory that Ansible's wrapper
  # removes when a module ends; with every sshd stopped, no task of the test bed is running.
  rm -rf /tmp/ansible_remotevirt.install.*_payload_*
  [ "$STOPPED" -gt 0 ] || say "nothing to stop"
}

# --- status -----------------------------------------------------------------------------------

daemons() { # "NAME PIDFILE" lines
  local ns
  echo "rsyslogd $TB/run/rsyslogd.pid"
  echo "virtlogd /run/virtlogd.pid"
  echo "libvirtd /run/libvirtd.pid"
  echo "sshd $TB/run/sshd.pid"
  echo "ganesha $TB/run/ganesha.pid"
  for ns in "${HOSTS[@]}"; do
    echo "$ns-virtlogd $TB/hosts/$ns/run/virtlogd.pid"
    echo "$ns-libvirtd $TB/hosts/$ns/run/libvirtd.pid"
    echo "$ns-sshd $TB/run/sshd-$ns.pid"
  done
  [ ! -d "$TB/lan" ] || lan_daemons
}

cmd_status() {
  local name pidfile pid state owner ns uri
  [ $# -eq 0 ] || usage
  printf '%-18s %-8s %-6s %s\n' DAEMON PID STATE "STARTED BY"
  while read -r name pidfile; do
    pid=$(cat "$pidfile" 2>/dev/null) || pid=-
    if pid_of "$pidfile" >/dev/null; then state=alive; else state=dead; fi
    if started_pid "$name" >/dev/null; then owner=testbed; elif [ "$state" = alive ]; then owner=other; else owner=-; fi
    printf '%-18s %-8s %-6s %s\n' "$name" "$pid" "$state" "$owner"
  done < <(daemons)
  echo
  echo "network namespaces:"
  ip netns list | sed 's/^/  /'
  echo
  if lan_is_up; then
    echo "discovery LAN: up (browse from: ip netns exec $LAN_CTL ...)"
    for ns in "${HOSTS[@]}" "$LAN_CTL"; do
      printf '  %-9s %s\n' "$ns" "$(ip -n "$ns" -brief addr show dev "$LAN_IF" 2>/dev/null | tr -s ' ' | cut -d' ' -f3-)"
    done
  else
    echo "discovery LAN: down (scripts/testbed lan-up)"
  fi
  echo
  if virsh -c qemu:///system version >/dev/null 2>&1; then
    echo "pools of qemu:///system:"
    virsh -c qemu:///system pool-list --all | sed '/^$/d; s/^/  /'
  else
    echo "pools of qemu:///system: libvirtd not reachable"
  fi
  for ns in "${HOSTS[@]}"; do
    pid_of "$TB/hosts/$ns/run/libvirtd.pid" >/dev/null || continue
    uri="qemu:///system?socket=$TB/hosts/$ns/run/libvirt-sock"
    echo "pools of $ns:"
    virsh -c "$uri" pool-list --all 2>&1 | sed '/^$/d; s/^/  /'
  done
  echo
  if [ -f "$TB/media/cloud-image/image.json" ]; then
    echo "cloud image: $(readlink "$TB/media/cloud-image") ($(cloud_image_sizes "$TB/media/cloud-image"))"
  else
    echo "cloud image: not built (scripts/testbed cloud-image)"
  fi
}

# --- restart-libvirtd: a daemon crash, for fault-injection tests -----------------------------

# SIGKILL, as a crash: no clean shutdown, its clients' connections break mid-call. Only the
# namespaced hosts' daemons, and only the very process `up` started; QEMU outlives it and the
# new daemon reconnects to its guests. A daemon found not running is just started again.
cmd_restart_libvirtd() {
  local ns=${1:-} down=${2:-0} pid uri
  if [[ " ${HOSTS[*]} " != *" $ns "* ]] || ! [[ $down =~ ^[0-9]+$ ]]; then usage; fi
  recorded "$ns-sshd" || die "$ns is not up (scripts/testbed up --hosts)"
  if pid=$(started_pid "$ns-libvirtd"); then
    kill -KILL "$pid"
    wait_gone "$pid" 10 || die "$ns-libvirtd (pid $pid) does not exit"
    say "killed $ns-libvirtd (pid $pid)"
  elif pid_of "$TB/hosts/$ns/run/libvirtd.pid" >/dev/null; then
    die "the libvirtd of $ns was not started by this script: leaving it alone"
  fi
  sleep "$down"
  forget "$ns-libvirtd"
  start_host_libvirtd "$ns"
  uri="qemu:///system?socket=$TB/hosts/$ns/run/libvirt-sock"
  wait_for 60 virsh -c "$uri" version || die "libvirtd of $ns does not answer"
  say "started $ns-libvirtd (pid $(started_pid "$ns-libvirtd"))"
}
