# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""guest_jobs: waits for the async install jobs of one host, one progress line per guest.

Runs on the controller. It reads every running job's status file in one command per poll (as the
async_status module reads one), prints a line per guest still installing every ``progress_interval``
seconds (elapsed time, the guest's libvirt state, the last line of its serial console), removes the
finished jobs' files from the host and returns every guest's final result for the guest_outcomes filter.
"""

from __future__ import annotations

import binascii
import json
import re
import secrets
import shlex
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from ansible.errors import AnsibleConnectionFailure
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.remotevirt.install.plugins.filter.guest_preview import first_line
from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import control_problem, uri_problem

display = Display()

# virt_guest_install's serial_log when a guest does not set one (module_utils/_guest/definition.py;
# not imported: it pulls in lxml, which the controller need not have).
DEFAULT_SERIAL_LOG_DIR = "/var/log/libvirt/qemu"
# Only this much of the end of a serial log is read from the host, and this much of its last line shown.
CONSOLE_TAIL_BYTES = 2048
CONSOLE_LINE_MAX = 100
# How long the wait keeps asking a host it cannot reach (a dropped SSH link, a laptop that slept, a
# restarted sshd) before it gives up on that host's jobs; they go on on the host either way.
RECONNECT_SECONDS = 300

ARGUMENT_SPEC: Dict[str, Any] = {
    "started": {"type": "list", "elements": "dict", "required": True},
    "guests": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {
            "name": {"type": "str", "required": True},
            "uri": {"type": "str", "default": "qemu:///system"},
            "serial_log": {"type": "str"},
        },
    },
    "progress_interval": {"type": "int", "default": 60},
    "poll_delay": {"type": "int", "default": 5},
    "timeout": {"type": "int", "default": 7200},
    "console": {"type": "bool", "default": True},
    "cleanup": {"type": "bool", "default": True},
    "reconnect_timeout": {"type": "int", "default": RECONNECT_SECONDS},
}

# Escape sequences a serial console carries: CSI (colours, cursor moves), OSC (titles), and
# two-character escapes. Stripped before anything else so their parameters never show.
_ESCAPE_RE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[ -~]?")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


# -- what is shown -----------------------------------------------------------------------------
def last_console_line(text: str, limit: int = CONSOLE_LINE_MAX) -> str:
    """The last visible line of a serial console's output: escape sequences and control characters
    removed, what a carriage return overwrote dropped, at most ``limit`` characters."""
    text = _ESCAPE_RE.sub("", text)
    for line in reversed(text.split("\n")):
        # A carriage return starts the line over: only what was written after the last one shows.
        visible = [part for part in line.split("\r") if _CONTROL_RE.sub("", part).strip()]
        if visible:
            shown = " ".join(_CONTROL_RE.sub("", visible[-1]).split())
            return shown if len(shown) <= limit else shown[: limit - 3] + "..."
    return ""


def duration(seconds: float) -> str:
    """45s, 2m05s, 1h02m: short enough for a progress line."""
    whole = int(seconds)
    if whole < 60:
        return "%ds" % whole
    if whole < 3600:
        return "%dm%02ds" % (whole // 60, whole % 60)
    return "%dh%02dm" % (whole // 3600, whole % 3600 // 60)


def progress_line(host: str, guest: str, elapsed: float, state: Optional[str], console: Optional[str]) -> str:
    parts = ["%s elapsed" % duration(elapsed), "guest %s" % (state or "state unknown")]
    if console is not None:
        parts.append("console: %s" % (console or "(nothing yet)"))
    return "[%s] %s: %s" % (host, guest, ", ".join(parts))


def finished_line(host: str, guest: str, elapsed: float, result: Mapping[str, Any]) -> str:
    if result.get("failed"):
        return "[%s] %s: failed after %s: %s" % (host, guest, duration(elapsed), first_line(result.get("msg")))
    changed = " (changed)" if result.get("changed") else ""
    return "[%s] %s: finished after %s%s" % (host, guest, duration(elapsed), changed)


def guests_problems(guests: Sequence[Mapping[str, Any]]) -> List[str]:
    """Why each of ``guests`` cannot be probed: a uri the virt_* modules would refuse as well, a name or
    serial log with a control character (a line break would forge a progress line of another guest)."""
    problems = []
    for index, guest in enumerate(guests):
        problem = uri_problem(guest.get("uri"))
        if problem:
            problems.append("guests[%d] %r: %s" % (index, guest.get("name"), problem))
        for key in ("name", "serial_log"):
            text = guest.get(key)
            problem = control_problem(text, "guests[%d].%s" % (index, key)) if isinstance(text, str) else ""
            if problem:
                problems.append(problem)
    return problems


def started_problems(started: Sequence[Mapping[str, Any]]) -> List[str]:
    """Why the guest a started job is about cannot be named in a line: a control character in its name."""
    problems = []
    for index, result in enumerate(started):
        name = guest_name(result) if isinstance(result, Mapping) else "?"
        problem = control_problem(name, "started[%d]: the guest's name" % index)
        if problem:
            problems.append(problem)
    return problems


# Bounds of the wait's numbers: a second to an hour between polls, up to thirty days in all.
_NUMBER_BOUNDS = {
    "poll_delay": (1, 3600),
    "timeout": (0, 30 * 86400),
    "progress_interval": (0, 86400),
    "reconnect_timeout": (0, 86400),
}


def number_problems(args: Mapping[str, Any]) -> List[str]:
    """The wait's numbers out of their bounds (a huge delay is no time the clock can sleep)."""
    problems = []
    for key, (low, high) in _NUMBER_BOUNDS.items():
        value = args.get(key)
        if isinstance(value, int) and not low <= value <= high:
            problems.append("%s must be from %d to %d, not %d" % (key, low, high, value))
    return problems


# -- the probe of the guests' state and console ------------------------------------------------
# One command per progress round for all guests of the host. Each guest's answer starts with a
# marker line holding a random token, so nothing a console prints can pose as another guest's.
# Serial logs are appended across boots: only what was written after ``offset`` (the log's size
# when the wait began) is read, so an earlier install's last line never shows as this one's.
# The console's bytes travel base64-encoded: a console prints what it likes (bytes that are not
# UTF-8, a character the tail cuts in two), and a module result that is not UTF-8 fails the task.
PROBE_SCRIPT = (
    "token=$1; shift; i=0\n"
    "while [ $# -ge 4 ]; do\n"
    '  printf "%s state %d\\n" "$token" "$i"\n'
    '  virsh -q -c "$1" domstate "$2" 2>/dev/null | head -n 1\n'
    '  printf "%s size %d\\n" "$token" "$i"\n'
    '  [ -z "$3" ] || wc -c 2>/dev/null < "$3"\n'
    '  printf "%s console %d\\n" "$token" "$i"\n'
    '  [ -z "$3" ] || tail -c +"$(($4 + 1))" -- "$3" 2>/dev/null | tail -c '
    + str(CONSOLE_TAIL_BYTES)
    + " | base64 | tr -d '\\n'\n"
    '  printf "\\n"\n'
    "  i=$((i + 1)); shift 4\n"
    "done\n"
)


class Probed:
    """What the probe read of one guest: libvirt state, serial log size, last console line."""

    def __init__(self, state: Optional[str], size: Optional[int], console: Optional[str]) -> None:
        self.state = state
        self.size = size
        self.console = console


def probe_argv(
    token: str, guests: Sequence[Mapping[str, Any]], console: bool, offsets: Optional[Sequence[int]] = None
) -> List[str]:
    argv = ["sh", "-c", PROBE_SCRIPT, "sh", token]
    for index, guest in enumerate(guests):
        log = guest.get("serial_log") or "%s/%s-serial.log" % (DEFAULT_SERIAL_LOG_DIR, guest["name"])
        offset = offsets[index] if offsets else 0
        argv += [guest.get("uri") or "qemu:///system", guest["name"], log if console else "", str(offset)]
    return argv


def parse_probe(token: str, output: str, count: int, console: bool) -> List[Probed]:
    """What the probe read of each guest, from its output."""
    sections: Dict[Tuple[str, int], List[str]] = {}
    current: Optional[Tuple[str, int]] = None
    marker = re.compile(r"^%s (state|size|console) (\d+)$" % re.escape(token))
    for line in output.split("\n"):
        found = marker.match(line)
        if found:
            current = (found.group(1), int(found.group(2)))
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
    answers = []
    for index in range(count):
        state = " ".join(sections.get(("state", index), [])).strip()
        size = "".join(sections.get(("size", index), [])).strip()
        shown = last_console_line(console_text(sections.get(("console", index), []))) if console else None
        answers.append(Probed(_CONTROL_RE.sub("", state)[:30] or None, int(size) if size.isdigit() else None, shown))
    return answers


def console_text(lines: List[str]) -> str:
    """The console bytes the probe sent base64-encoded, as text (what is not UTF-8 replaced)."""
    try:
        return binascii.a2b_base64("".join(lines).strip()).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return ""


# -- the jobs' status files --------------------------------------------------------------------
# One command per poll for every job still running (a module task per job and another to remove its
# file cost a connection and a module run each: seconds per poll at 20 guests). Each file's bytes
# travel base64-encoded after a marker line holding a random token, as the probe's do.
# A host without base64 or tr fails the command (a pipeline's status is its last command's, so their
# absence would read as empty files: jobs still running); a file it cannot read is named so. Either
# way the jobs are asked with async_status instead.
STATUS_SCRIPT = (
    "command -v base64 >/dev/null 2>&1 && command -v tr >/dev/null 2>&1 || exit 127\n"
    "token=$1; dir=$2; shift 2\n"
    'for jid in "$@"; do\n'
    '  if [ ! -f "$dir/$jid" ]; then\n'
    '    printf "%s missing %s\\n" "$token" "$jid"\n'
    '  elif [ ! -r "$dir/$jid" ]; then\n'
    '    printf "%s unreadable %s\\n" "$token" "$jid"\n'
    "  else\n"
    '    printf "%s found %s\\n" "$token" "$jid"\n'
    "    base64 < \"$dir/$jid\" | tr -d '\\n'\n"
    '    printf "\\n"\n'
    "  fi\n"
    "done\n"
)
# What Ansible names its async jobs (j, digits, a dot, a process number): nothing else is read from
# the host, so a job id in the started results can never name another file.
_JOB_ID_RE = re.compile(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*")


def is_job_id(jid: Any) -> bool:
    return isinstance(jid, str) and _JOB_ID_RE.fullmatch(jid) is not None


def status_argv(token: str, async_dir: str, jids: Sequence[str]) -> List[str]:
    return ["sh", "-c", STATUS_SCRIPT, "sh", token, async_dir, *jids]


def parse_statuses(token: str, output: str, jids: Sequence[str]) -> Optional[Dict[str, Dict[str, Any]]]:
    """Each job's status from the status command's output, as async_status gives it; None when the
    output does not answer for every job (the command did not run through) or a job file could not be read."""
    marker = re.compile(r"^%s (found|missing|unreadable) (\S+)$" % re.escape(token))
    unreadable = False
    read: Dict[str, Optional[str]] = {}
    current: Optional[str] = None
    for line in output.split("\n"):
        found = marker.match(line)
        if found:
            current = found.group(2)
            read[current] = "" if found.group(1) == "found" else None
            unreadable = unreadable or found.group(1) == "unreadable"
        elif current is not None and read.get(current) is not None:
            read[current] = (read[current] or "") + line
    if unreadable or any(jid not in read for jid in jids):
        return None
    return {jid: job_status(jid, read[jid]) for jid in jids}


def job_status(jid: str, encoded: Optional[str]) -> Dict[str, Any]:
    """A job's status from its file's bytes (base64; None: no such file), read as async_status reads it:
    a file that is not a result yet (still being written) is a job still running."""
    if encoded is None:
        return {"failed": True, "msg": "could not find job", "ansible_job_id": jid, "started": True, "finished": True}
    try:
        data = json.loads(binascii.a2b_base64(encoded.strip()).decode("utf-8"))
    except (binascii.Error, ValueError, RecursionError):  # RecursionError: JSON nested too deep to read
        data = None
    if not isinstance(data, dict):
        return {"ansible_job_id": jid, "started": True, "finished": False}
    if "started" not in data:
        data["finished"] = True
        data["ansible_job_id"] = jid
    elif "finished" not in data:
        data["finished"] = False
    data["started"], data["finished"] = bool(data.get("started", True)), bool(data["finished"])
    return data


# -- the wait ----------------------------------------------------------------------------------
class ConnectionLost(Exception):
    """One call of the wait did not reach the host; the next one connects again."""


class Job:
    """One guest's install: its async job id, or its result when the task ran in the foreground."""

    def __init__(self, name: str, started: Mapping[str, Any]) -> None:
        self.name = name
        self.jid: Optional[str] = started.get("ansible_job_id")
        finished = not self.jid or bool(started.get("finished")) or bool(started.get("failed"))
        self.result: Optional[Dict[str, Any]] = dict(started) if finished else None
        if self.result is None and not is_job_id(self.jid):
            # Never read: a job id is a file name on the host.
            self.result = {"failed": True, "changed": False, "msg": "the install task gave no async job id of Ansible's"}
        self.elapsed = 0.0
        self.offset = 0  # size of the guest's serial log when the wait began


def guest_name(started: Mapping[str, Any]) -> str:
    """The guest a loop result is about: the roles loop over names; older loops over options."""
    item = started.get("item")
    if isinstance(item, Mapping):
        return str(item.get("name") or "?")
    return str(item) if item else "?"


class Waiter:
    """Polls the jobs until each has finished or the timeout passed; what it calls on the host is
    given, so the loop is tested without a host."""

    def __init__(
        self,
        host: str,
        statuses: Callable[[List[str]], Dict[str, Dict[str, Any]]],
        probe: Callable[[List[Job]], List[Probed]],
        cleanup: Optional[Callable[[List[str]], None]],
        say: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        reconnect: float = RECONNECT_SECONDS,
    ) -> None:
        self.host = host
        self.reconnect = reconnect
        self.lost_since: Optional[float] = None
        self.statuses = statuses
        self.probe = probe
        self.cleanup = cleanup
        self.say = say
        self.clock = clock
        self.sleep = sleep

    def wait(self, jobs: List[Job], poll_delay: int, progress_interval: int, timeout: int) -> None:
        start = self.clock()
        next_progress = start + progress_interval if progress_interval > 0 else None
        if next_progress is not None and self._running(jobs):
            self._take_offsets(self._running(jobs))
        while True:
            now = self.clock()
            try:
                self._poll(self._running(jobs), now - start)
                if self.lost_since is not None:
                    self.say("[%s] connection back after %s" % (self.host, duration(now - self.lost_since)))
                    self.lost_since = None
            except ConnectionLost as error:
                if self._lost(error, now, start, self._running(jobs)):
                    return
            running = self._running(jobs)
            if not running:
                return
            if now - start >= timeout:
                self._give_up(running, now - start, timeout)
                return
            if next_progress is not None and now >= next_progress:
                self._show_progress(running, now - start)
                while next_progress <= now:
                    next_progress += progress_interval
            # A progress interval shorter than the poll delay is kept: the loop wakes for it, and for the timeout.
            delay = poll_delay if next_progress is None else min(poll_delay, next_progress - self.clock())
            self.sleep(max(1, min(delay, start + timeout - self.clock())))

    @staticmethod
    def _running(jobs: List[Job]) -> List[Job]:
        return [job for job in jobs if job.result is None]

    def _poll(self, running: List[Job], elapsed: float) -> None:
        """Reads the status of every running job at once; notes and removes the finished ones."""
        if not running:
            return
        statuses = self.statuses([job.jid or "" for job in running])
        finished = []
        for job in running:
            status = statuses.get(job.jid or "", {})
            if not status.get("finished") and not status.get("failed"):
                continue
            job.result, job.elapsed = status, elapsed
            self.say(finished_line(self.host, job.name, elapsed, status))
            if status.get("msg") != "could not find job":
                finished.append(job.jid or "")
        if self.cleanup is not None and finished:
            try:
                self.cleanup(finished)
            except ConnectionLost:
                pass  # the results are read; only their files stay on the host

    def _lost(self, error: ConnectionLost, now: float, start: float, running: List[Job]) -> bool:
        """Notes a call that did not reach the host; True once the host stayed out of reach for
        ``reconnect`` seconds: every job still running is then given up (it goes on on the host)."""
        if self.lost_since is None:
            self.lost_since = now
            self.say("[%s] lost the connection to the host, trying again: %s" % (self.host, first_line(str(error))))
        if now - self.lost_since < self.reconnect:
            return False
        why = "the host was out of reach for %s while its install ran" % duration(now - self.lost_since)
        self._abandon(running, now - start, why)
        return True

    def _take_offsets(self, running: List[Job]) -> None:
        try:
            probed = self.probe(running)
        except ConnectionLost:
            return  # the progress lines show the log from its start
        for job, answer in zip(running, probed):
            job.offset = answer.size or 0

    def _show_progress(self, running: List[Job], elapsed: float) -> None:
        try:
            probed = self.probe(running)
        except ConnectionLost:
            return  # the polls report the lost connection; no progress line this round
        for job, answer in zip(running, probed):
            self.say(progress_line(self.host, job.name, elapsed, answer.state, answer.console))

    def _give_up(self, running: List[Job], elapsed: float, timeout: int) -> None:
        self._abandon(running, elapsed, "still installing after %s (timeout %d s)" % (duration(elapsed), timeout))

    def _abandon(self, running: List[Job], elapsed: float, why: str) -> None:
        """Fails every job of ``running`` for ``why``, without waiting longer. The job goes on on the
        host (its result reaches the host log); its file is kept so async_status can still read it."""
        for job in running:
            job.result = {
                "failed": True,
                "changed": False,
                "ansible_job_id": job.jid,
                "msg": "%s; the job goes on on the host and logs its result there; a re-run waits for the install "
                "or finds it done" % why,
            }
            job.elapsed = elapsed
            self.say(finished_line(self.host, job.name, elapsed, job.result))


# Left out of the returned results: the module's echo of its options is long, and the install task's
# result already has it.
LEFT_OUT = ("invocation",)


def guest_results(jobs: Sequence[Job]) -> List[Dict[str, Any]]:
    """Each guest's final result, named: what the guest_outcomes filter reads."""
    return [
        dict(
            {key: value for key, value in (job.result or {}).items() if key not in LEFT_OUT},
            guest=job.name,
            elapsed=int(job.elapsed),
        )
        for job in jobs
    ]


def guest_diffs(results: Sequence[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """The before/after of every guest a job changed, in the order of the guests: the module returns
    its diff to the async job, whose result only this task reads, so in diff mode (--diff) this task
    shows them (Ansible's callbacks take a list of diffs)."""
    diffs: List[Dict[str, Any]] = []
    for entry in results:
        if not entry.get("changed"):
            continue
        diff = entry.get("diff")
        diffs.extend(dict(item) for item in (diff if isinstance(diff, list) else [diff]) if isinstance(item, Mapping) and item)
    return diffs


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)
    _supports_check_mode = True

    def run(self, tmp: Any = None, task_vars: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        result = super().run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        problems = number_problems(args) + guests_problems(args["guests"]) + started_problems(args["started"])
        if problems:
            # Checked before any command: a URI's password would show in the probe's argv at -vvv.
            return dict(result, failed=True, changed=False, msg="; ".join(problems))
        task_vars = task_vars or {}
        jobs = [Job(guest_name(started), started) for started in args["started"]]
        where = {guest["name"]: guest for guest in args["guests"]}
        async_dir = self._remote_expand_user(self.get_shell_option("async_dir", default="~/.ansible_async"))
        host = str(task_vars.get("inventory_hostname", "?"))

        def on_host(module_name: str, module_args: Dict[str, Any]) -> Dict[str, Any]:
            # A dropped connection (a killed SSH master, a restarted sshd, a laptop that slept) fails
            # this call only: the next one connects again, and the jobs go on on the host meanwhile.
            try:
                return self._execute_module(module_name=module_name, task_vars=task_vars, module_args=module_args)
            except AnsibleConnectionFailure as error:
                raise ConnectionLost(str(error)) from error

        def status(jid: str) -> Dict[str, Any]:
            answer = on_host("ansible.legacy.async_status", {"jid": jid, "_async_dir": async_dir})
            if answer.get("failed") and not answer.get("finished") and answer.get("msg") != "could not find job":
                return {"finished": False}  # a poll that did not get through; the next one asks again
            return answer

        def on_shell(argv: List[str]) -> Dict[str, Any]:
            # A command, not a module: it runs in check mode too (reading a job's status changes
            # nothing, and async_status removes a finished job's file in check mode as well).
            try:
                return self._low_level_execute_command(shlex.join(argv), sudoable=True)
            except AnsibleConnectionFailure as error:
                raise ConnectionLost(str(error)) from error

        def statuses(jids: List[str]) -> Dict[str, Dict[str, Any]]:
            token = "rv-%s" % secrets.token_hex(8)
            answer = on_shell(status_argv(token, async_dir, jids))
            read = parse_statuses(token, str(answer.get("stdout") or ""), jids) if answer.get("rc") == 0 else None
            # A host where the command did not run through (no base64?) is asked job by job.
            return read if read is not None else {jid: status(jid) for jid in jids}

        def cleanup(jids: List[str]) -> None:
            on_shell(["rm", "-f", "--", *(self._connection._shell.join_path(async_dir, jid) for jid in jids)])

        def probe(running: List[Job]) -> List[Probed]:
            token = "rv-%s" % secrets.token_hex(8)
            guests = [where.get(job.name, {"name": job.name}) for job in running]
            argv = probe_argv(token, guests, args["console"], [job.offset for job in running])
            answer = on_host("ansible.legacy.command", {"argv": argv})
            return parse_probe(token, str(answer.get("stdout") or ""), len(running), args["console"])

        waiter = Waiter(
            host, statuses, probe, cleanup if args["cleanup"] else None, display.display, reconnect=args["reconnect_timeout"]
        )
        try:
            waiter.wait(jobs, args["poll_delay"], args["progress_interval"], args["timeout"])
        finally:
            try:
                self._remove_tmp_path(self._connection._shell.tmpdir)
            except AnsibleConnectionFailure:
                pass  # the host is out of reach: the results say so, and its tmp dir is Ansible's to remove
        results = guest_results(jobs)
        result.update(
            changed=any(entry.get("changed") for entry in results),
            results=results,
            failed_guests=[entry["guest"] for entry in results if entry.get("failed")],
            check_mode=bool(self._play_context.check_mode),
        )
        diffs = guest_diffs(results)
        if diffs:
            result["diff"] = diffs
        return result
