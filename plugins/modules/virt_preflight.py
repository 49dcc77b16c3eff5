#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: virt_preflight
short_description: Check that a hypervisor can take a list of guests, before anything slow starts
version_added: 0.1.0
description:
  - Runs on the hypervisor and checks, for all guests at once, what M(remotevirt.install.virt_guest_install)
    would need; reports every problem instead of stopping at the first.
  - libvirt is reachable and recent enough; every guest's options are valid (unknown keys at any depth
    are named with their path and the closest option, such as C(guests[web01].disks[0].szie) with
    C(did you mean size?)); no guest name is given twice;
    pools exist, are active and have free space for all new volumes of the host together; existing
    volumes, ISO volumes and paths exist; install trees are reachable from the host; kickstart files
    on the host exist; libvirt networks exist and are active; host bridges exist; O(ignore:install.boot_dir)
    is safe or can be created; the serial log's directory exists; an existing guest matches (or may be
    updated, or is reinstalled); the host has available memory for all guests this run starts; and
    KVM, where a guest would start under it, can run guests.
  - Every problem of every guest is listed, not only the first of each.
  - Changes no managed object (no guest, volume, network or file of a guest); it reports each guest's
    planned commands as a preview. See the notes for the KVM probe.
author:
  - remotevirt.install maintainers (@remotevirt)
extends_documentation_fragment:
  - remotevirt.install.host
  - remotevirt.install.connection
attributes:
  check_mode:
    support: full
    description: Runs the same checks; it never changes anything in any mode.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
options:
  guests:
    description:
      - Guests as the options of M(remotevirt.install.virt_guest_install), each checked against that
        module's argument spec. A guest's O(uri) is ignored; this module's O(uri) is the host checked.
      - An entry that is not such a dictionary (a list, a string, unknown or misspelled options, wrong
        types, no name) is reported as a problem of check V(options), like every other problem.
      - Secrets in the guests (O(ignore:install.kickstart_content), O(ignore:graphics.password), URL
        credentials) are masked in the host's log of the invocation and in the result.
    type: list
    elements: raw
    required: true
  guest_places:
    description:
      - Where each entry of O(guests) comes from, in the same order (for example
        V(iso_install_guests[2])), for the messages that name an entry by its place rather than by
        its name (a name given twice, an entry without a usable name). Without it, V(guests[2]).
      - One entry per guest; otherwise that is a problem of check V(options) and O(guests) places
        are used.
    type: list
    elements: str
  entry_problems:
    description:
      - Problems the caller found in the entries it made O(guests) from, before this module (the roles' guest
        entries that their filters could not read, such as an unknown image name or an entry without a name),
        listed first among RV(problems), with this module's own. A guest they concern may still be in O(guests),
        without what was wrong, so that its other problems are found too.
      - Each is a dictionary like those of RV(problems), C(guest) (the guest's name, or its place such as
        V(iso_install_guests[2]) when it has no usable name; none for the host), C(check) (V(options) when not
        given) and C(message) (what is wrong and what to do about it; never a secret's value). An entry without a
        C(message) text is itself a problem of check V(options).
      - They fail the task like this module's own problems (O(fail_on_problems)).
    type: list
    elements: dict
    default: []
  validate_certs:
    description: Verify TLS certificates when probing install trees over HTTPS.
    type: bool
    default: true
  update_existing:
    description:
      - Whether a guest that exists with a different definition may be updated in place.
      - When false (the default) such a guest is a problem, because its name may belong to another
        guest than the one meant; the problem says what differs, field by field.
    type: bool
    default: false
  update_hint:
    description:
      - How the caller allows updates of existing guests, named by the problem of a guest that exists
        with a different definition (for example V(iso_install_update_existing=true) in a role).
    type: str
    default: "update_existing: true"
  update_existing_by_list:
    description:
      - O(update_existing) and O(update_hint) for the guests of each list the caller made O(guests) from, by the
        list's name as O(guest_places) spell it (V(iso_install_guests) for a place V(iso_install_guests[2])).
        A guest of a list named here is judged by its own list's setting, whichever caller runs the check; the
        others by O(update_existing).
      - Each value is a dictionary with C(update_existing) (true or false) and C(update_hint), by default
        the list's name without its C(_guests) ending followed by C(_update_existing) and C(true).
    type: dict
  console_passwords:
    description:
      - The console password (C(graphics.password)) of each guest whose entry in O(guests) holds a placeholder
        instead, by guest name. The roles keep secrets out of O(guests) and give the passwords here, where they
        are never shown; the guest is then checked with its real password, so an unchanged one matches the
        stored definition and a new one is a difference like any other.
    type: dict
    default: {}
  url_passwords:
    description:
      - The password of the media URLs (O(remotevirt.install.virt_guest_install#module:url_password)) of each guest
        whose entry in O(guests) holds a placeholder instead, by guest name. The roles keep secrets out of
        O(guests) and give the passwords here, where they are never shown; the install tree is then probed with
        the real password, which a server that asks for one accepts.
    type: dict
    default: {}
  fail_on_problems:
    description:
      - Fail the task when a problem is found, with a message of one line per problem
        (C(web01 [space]) then what is wrong); RV(problems) is returned either way.
      - Set false to decide afterwards (the roles do, to stop every host together).
    type: bool
    default: true
  check_memory:
    description:
      - Compare the memory of the guests this run starts with the memory the host has available.
      - Set false where that figure does not tell (memory overcommit, ballooning, guests that run one
        after the other).
    type: bool
    default: true
  check_memory_hint:
    description:
      - How the caller skips the memory check, named by the memory problem (for example
        V(iso_install_check_memory=false) in a role).
    type: str
    default: "check_memory: false"
  probe_kvm:
    description:
      - When a guest would install or start under KVM (O(ignore:domain_type=kvm), or V(auto) where the
        host lists KVM), start a probe guest to see that KVM runs guests on this host. Its verdict is
        remembered until libvirt or QEMU change.
      - Set false to skip the probe.
    type: bool
    default: true
  guest_results:
    description:
      - Also return, for each guest that could be planned, the result
        M(remotevirt.install.virt_guest_install) returns for it in check mode (RV(guests[].result)),
        read from the same plan. This previews every guest of the host from one task.
      - The result is that of the options as given here. Options the caller replaced by
        placeholders (secrets) give the result of those placeholders.
    type: bool
    default: false
notes:
  - Memory is compared with the host's available memory at the time of the check, C(MemAvailable) of
    C(/proc/meminfo) (free memory plus caches the kernel can reclaim) with a local O(uri), libvirt's free
    memory otherwise.
  - The KVM probe runs in check mode too, and changes no managed object. It is a transient guest
    C(remotevirt-probe-<random hex>) of 16 MiB and one vCPU without network, booting a 512-byte disk
    image (a file in a private directory under the first KVM guest's O(ignore:install.boot_dir), or the
    temporary directory where that does not exist); the guest is destroyed and the file removed within
    at most 30 seconds whatever happens. Where KVM works the probe ends in well under a second. Where
    the probe stops (paused or crashed), the KVM guests get a problem of check V(domain_type); where it
    still runs after 30 seconds, a warning says that KVM was not decided. The verdict is kept in the
    directory of the collection's host locks (C(/run/remotevirt) for root), keyed by the libvirt
    version and the QEMU binary. Only with a local O(uri), for x86 guests.
"""

EXAMPLES = r"""
- name: Check the host before installing
  remotevirt.install.virt_preflight:
    guests:
      - name: web01
        memory: 2G
        disks: [{pool: default, size: 20G}]
        networks: [{network: default}]
        install: {method: cdrom, cdrom: {pool: isos, volume: debian-12.iso}}
  register: preflight

- name: Check, and decide afterwards
  remotevirt.install.virt_preflight:
    guests: "{{ my_guests }}"
    fail_on_problems: false
    check_memory: false
  register: preflight
"""

RETURN = r"""
ok:
  description: True when no problem was found.
  returned: always
  type: bool
problems:
  description: Every problem found.
  returned: always
  type: list
  elements: dict
  contains:
    guest:
      description: Guest (or guests) the problem concerns; null for the host itself.
      type: str
    check:
      description: >-
        V(libvirt), V(options), V(duplicate), V(host), V(name), V(space), V(memory) or V(domain_type);
        V(clash) for a guest that takes what an earlier guest of the list takes too (a disk or
        install ISO without O(ignore:disks[].allow_in_use), the path of its cloud-init seed ISO,
        a MAC address, a serial log file or a fixed graphics port).
      type: str
    message:
      description: What is wrong and what to do about it.
      type: str
  sample:
    - guest: web01
      check: host
      message: "networks[0]: libvirt network 'prod' does not exist on qemu:///system (virsh net-list --all)"
guests:
  description: Each guest that could be planned, with its status and planned commands.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Guest name.
      type: str
    status:
      description: V(new), V(matches), V(differs) (updated in place) or V(reinstall).
      type: str
    commands:
      description: The commands M(remotevirt.install.virt_guest_install) would run.
      type: list
      elements: str
    result:
      description:
        - What M(remotevirt.install.virt_guest_install) returns for the guest in check mode (C(changed),
          C(plan), C(domain), C(media), C(reboot_required)...), without its warnings, which are this task's.
      returned: when O(guest_results=true)
      type: dict
check_mode:
  description:
    - Whether the task ran in check mode. Roles read it because C(ansible_check_mode) does not
      reflect a play's or block's C(check_mode) keyword.
  returned: always
  type: bool
play_strategy:
  description:
    - The strategy of the play the task ran in, as the play names it (V(linear), V(free),
      V(mitogen_linear)), read on the controller; null where the task has no play.
    - The roles refuse strategies under which a host goes on while another is still being checked.
  returned: always
  type: str
  sample: linear
libvirt_version:
  description: libvirt version of the host, when reachable.
  returned: always
  type: str
  sample: 9.0.0
"""

from typing import Any, Callable, Dict, Iterator, Mapping

from ansible_collections.remotevirt.install.plugins.module_utils._common.module_entry import (
    RemotevirtModule,
    no_log_strings,
    run_module,
    unknown_key_secrets,
)
from ansible_collections.remotevirt.install.plugins.module_utils._common.options import connection_options
from ansible_collections.remotevirt.install.plugins.module_utils._guest.spec import guest_argument_spec
from ansible_collections.remotevirt.install.plugins.module_utils._preflight import ProblemsFound, failure_message, run


def argument_spec() -> dict:
    return dict(
        **connection_options(),
        # Not elements=dict with the guest's options: each guest is checked on its own, so that a
        # malformed one is a listed problem and not the failure of the whole task.
        guests=dict(type="list", elements="raw", required=True),
        guest_places=dict(type="list", elements="str"),
        # Not with suboptions: "message" is an option name Ansible keeps for itself.
        entry_problems=dict(type="list", elements="dict", default=[]),
        validate_certs=dict(type="bool", default=True),
        update_existing=dict(type="bool", default=False),
        update_hint=dict(type="str", default="update_existing: true"),
        update_existing_by_list=dict(type="dict"),
        fail_on_problems=dict(type="bool", default=True),
        check_memory=dict(type="bool", default=True),
        check_memory_hint=dict(type="str", default="check_memory: false"),
        probe_kvm=dict(type="bool", default=True),
        guest_results=dict(type="bool", default=False),
        console_passwords=dict(type="dict", default={}, no_log=True),
        url_passwords=dict(type="dict", default={}, no_log=True),
    )


def guest_secrets(params: Mapping[str, Any]) -> Iterator[str]:
    """The values of the guests' no_log options, which AnsibleModule cannot see in a raw list, and those
    of their unknown keys that look secret (a misspelt ``url_pasword``)."""
    guests = params.get("guests")
    if isinstance(guests, list):
        spec = guest_argument_spec()
        for guest in guests:
            yield from no_log_strings(spec, guest)
            yield from unknown_key_secrets(spec, guest)


def check(params: Mapping[str, Any], check_mode: bool, _diff: bool, warn: Callable[[str], None]) -> Dict[str, Any]:
    result = dict(run(params), changed=False, check_mode=check_mode)
    for warning in result.pop("warnings", []):
        warn(warning)
    if params.get("fail_on_problems", True) and result["problems"]:
        raise ProblemsFound(failure_message(result["problems"]), result)
    return result


def main() -> None:
    module = RemotevirtModule(argument_spec=argument_spec(), supports_check_mode=True, secrets=guest_secrets)
    run_module(module, lambda params, check_mode, diff: check(params, check_mode, diff, module.warn))


if __name__ == "__main__":
    main()
