"""guest_jobs: the console line's cleaning, the probe's parsing, and the wait loop with a clock."""

from __future__ import annotations

import subprocess

import pytest

from ansible_collections.remotevirt.install.plugins.action.guest_jobs import (
    CONSOLE_TAIL_BYTES,
    DEFAULT_SERIAL_LOG_DIR,
    ConnectionLost,
    Job,
    Probed,
    Waiter,
    duration,
    guest_diffs,
    guest_results,
    guests_problems,
    is_job_id,
    job_status,
    last_console_line,
    number_problems,
    parse_probe,
    parse_statuses,
    probe_argv,
    started_problems,
    status_argv,
)
from ansible_collections.remotevirt.install.plugins.module_utils._guest.definition import default_serial_log


@pytest.mark.parametrize(
    "text, shown",
    [
        ("Booting from DVD/CD...\n", "Booting from DVD/CD..."),
        ("\x1b[0;32m  OK  \x1b[0m] Reached target \x1b[1mBasic System\x1b[0m.\r\n\r\n", "OK ] Reached target Basic System."),
        ("progress 10%\rprogress 55%\r", "progress 55%"),
        ("\x1b]0;title\x07login: \x00\x08\x7f", "login:"),
        ("a\n\n  \n", "a"),
        ("", ""),
        ("x" * 300, "x" * 97 + "..."),
        ("\x1b[2J\x1b[H\x1bc", ""),
        ("caf\u00e9 \u009b31m ok", "caf\u00e9 31m ok"),
    ],
)
def test_last_console_line_is_clean_and_short(text, shown):
    assert last_console_line(text) == shown


def test_a_guest_uri_the_modules_refuse_is_refused_without_its_password():
    guests = [
        {"name": "ok", "uri": "qemu+ssh://root@hv1/system"},
        {"name": "pw", "uri": "qemu+ssh://root:GjPw321@127.0.0.1/system"},
        {"name": "nl", "uri": "qemu:///system\n"},
    ]
    problems = guests_problems(guests)
    assert [problem.split(":")[0] for problem in problems] == ["guests[1] 'pw'", "guests[2] 'nl'"]
    assert "holds a password" in problems[0] and "GjPw321" not in " ".join(problems)


def test_durations():
    assert [duration(s) for s in (0, 59, 60, 125, 3599, 3600, 7325)] == [
        "0s",
        "59s",
        "1m00s",
        "2m05s",
        "59m59s",
        "1h00m",
        "2h02m",
    ]


def test_default_serial_log_is_the_modules():
    assert "%s/web01-serial.log" % DEFAULT_SERIAL_LOG_DIR == default_serial_log("web01")


def run_probe(token, guests, offsets=None, console=True):
    argv = probe_argv(token, guests, console, offsets)
    output = subprocess.run(argv, capture_output=True, text=True, check=True, env={"PATH": "/usr/bin:/bin"}).stdout
    return parse_probe(token, output, len(guests), console)


def test_probe_reads_each_guests_console_and_no_console_can_pose_as_another(tmp_path):
    """The probe script runs here with sh (virsh answers nothing for an unknown URI): each guest's
    console is read from its own log, and a console that prints a marker without the token
    cannot fill another guest's answer."""
    first, second = tmp_path / "a.log", tmp_path / "b.log"
    first.write_text("boot\nrv-guess state 1\nInstalling packages (12/300)\x1b[K\r\n")
    second.write_bytes(b"x" * 5000 + b"\nlast of b\n")
    guests = [
        {"name": "a", "uri": "test:///nowhere", "serial_log": str(first)},
        {"name": "b", "uri": "test:///nowhere", "serial_log": str(second)},
        {"name": "c", "uri": "test:///nowhere", "serial_log": str(tmp_path / "missing.log")},
    ]
    answers = run_probe("rv-0123", guests)
    assert [probed.console for probed in answers] == ["Installing packages (12/300)", "last of b", ""]
    assert [probed.size for probed in answers] == [first.stat().st_size, 5011, None]
    assert [probed.state for probed in answers] == [None, None, None]


def test_a_console_that_is_not_utf8_is_shown_not_passed_on(tmp_path):
    """A console's bytes that are not UTF-8 (or a character the tail cuts in two) would make the
    probe's module result invalid UTF-8, which fails the task: they travel base64-encoded and are
    shown replaced."""
    log = tmp_path / "a.log"
    log.write_bytes(b"x" * 3000 + b"\n" + "Starting cloud-init.servic\u2026 job".encode("utf-8") + b" \xff\xfe\n")
    guests = [{"name": "a", "serial_log": str(log)}]
    output = subprocess.run(
        probe_argv("rv-1", guests, True), capture_output=True, check=True, env={"PATH": "/usr/bin:/bin"}
    ).stdout
    (answer,) = parse_probe("rv-1", output.decode("ascii"), 1, True)  # ASCII: nothing for the module to re-encode
    assert answer.console == "Starting cloud-init.servic\u2026 job \ufffd\ufffd"
    cut = tmp_path / "cut.log"
    cut.write_bytes("\u2026".encode("utf-8") + b"a" * (CONSOLE_TAIL_BYTES - 2))  # the tail starts inside the character
    output = subprocess.run(
        probe_argv("rv-1", [{"name": "c", "serial_log": str(cut)}], True), capture_output=True, check=True
    ).stdout
    (answer,) = parse_probe("rv-1", output.decode("ascii"), 1, True)
    assert answer.console.startswith("\ufffd\ufffdaaa") and all(not 0xD800 <= ord(c) <= 0xDFFF for c in answer.console)


def test_probe_shows_only_what_the_log_got_after_the_offset(tmp_path):
    """Serial logs are appended across boots: an earlier install's last line is not this one's."""
    log = tmp_path / "a.log"
    log.write_text("powering off now\n")
    guests = [{"name": "a", "serial_log": str(log)}]
    offset = run_probe("rv-1", guests)[0].size
    assert run_probe("rv-1", guests, [offset])[0].console == ""
    with log.open("a") as more:
        more.write("iPXE starting\n")
    assert run_probe("rv-1", guests, [offset])[0].console == "iPXE starting"


def test_probe_without_console_reads_no_log():
    argv = probe_argv("rv-1", [{"name": "web01"}], console=False)
    assert argv[-4:] == ["qemu:///system", "web01", "", "0"]
    answers = parse_probe("rv-1", "rv-1 state 0\nrunning\nrv-1 size 0\nrv-1 console 0\n\n", 1, console=False)
    assert (answers[0].state, answers[0].console) == ("running", None)


class FakeHost:
    """Jobs that finish at given times; a clock that moves with each sleep."""

    def __init__(self, finish_at, fail=()):
        self.now = 0.0
        self.finish_at = finish_at
        self.fail = fail
        self.cleaned = []
        self.lines = []
        self.probes = 0
        self.polls = 0

    def status(self, jid):
        if self.now < self.finish_at[jid]:
            return {"started": 1, "finished": 0}
        if jid in self.fail:
            return {"finished": 1, "failed": True, "msg": "install of %s failed\nsecond line" % jid}
        return {"finished": 1, "changed": True, "plan": [{"action": "install"}]}

    def statuses(self, jids):
        self.polls += 1
        return {jid: self.status(jid) for jid in jids}

    def probe(self, running):
        self.probes += 1
        return [Probed("running", 100, "Loading %s" % job.name) for job in running]

    def sleep(self, seconds):
        self.now += seconds

    def waiter(self, cleanup=True):
        return Waiter(
            "hv1",
            self.statuses,
            self.probe,
            self.cleaned.extend if cleanup else None,
            self.lines.append,
            clock=lambda: self.now,
            sleep=self.sleep,
        )


def jobs(*names):
    return [Job(name, {"item": name, "ansible_job_id": name, "started": 1, "finished": 0}) for name in names]


def test_progress_lines_at_the_interval_and_a_line_per_finished_guest():
    host = FakeHost({"web": 125, "db": 50}, fail=("db",))
    waited = jobs("web", "db")
    host.waiter().wait(waited, poll_delay=5, progress_interval=60, timeout=600)
    assert host.lines == [
        "[hv1] db: failed after 50s: install of db failed",
        "[hv1] web: 1m00s elapsed, guest running, console: Loading web",
        "[hv1] web: 2m00s elapsed, guest running, console: Loading web",
        "[hv1] web: finished after 2m05s (changed)",
    ]
    assert sorted(host.cleaned) == ["db", "web"]
    results = guest_results(waited)
    assert [(entry["guest"], bool(entry.get("failed"))) for entry in results] == [("web", False), ("db", True)]


def test_finished_jobs_are_cleaned_up_and_progress_can_be_off():
    host = FakeHost({"a": 20})
    host.waiter().wait(jobs("a"), poll_delay=5, progress_interval=0, timeout=600)
    assert host.lines == ["[hv1] a: finished after 20s (changed)"] and host.probes == 0 and host.cleaned == ["a"]
    host = FakeHost({"a": 20})
    host.waiter(cleanup=False).wait(jobs("a"), poll_delay=5, progress_interval=0, timeout=600)
    assert host.cleaned == []


def test_timeout_reports_the_guest_failed_and_keeps_its_job_file():
    host = FakeHost({"slow": 10_000})
    waited = jobs("slow")
    host.waiter().wait(waited, poll_delay=5, progress_interval=0, timeout=30)
    result = guest_results(waited)[0]
    assert result["failed"] and result["msg"].startswith("still installing after 30s (timeout 30 s)")
    assert host.cleaned == []


# BREAK (fixed): a poll delay longer than the timeout was slept whole after the last poll (40 s for a
# timeout of 2 s), and a huge one failed with Python's own error.
def test_the_wait_ends_at_its_timeout_whatever_the_poll_delay():
    host = FakeHost({"slow": 10_000})
    waited = jobs("slow")
    host.waiter().wait(waited, poll_delay=40, progress_interval=0, timeout=2)
    assert guest_results(waited)[0]["msg"].startswith("still installing after 2s (timeout 2 s)")


def test_numbers_out_of_their_bounds_and_control_characters_in_names_are_refused():
    assert number_problems({"poll_delay": 10**20, "timeout": -1, "progress_interval": 60, "reconnect_timeout": 300}) == [
        "poll_delay must be from 1 to 3600, not %d" % 10**20,
        "timeout must be from 0 to 2592000, not -1",
    ]
    assert guests_problems([{"name": "web\n[hv1] db: finished", "uri": "qemu:///system", "serial_log": "/var/log/x\0"}]) == [
        "guests[0].name: contains a control character (U+000A); remove it",
        "guests[0].serial_log: contains a control character (U+0000); remove it",
    ]
    assert started_problems([{"item": "web"}, {"item": "web\n[hv1] db: finished after 1s (changed)"}]) == [
        "started[1]: the guest's name: contains a control character (U+000A); remove it"
    ]


def test_foreground_results_are_returned_as_they_are():
    done = Job("a", {"item": "a", "changed": False, "plan": []})
    failed = Job("b", {"item": "b", "failed": True, "msg": "boom"})
    host = FakeHost({})
    host.waiter().wait([done, failed], poll_delay=5, progress_interval=60, timeout=600)
    assert host.lines == [] and [entry["guest"] for entry in guest_results([done, failed])] == ["a", "b"]


def test_a_progress_interval_shorter_than_the_poll_delay_is_kept():
    host = FakeHost({"a": 7})
    host.waiter().wait(jobs("a"), poll_delay=5, progress_interval=2, timeout=600)
    assert host.lines == [
        "[hv1] a: 2s elapsed, guest running, console: Loading a",
        "[hv1] a: 4s elapsed, guest running, console: Loading a",
        "[hv1] a: 6s elapsed, guest running, console: Loading a",
        "[hv1] a: finished after 8s (changed)",
    ]  # polled at 8 s


def test_the_diffs_of_the_guests_a_job_changed_are_shown_in_diff_mode():
    changed = {"before": "", "after": "<domain/>", "before_header": "guest a (before)"}
    results = [
        {"guest": "a", "changed": True, "diff": changed},
        {"guest": "b", "changed": False, "diff": {"before": "<domain/>", "after": "<domain/>"}},
        {"guest": "c", "changed": True, "diff": [{"before": "1", "after": "2"}, {}]},
        {"guest": "d", "changed": True},  # not in diff mode: the module returned none
        {"guest": "e", "failed": True, "msg": "refused"},
    ]
    assert guest_diffs(results) == [changed, {"before": "1", "after": "2"}]
    assert guest_diffs([{"guest": "a", "changed": True}]) == []


class FlakyHost(FakeHost):
    """A host out of reach from ``lost`` until ``back`` (a dropped SSH link, a laptop asleep)."""

    def __init__(self, finish_at, lost, back):
        super().__init__(finish_at)
        self.lost, self.back = lost, back

    def _reachable(self):
        if self.lost <= self.now < self.back:
            raise ConnectionLost("Data could not be sent to remote host")

    def status(self, jid):
        self._reachable()
        return super().status(jid)

    def probe(self, running):
        self._reachable()
        return super().probe(running)


def test_a_dropped_connection_is_tried_again_and_the_wait_goes_on():
    host = FlakyHost({"a": 40}, lost=10, back=25)
    waited = jobs("a")
    host.waiter().wait(waited, poll_delay=5, progress_interval=0, timeout=600)
    assert host.lines == [
        "[hv1] lost the connection to the host, trying again: Data could not be sent to remote host",
        "[hv1] connection back after 15s",
        "[hv1] a: finished after 40s (changed)",
    ]
    assert guest_results(waited)[0]["changed"] and host.cleaned == ["a"]


def test_progress_rounds_without_the_host_are_skipped():
    host = FlakyHost({"a": 30}, lost=9, back=21)
    host.waiter().wait(jobs("a"), poll_delay=3, progress_interval=6, timeout=600)
    assert [line for line in host.lines if "elapsed" in line] == [
        "[hv1] a: 6s elapsed, guest running, console: Loading a",
        "[hv1] a: 24s elapsed, guest running, console: Loading a",
    ]


def test_a_host_out_of_reach_too_long_gives_its_jobs_up_and_they_go_on():
    host = FlakyHost({"a": 10_000}, lost=10, back=10_000)
    waited = jobs("a")
    Waiter("hv1", host.statuses, host.probe, host.cleaned.extend, host.lines.append, lambda: host.now, host.sleep, 60).wait(
        waited, poll_delay=5, progress_interval=0, timeout=7200
    )
    result = guest_results(waited)[0]
    assert result["failed"] and result["msg"].startswith("the host was out of reach for 1m00s while its install ran")
    assert host.now < 100 and host.cleaned == []


def test_one_poll_reads_every_running_job_and_one_call_removes_the_finished():
    host = FakeHost({"a": 0, "b": 0, "c": 12})
    cleanups = []
    waiter = host.waiter()
    waiter.cleanup = cleanups.append
    waiter.wait(jobs("a", "b", "c"), poll_delay=5, progress_interval=0, timeout=600)
    assert host.polls == 4 and cleanups == [["a", "b"], ["c"]]


def test_a_job_without_a_file_is_failed_and_not_removed():
    host = FakeHost({})
    host.status = lambda jid: job_status(jid, None)
    waited = jobs("gone")
    host.waiter().wait(waited, poll_delay=5, progress_interval=0, timeout=600)
    assert guest_results(waited)[0]["msg"] == "could not find job" and host.cleaned == []


@pytest.mark.parametrize("jid", ["../../etc/shadow", "/etc/shadow", "a/b", ".hidden", "j1..2", "", 7, None, "j1\n"])
def test_a_job_id_that_could_name_another_file_is_never_read(jid):
    assert not is_job_id(jid)
    started = {"item": "a", "ansible_job_id": jid, "started": 1, "finished": 0}
    job = Job("a", started)
    assert job.result is not None and (job.result.get("failed") or not jid)


def test_ansibles_job_ids_are_read():
    assert is_job_id("j68861889186.27678") and is_job_id("123.456")


def run_status(token, directory, jids):
    return subprocess.run(status_argv(token, str(directory), jids), capture_output=True, text=True, check=True).stdout


def test_the_status_command_reads_each_job_file_as_async_status_does(tmp_path):
    (tmp_path / "j1.1").write_text('{"started": 1, "finished": 0, "ansible_job_id": "j1.1"}')
    (tmp_path / "j2.2").write_text('{"changed": true, "plan": [{"action": "install"}], "msg": "rv-0 found j1.1"}')
    (tmp_path / "j3.3").write_text("")  # made, not written yet
    (tmp_path / "j4.4").write_text('{"changed": tr')  # being written
    (tmp_path / "j5.5").write_bytes(b'{"msg": "caf\xc3\xa9 \xff"}')
    statuses = parse_statuses(
        "rv-0",
        run_status("rv-0", tmp_path, ["j1.1", "j2.2", "j3.3", "j4.4", "j5.5", "j6.6"]),
        ["j1.1", "j2.2", "j3.3", "j4.4", "j5.5", "j6.6"],
    )
    assert statuses["j1.1"]["finished"] is False and statuses["j1.1"]["started"] is True
    assert statuses["j2.2"]["finished"] is True and statuses["j2.2"]["changed"] is True
    assert statuses["j2.2"]["msg"] == "rv-0 found j1.1"  # a result's text never poses as another job's file
    assert statuses["j3.3"]["finished"] is False and statuses["j4.4"]["finished"] is False
    assert statuses["j5.5"]["finished"] is False  # not UTF-8: no result yet, as async_status reads it
    assert statuses["j6.6"] == {
        "failed": True,
        "msg": "could not find job",
        "ansible_job_id": "j6.6",
        "started": True,
        "finished": True,
    }


def test_a_status_output_that_does_not_answer_for_every_job_is_none(tmp_path):
    (tmp_path / "j1.1").write_text('{"changed": false}')
    assert parse_statuses("rv-0", run_status("rv-0", tmp_path, ["j1.1"]), ["j1.1", "j2.2"]) is None
    assert parse_statuses("rv-0", "", ["j1.1"]) is None
    assert parse_statuses("rv-0", run_status("rv-9", tmp_path, ["j1.1"]), ["j1.1"]) is None  # another token


def test_a_result_that_is_no_dictionary_is_a_job_still_running():
    import base64

    assert job_status("j1.1", base64.b64encode(b"[1, 2]").decode())["finished"] is False
    assert job_status("j1.1", "!!not base64!!")["finished"] is False


# BREAK (fixed): on a host without base64 the pipeline's status was tr's, every job file read as empty
# (a job still running), and the jobs were waited for until the timeout, their results lost.
def test_a_host_without_base64_fails_the_status_command(tmp_path):
    (tmp_path / "j1.1").write_text('{"changed": true}')
    argv = ["/bin/sh"] + status_argv("rv-0", str(tmp_path), ["j1.1"])[1:]
    run = subprocess.run(argv, capture_output=True, text=True, env={"PATH": str(tmp_path / "nothing")}, check=False)
    assert run.returncode == 127 and parse_statuses("rv-0", run.stdout, ["j1.1"]) is None


def test_a_job_file_that_cannot_be_read_is_left_to_async_status(tmp_path):
    unreadable = tmp_path / "j1.1"
    unreadable.write_text('{"changed": true}')
    output = "rv-0 unreadable j1.1\nrv-0 found j2.2\n%s\n" % __import__("base64").b64encode(b'{"changed": false}').decode()
    assert parse_statuses("rv-0", output, ["j1.1", "j2.2"]) is None


def test_a_result_nested_too_deep_to_read_is_a_job_still_running():
    import base64

    deep = ("[" * 100_000 + "]" * 100_000).encode()
    assert job_status("j1.1", base64.b64encode(deep).decode())["finished"] is False
