#!/usr/bin/env bash
# The hostile local user (uid 64014, with no account: the host's passwd and shadow files stay as
# they are), root's files it must never reach, a pool directory an admin made 0777 (pool
# rt14-lu-open), and a directory the user owns (/var/tmp/rt14-lu-udir) in which an admin
# put root-owned directories of his own (a boot_dir, a pool directory).
#   setup.sh BIN_SOURCE_DIR
set -euo pipefail
if getent passwd 64014 >/dev/null; then echo "uid 64014 has an account here" >&2; exit 1; fi
install -d -m 0755 /var/tmp/rt14-lu-bin
install -m 0755 "$1"/*.sh /var/tmp/rt14-lu-bin/
install -d -m 0733 /var/tmp/rt14-lu-pids   # the user's watchers leave their pids here
install -d -m 0700 /var/tmp/rt14-lu-scratch
# Root's own files, 0600, in /etc
for name in victim-qed victim-rebase; do
  printf 'rt14-lu root only: %s\n' "$name" > "/etc/rt14-lu-$name"
  chmod 0600 "/etc/rt14-lu-$name"
done
install -d -m 0700 /root/rt14-lu-private
# Root's files outside /etc in a directory anyone may enter, 0600 (like Debian's /var/backups/shadow.bak)
install -d -m 0755 /var/tmp/rt14-lu-rootdir
for name in victim-bootk victim-disk; do
  printf 'rt14-lu root only: %s\n' "$name" > "/var/tmp/rt14-lu-rootdir/$name"
  chmod 0600 "/var/tmp/rt14-lu-rootdir/$name"
done
# A kernel readable by all by its mode, in a directory only root may enter
printf 'rt14-lu root only: private-kernel\n' > /root/rt14-lu-private/vmlinuz
chmod 0644 /root/rt14-lu-private/vmlinuz
# The user's own directory, and root's directories in it
install -d -m 0755 -o 64014 /var/tmp/rt14-lu-udir
install -d -m 0711 /var/tmp/rt14-lu-udir/boot
install -d -m 0755 /var/tmp/rt14-lu-udir/pool
# The pool directory an admin made 0777
install -d -m 0777 /var/tmp/rt14-lu-open
cat > /var/tmp/rt14-lu-scratch/pool.xml <<'XML'
<pool type='dir'><name>rt14-lu-open</name><target><path>/var/tmp/rt14-lu-open</path></target></pool>
XML
virsh -q -c qemu:///system pool-create /var/tmp/rt14-lu-scratch/pool.xml >/dev/null
chmod 0777 /var/tmp/rt14-lu-open
