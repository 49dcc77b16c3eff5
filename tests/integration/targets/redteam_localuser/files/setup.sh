#!/usr/bin/env bash
# The hostile local user (uid 64013, with no account: the host's passwd and shadow files stay as
# they are), the root-only files it must never reach, the pool directory an admin made too open
# (/var/tmp/rt15-lu-open, mode 0777, pool rt15-lu-open), and a log directory an admin made 0777
# too (/var/tmp/rt15-lu-logs).
#   setup.sh BIN_SOURCE_DIR
set -euo pipefail
if getent passwd 64013 >/dev/null; then echo "uid 64013 has an account here" >&2; exit 1; fi
install -d -m 0755 /var/tmp/rt15-lu-bin
install -m 0755 "$1"/*.sh /var/tmp/rt15-lu-bin/
install -d -m 0733 /var/tmp/rt15-lu-pids   # the user's watchers leave their pids here
install -d -m 0700 /var/tmp/rt15-lu-scratch
# Root's own files, 0600: stand-ins for /etc/shadow and the like
for name in victim-chmod victim-link victim-serial victim-backing victim-kernel victim-bootk; do
  printf 'rt15-lu root only: %s\n' "$name" > "/etc/rt15-lu-$name"
  chmod 0600 "/etc/rt15-lu-$name"
done
install -d -m 0777 /var/tmp/rt15-lu-open /var/tmp/rt15-lu-logs
cat > /var/tmp/rt15-lu-scratch/pool.xml <<'XML'
<pool type='dir'><name>rt15-lu-open</name><target><path>/var/tmp/rt15-lu-open</path></target></pool>
XML
virsh -q -c qemu:///system pool-create /var/tmp/rt15-lu-scratch/pool.xml >/dev/null
chmod 0777 /var/tmp/rt15-lu-open
