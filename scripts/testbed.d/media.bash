# shellcheck shell=bash
# Part of scripts/testbed (sourced; defines functions and settings only): boot media, a tiny
# ISO and a PXE TFTP root that power guests off, and install trees.

SYSLINUX=/usr/lib/syslinux/modules/bios

# Boot media that prove a guest really booted, seen on its serial console (domain XML with a
# file <serial>, and <bios useserial='yes'/> so SeaBIOS mirrors to it): a marker line, then
# the guest powers itself off (poweroff.c32), so a test can also wait for "shut off".
# A padding line follows each marker: the UART's last bytes are lost at power-off.
isolinux_cfg() { render isolinux.cfg.in; }
pxelinux_default() { render pxelinux-default.cfg.in; }

build_media() {
  local src=$TB/media/src/isolinux tftp=$TB/tftp f CHANGED=
  mkdir -p "$src" "$tftp/pxelinux.cfg"
  # 1) mini-poweroff.iso (under 1 MB): ISOLINUX says the marker and powers off
  for f in ldlinux.c32 libcom32.c32 poweroff.c32; do sync_file "$SYSLINUX/$f" "$src/$f"; done
  sync_file /usr/lib/ISOLINUX/isolinux.bin "$src/isolinux.bin"
  write_file "$src/isolinux.cfg" isolinux_cfg
  if [ -n "$CHANGED" ] || [ ! -f "$TB/media/mini-poweroff.iso" ]; then
    xorriso -as mkisofs -o "$TB/media/mini-poweroff.iso.tmp" -V RVTB_MINI \
      -b isolinux/isolinux.bin -c isolinux/boot.cat -no-emul-boot -boot-load-size 4 \
      -boot-info-table "$TB/media/src" > "$TB/logs/xorriso.log" 2>&1 \
      || { cat "$TB/logs/xorriso.log" >&2; die "xorriso failed"; }
    mv -f "$TB/media/mini-poweroff.iso.tmp" "$TB/media/mini-poweroff.iso"
  fi
  # 2) TFTP root for PXE (libvirt network <tftp root=...> + <bootp file='pxelinux.0'/>):
  #    pxelinux loads its config, says the marker and powers off
  sync_file /usr/lib/PXELINUX/pxelinux.0 "$tftp/pxelinux.0"
  for f in ldlinux.c32 libcom32.c32 poweroff.c32; do sync_file "$SYSLINUX/$f" "$tftp/$f"; done
  write_file "$tftp/pxelinux.cfg/default" pxelinux_default
  # 3) Install trees in the two layouts the collection knows, holding Debian's installer kernel
  #    (it prints "Linux version" and its command line early): Fedora/RHEL images/pxeboot/
  #    and a Debian netboot tree. Symlinks: the files are 40 MB.
  local di=/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64
  mkdir -p "$TB/media/trees/redhat/images/pxeboot" "$TB/media/trees/debian/debian-installer/amd64"
  ln -sfn "$di/linux" "$TB/media/trees/redhat/images/pxeboot/vmlinuz"
  ln -sfn "$di/initrd.gz" "$TB/media/trees/redhat/images/pxeboot/initrd.img"
  ln -sfn "$di/linux" "$TB/media/trees/debian/debian-installer/amd64/linux"
  ln -sfn "$di/initrd.gz" "$TB/media/trees/debian/debian-installer/amd64/initrd.gz"
  # 4) The same Fedora-layout tree for NFS, as hard links (NFS serves symlinks as links)
  mkdir -p "$TB/media/nfs/redhat/images/pxeboot"
  ln -f "$di/linux" "$TB/media/nfs/redhat/images/pxeboot/vmlinuz" 2>/dev/null ||
    cp -f "$di/linux" "$TB/media/nfs/redhat/images/pxeboot/vmlinuz"
  ln -f "$di/initrd.gz" "$TB/media/nfs/redhat/images/pxeboot/initrd.img" 2>/dev/null ||
    cp -f "$di/initrd.gz" "$TB/media/nfs/redhat/images/pxeboot/initrd.img"
  # QEMU (libvirt-qemu) and libvirt's dnsmasq (libvirt-dnsmasq) read these as other users
  chmod -R a+rX "$TB/media" "$tftp"
}
