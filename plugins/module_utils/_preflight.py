# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks a host before anything slow starts: every guest is read and planned exactly as
virt_guest_install would (options, pools, volumes, media, install trees, networks, boot_dir, the
serial log's directory), every refusal of every guest listed; then what the guests need together
is compared with what the host has (pool space, memory, a KVM that runs guests). Nothing managed
is changed."""

from __future__ import annotations

import re
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.remotevirt.install.plugins.module_utils._common.errors import RemotevirtError
from ansible_collections.remotevirt.install.plugins.module_utils._common.names import closest_option
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import Plan, PlanError
from ansible_collections.remotevirt.install.plugins.module_utils._common.redact import redact_message
from ansible_collections.remotevirt.install.plugins.module_utils._common.runtime import is_local_uri
from ansible_collections.remotevirt.install.plugins.module_utils._common.sizes import in_unit, message_unit
from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import (
    as_dictionary,
    control_problem,
    raw_problems,
    uri_problem,
)
from ansible_collections.remotevirt.install.plugins.module_utils._guest.actions import INSTALL, START
from ansible_collections.remotevirt.install.plugins.module_utils._guest.changes import update_refusal
from ansible_collections.remotevirt.install.plugins.module_utils._guest.host import host_clashes, missing_media_message, read_host
from ansible_collections.remotevirt.install.plugins.module_utils._guest.plan import plan_guest
from ansible_collections.remotevirt.install.plugins.module_utils._guest.request import DEFAULT_MEMORY, GuestRequest, refusals_of
from ansible_collections.remotevirt.install.plugins.module_utils._guest.result import run_result
from ansible_collections.remotevirt.install.plugins.module_utils._guest.spec import guest_argument_spec
from ansible_collections.remotevirt.install.plugins.module_utils._guest.state import GuestState
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.client import Client, LibvirtError, version_text
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.domain import Domain
from ansible_collections.remotevirt.install.plugins.module_utils._libvirt.xml.volume import Volume
from ansible_collections.remotevirt.install.plugins.module_utils._preflight_clashes import (
    as_spelt,
    clash_problems,
    media_maker_problem,
    resolved,
)
from ansible_collections.remotevirt.install.plugins.module_utils._volume.actions import ClonePayload, CreatePayload

DEFAULT_UPDATE_HINT = "update_existing: true"
DEFAULT_CHECK_MEMORY_HINT = "check_memory: false"


class ProblemsFound(RemotevirtError):
    """The preflight found problems and the task fails; ``result`` (the problems too) is returned with it."""

    def __init__(self, message: str, result: Dict[str, Any]) -> None:
        super().__init__(message)
        self.result = result


def problem(guest: Optional[str], check: str, message: str) -> Dict[str, Any]:
    return {"guest": guest, "check": check, "message": redact_message(message)}


class Preflight:
    def __init__(
        self,
        client: Client,
        validate_certs: bool = True,
        update_existing: bool = False,
        update_hint: str = DEFAULT_UPDATE_HINT,
        check_memory: bool = True,
        probe_kvm: bool = True,
        check_memory_hint: str = DEFAULT_CHECK_MEMORY_HINT,
        guest_results: bool = False,
        console_passwords: Optional[Mapping[str, Any]] = None,
        url_passwords: Optional[Mapping[str, Any]] = None,
        list_updates: Optional[Mapping[str, Tuple[bool, str]]] = None,
    ) -> None:
        self.client = client
        # (update_existing, update_hint) of the guests of each list, by the list's name (the part of a
        # guest's place before '['): each list's guests are judged by the variables of their own list.
        self.list_updates = list_updates or {}
        self._list_of: Dict[str, str] = {}
        self.console_passwords = console_passwords or {}
        self.url_passwords = url_passwords or {}
        self.guest_results = guest_results
        self.validate_certs = validate_certs
        self.update_existing = update_existing
        self.update_hint = update_hint
        self.check_memory = check_memory
        self.check_memory_hint = check_memory_hint
        self.probe_kvm = probe_kvm
        self.problems: List[Dict[str, Any]] = []
        self.warnings: List[str] = []
        self.guests: List[Dict[str, Any]] = []
        self.libvirt_version: Optional[str] = None
        self._starting: List[Tuple[str, int]] = []  # (guest, memory) of guests this run starts
        self._under_kvm: List[Tuple[str, str, str]] = []  # (guest, arch, boot_dir) of guests started under KVM
        self._planned: List[Tuple[GuestRequest, GuestState, Plan]] = []  # in list order, for their clashes
        # (guest, guests planned before it, index in problems) of install ISO volumes the pool lacks:
        # another guest of the list may make it, and then that is the problem to name.
        self._missing_media: List[Tuple[GuestRequest, int, int]] = []

    def run(self, guests: List[Any], places: Optional[Sequence[str]] = None) -> Dict[str, Any]:
        """Checks ``guests``; ``places`` says where each entry came from (``iso_install_guests[2]``),
        for the messages that can only name an entry by its place (``guests[N]`` without it)."""
        if places is None or len(places) != len(guests):
            places = ["guests[%d]" % index for index in range(len(guests))]
        if not self._check_libvirt():
            return self._result()
        self._check_duplicates(guests, places)
        for place, guest in zip(places, guests):
            if isinstance(guest, Mapping) and isinstance(guest.get("name"), str):
                self._list_of.setdefault(guest["name"], place.split("[", 1)[0])
        checked = [self._checked_options(place, guest) for place, guest in zip(places, guests)]
        valid = [params for params in checked if params is not None]
        plans = [self._plan(params) for params in valid]
        planned = [(params, plan) for params, plan in zip(valid, plans) if plan is not None]
        self._check_space(planned)
        self._check_clashes()
        if self.check_memory:
            self._check_memory()
        if self.probe_kvm:
            self._check_kvm()
        return self._result()

    def _result(self) -> Dict[str, Any]:
        result = {
            "ok": not self.problems,
            "problems": self.problems,
            "guests": self.guests,
            "libvirt_version": self.libvirt_version,
        }
        if self.warnings:
            result["warnings"] = self.warnings
        return result

    def _check_libvirt(self) -> bool:
        bad_uri = uri_problem(self.client.uri)
        if bad_uri:
            self.problems.append(problem(None, "options", bad_uri))
            return False
        try:
            too_old = self.client.version_problem()
        except LibvirtError as error:
            self.problems.append(
                problem(
                    None,
                    "libvirt",
                    "cannot reach libvirt at %s: %s; start libvirtd and check uri" % (self.client.uri, error.message),
                )
            )
            return False
        if too_old:
            self.problems.append(problem(None, "libvirt", too_old + "; upgrade it"))
            return False
        self.libvirt_version = version_text(self.client.version())
        return True

    def _check_duplicates(self, guests: Sequence[Any], places: Sequence[str]) -> None:
        """A name given twice would install one guest and then redefine it as the other."""
        places_of: Dict[str, List[str]] = {}
        for place, guest in zip(places, guests):
            name = guest.get("name") if isinstance(guest, Mapping) else None
            if isinstance(name, (int, float)):
                name = str(name)  # the text Ansible converts a number (or a boolean) to: one guest either way
            if isinstance(name, str) and name:
                places_of.setdefault(name, []).append(place)
        for name, given in places_of.items():
            if len(given) > 1:
                self.problems.append(
                    problem(
                        name,
                        "duplicate",
                        "guest %s is given %d times (%s); each guest needs a "
                        "name of its own on a host" % (name, len(given), ", ".join(given)),
                    )
                )

    def _checked_options(self, place: str, guest: Any) -> Optional[Dict[str, Any]]:
        """The guest's options as virt_guest_install's argument spec reads them (defaults filled in,
        types converted), or None with each of its problems listed."""
        name = guest_label(place, guest)
        if not isinstance(guest, Mapping):
            self.problems.append(
                problem(
                    name,
                    "options",
                    "%s must be a dictionary of virt_guest_install options, not %s" % (place, type(guest).__name__),
                )
            )
            return None
        spec = guest_argument_spec()
        unknown = list(unknown_keys(spec, guest, place if name == place else "guests[%s]" % name))
        messages = unknown + list(raw_problems(spec, guest))
        validated = None
        if len(messages) == len(unknown):
            # Imported here: only virt_preflight checks options outside AnsibleModule.
            from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
            from ansible.module_utils.errors import UnsupportedError

            try:
                validated = ArgumentSpecValidator(spec).validate(guest)
            # Ansible's own failure on odd shapes (OverflowError: .inf given for an int)
            except (TypeError, ValueError, AttributeError, OverflowError) as error:
                messages.append("options cannot be read: %s" % error)
            else:
                # Unknown keys are named above, with their path and a suggestion.
                messages += distinct_validation_messages(
                    [
                        getattr(error, "msg", None) or str(error)
                        for error in validated.errors
                        if not isinstance(error, UnsupportedError)
                    ]
                )
        for message in messages:
            self.problems.append(problem(name, "options", message))
        if messages or validated is None:
            return None
        # The connection is the module's: a guest's own uri is not the host being checked.
        return dict(validated.validated_parameters, uri=self.client.uri)

    def _with_secrets(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        """A guest's options with the secrets the caller gave apart in place of their placeholders."""
        name = params["name"]
        if not isinstance(name, str):
            return params
        return with_url_password(with_console_password(params, self.console_passwords.get(name)), self.url_passwords.get(name))

    def _plan(self, params: Mapping[str, Any]) -> Optional[Plan]:
        name = params["name"]
        try:
            request, refusals = GuestRequest.read(self._with_secrets(params))
        except PlanError as error:
            request, refusals = None, refusals_of(error)
        if request is None:
            self.problems.extend(problem(name, "options", message) for message in refusals)
            return None
        try:
            state, refusals = read_host(self.client, request, self.validate_certs)
            if refusals:
                self._note_missing_media(request, refusals)
                self.problems.extend(problem(name, "host", message) for message in refusals)
                return None
            plan = plan_guest(request, state)
            clashes = host_clashes(self.client, request, state, plan)
            if clashes:
                self.problems.extend(problem(name, "host", message) for message in clashes)
                return None
        except (RemotevirtError, OSError) as error:
            self.problems.append(problem(name, "host", str(error)))
            return None
        status = self._status(request, state, plan)
        entry: Dict[str, Any] = {"name": name, "status": status, "commands": plan.commands()}
        if self.guest_results:
            try:
                entry["result"] = run_result(self.client, request, state, plan, check_mode=True, applied=False, diff=False)
            except (RemotevirtError, OSError) as error:
                self.problems.append(problem(name, "host", str(error)))
                return None
            self.warnings.extend(entry["result"].pop("warnings", []))
        self.guests.append(entry)
        self._planned.append((request, state, plan))
        if any(action.verb in (INSTALL, START) for action in plan.actions):
            self._note_start(request, state, plan)
        return plan

    def _note_missing_media(self, request: GuestRequest, refusals: Sequence[str]) -> None:
        media = request.install.cdrom
        if media is None or not media.volume:
            return
        missing = missing_media_message(media)
        for offset, message in enumerate(refusals):
            if message == missing:
                self._missing_media.append((request, len(self._planned), len(self.problems) + offset))

    def _status(self, request: GuestRequest, state: GuestState, plan: Plan) -> str:
        if state.existing is None:
            return "new"
        if request.reinstall:
            return "reinstall"
        update_existing, update_hint = self.list_updates.get(
            self._list_of.get(request.name, ""), (self.update_existing, self.update_hint)
        )
        refusal = update_refusal(request.name, request.reinstall, state, plan, update_hint)
        if refusal is None:
            return "matches"
        if not update_existing:
            self.problems.append(problem(request.name, "name", refusal))
        return "differs"

    def _note_start(self, request: GuestRequest, state: GuestState, plan: Plan) -> None:
        kept = state.existing if state.existing is not None and not request.reinstall else None
        self._starting.append((request.name, request.memory or (kept.memory if kept else None) or DEFAULT_MEMORY))
        definition = Domain.from_xml(plan.after) if plan.after else kept
        if definition is not None and definition.type == "kvm":
            self._under_kvm.append((request.name, request.arch or definition.os.arch or "x86_64", request.install.boot_dir))

    def _check_space(self, planned: Sequence[Tuple[Mapping[str, Any], Plan]]) -> None:
        """New volumes of all guests together must fit their pools (each one alone was checked)."""
        needed: Dict[str, List[Tuple[str, int]]] = {}
        for params, plan in planned:
            for action in plan.actions:
                if isinstance(action.payload, (CreatePayload, ClonePayload)):
                    capacity = Volume.from_xml(action.payload.xml).capacity
                    needed.setdefault(action.payload.pool, []).append((params["name"], capacity))
        for pool_name, entries in sorted(needed.items()):
            total = sum(capacity for _name, capacity in entries)
            pool = self.client.find_pool(pool_name)
            if pool is None:
                continue
            available = self.client.describe_pool(pool).available
            if available is not None and total > available:
                guests = ", ".join(sorted({guest for guest, _capacity in entries}))
                unit = message_unit(max(available, total))
                self.problems.append(
                    problem(
                        guests,
                        "space",
                        "pool %s has %s free, but the new volumes of %s need %s "
                        "together; give smaller disks, use another pool, or "
                        "free space" % (pool_name, in_unit(available, unit), guests, in_unit(total, unit)),
                    )
                )

    def _check_clashes(self) -> None:
        """What two guests of the list both take: each was planned against the host as it is now."""
        if len(self._planned) < 2 and not (self._planned and self._missing_media):
            return
        directories = {}
        for pool in self.client.active_pools():
            described = self.client.describe_pool(pool)
            if described.directory:
                directories[described.name] = described.directory
        resolve = resolved if is_local_uri(self.client.uri) else as_spelt
        # An install ISO volume the pool lacks that another guest makes as its disk: that clash is
        # the problem, not the missing volume.
        for request, position, index in self._missing_media:
            clash = media_maker_problem(request, position, self._planned, directories, resolve)
            if clash is not None:
                self.problems[index] = problem(request.name, "clash", clash)
        for name, message in clash_problems(self._planned, directories, resolve, self.client.uri):
            self.problems.append(problem(name, "clash", message))

    def _check_memory(self) -> None:
        """Guests that this run starts must fit in the host's available memory together."""
        if not self._starting:
            return
        available = available_memory(self.client)
        total = sum(memory for _name, memory in self._starting)
        if total <= available:
            return
        unit = message_unit(max([total, available] + [memory for _name, memory in self._starting]))
        needs = ", ".join(
            "%s %s" % (name, in_unit(memory, unit)) if index else "%s needs %s" % (name, in_unit(memory, unit))
            for index, (name, memory) in enumerate(self._starting)
        )
        together = ": %s together" % in_unit(total, unit) if len(self._starting) > 1 else ""
        names = ", ".join(name for name, _memory in self._starting)
        self.problems.append(
            problem(
                names,
                "memory",
                "%s%s, the host has %s available; lower memory, install on "
                "another host, or set %s to skip this check"
                % (needs, together, in_unit(available, unit), self.check_memory_hint),
            )
        )

    def _check_kvm(self) -> None:
        """Guests that start under KVM need a KVM that runs guests: a probe guest finds out."""
        probed = [entry for entry in self._under_kvm if entry[1] in _probed_arches()]
        if not probed or not probe_possible(self.client.uri):
            return
        # Imported here: only runs with a guest to start under KVM probe it.
        from ansible_collections.remotevirt.install.plugins.module_utils._kvm_probe import kvm_verdict

        _name, arch, boot_dir = probed[0]
        names = ", ".join(name for name, _arch, _boot_dir in probed)
        try:
            verdict = kvm_verdict(self.client, boot_dir, arch)
        except (RemotevirtError, OSError) as error:
            self.warnings.append("the KVM probe could not run (%s); KVM was not checked" % error)
            return
        if verdict.works is False:
            self.problems.append(
                problem(
                    names,
                    "domain_type",
                    "KVM on this host cannot run guests (a probe guest stopped: %s); set domain_type: qemu" % verdict.detail,
                )
            )
        elif verdict.works is None:
            self.warnings.append(
                "a KVM probe guest gave no verdict (%s); whether KVM runs guests on this host is unknown" % verdict.detail
            )


def probe_possible(uri: str) -> bool:
    """KVM belongs to QEMU's driver, and the probe's disk image must be on the host that runs QEMU."""
    return uri.startswith("qemu") and is_local_uri(uri)


def _probed_arches() -> Tuple[str, ...]:
    # Imported here: only runs with a guest to start under KVM probe it.
    from ansible_collections.remotevirt.install.plugins.module_utils._kvm_probe import PROBED_ARCHES

    return PROBED_ARCHES


# -- memory --------------------------------------------------------------------------------------
def available_memory(client: Client) -> int:
    """Bytes of memory guests can have, read as an admin reads it: MemAvailable (free memory plus
    what the kernel can reclaim from caches) where the URI is local, libvirt's free memory otherwise."""
    if is_local_uri(client.uri):
        available = mem_available()
        if available is not None:
            return available
    return client.call("read free memory of", client.uri, client.conn.getFreeMemory)


def mem_available(meminfo: str = "/proc/meminfo") -> Optional[int]:
    """MemAvailable of ``meminfo`` in bytes, None where the kernel does not report it."""
    try:
        with open(meminfo, encoding="ascii") as source:
            for line in source:
                key, _colon, value = line.partition(":")
                if key == "MemAvailable":
                    number, _space, unit = value.strip().partition(" ")
                    return int(number) * (1024 if unit == "kB" else 1)
    except (OSError, ValueError):
        return None
    return None


# -- secrets the caller hid ------------------------------------------------------------------------
def with_console_password(params: Mapping[str, Any], password: Any) -> Mapping[str, Any]:
    """A guest's options with its console password as the caller gave it apart (``console_passwords``,
    never shown) in place of the placeholder its ``graphics`` holds: the roles keep secrets out of
    ``guests``, and a placeholder compared with the stored password would differ on every re-run, or,
    made to stand for it, hide a new one."""
    graphics = params.get("graphics")
    if password is None or not isinstance(graphics, Mapping) or graphics.get("password") is None:
        return params
    return dict(params, graphics=dict(graphics, password=str(password)))


def with_url_password(params: Mapping[str, Any], password: Any) -> Mapping[str, Any]:
    """A guest's options with the password of its media URLs as the caller gave it apart
    (``url_passwords``, never shown) in place of the placeholder ``url_password`` holds: with the
    placeholder, a server that wants the password refuses the probe of the install tree."""
    if password is None or params.get("url_password") is None:
        return params
    return dict(params, url_password=str(password))


# -- options -------------------------------------------------------------------------------------
# Ansible's validator words one wrong type of a dictionary option three times: the conversion's own
# error, the same inside "argument 'x' is of type ... unable to convert", and "value of 'x' must be of
# type dict" from the suboptions' check.
_CONVERT_FAILED = r"argument '([^']+)' is of type \w+ and we were unable to convert"
_SUBSPEC_TYPE = r"value of '([^']+)' must be of type dict"


def distinct_validation_messages(messages: List[str]) -> List[str]:
    """Ansible's validation errors, one per mistake: without the messages another one repeats
    (contained in it) and without the suboptions' type error of an option already named unconvertible."""
    unconvertible = {found.group(1) for found in (re.search(_CONVERT_FAILED, message) for message in messages) if found}
    kept: List[str] = []
    for message in messages:
        repeated = any(message in other and message != other for other in messages)
        subspec = re.search(_SUBSPEC_TYPE, message)
        if repeated or (subspec and subspec.group(1) in unconvertible) or message in kept:
            continue
        kept.append(message)
    return kept


def unknown_keys(spec: Mapping[str, Any], params: Mapping[str, Any], root: str) -> Iterator[str]:
    """Every key of ``params``, at any depth, that the spec has no option for, named by its path from
    ``root`` with the closest option of that level:
    ``guests[web01].disks[0].szie: unknown key; did you mean size?``"""
    yield from _unknown_keys(spec, params, root)


def _unknown_keys(spec: Mapping[str, Any], params: Mapping[str, Any], path: str) -> Iterator[str]:
    for key, value in params.items():
        option = spec.get(key) if isinstance(key, str) else None
        where = "%s.%s" % (path, key)
        if option is None:
            yield "%s: unknown key; %s" % (where, _suggestion(str(key), spec))
            continue
        suboptions = option.get("options")
        if not suboptions:
            continue
        value = as_dictionary(value)  # text is read as JSON or k=v pairs, as Ansible reads it
        if isinstance(value, Mapping):
            yield from _unknown_keys(suboptions, value, where)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                item = as_dictionary(item)
                if isinstance(item, Mapping):
                    yield from _unknown_keys(suboptions, item, "%s[%d]" % (where, index))


def _suggestion(key: str, spec: Mapping[str, Any]) -> str:
    close = closest_option(key, spec)
    if close:
        return "did you mean %s?" % close
    return "the options here are %s" % ", ".join(sorted(spec))


def places_problem(places: Optional[Sequence[Any]], count: int) -> str:
    """Why ``guest_places`` cannot name the guests' entries, or ""."""
    if places is None:
        return ""
    if len(places) != count:
        return "guest_places has %d entries for %d guests; give one per guest, in the same order" % (len(places), count)
    for index, place in enumerate(places):
        if not isinstance(place, str) or not place:
            return "guest_places[%d] must be a non-empty text" % index
        bad = control_problem(place, "guest_places[%d]" % index)
        if bad:
            return bad
    return ""


def guest_label(place: str, guest: Any) -> str:
    """How problems name a guest: its name, or its place (``guests[3]``) when it has no usable one."""
    name = guest.get("name") if isinstance(guest, Mapping) else None
    return name if isinstance(name, str) and name else place


def caller_problem(index: int, entry: Any) -> Dict[str, Any]:
    """One of the caller's ``entry_problems`` as a problem of this module's list."""
    message = entry.get("message") if isinstance(entry, Mapping) else None
    if not isinstance(message, str) or not message:
        return problem(None, "options", "entry_problems[%d] needs a message text" % index)
    guest, check = entry.get("guest"), entry.get("check")
    return problem(str(guest) if guest else None, str(check) if check else "options", message)


def read_list_updates(value: Any) -> Tuple[Dict[str, Tuple[bool, str]], str]:
    """update_existing_by_list as (update_existing, update_hint) by list name, and why it cannot be read."""
    if value is None:
        return {}, ""
    if not isinstance(value, Mapping):
        return {}, "update_existing_by_list must be a dictionary of lists, not %s" % type(value).__name__
    read: Dict[str, Tuple[bool, str]] = {}
    for name, entry in value.items():
        update = entry.get("update_existing") if isinstance(entry, Mapping) else None
        if not isinstance(name, str) or not isinstance(update, bool):
            return {}, "update_existing_by_list: each list needs update_existing, true or false (%r)" % (name,)
        hint = entry.get("update_hint")
        front_end = name[: -len("_guests")] if name.endswith("_guests") else name
        read[name] = (update, hint if isinstance(hint, str) and hint else "%s_update_existing: true" % front_end)
    return read, ""


def failure_message(problems: Sequence[Mapping[str, Any]]) -> str:
    """One line per problem: ``web01 [space]: pool rvtb has ...`` (``host`` for the host's own)."""
    return "\n".join(
        "%s [%s]: %s" % (entry.get("guest") or "host", entry.get("check"), entry.get("message")) for entry in problems
    )


def run(params: Mapping[str, Any]) -> Dict[str, Any]:
    client = Client(params["uri"], local=is_local_uri(params["uri"]))
    guests = params.get("guests")
    list_updates, bad_list_updates = read_list_updates(params.get("update_existing_by_list"))
    try:
        preflight = Preflight(
            client,
            validate_certs=params.get("validate_certs", True),
            update_existing=params.get("update_existing", False),
            update_hint=params.get("update_hint") or DEFAULT_UPDATE_HINT,
            check_memory=params.get("check_memory", True),
            probe_kvm=params.get("probe_kvm", True),
            guest_results=params.get("guest_results", False),
            console_passwords=params.get("console_passwords") if isinstance(params.get("console_passwords"), Mapping) else None,
            url_passwords=params.get("url_passwords") if isinstance(params.get("url_passwords"), Mapping) else None,
            check_memory_hint=params.get("check_memory_hint") or DEFAULT_CHECK_MEMORY_HINT,
            list_updates=list_updates,
        )
        if bad_list_updates:
            preflight.problems.append(problem(None, "options", bad_list_updates))
        guests = guests if isinstance(guests, list) else []
        # Found by the caller in the entries (a role's filters): one list with the module's own.
        preflight.problems += [caller_problem(index, entry) for index, entry in enumerate(params.get("entry_problems") or [])]
        places = params.get("guest_places")
        bad_places = places_problem(places, len(guests))
        if bad_places:
            preflight.problems.append(problem(None, "options", bad_places))
            places = None
        return preflight.run(guests, places)
    finally:
        client.close()
