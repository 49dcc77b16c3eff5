"""Shared option checks: control characters, ASCII numbers, modes, host paths, URLs and libvirt URIs."""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.remotevirt.install.plugins.module_utils._common import validate
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import PlanError
from ansible_collections.remotevirt.install.plugins.module_utils._common.redact import redact_url
from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import (
    account_problem,
    ascii_int,
    check_strings,
    check_url,
    control_problem,
    has_scheme,
    octal_mode,
    path_problem,
    raw_problems,
    shown_uri,
    uri_problem,
    url_problem,
    walk_strings,
)
from ansible_collections.remotevirt.install.plugins.module_utils._guest.spec import guest_argument_spec


@pytest.mark.parametrize(
    "text, code",
    [
        ("a\x00b", "0000"),
        ("web01\n", "000A"),
        ("\tx", "0009"),
        ("x\x7f", "007F"),
        ("x\x85", "0085"),
        ("a\u2028b", "2028"),
        ("\x1b[31m", "001B"),
    ],
)
def test_control_characters_are_named_with_the_option(text, code):
    assert control_problem(text, "install.extra_args") == (
        "install.extra_args: contains a control character (U+%s); remove it" % code
    )


def test_free_text_may_hold_lines_and_tabs_but_no_nul():
    assert control_problem("line1\n\tline2\r\n", "install.kickstart_content", free_text=True) == ""
    assert "U+0000" in control_problem("a\x00", "install.kickstart_content", free_text=True)


def test_walk_strings_names_every_nested_option():
    params = {
        "name": "x",
        "disks": [{"path": "/a"}, {"pool": "p", "n": [1, "deep"]}],
        "install": {"location": "/t"},
        "wait": True,
    }
    assert list(walk_strings(params)) == [
        ("name", "x"),
        ("disks[0].path", "/a"),
        ("disks[1].pool", "p"),
        ("disks[1].n[1]", "deep"),
        ("install.location", "/t"),
    ]


def test_check_strings_refuses_with_the_option_path():
    with pytest.raises(PlanError, match=r"disks\[1\]\.path: contains a control character \(U\+000A\)"):
        check_strings({"disks": [{"path": "/a"}, {"path": "/b\n"}]})
    check_strings({"install": {"kickstart_content": "rootpw x\nreboot\n"}})
    with pytest.raises(PlanError, match="install.kickstart_content: contains a control character"):
        check_strings({"install": {"kickstart_content": "rootpw\x00"}})


@pytest.mark.parametrize(
    "params, option",
    [
        ({"install": {"kickstart_content": "rootpw s3cret\udc80\n"}}, "install.kickstart_content"),
        ({"cloud_init": {"user_data": "#cloud-config\npassword: s3cret\udcff\n"}}, "cloud_init.user_data"),
        ({"cloud_init": {"meta_data": {"instance-id": "i-\ud800"}}}, "cloud_init.meta_data.instance-id"),
        ({"install": {"extra_args": "console=ttyS0 \udc80"}}, "install.extra_args"),
    ],
)
def test_bytes_that_are_not_utf8_are_refused_even_in_free_text(params, option):
    """Bytes that are not UTF-8 reach a module as lone surrogates; encoding them for the initrd, the
    seed ISO or libvirt's XML would end the run with a traceback instead of a refusal."""
    with pytest.raises(PlanError) as error:
        check_strings(params)
    assert str(error.value).startswith(option + ": contains U+D") and "not a character" in str(error.value)
    assert "s3cret" not in str(error.value)


def test_refusals_of_free_text_never_repeat_it():
    with pytest.raises(PlanError) as error:
        check_strings({"install": {"kickstart_content": "rootpw Secret-9\x00"}})
    assert "Secret-9" not in str(error.value)


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"vcpus": "\u0663"}, ["vcpus: '\u0663' is not a whole number written with the digits 0-9"]),
        ({"vcpus": "3"}, []),
        ({"vcpus": "3\n"}, ["vcpus: '3\\n' is not a whole number written with the digits 0-9"]),
        ({"wait_timeout": "1e3"}, ["wait_timeout: '1e3' is not a whole number written with the digits 0-9"]),
        ({"vcpus": 3}, []),
        (
            {"graphics": {"port": "\uff15\uff19\uff10\uff10"}},
            ["graphics.port: '\uff15\uff19\uff10\uff10' is not a whole number written with the digits 0-9"],
        ),
        ({"install": [1]}, ["install must be a dictionary of its suboptions, not a list"]),
        ({"install": "method=pxe"}, []),
        ({"install": {"cdrom": 5}}, ["install.cdrom must be a dictionary of its suboptions, not a number"]),
        ({"disks": [{"size": "1G"}, [1], "k=v"]}, ["disks[1] must be a dictionary of its suboptions, not a list"]),
        ({"networks": {"network": "default"}}, ["networks must be a list, not dict"]),
        ({"disks": None, "install": None}, []),
        ({"vcpus": float("inf")}, ["vcpus: inf is not a whole number"]),
        ({"vcpus": float("nan")}, ["vcpus: nan is not a whole number"]),
        ({"graphics": {"port": "-Infinity"}}, ["graphics.port: -Infinity is not a whole number"]),
        ({"wait_timeout": " NaN"}, ["wait_timeout:  NaN is not a whole number"]),
        ({"vcpus": 2.0}, []),
    ],
)
def test_raw_problems_before_ansible_converts(params, expected):
    assert list(raw_problems(guest_argument_spec(), params)) == expected


@pytest.mark.parametrize("value, expected", [(1, 1), ("42", 42), (0, 0)])
def test_ascii_int(value, expected):
    assert ascii_int(value, "vcpus") == expected


@pytest.mark.parametrize(
    "value, message",
    [
        ("\u0663", "digits 0-9"),
        ("\u00b2", "digits 0-9"),
        ("-1", "digits 0-9"),
        (" 1", "digits 0-9"),
        ("1\n", "digits 0-9"),
        (True, "whole number"),
        (1.5, "whole number"),
        ([1], "whole number"),
        (0, "at least 1"),
    ],
)
def test_ascii_int_refuses(value, message):
    with pytest.raises(PlanError, match=message):
        ascii_int(value, "vcpus", minimum=1)


@pytest.mark.parametrize(
    "value, mode",
    [
        ("0640", "0640"),
        ("640", "0640"),
        ("0777", "0777"),
        ("0", "0000"),
        (0o640, "0640"),
        (416, "0640"),
        ("0000", "0000"),
        ("00640", "0640"),
    ],
)
def test_octal_mode(value, mode):
    assert octal_mode(value) == mode


@pytest.mark.parametrize(
    "value, message",
    [
        ("07777", "between 0000 and 0777"),
        ("4755", "between 0000 and 0777"),
        ("1777", "between 0000 and 0777"),
        (0o4755, "between 0000 and 0777"),
        (-1, "between 0000 and 0777"),
        ("0999", "must be octal"),
        ("\u0660\u0666\u0664\u0660", "must be octal"),
        ("0640\n", "must be octal"),
        ("10640", "between"),
        (True, "octal text"),
        (6.4, "octal text"),
        ("", "must be octal"),
        (400, "mode 400 is a number, read as mode 0620, which lets its group write the file; quote the mode in YAML"),
        (400, "like '0400' or '0620'"),
        (511, "read as mode 0777, which lets others write"),
        (0x1B6, "read as mode 0666, which lets others write the file; quote the mode in YAML, like '0666'"),
        (0o664, "read as mode 0664, which lets its group write"),
    ],
)
def test_octal_mode_refuses(value, message):
    with pytest.raises(PlanError, match=message):
        octal_mode(value)


@pytest.mark.parametrize(
    "value, problem",
    [
        ("0", ""),
        ("64055", ""),
        ("libvirt-qemu", ""),
        ("_apt", ""),
        ("host$", ""),
        ("4294967295", "larger than"),
        ("\u0661\u0660\u0660", "neither a numeric id"),
        ("a b", "neither a numeric id"),
        ("-1", "neither a numeric id"),
        ("root\n", "neither a numeric id"),
    ],
)
def test_account_names_and_ids(value, problem):
    assert problem in account_problem(value, "user") and (problem or account_problem(value, "user") == "")


@pytest.mark.parametrize(
    "path, problem",
    [
        ("/srv/x.img", ""),
        ("/", ""),
        ("/srv/a..b/x", ""),
        ("srv/x.img", "must be an absolute path on the host"),
        ("", "must be an absolute path"),
        ("/srv/../etc/shadow", "'..' components"),
        ("/srv/x/..", "'..' components"),
        ("/srv/x.img\n", "control character (U+000A)"),
        (None, "must be an absolute path"),
    ],
)
def test_host_paths(path, problem):
    found = path_problem(path, "serial_log")
    assert (problem in found) and (bool(found) == bool(problem))


@pytest.mark.parametrize(
    "url, problem",
    [
        ("http://mirror/tree", ""),
        ("HTTPS://mirror:8443/tree?x=1", ""),
        ("ftp://u:p@h/x", ""),
        ("http://[::1]:80/x", ""),
        ("file:///srv/disk.img", ""),
        ("FILE:///srv/disk.img", ""),
        ("http://mirror/a b", "must not contain spaces"),
        ("http:///tree", "must name a host"),
        ("http:tree", "must name a host"),
        ("gopher://h/x", "must be an http, https, ftp or file URL"),
        ("/srv/x", "must be an http"),
        ("http://h:99999/x", "port"),
        ("http://h:\u0668\u0660/x", "port"),
        ("http://h/x\n", "control character"),
        ("file://host/x", "file:///<absolute path>"),
        ("file:///srv/../etc/shadow", "without '..'"),
        # A raw password with '/' reads as host 'user', port 2024: refused, never taken for a path.
        ("http://user:2024/Pass@host/ks.cfg", "has an '@' after its host"),
        ("http://h/pkg@1.0", "after its host"),
        # A raw '@' in a password: the client would look up 'ss@h', the password's tail with it.
        ("http://user:pa@ss@h/x", "more than one '@' before its host"),
        ("ftp://a@b@h/x", "more than one '@' before its host"),
        ("http://user:pa%40ss@h/x", ""),
        # brackets in credentials: Python's parser (the client's) cannot read the URL
        ("http://u:S3cr[et@h:8765/x", "cannot be read as a URL"),
        ("http://u:p[x]@h/x", "cannot be read as a URL"),
        ("http://[::1]@h/x", "cannot be read as a URL"),
        ("http://[fe80::1%25lo]:8080/x", ""),
        # file: paths judged as opened, escapes decoded
        ("file:///srv/%2e%2e/etc/shadow", "without '..'"),
        ("file:///srv/disk.img%00.iso", "control character (U+0000)"),
        ("file:///srv/disk%0a.img", "control character (U+000A)"),
        ("file:///srv/my%20disk.img", ""),
    ],
)
def test_urls(url, problem):
    found = url_problem(url, "source_url", ("http", "https", "ftp", "file"))
    assert (problem in found) and (bool(found) == bool(problem)), found


def test_url_problems_never_show_credentials():
    found = url_problem("http://user:Pw-secret@h/a b", "source_url", ("http",))
    assert "Pw-secret" not in found and "***@h" in found
    found = url_problem("http://user:Pw@secret@h/x", "source_url", ("http",))
    assert "secret" not in found and "Pw" not in found and "***@h" in found
    found = url_problem("http://user:Pw[secret@h:8765/x", "source_url", ("http",))
    assert "secret" not in found and "Pw" not in found and "***@h:8765" in found


def test_check_url_lowers_the_scheme_only():
    assert check_url("HTTP://Mirror/Tree", "install.kickstart", ("http",)) == "http://Mirror/Tree"


def test_schemes_are_compared_case_insensitively():
    assert has_scheme("HTTP://x/ks.cfg", ("http",)) and has_scheme("Nfs:srv:/ks", ("nfs",))
    assert not has_scheme("/srv/ks.cfg", ("http",)) and not has_scheme("", ("http",)) and not has_scheme(None, ("x",))


@pytest.mark.parametrize(
    "uri",
    [
        "qemu:///system",
        "qemu:///session",
        "test:///default",
        "test:///srv/host.xml",
        "qemu+ssh://root@hv1/system",
        "qemu+ssh://hv1:2222/system?keyfile=/root/.ssh/id&no_verify=1",
        "qemu+tls://hv1:16514/system",
        "qemu+tcp://10.0.0.1:16509/system",
        "qemu+unix:///system?socket=/run/tb/libvirt-sock",
        "lxc:///",
        "qemu+libssh2://u@[fe80::1]/system",
        "QEMU+SSH://hv1/system",
    ],
)
def test_libvirt_uris_accepted(uri):
    assert uri_problem(uri) == ""


@pytest.mark.parametrize(
    "uri, problem",
    [
        ("qemu+tls://hv1/system", "needs an explicit port for the tls transport"),
        ("qemu+tcp://hv1/system", "needs an explicit port for the tcp transport"),
        ("qemu://hv1/system", "needs an explicit port for the tls transport"),
        ("qemu+ssh:///system", "names no host"),
        ("qemu+carrier-pigeon://h/system", "not a libvirt URI"),
        ("qemu+pigeon://h/system", "unknown transport 'pigeon'"),
        ("qemu:///sytem", "path is /system or /session"),
        ("qemu://", "has no path"),
        ("qemu:///system\n", "control character (U+000A)"),
        ("qemu:///system ", "must not contain spaces"),
        ("qemu+ssh://u:pw@h/system", "holds a password"),
        ("qemu+tls://h:0/system", "not a number from 1 to 65535"),
        ("qemu+tls://h:\u0661\u0666\u0665\u0661\u0664/system", "not a number from 1 to 65535"),
        ("/var/run/libvirt", "not a libvirt URI"),
        ("", "must be a libvirt URI"),
        (None, "must be a libvirt URI"),
    ],
)
def test_libvirt_uris_refused(uri, problem):
    assert problem in uri_problem(uri)


def test_uri_problems_never_show_a_password():
    assert "pw-9" not in uri_problem("qemu+ssh://u:pw-9@h/system")


@pytest.mark.parametrize(
    "uri, shown",
    [
        ("qemu:///system", "qemu:///system"),
        (
            "qemu:///system?socket=/run/libvirt/libvirt-sock&token=ab1",
            "qemu:///system?socket=/run/libvirt/libvirt-sock&token=***",
        ),
        ("qemu+ssh://root@hv1/system?keyfile=/k;t=x#frag", "qemu+ssh://root@hv1/system?keyfile=/k;t=***#***"),
        ("qemu+ssh://root:pw@hv1/system", "qemu+ssh://root:***@hv1/system"),
        ("qemu:///system?ab9", "qemu:///system?***"),
        ("qemu+ssh://hv1/system?no_verify=1&&x=", "qemu+ssh://hv1/system?no_verify=1&&x="),
    ],
)
def test_a_libvirt_uri_is_shown_with_only_libvirts_settings(uri, shown):
    assert shown_uri(uri) == shown


@given(st.text())
def test_showing_a_uri_never_fails(text):
    assert isinstance(shown_uri(text), str)


def test_a_dictionary_given_as_text_is_judged_as_ansible_reads_it():
    """k=v pairs or JSON: its numbers must be written with the digits 0-9 as much as a dictionary's."""
    spec = {
        "graphics": {"type": "dict", "options": {"port": {"type": "int"}}},
        "nics": {"type": "list", "elements": "dict", "options": {"port": {"type": "int"}}},
    }
    assert list(raw_problems(spec, {"graphics": "type=vnc port=\uff15\uff19\uff10\uff11"})) == [
        "graphics.port: '\uff15\uff19\uff10\uff11' is not a whole number written with the digits 0-9"
    ]
    assert list(raw_problems(spec, {"nics": ['{"port": "\u0665"}']})) == [
        "nics[0].port: '\u0665' is not a whole number written with the digits 0-9"
    ]
    assert list(raw_problems(spec, {"graphics": "type=vnc port=5901"})) == []


def test_directories_are_compared_by_their_place_through_links_and_bind_mounts(tmp_path):
    shared = tmp_path / "share"
    (shared / "inside").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "link").symlink_to(shared)
    table = validate.read_mount_table()
    assert table

    def at(path):
        return validate.mount_location(str(path), table)

    assert validate.locations_overlap(at(shared), at(tmp_path / "link"))  # is
    assert validate.locations_overlap(at(shared / "inside"), at(tmp_path / "link"))  # lies in
    assert validate.locations_overlap(at(tmp_path), at(shared))  # holds
    assert validate.locations_overlap(at(tmp_path / "link" / "new"), at(shared))  # a new one in it
    assert not validate.locations_overlap(at(tmp_path / "elsewhere"), at(shared))
    assert not validate.locations_overlap(at(tmp_path / "share2"), at(shared))  # a name that starts alike
    bind = tmp_path / "bind"
    bind.mkdir()
    if subprocess.run(["mount", "--bind", str(shared / "inside"), str(bind)], capture_output=True, check=False).returncode:
        pytest.skip("no bind mount here (needs root)")
    try:
        table = validate.read_mount_table()
        assert validate.locations_overlap(at(bind / "pool"), at(shared))  # a bind of a subdirectory lies in it
        assert validate.locations_overlap(at(shared), at(bind))
        assert not validate.locations_overlap(at(bind), at(tmp_path / "elsewhere"))
        assert validate.directories_overlap([str(bind) + "/"], str(shared) + "/", str(shared)) is None  # spellings differ
    finally:
        subprocess.run(["umount", str(bind)], check=True)


def test_the_mount_table_is_read_with_its_escapes():
    assert validate._unescaped_mount_path("/mnt/a\\040b") == "/mnt/a b"


@given(
    st.text(alphabet="abc/", max_size=8),
    st.one_of(
        st.characters(whitelist_categories=("Cf",)),
        st.characters(whitelist_categories=("Zs",), blacklist_characters=" "),
        st.sampled_from(["\u034f", "\u115f", "\u180b", "\u2800", "\u3164", "\ufe0f", "\uffa0", "\U000e0100"]),
    ),
    st.text(alphabet="abc/", max_size=8),
)
def test_an_invisible_character_is_refused_in_any_string_but_free_text(before, invisible, after):
    """A zero-width space, a direction override, a tag character, a variation selector, a filler or a
    space other than ASCII's makes a path read as another path."""
    text = "/" + before + invisible + after
    assert "contains an invisible or blank character (U+%04X)" % ord(invisible) in validate.control_problem(text, "p")
    assert validate.control_problem(text, "p", free_text=True) == ""


@pytest.mark.parametrize(
    "text, shown",
    [("eth0", "eth0"), ("eth0\n[WARNING]", "eth0?[WARNING]"), ("a\u202eb\u200bc", "a?b?c"), ("x\udcff", "x?"), (7, "7")],
)
def test_text_from_outside_is_shown_without_controls_or_invisibles(text, shown):
    assert validate.shown_text(text, 64) == shown


@given(st.text(max_size=200), st.integers(0, 100))
def test_shown_text_is_short_and_has_nothing_refused(text, limit):
    shown = validate.shown_text(text, limit)
    assert len(shown) <= limit and validate.control_problem(shown, "text") == ""


# Any characters around a password, hostile ones above all: a URL is judged or refused, never an
# error, and what is said of it never holds the password, whatever the client would make of it.
_URL_CHARACTERS = st.sampled_from(
    list("aZ09.-_~") + ["@", "[", "]", ":", "/", "%", "%40", "%2e", "#", "?", "\\", " ", "\x00", "\n"]
)
_URL_PARTS = st.lists(_URL_CHARACTERS, max_size=8).map("".join)


@given(
    st.sampled_from(["http", "https", "ftp", "file", "HTTP"]),
    _URL_PARTS,
    _URL_PARTS,
    st.sampled_from(["h", "127.0.0.1", "[::1]", "[fe80::1%25lo]", ""]),
    _URL_PARTS,
)
def test_any_url_with_a_password_is_judged_without_showing_it(scheme, before, after, host, rest):
    url = "%s://u:%sPw-s3cret%s@%s/%s" % (scheme, before, after, host, rest)
    found = url_problem(url, "source_url", ("http", "https", "ftp", "file"))
    assert isinstance(found, str) and "Pw-s3cret" not in found
    assert "Pw-s3cret" not in redact_url(url)
