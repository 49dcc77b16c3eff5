#!/usr/bin/env bash
# Puts on the host what other tools leave there, all named rt12-mh-: a directory pool with volumes
# of odd names, a symlink, a fifo, a directory, an unreadable file and one whose file was deleted
# behind libvirt's back; a pool whose directory was deleted; guests with XML this collection never
# writes (network disk, volume disks of an inactive and of a missing pool, a backing chain,
# hostdev, filesystem, several serials, seclabel, qemu:commandline), odd names, a paused, a
# transient, a managed-save and a snapshotted guest; networks with odd forward modes, IPv6 only.
set -u
V="virsh -q -c qemu:///system"
P=/var/tmp/rt12-mh-pool
fail() { echo "FAILED: $*" >&2; exit 1; }
mkdir -p $P /var/tmp/rt12-mh-gone /var/tmp/rt12-mh-share
{ $V pool-define-as rt12-mh-odd dir --target $P >/dev/null && $V pool-start rt12-mh-odd >/dev/null; } || fail pool
{ $V pool-define-as rt12-mh-gone dir --target /var/tmp/rt12-mh-gone >/dev/null && $V pool-start rt12-mh-gone >/dev/null; } || fail gone
long=$(printf 'x%.0s' {1..200})
for n in "rt12-mh space.img" "rt12-mh-ünḯcöde.img" $'rt12-mh-\u202erlo.img' "rt12-mh-%s%n.img" "rt12-mh-'q\"d.img" \
         "rt12-mh-$long.img" "rt12-mh-vanish.img" "rt12-mh-base.img"; do
  $V vol-create-as rt12-mh-odd "$n" 1M --format raw >/dev/null || fail "volume $n"
done
$V vol-create-as rt12-mh-odd rt12-mh-snap.qcow2 1M --format qcow2 >/dev/null || fail snap volume
qemu-img create -q -f qcow2 -b $P/rt12-mh-base.img -F raw $P/rt12-mh-top.qcow2 || fail overlay
ln -s /var/tmp/remotevirt-testbed/media/mini-poweroff.iso $P/rt12-mh-link.iso
ln -s $P/rt12-mh-nowhere $P/rt12-mh-dangling.img
mkfifo $P/rt12-mh-fifo.img
mkdir $P/rt12-mh-dir.img
head -c 4096 /dev/zero > $P/rt12-mh-unread.img && chmod 000 $P/rt12-mh-unread.img
$V pool-refresh rt12-mh-odd >/dev/null || fail refresh
rm -f $P/rt12-mh-vanish.img          # libvirt still lists it: the pool is not refreshed
rm -rf /var/tmp/rt12-mh-gone         # the pool stays active without its directory
dom() { # name devices [top-level elements] [domain attributes]
  local f
  f=$(mktemp /tmp/rt12-mh-XXXXXX.xml)
  cat > "$f" <<X
<domain type='qemu' ${4:-}><name>$1</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os>${3:-}<devices>$2</devices></domain>
X
  $V "${5:-define}" "$f" >/dev/null || fail "guest $1"
  rm -f "$f"
}
disk() { echo "<disk type='$1' device='disk'><driver name='qemu' type='$2'/>$3<target dev='vda' bus='virtio'/></disk>"; }
dom rt12-mh-nbd "$(disk network raw "<source protocol='nbd' name='x'><host name='192.0.2.1' port='10809'/></source>")"
dom rt12-mh-inactivepool "$(disk volume raw "<source pool='rvtb-off' volume='rt12-mh-x.img'/>")"
dom rt12-mh-nopool "$(disk volume raw "<source pool='rt12-mh-nosuchpool' volume='rt12-mh-x.img'/>")"
dom rt12-mh-chain "$(disk file qcow2 "<source file='$P/rt12-mh-top.qcow2'/><backingStore type='file'><format type='raw'/><source file='$P/rt12-mh-base.img'/><backingStore/></backingStore>")"
dom rt12-mh-hostdev "<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x7f' slot='0x1f' function='0x7'/></source></hostdev>"
dom rt12-mh-fs "<filesystem type='mount' accessmode='mapped'><source dir='/var/tmp/rt12-mh-share'/><target dir='rt12share'/></filesystem>"
dom rt12-mh-serials "<serial type='pty'><target port='0'/></serial><serial type='pty'><target port='1'/></serial><console type='pty'/>"
dom rt12-mh-seclabel "" "<seclabel type='none' model='none'/>"
dom rt12-mh-qemucmd "" "<qemu:commandline><qemu:arg value='-no-user-config'/></qemu:commandline>" "xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'"
for n in "rt12-mh-ünḯcöde" $'rt12-mh-\u202erlo' "rt12-mh-%s%n" "rt12-mh-'q\"d" "rt12-mh-$(printf 'y%.0s' {1..200})"; do dom "$n" ""; done
{ dom rt12-mh-paused "" && $V start rt12-mh-paused >/dev/null && $V suspend rt12-mh-paused >/dev/null; } || fail paused
{ dom rt12-mh-msave "" && $V start rt12-mh-msave >/dev/null && $V managedsave rt12-mh-msave >/dev/null; } || fail msave
dom rt12-mh-snap "$(disk file qcow2 "<source file='$P/rt12-mh-snap.qcow2'/>")"
$V snapshot-create-as rt12-mh-snap rt12-mh-s1 >/dev/null || fail snapshot
dom rt12-mh-transient "" "" "" create
dom rt12-mh-vanishing "" "" "" create
net() { local f; f=$(mktemp /tmp/rt12-mh-XXXXXX.xml); echo "$2" > "$f"; $V net-define "$f" >/dev/null || fail "network $1"; rm -f "$f"; }
net rt12-mh-v6only "<network><name>rt12-mh-v6only</name><bridge name='rt12mhv6'/><ip family='ipv6' address='fd12:4d48::1' prefix='64'/></network>"
$V net-start rt12-mh-v6only >/dev/null || fail v6 start
net rt12-mh-passthru "<network><name>rt12-mh-passthru</name><forward mode='passthrough'><interface dev='rt12mhnone0'/></forward></network>"
net rt12-mh-hostdevnet "<network><name>rt12-mh-hostdevnet</name><forward mode='hostdev' managed='yes'><pf dev='rt12mhnone1'/></forward></network>"
echo "done"
