#!/usr/bin/env bash
# As the local user: what it leaves where it can write before the admin's runs.
#   plant.sh OPEN_POOL_DIR
set -euo pipefail
pool=$1
umask 022
# A qcow2 image whose backing file is a root-only host file (qemu-img -u: the user cannot open it)
qemu-img create -q -u -f qcow2 -F raw -b /etc/rt15-lu-victim-backing "$pool/rt15-lu-planted.qcow2" 1M
# A FIFO named like a volume
mkfifo "$pool/rt15-lu-fifo.img"
# A link named like the volume an admin is about to create
ln -s /etc/rt15-lu-victim-link "$pool/rt15-lu-new.img"
# A link where a guest's serial log will be (in a log directory anyone can write)
ln -s /etc/rt15-lu-victim-serial /var/tmp/rt15-lu-logs/rt15-lu-ser-serial.log
# An install tree of its own whose kernel is a link to a root-only file
mkdir -p /var/tmp/rt15-lu-tree/images/pxeboot
ln -s /etc/rt15-lu-victim-kernel /var/tmp/rt15-lu-tree/images/pxeboot/vmlinuz
ln -s /etc/rt15-lu-victim-bootk /var/tmp/rt15-lu-tree/images/pxeboot/bootk
echo user-initrd > /var/tmp/rt15-lu-tree/images/pxeboot/initrd.img
echo planted
