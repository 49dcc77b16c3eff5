#!/usr/bin/env bash
# Removes every rt12-mh- guest (with its managed save and snapshots), network and pool, and their files.
V="virsh -q -c qemu:///system"
$V list --all --name | grep -a '^rt12-mh' | while IFS= read -r d; do
  $V destroy -- "$d" >/dev/null 2>&1
  $V undefine --managed-save --snapshots-metadata --nvram -- "$d" >/dev/null 2>&1 || $V undefine -- "$d" >/dev/null 2>&1
done
for n in $($V net-list --all --name | grep '^rt12-mh-'); do $V net-destroy "$n" >/dev/null 2>&1; $V net-undefine "$n" >/dev/null; done
for p in $($V pool-list --all --name | grep '^rt12-mh-'); do $V pool-destroy "$p" >/dev/null 2>&1; $V pool-undefine "$p" >/dev/null; done
for v in $($V vol-list rvtb | awk '{print $1}' | grep '^rt12-mh-'); do $V vol-delete --pool rvtb "$v" >/dev/null; done
rm -rf /var/tmp/rt12-mh-pool /var/tmp/rt12-mh-gone /var/tmp/rt12-mh-share /var/tmp/rt12-mh-p2 /tmp/rt12-mh-*.xml
left=$($V list --all --name | grep -ac '^rt12-mh')
[ "$left" = 0 ] || { echo "guests left: $left" >&2; exit 1; }
