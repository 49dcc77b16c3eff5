#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: guest_jobs
short_description: Wait for the async install jobs of a host, with one progress line per guest
version_added: 0.1.0
description:
  - Waits for the jobs a looped M(remotevirt.install.virt_guest_install) task started with C(async) and
    C(poll=0). Each poll reads the status files of all the jobs still running in one command on the host
    (what the C(async_status) module reads of one job); where that command cannot run, each job is asked with
    C(async_status).
  - "Every O(progress_interval) seconds it prints one line per guest still installing, for example
    C([hv1] web01: 2m00s elapsed, guest running, console: Reached target Basic System.)
    (time since the wait began, the guest's libvirt state, the last line of its serial console),
    and one line when a guest's job finishes."
  - Removes the job files of the finished jobs from the host, in one command per poll (what C(async_status)
    C(mode=cleanup) removes of one job).
  - Reads only job ids of the form Ansible gives them (letters, digits and underscores, parts joined by
    dots); a guest whose job id is of another form is reported failed, and no file of that name is read.
  - Returns each guest's final result for P(remotevirt.install.guest_outcomes#filter). A failed install does
    not fail this task; the results say which guests failed.
  - Guests whose install ran in the foreground (their result is already final) are returned as they are.
author:
  - remotevirt.install maintainers (@remotevirt)
attributes:
  action:
    support: full
    description: Runs on the controller and runs commands on the host (reading the job files and the guests'
      state, removing finished jobs' files).
  async:
    support: none
    description: It waits for async jobs itself.
  check_mode:
    support: full
    description: Waits and reports the same way; check-mode installs run in the foreground, so there is
      usually nothing to wait for.
  diff_mode:
    support: none
    description: It changes nothing itself.
  platform:
    support: full
    platforms: posix
    description: The host needs C(sh), C(base64), C(tail) and, for the guests' state, C(virsh).
options:
  started:
    description:
      - The C(results) list of the looped install task, one entry per guest; its C(item) is the guest's name
        (or a dictionary with the guest's C(name)).
    type: list
    elements: dict
    required: true
  guests:
    description:
      - Where to read each guest's state and serial console. Only these keys are read; give no other guest
        options here.
      - A guest not listed is looked up on V(qemu:///system) with the default serial log.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The guest's name; refused with a control character (a line break would forge a progress line).
        type: str
        required: true
      uri:
        description:
          - libvirt URI the guest's state is read from, on the host.
          - A URI the C(virt_*) modules refuse (one with a password, a control character, no path) fails
            the task before any command, its password never shown.
        type: str
        default: qemu:///system
      serial_log:
        description: The guest's serial log file on the host; default C(/var/log/libvirt/qemu/<name>-serial.log).
        type: str
  progress_interval:
    description: Seconds between progress lines, at most 86400; V(0) prints none (only a line per finished guest).
    type: int
    default: 60
  poll_delay:
    description: Seconds between two polls of the jobs, from 1 to 3600; the wait still ends at O(timeout).
    type: int
    default: 5
  timeout:
    description:
      - Longest wait, in seconds (at most thirty days). Guests still installing then are reported as failed; their
        jobs go on on the host, log their result in the host log, and a re-run converges.
    type: int
    default: 7200
  console:
    description: Whether progress lines show the last line of each guest's serial console.
    type: bool
    default: true
  cleanup:
    description: Whether the job file of each finished job is removed from the host.
    type: bool
    default: true
  reconnect_timeout:
    description:
      - How long, in seconds (at most 86400), the wait keeps asking a host it cannot reach (a dropped SSH link, a
        restarted sshd, a controller that slept) before it gives up on the host's jobs that still run.
      - A call that does not reach the host fails only itself; the next poll connects again. The
        jobs go on on the host meanwhile, and after this time too (their result reaches the host log).
    type: int
    default: 300
notes:
  - The console line is the last non-empty line of the last 2 KiB of the serial log, with terminal escape
    sequences and control characters removed and at most 100 characters shown. Whatever an installer prints
    on its console can show there; an installer that echoes secrets (a kickstart with C(--plaintext)
    passwords, for example) to the console should run with O(console=false).
  - The elapsed time counts from the start of the wait, which follows the start of the jobs at once.
seealso:
  - module: remotevirt.install.virt_guest_install
  - plugin: remotevirt.install.guest_outcomes
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Install each guest as an async job
  remotevirt.install.virt_guest_install:
    name: "{{ item.name }}"
    memory: "{{ item.memory }}"
    install: "{{ item.install }}"
    disks: "{{ item.disks }}"
  loop: "{{ guests }}"
  async: 7200
  poll: 0
  register: started

- name: Wait for the installs (guests on qemu:///system, default serial logs), a progress line every two minutes
  remotevirt.install.guest_jobs:
    started: "{{ started.results }}"
    progress_interval: 120
    timeout: 7200
  register: finished

- name: Summary
  ansible.builtin.debug:
    msg: "{{ started.results | remotevirt.install.guest_outcomes(finished) | remotevirt.install.guest_summary }}"
"""

RETURN = r"""
changed:
  description:
    - Whether any guest's job changed its guest (the C(changed) of a result in RV(results)), so the play
      counts the installs it waited for. The task itself changes nothing but the removed job files.
  returned: always
  type: bool
results:
  description:
    - Each guest's final result, in the order of O(started), with the guest's name in C(guest) and the seconds
      waited for it in C(elapsed). The rest is the install module's result (or its failure).
  returned: always
  type: list
  elements: dict
  sample:
    - guest: web01
      elapsed: 312
      changed: true
      plan: [{action: install, kind: guest, name: web01, command: virsh create web01-install.xml}]
failed_guests:
  description: Names of the guests whose install failed or did not finish in time.
  returned: always
  type: list
  elements: str
  sample: [db01]
check_mode:
  description:
    - Whether the task ran in check mode, a play's or block's C(check_mode) keyword included (which
      C(ansible_check_mode) does not reflect). The roles read it when they run without the preflight.
  returned: always
  type: bool
  sample: false
diff:
  description: In diff mode, the before and after of each guest whose job changed it (the install module's diff).
  returned: when a guest changed in diff mode
  type: list
  elements: dict
"""
