# shellcheck shell=bash
# Part of scripts/testbed (sourced; defines functions and settings only): extra namespaced
# hypervisors for benchmarks/hosts only, scale-h1 .. scale-hN (10.254.(100+i).2), each with its
# own sshd and libvirtd like rvhost1 and rvhost2, started and stopped by their recorded PIDs, in an
# inventory of their own ($TB/scale-inventory.ini). Never part of `up` or of the tests.

SCALE_FIRST_SUBNET=100
SCALE_MAX_HOSTS=20

scale_hosts() { # the extra hosts that were started (recorded), by name
  [ -f "$STARTED" ] || return 0
  awk '$1 ~ /^scale-h[0-9]+-sshd$/ {sub(/-sshd$/, "", $1); print $1}' "$STARTED"
}

cmd_scale_hosts_up() {
  local count=${1:-} i lines=""
  [[ $count =~ ^[0-9]+$ ]] && [ "$count" -ge 1 ] && [ "$count" -le "$SCALE_MAX_HOSTS" ] || usage
  pid_of "$TB/run/sshd.pid" >/dev/null || die "the test bed is not up (scripts/testbed up)"
  for ((i = 1; i <= count; i++)); do
    start_host "scale-h$i" "$((SCALE_FIRST_SUBNET + i))"
    lines+="scale-h$i ansible_host=10.254.$((SCALE_FIRST_SUBNET + i)).2"$'\n'
  done
  HOST_LINES=${lines%$'\n'} render inventory.ini.in HOST_LINES TB > "$TB/scale-inventory.ini"
  say "$count extra hosts up: inventory $TB/scale-inventory.ini"
}

cmd_scale_hosts_down() {
  local ns hosts=() pid c
  [ $# -eq 0 ] || usage
  STOPPED=0
  mapfile -t hosts < <(scale_hosts)
  for ns in "${hosts[@]}"; do
    if started_pid "$ns-libvirtd" >/dev/null; then
      stop_guests "qemu:///system?socket=$TB/hosts/$ns/run/libvirt-sock"
    fi
    pid=$(started_pid "$ns-sshd") || continue
    for c in $(children_of "$pid"); do kill "$c" 2>/dev/null || true; done
  done
  if [ ${#hosts[@]} -gt 0 ]; then
    # Only the extra hosts' own daemons: every name given to stop is stopped.
    stop "${hosts[@]/%/-sshd}"
    stop "${hosts[@]/%/-libvirtd}"
    stop "${hosts[@]/%/-virtlogd}"
    delete_netns "${hosts[@]}"
    for ns in "${hosts[@]}"; do rm -rf "${TB:?}/hosts/$ns"; done
  fi
  rm -f "$TB/scale-inventory.ini"
  [ "$STOPPED" -gt 0 ] || say "nothing to stop"
}
