#!/usr/bin/env bash
# Removes every rt14-lu- guest, volume, pool and file of this target, and its user rt14lu.
set -euo pipefail
V="virsh -q -c qemu:///system"
for d in $($V list --all --name | grep -a '^rt14-lu-' || true); do
  $V destroy -- "$d" >/dev/null 2>&1 || true
  $V undefine --nvram -- "$d" >/dev/null 2>&1 || $V undefine -- "$d" >/dev/null 2>&1 || true
done
for v in $($V vol-list rvtb | awk '{print $1}' | grep '^rt14-lu-' || true); do
  $V vol-delete --pool rvtb "$v" >/dev/null 2>&1 || true
done
for p in $($V pool-list --all --name | grep '^rt14-lu-' || true); do
  $V pool-destroy "$p" >/dev/null 2>&1 || true
  $V pool-undefine "$p" >/dev/null 2>&1 || true
done
# The user's watchers (each started under timeout, its pid kept) are ended by their ids.
if [ -d /var/tmp/rt14-lu-pids ]; then
  for f in /var/tmp/rt14-lu-pids/*; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    if [ "$(stat -c %U "/proc/$pid" 2>/dev/null || true)" = rt14lu ]; then kill "$pid" 2>/dev/null || true; fi
  done
fi
if id rt14lu >/dev/null 2>&1; then
  for _ in $(seq 20); do userdel -r rt14lu >/dev/null 2>&1 && break; sleep 0.5; done
  ! id rt14lu >/dev/null 2>&1 || { echo "user rt14lu left" >&2; exit 1; }
fi
rm -rf /var/tmp/rt14-lu-* /tmp/rt14-lu-* /etc/rt14-lu-* /root/rt14-lu-*
rm -f /var/lib/libvirt/boot/remotevirt-rt14-lu-* /var/log/libvirt/qemu/rt14-lu-*
rm -rf /var/lib/libvirt/boot/.remotevirt-rt14-lu-*
$V pool-refresh rvtb >/dev/null
left=$($V list --all --name | grep -ac '^rt14-lu-' || true)
[ "$left" = 0 ] || { echo "guests left: $left" >&2; exit 1; }
