#!/usr/bin/env bash
# Removes every rt15-lu- guest, volume, pool and file of this target, and ends the processes of its user (uid 64013).
set -euo pipefail
V="virsh -q -c qemu:///system"
for d in $($V list --all --name | grep -a '^rt15-lu-' || true); do
  $V destroy -- "$d" >/dev/null 2>&1 || true
  $V undefine --nvram -- "$d" >/dev/null 2>&1 || $V undefine -- "$d" >/dev/null 2>&1 || true
done
for v in $($V vol-list rvtb | awk '{print $1}' | grep '^rt15-lu-' || true); do
  $V vol-delete --pool rvtb "$v" >/dev/null 2>&1 || true
done
for p in $($V pool-list --all --name | grep '^rt15-lu-' || true); do
  $V pool-destroy "$p" >/dev/null 2>&1 || true
  $V pool-undefine "$p" >/dev/null 2>&1 || true
done
# The user's watchers (each started under timeout, its pid kept) are ended by their ids.
if [ -d /var/tmp/rt15-lu-pids ]; then
  for f in /var/tmp/rt15-lu-pids/*; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    if [ "$(stat -c %u "/proc/$pid" 2>/dev/null || true)" = 64013 ]; then kill "$pid" 2>/dev/null || true; fi
  done
fi
rm -rf /var/tmp/rt15-lu-* /tmp/rt15-lu-* /etc/rt15-lu-* /root/rt15-lu-*
rm -f /var/lib/libvirt/boot/remotevirt-rt15-lu-* /var/log/libvirt/qemu/rt15-lu-*
rm -rf /var/lib/libvirt/boot/.remotevirt-rt15-lu-*
$V pool-refresh rvtb >/dev/null
left=$($V list --all --name | grep -ac '^rt15-lu-' || true)
[ "$left" = 0 ] || { echo "guests left: $left" >&2; exit 1; }
