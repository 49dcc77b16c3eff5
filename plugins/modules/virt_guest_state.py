#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: virt_guest_state
short_description: Start, shut down, stop, restart, pause and resume libvirt guests
version_added: 0.1.0
description:
  - Sets the power state of an existing guest. It never changes the guest's definition or disks;
    M(remotevirt.install.virt_guest_install) defines and installs guests (its
    O(remotevirt.install.virt_guest_install#module:state=running) also starts a new guest once installed).
  - Idempotent on libvirt's run state, except O(state=restarted), which always changes.
  - A guest that does not exist is refused at plan time, whatever O(state) (a misspelt name is never
    taken for a stopped guest). A transient guest (one without a stored definition) is gone once
    stopped or shut down, so a re-run of that task is refused the same way.
  - A guest that a stopped M(remotevirt.install.virt_guest_install) run left defined before its install
    started is never started (it would boot its empty disk); refused at plan time until it is reinstalled.
    Nor is a guest whose installer was stopped before it powered the guest off (destroyed, crashed, or
    the host gone down), as the guest's QEMU log in C(/var/log/libvirt/qemu) shows with a local
    C(qemu:///system) URI.
  - A guest still running its installer is refused V(shutdown) and V(restarted) at plan time (its power-off
    would read as the installer's own end, a restart would boot its unfinished disk); V(stopped) ends it.
  - A start (V(running) or V(paused) of a shut off guest, and every V(restarted), before its shutdown) is
    refused at plan time when the guest's stored definition names what libvirt would not start it with,
    a libvirt network the host does not have or has not started, a storage pool that is gone or not
    active, a volume that is gone; with a local URI also a bridge, a disk file, or a backing or data file
    of a disk image that is gone (a drive
    with C(startupPolicy='optional') excepted). A running guest is then never shut down by a restart
    that could not bring it back.
  - Check mode returns the exact plan the real run executes, the possible destroy after a shutdown's
    wait included; every action of a real run is logged on the host under the syslog identifier
    C(remotevirt) with its result code.
author:
  - remotevirt.install maintainers (@remotevirt)
extends_documentation_fragment:
  - remotevirt.install.host
  - remotevirt.install.connection
  - remotevirt.install.audit
attributes:
  check_mode:
    support: full
    description: Reports the planned actions as C(plan) and changes nothing.
  diff_mode:
    support: full
    description: Shows the guest's run state before and after.
options:
  name:
    description:
      - Name of an existing guest. Letters, digits and C(._+:@-).
    type: str
    required: true
  state:
    description:
      - V(running) starts a shut off guest (C(virsh start)) and resumes a paused one (C(virsh resume)).
      - V(shutdown) asks a running guest's OS to power off (C(virsh shutdown), ACPI) and waits up to
        O(shutdown_timeout) seconds until it is shut off. A guest still running then is destroyed if
        O(destroy_on_timeout=true), otherwise the task fails and says so. A paused guest is resumed
        first (its OS cannot see the power button while paused). An already shut off guest is unchanged.
      - V(stopped) powers the guest off at once (C(virsh destroy)), as pulling its plug does; whatever the
        guest had not written to its disks is lost.
      - V(restarted) shuts the guest down as V(shutdown) does, then starts it; a shut off guest is
        started. It always reports a change. It is a cold restart, not an in-guest reboot; the new
        QEMU process runs the guest's stored definition, so changes that
        M(remotevirt.install.virt_guest_install) reports as RV(remotevirt.install.virt_guest_install#module:reboot_required)
        apply. Refused for a guest without a stored definition (it would be gone once shut down).
      - V(paused) stops the guest's virtual CPUs (C(virsh suspend)); a shut off guest is started paused
        (C(virsh start --paused)).
      - A guest in another state of libvirt's (C(pmsuspended), C(crashed)) is changed only by V(stopped).
    type: str
    required: true
    choices: [running, shutdown, stopped, restarted, paused]
  shutdown_timeout:
    description:
      - Seconds to wait for a graceful shutdown (O(state=shutdown) or O(state=restarted)), 1 to 86400.
    type: int
    default: 120
  destroy_on_timeout:
    description:
      - After a graceful shutdown that has not ended within O(shutdown_timeout), destroy the guest
        (C(virsh destroy)) instead of failing. The plan shows the destroy as a step that runs only if
        the guest is still running; RV(forced) tells whether it did.
      - Read only by O(state=shutdown) and O(state=restarted).
    type: bool
    default: false
notes:
  - The task holds the guest's lock on the host while it runs, the one M(remotevirt.install.virt_guest_install)
    takes; a power change waits for an install of the same guest that is in progress, and the other way round.
  - A guest without an OS that listens to ACPI (one that sits in its firmware, or an OS without
    C(acpid)) never shuts down gracefully; use O(destroy_on_timeout) or O(state=stopped) for it.
seealso:
  - module: remotevirt.install.virt_guest_install
"""

EXAMPLES = r"""
- name: Shut down web01 gracefully, powering it off if it has not stopped after two minutes
  remotevirt.install.virt_guest_state:
    name: web01
    state: shutdown
    shutdown_timeout: 120
    destroy_on_timeout: true

- name: Start web01 again
  remotevirt.install.virt_guest_state:
    name: web01
    state: running

- name: Restart web01 so that its changed definition applies
  remotevirt.install.virt_guest_state:
    name: web01
    state: restarted
  when: web01_install.reboot_required
"""

RETURN = r"""
plan:
  description: The actions planned (check mode) or carried out, in order, each with its equivalent command line.
  returned: always
  type: list
  elements: dict
  sample:
    - action: shutdown
      kind: guest
      name: web01
      command: virsh shutdown web01 && timeout 120 sh -c 'until virsh domstate web01 | grep -q "shut off"; do sleep 2; done'
      destructive: false
    - action: destroy
      kind: guest
      name: web01
      command: virsh domstate web01 | grep -q "shut off" || virsh destroy web01
      destructive: true
state:
  description:
    - The guest's run state after the task (predicted in check mode), V(running), V(paused) or V(shut off);
      V(absent) for a guest without a stored definition that shut down.
  returned: always
  type: str
  sample: shut off
previous_state:
  description: The guest's run state before the task, as V(state) (or libvirt's name for another state, such as V(pmsuspended)).
  returned: always
  type: str
  sample: running
forced:
  description:
    - Whether the guest was still running after the shutdown's wait and was destroyed (O(destroy_on_timeout)).
    - V(false) in check mode.
  returned: always
  type: bool
  sample: false
"""

from ansible_collections.remotevirt.install.plugins.module_utils._common.module_entry import RemotevirtModule, run_module
from ansible_collections.remotevirt.install.plugins.module_utils._common.options import audit_options, connection_options
from ansible_collections.remotevirt.install.plugins.module_utils._power.request import DEFAULT_SHUTDOWN_TIMEOUT, STATES
from ansible_collections.remotevirt.install.plugins.module_utils._power.runner import run


def argument_spec() -> dict:
    return dict(
        **connection_options(),
        **audit_options(),
        name=dict(type="str", required=True),
        state=dict(type="str", required=True, choices=list(STATES)),
        shutdown_timeout=dict(type="int", default=DEFAULT_SHUTDOWN_TIMEOUT),
        destroy_on_timeout=dict(type="bool", default=False),
    )


def main() -> None:
    module = RemotevirtModule(argument_spec=argument_spec(), supports_check_mode=True)
    run_module(module, run)


if __name__ == "__main__":
    main()
