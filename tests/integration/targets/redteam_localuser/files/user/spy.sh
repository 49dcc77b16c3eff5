#!/usr/bin/env bash
# As the local user: for SECONDS seconds, keep every command line and environment it can read of
# the host's processes, and whatever it can read of a guest's files, in OUT (the user's own file).
#   spy.sh SECONDS OUT GUEST
set -euo pipefail
echo $$ > /var/tmp/rt15-lu-pids/spy.$$
seconds=$1 out=$2 guest=$3
: > "$out"
end=$((SECONDS + seconds))
while [ $SECONDS -lt $end ]; do
  for p in /proc/[0-9]*; do
    tr '\0' ' ' < "$p/cmdline" 2>/dev/null >> "$out" || true
    echo >> "$out"
    tr '\0' '\n' < "$p/environ" 2>/dev/null >> "$out" || true
  done
  for f in /var/lib/libvirt/boot/remotevirt-"$guest"-cidata.iso /etc/libvirt/qemu/"$guest".xml \
           /run/libvirt/qemu/"$guest".xml /var/log/libvirt/qemu/"$guest".log \
           /var/log/libvirt/qemu/"$guest"-serial.log; do
    cat "$f" >> "$out" 2>/dev/null || true
  done
  sleep 0.05
done
echo "spied $(wc -c < "$out") bytes"
