"""Properties of the shared parsers: any text is read or refused with a message, never another error;
what is accepted is exactly what the rules say."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.remotevirt.install.plugins.module_utils._common.names import MAX_NAME_BYTES, name_problem
from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import PlanError
from ansible_collections.remotevirt.install.plugins.module_utils._common.sizes import (
    MAX_SIZE,
    SizeError,
    format_size,
    parse_size,
    unit_multiplier,
)
from ansible_collections.remotevirt.install.plugins.module_utils._common.validate import (
    control_problem,
    octal_mode,
    path_problem,
    uri_problem,
    url_problem,
)
from strategies import examples, junk, text

UNITS = ["", "b", "K", "KiB", "KB", "M", "MiB", "MB", "G", "GiB", "GB", "T", "TiB", "TB", "P", "E", "k", "gib"]


@given(st.integers(0, 2**62))
def test_exact_sizes_round_trip(size):
    """format_size is exact when it shows no fraction: parse_size reads it back to the same bytes."""
    shown = format_size(size)
    if "." not in shown:
        assert parse_size(shown) == size


@given(st.integers(0, 10**6), st.sampled_from(UNITS))
def test_sizes_with_units_are_exact(number, unit):
    size = number * unit_multiplier(unit)
    if size > MAX_SIZE:
        with pytest.raises(SizeError, match="larger than libvirt can hold"):
            parse_size("%d%s" % (number, unit))
        return
    assert parse_size("%d%s" % (number, unit)) == size


@given(st.one_of(text, examples("20G", "1.5G", "512 bytes", "1048576", "500MB"), junk))
def test_any_size_is_bytes_or_a_refusal(value):
    try:
        size = parse_size(value)
    except SizeError:
        return
    assert isinstance(size, int) and size >= 0
    if isinstance(value, str):
        assert value.isascii() and control_problem(value, "size") == ""


@given(st.one_of(text, examples("web01", "debian-12.iso", "x:y@z", "a" * 255)))
def test_accepted_names_match_whole(name):
    if name_problem(name, "guest") == "":
        assert re.fullmatch(r"[A-Za-z0-9_+:@][A-Za-z0-9._+:@-]*", name)
        assert ".." not in name and len(name.encode()) <= MAX_NAME_BYTES


@given(st.one_of(text, junk))
def test_any_text_with_a_control_character_is_refused(value):
    if isinstance(value, str) and re.search("[\x00-\x1f\x7f-\x9f\u2028\u2029]", value):
        assert control_problem(value, "x").startswith("x: contains a control character")


@given(st.one_of(examples("0640", "0777", "0", "7777", "4755"), st.integers(-10, 0o20000), junk))
def test_modes_are_four_octal_digits_up_to_0777_or_refused(value):
    try:
        mode = octal_mode(value)
    except PlanError:
        return
    assert re.fullmatch(r"0[0-7]{3}", mode)


@given(st.one_of(examples("/srv/disk.img", "/var/lib/libvirt/boot", "relative/x", "/a/../b"), junk))
def test_accepted_paths_are_absolute_plain_paths(path):
    if path_problem(path, "path") == "":
        assert path.startswith("/") and ".." not in path.split("/") and control_problem(path, "path") == ""


@given(
    st.one_of(
        examples("http://mirror/os", "https://u:p@mirror:8443/os?x=1", "ftp://m/x", "file:///srv/x.iso", "nfs://srv/export"), junk
    )
)
def test_urls_are_accepted_or_refused_never_crash(url):
    if not isinstance(url, str):
        return
    if url_problem(url, "source_url", ("http", "https", "ftp", "file")) == "":
        assert not re.search(r"\s", url) and url.split(":", 1)[0].lower() in ("http", "https", "ftp", "file")


@given(
    st.one_of(
        examples(
            "qemu:///system",
            "qemu+ssh://root@hv1/system",
            "qemu+tls://hv1:16514/system",
            "qemu+tcp://hv1/system",
            "test:///default",
            "qemu+unix:///system?socket=/run/s",
        ),
        junk,
    )
)
def test_uris_are_accepted_or_refused_never_crash(uri):
    problem = uri_problem(uri)
    if problem == "":
        assert not re.search(r"\s", uri) and control_problem(uri, "uri") == ""
        transport = re.match(r"[A-Za-z0-9]+(?:\+([A-Za-z0-9]+))?://([^/]*)", uri)
        host = transport.group(2).rsplit("@", 1)[-1]
        if host and (transport.group(1) or "").lower() in ("", "tcp", "tls"):
            assert re.search(r":[0-9]+$", host), "a remote tcp or tls uri has an explicit port"
