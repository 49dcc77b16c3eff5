# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  uri:
    description:
      - libvirt connection URI, seen from the host the module runs on.
      - The default talks to the host's own system daemon over its unix socket. A transport other
        than the socket needs an explicit port in the URI (for example V(qemu+tls://hv1:16514/system)).
      - The transports V(tcp) and V(tls), and a host without a transport (which libvirt reaches over
        TLS), are refused without a port; V(ssh), V(libssh) and V(libssh2) take an optional one
        (V(qemu+ssh://user@hv1:2222/system)). The qemu driver's path is V(/system) or V(/session).
      - A URI with a password, spaces or control characters is refused; libvirt URIs take no password
        (use SSH keys, or SASL for V(tcp)). A query value libvirt does not read itself (a C(token=) a
        proxy reads) is masked in results, plans and the host log; libvirt's own settings such as
        C(socket), C(keyfile) or C(command) are shown.
      - A remote URI lets the module run on the controller (delegated to C(localhost)) with libvirt-python
        there. Nothing prompts. For V(ssh), C(?keyfile=) names the key and the host key must be known to
        OpenSSH (or C(?command=) names an C(ssh) wrapper that sets C(UserKnownHostsFile)); V(libssh) takes
        C(?known_hosts=); V(tls) takes C(?pkipath=) for its CA and client certificate
        (V(qemu+tls://hv1:16514/system?pkipath=/etc/remotevirt/pki)).
      - With any URI but the default, the commands of the returned plan are C(virsh -c URI ...), shell-quoted,
        so they run as shown from the machine the module ran on. A URI without a host (V(test:///default)
        included) is local.
      - Over a remote URI, what needs files on the hypervisor is refused at plan time (a C(location) install,
        C(cloud_init), C(wait_for.marker), changing C(mode), C(owner) or C(group) of an existing volume, owner
        and group names), and host paths (cdrom, kernel, serial log, disk paths) are left to libvirt to check.
        Locks and the host log are on the machine the module runs on.
      - Set it once for all modules of the collection with O(ignore:module_defaults) and the group
        V(group/remotevirt.install.libvirt).
    type: str
    default: qemu:///system
"""
