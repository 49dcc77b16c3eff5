#!/usr/bin/env bash
# As the local user: what it leaves where it can write before the admin's runs.
#   plant.sh OPEN_POOL_DIR
set -euo pipefail
pool=$1
umask 022
# A QED image (a format libvirt reads backing files of too) backed by a root-only host file
qemu-img create -q -u -f qed -F raw -b /etc/rt14-lu-victim-qed "$pool/rt14-lu-qed.img" 1M
# A qcow2 image backed by the same file through a relative name
qemu-img create -q -u -f qcow2 -F raw -b ../../../etc/rt14-lu-victim-qed "$pool/rt14-lu-rel.qcow2" 1M
# A plain qcow2 image without a backing file (rebased later)
qemu-img create -q -f qcow2 "$pool/rt14-lu-plain.qcow2" 1M
# A volume that is a link to a root-only file outside /etc (/root)
ln -s /var/tmp/rt14-lu-rootdir/victim-disk "$pool/rt14-lu-disk.img"
# A tree of its own: its kernels are links to root-only files outside /etc
mkdir -p /var/tmp/rt14-lu-tree/images/pxeboot
ln -s /var/tmp/rt14-lu-rootdir/victim-bootk /var/tmp/rt14-lu-tree/images/pxeboot/bootk
ln -s /root/rt14-lu-private/vmlinuz /var/tmp/rt14-lu-tree/images/pxeboot/vmlinuz
echo user-initrd > /var/tmp/rt14-lu-tree/images/pxeboot/initrd.img
# In its own directory: a link named like a log directory, to a root-owned directory
ln -s /var/tmp/rt14-lu-rootdir /var/tmp/rt14-lu-udir/logs
# and a link named like a pool directory, to the same
ln -s /var/tmp/rt14-lu-rootdir /var/tmp/rt14-lu-udir/pool2
echo planted
