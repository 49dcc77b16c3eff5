# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import http.client
import re

import pytest
from ansible.errors import AnsibleFilterError
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.remotevirt.install.plugins.filter.cloud_instance import (
    DIGEST_DIGITS,
    cloud_boot_failures,
    cloud_boot_files,
    cloud_guest_args,
    cloud_images,
    cloud_overlays,
    cloud_pending,
    cloud_pending_outcomes,
    cloud_preflight_args,
    cloud_preview,
    masked_url,
    url_password,
    url_redacted,
    volume_name_of,
)
from ansible_collections.remotevirt.install.plugins.module_utils._volume.request import CHECKSUM_ALGORITHMS

IMAGE = {"url": "http://mirror/debian-12.qcow2.xz", "checksum": "sha256:" + "a" * 64}
BOOTING = dict(
    IMAGE, name="deb12", kernel={"url": "http://mirror/vmlinuz"}, initrd={"url": "http://mirror/initrd"}, cmdline="root=/dev/vda"
)
DEFAULTS = {"uri": "qemu:///system", "pool": "default"}


@pytest.mark.parametrize(
    "url, name",
    [
        ("http://m/debian-12.qcow2.xz", "debian-12.qcow2"),
        ("http://m/a.raw.gz?token=1", "a.raw"),
        ("http://m/b.qcow2", "b.qcow2"),
        ("http://m/", "m"),
    ],
)
def test_volume_name_is_the_file_name_without_compression(url, name):
    assert volume_name_of(url) == name


def test_guest_gets_import_overlay_disk_running_state_and_ip_wait():
    args = cloud_guest_args({"name": "web01", "image": IMAGE, "size": "10G"}, DEFAULTS)
    assert args["install"] == {"method": "import"}
    assert args["disks"] == [{"pool": "default", "volume": "web01.qcow2", "size": "10G", "format": "qcow2"}]
    assert args["state"] == "running"
    assert args["wait_for"] == {"ip": True}
    assert "image" not in args and "size" not in args and "pool" not in args and "boot" not in args


def test_entry_wait_for_and_state_win():
    args = cloud_guest_args({"name": "a", "image": IMAGE, "size": "2G", "state": "present", "wait_for": None}, DEFAULTS)
    assert args["state"] == "present" and args["wait_for"] is None


def test_named_image_with_kernel_boots_it_from_boot_dir():
    args = cloud_guest_args({"name": "a", "image": "deb12", "size": "2G", "boot_dir": "/b"}, DEFAULTS, {"deb12": BOOTING})
    assert args["boot"] == {
        "kernel": "/b/remotevirt-image-deb12-kernel",
        "initrd": "/b/remotevirt-image-deb12-initrd",
        "cmdline": "root=/dev/vda",
    }
    assert args["install"] == {"method": "import", "boot_dir": "/b"}


def test_preflight_args_have_no_boot():
    args = cloud_guest_args({"name": "a", "image": BOOTING, "size": "2G"}, DEFAULTS, None, False, True)
    assert "boot" not in args


def test_absent_entry_needs_no_image():
    assert cloud_guest_args({"name": "a", "state": "absent"}, DEFAULTS) == {
        "name": "a",
        "state": "absent",
        "uri": "qemu:///system",
    }


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"name": "a", "size": "2G"}, "image needs a url"),
        ({"name": "a", "image": "nope", "size": "2G"}, "not one of the named images"),
        ({"name": "a", "image": IMAGE}, "give size"),
        ({"name": "a", "image": dict(IMAGE, sha="x"), "size": "2G"}, "unknown option"),
        ({"name": "a", "image": dict(IMAGE, kernel={"url": "k"}), "size": "2G"}, "kernel and initrd together"),
        ({"name": "a", "image": IMAGE, "size": "2G", "colour": 1}, r"guests\[a\]\.colour: unknown key"),
        ({"name": "a", "image": "deb", "size": "2G"}, "named image deb must be a dictionary with a url, not str"),
    ],
)
def test_refusals_name_the_guest(entry, message):
    with pytest.raises(AnsibleFilterError, match=message):
        cloud_guest_args(entry, DEFAULTS, {"deb": "http://mirror/deb.qcow2"})


def test_preflight_args_list_every_problem_of_every_entry_and_fail_on_none():
    """An unknown image name, an image without url, a nameless entry, no size, no pool: each is one of
    the preflight's problems, on the guest it concerns; the guests still get their other checks."""
    entries = [
        {"name": "ok", "image": "deb12", "size": "2G"},
        {"name": "unknown", "image": "nope", "size": "2G", "colour": 1},
        {"name": "nourl", "image": {"checksum": "sha256:1"}, "size": "2G"},
        {"image": "deb12", "size": "2G"},
        {"name": "nosize", "image": IMAGE},
        {"name": "nopool", "image": IMAGE, "size": "2G", "pool": None},
        {"name": "gone", "state": "absent"},
    ]
    checked = cloud_preflight_args(entries, DEFAULTS, {"deb12": IMAGE}, "cloud_instance_guests")
    assert [(problem["guest"], problem["message"]) for problem in checked["problems"]] == [
        ("unknown", "image nope is not one of the named images (deb12)"),
        ("unknown", "guests[unknown].colour: unknown key"),
        ("nourl", "image needs a url (or the name of a named image)"),
        ("cloud_instance_guests[3]", "each guest needs a name, got an entry with keys image, size"),
        ("nosize", "give size, the size its overlay grows to"),
        ("nopool", "no pool for its image and overlay (cloud_instance_pool or pool)"),
    ]
    assert {problem["check"] for problem in checked["problems"]} == {"options"}
    # Without an image the guest is still checked (its overlay disk, its other options).
    assert checked["places"] == [
        "cloud_instance_guests[0]",
        "cloud_instance_guests[1]",
        "cloud_instance_guests[2]",
        "cloud_instance_guests[6]",
    ]
    assert checked["args"][1]["disks"] == [{"pool": "default", "volume": "unknown.qcow2", "size": "2G", "format": "qcow2"}]
    assert checked["args"][1]["install"] == {"method": "import"}
    # The image volumes of the entries whose image and pool can be read.
    assert [(volume["pool"], volume["name"]) for volume in checked["images"]] == [
        ("default", "deb12"),
        ("default", "debian-12.qcow2"),
    ]


def test_preflight_args_name_an_image_volume_given_twice_differently():
    entries = [
        {"name": "a", "image": IMAGE, "size": "2G"},
        {"name": "b", "image": dict(IMAGE, url="http://other/debian-12.qcow2"), "size": "2G"},
    ]
    checked = cloud_preflight_args(entries, DEFAULTS, None, "cloud_instance_guests")
    assert checked["problems"] == [
        {
            "guest": "b",
            "check": "options",
            "message": "image volume default/debian-12.qcow2 is given with another url, checksum or format by another guest",
        }
    ]
    assert len(checked["images"]) == 1 and len(checked["args"]) == 2


def test_preflight_args_hide_secrets_and_have_no_boot():
    entry = {"name": "a", "image": BOOTING, "size": "2G", "graphics": {"type": "vnc", "password": "pw123456"}}
    checked = cloud_preflight_args([entry], DEFAULTS, None, "cloud_instance_guests")
    assert checked["problems"] == [] and "pw123456" not in str(checked["args"])
    assert "boot" not in checked["args"][0]
    assert checked["console_passwords"] == {"a": "pw123456"}  # apart, for the preflight's hidden option


def test_one_cache_volume_per_image_and_an_overlay_per_guest():
    entries = [
        {"name": "a", "image": IMAGE, "size": "2G"},
        {"name": "b", "image": IMAGE, "size": "4G"},
        {"name": "c", "state": "absent"},
    ]
    assert cloud_images(entries, DEFAULTS) == [
        {
            "uri": "qemu:///system",
            "pool": "default",
            "name": "debian-12.qcow2",
            "source_url": IMAGE["url"],
            "format": "qcow2",
            "checksum": IMAGE["checksum"],
        }
    ]
    assert [(o["name"], o["backing_volume"], o["capacity"]) for o in cloud_overlays(entries, DEFAULTS)] == [
        ("a.qcow2", "debian-12.qcow2", "2G"),
        ("b.qcow2", "debian-12.qcow2", "4G"),
    ]


def test_one_volume_name_with_two_urls_is_refused():
    entries = [
        {"name": "a", "image": IMAGE, "size": "2G"},
        {"name": "b", "image": dict(IMAGE, url="http://other/debian-12.qcow2"), "size": "2G"},
    ]
    with pytest.raises(AnsibleFilterError, match="another url"):
        cloud_images(entries, DEFAULTS)


def test_boot_files_once_per_image():
    entries = [{"name": "a", "image": BOOTING, "size": "2G"}, {"name": "b", "image": BOOTING, "size": "2G"}]
    files = cloud_boot_files(entries, DEFAULTS)
    assert [f["dest"] for f in files] == [
        "/var/lib/libvirt/boot/remotevirt-image-deb12-kernel",
        "/var/lib/libvirt/boot/remotevirt-image-deb12-initrd",
    ]


def test_pending_guests_are_those_whose_storage_or_boot_files_come_first():
    overlays = [
        {"item": {"guest": "a"}, "skipped": True},
        {"item": {"guest": "b"}, "changed": False},
        {"item": {"guest": "c"}, "changed": True},
    ]
    boots = [{"item": {"dest": "/b/k"}, "changed": True}]
    guests = [{"name": "b", "boot": {"kernel": "/b/k", "initrd": "/b/i"}}, {"name": "d"}]
    assert cloud_pending(overlays, boots, guests) == ["a", "c", "b"]


def test_pending_outcomes_use_the_preflight_plan_without_the_plain_overlay():
    preflight = {
        "guests": [
            {
                "name": "a",
                "commands": ["virsh vol-create-as --pool p --name a.qcow2 --capacity 1 --format qcow2", "virsh define a.xml"],
            }
        ]
    }
    outcome = cloud_pending_outcomes(["a"], preflight)[0]
    assert outcome["outcome"] == "installed"
    assert outcome["commands"] == ["virsh define a.xml"]
    assert outcome["preview"][1] == "  $ virsh define a.xml"


def test_preview_of_an_overlay_still_to_make_connects_to_its_uri():
    """An overlay skipped in check mode (its image comes first) is previewed as the command the
    module will plan: plain on the host's own daemon, with -c over another URI."""
    item = {"pool": "p", "name": "a.qcow2", "capacity": "1G", "backing_volume": "img.qcow2"}
    remote = dict(item, uri="qemu+ssh://root@hv1/system")
    lines = cloud_preview([], [], [{"item": item, "skipped": True}, {"item": remote, "skipped": True}])
    tail = "vol-create-as --pool p --name a.qcow2 --capacity 1G --format qcow2 --backing-vol img.qcow2 --backing-vol-format qcow2"
    assert lines[-3] == "    $ virsh " + tail
    assert lines[-1] == "    $ virsh -c qemu+ssh://root@hv1/system " + tail


@pytest.mark.parametrize("cloud_filter", [cloud_images, cloud_overlays, cloud_boot_files])
def test_a_nameless_entry_is_refused_naming_its_keys_never_its_values(cloud_filter):
    """The entry may carry user-data with secrets: the refusal names its keys only."""
    entry = {"image": IMAGE, "size": "2G", "cloud_init": {"user_data": "#cloud-config\npassword: S3cret-UD"}}
    with pytest.raises(AnsibleFilterError) as error:
        cloud_filter([entry], DEFAULTS)
    assert "each guest needs a name, got an entry with keys cloud_init, image, size" in str(error.value)
    assert "S3cret-UD" not in str(error.value)


def test_url_redacted_masks_the_credentials_of_each_url_and_keeps_the_items() -> None:
    items = [
        {"pool": "p", "name": "a", "source_url": "http://user:pw-secret@mirror/a.qcow2"},
        {"pool": "p", "name": "b", "source_url": "http://mirror/b.qcow2"},
        {"pool": "p", "name": "c"},
    ]
    assert url_redacted(items, "source_url") == [
        {"pool": "p", "name": "a", "source_url": "http://***@mirror/a.qcow2"},
        {"pool": "p", "name": "b", "source_url": "http://mirror/b.qcow2"},
        {"pool": "p", "name": "c"},
    ]
    assert items[0]["source_url"] == "http://user:pw-secret@mirror/a.qcow2"


@pytest.mark.parametrize("url", ["//u:s3cretpw@h/x", "http:/u:s3cretpw@h/x", "http:\\\\u:s3cretpw@h/x", "https//u:s3cretpw@h/x"])
def test_url_redacted_masks_a_url_with_its_scheme_separator_mistyped(url) -> None:
    assert "s3cretpw" not in str(url_redacted([{"source_url": url}], "source_url"))


@pytest.mark.parametrize(
    "url, password",
    [
        ("http://user:pw-secret@mirror/vmlinuz", "pw-secret"),
        ("https://user:p%40ss%3Aword@mirror:8443/vmlinuz", "p%40ss%3Aword"),  # as written, as the URL shows it
        ("ftp://user:ftp-secret@mirror/vmlinuz", "ftp-secret"),
        ("http://user@mirror/vmlinuz", None),
        ("http://user:@mirror/vmlinuz", None),
        ("http://mirror/vmlinuz", None),
        ("http://[::1/vmlinuz", None),  # urllib cannot split it: get_url refuses it itself
        (None, None),
        ("", None),
    ],
)
def test_url_password_is_the_password_as_written_in_the_url(url, password) -> None:
    assert url_password(url) == password


def test_cloud_boot_failures_name_each_failed_file_with_its_secrets_masked() -> None:
    """The fetch of a URL with a token hides its own result: these lines are what the operator sees."""
    signed = "http://mirror/vmlinuz?X-Amz-Signature=Sig-0123456789abcdef"
    results = [
        {"failed": True, "status_code": 404, "msg": "Request failed", "item": {"dest": "/b/k", "url": signed}},
        {
            "failed": True,
            "status_code": -1,
            "msg": "Request failed: <urlopen error refused %s>" % signed,
            "item": {"dest": "/b/i", "url": "http://u:Pw-9@mirror/initrd"},
        },
        {"changed": True, "item": {"dest": "/b/ok", "url": signed}},
    ]
    lines = cloud_boot_failures(results)
    assert lines == [
        "boot file /b/k from http://mirror/vmlinuz?***: Request failed (HTTP 404)",
        "boot file /b/i from http://***@mirror/initrd: Request failed: <urlopen error refused"
        " http://mirror/vmlinuz?***",  # the mask takes the rest of the word
    ]
    assert "Sig-0123456789abcdef" not in repr(lines) and "Pw-9" not in repr(lines)
    assert cloud_boot_failures([]) == [] and cloud_boot_failures(None) == []


def _booting(kernel, initrd=None):
    """A named image whose kernel (and initrd) are given, as a cloud_instance_images entry."""
    return {"deb12": dict(BOOTING, kernel=kernel, initrd=initrd or {"url": "http://mirror/initrd"})}


def _boot_problems(kernel, initrd=None):
    checked = cloud_preflight_args([{"name": "c1", "image": "deb12", "size": "2G"}], DEFAULTS, _booting(kernel, initrd), "g")
    return [(problem["guest"], problem["message"]) for problem in checked["problems"]]


@pytest.mark.parametrize("bad", [" ", "\n", "\r\n", "\t", "\x00", "\x1b", "\x7f", "\x85", "\xa0", "\u2028", "\u3000"])
def test_a_boot_url_with_whitespace_or_a_control_character_is_refused_at_plan_time(bad) -> None:
    """http.client refuses such a URL in a message that shows its path and query, even of a no_log fetch:
    refused before anything is fetched, naming the guest and the key, never the value."""
    url = "http://mirror/initrd?sig=Tok-A1b2%sC3d4-secret" % bad
    problems = _boot_problems({"url": "http://mirror/vmlinuz"}, {"url": url})
    assert problems == [
        (
            "c1",
            "image.initrd.url (of named image deb12) holds whitespace or a control character (a space, tab, line break"
            " or NUL): write it on one line, a space as %20",
        )
    ]
    with pytest.raises(AnsibleFilterError, match="guest c1: image.initrd.url") as error:
        cloud_boot_files(
            [{"name": "c1", "image": "deb12", "size": "2G"}], DEFAULTS, _booting({"url": "http://mirror/vmlinuz"}, {"url": url})
        )
    assert "Tok-A1b2" not in repr(problems) + str(error.value) and "secret" not in repr(problems) + str(error.value)


def test_a_trailing_line_break_of_a_yaml_block_is_refused_and_an_inline_image_is_named_by_its_key() -> None:
    entry = {"name": "c2", "image": dict(BOOTING, kernel={"url": "http://mirror/vmlinuz?token=Tok-9z\n"}), "size": "2G"}
    checked = cloud_preflight_args([entry], DEFAULTS, None, "g")
    assert [problem["message"] for problem in checked["problems"]] == [
        "image.kernel.url holds whitespace or a control character (a space, tab, line break or NUL): write it on one line,"
        " a space as %20"
    ]
    assert "Tok-9z" not in repr(checked["problems"])


@given(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40),
)
def test_a_boot_url_planned_is_one_http_client_sends(path, query) -> None:
    """Property: a kernel URL passes the plan only when http.client would not refuse it for its characters,
    and the problem of one refused never shows any of it."""
    url = "http://mirror/%s?%s" % (path, query)
    problems = _boot_problems({"url": url})
    refused = bool(re.search(r"[\x00-\x20\x7f]", url)) or any(char.isspace() for char in url)
    assert bool(problems) == (refused or bool(re.search(r"[\x80-\x9f]", url)))
    if not problems:
        assert not http.client._contains_disallowed_url_pchar_re.search(url)  # type: ignore[attr-defined]
    for _guest, message in problems:
        assert message.startswith("image.kernel.url (of named image deb12) holds whitespace")
        assert not {piece for piece in (path, query) if len(piece) > 3 and piece in message}


@pytest.mark.parametrize(
    "checksum, message",
    [
        (
            "sha256:http://mirror/SUMS?token=Tok-Sums-7",
            "must be sha256:HEXDIGEST with 64 hexadecimal digits, not the URL of a checksum file",
        ),
        ("http://mirror/SUMS?token=Tok-Sums-7", "must be ALGORITHM:HEXDIGEST (ALGORITHM one of md5, sha1, sha224, sha256,"),
        ("sha256:" + "a" * 63, "must be sha256:HEXDIGEST with 64 hexadecimal digits"),
        ("sha256:" + "g" * 64, "must be sha256:HEXDIGEST with 64 hexadecimal digits"),
        ("sha3_256:" + "a" * 64, "must be ALGORITHM:HEXDIGEST (ALGORITHM one of"),
        ("a" * 64, "must be ALGORITHM:HEXDIGEST (ALGORITHM one of"),
        (12345, "not the URL of a checksum file, got a number"),
    ],
)
def test_a_boot_file_checksum_that_is_no_digest_is_refused_at_plan_time(checksum, message) -> None:
    """get_url fetches a checksum file named by URL, which its result and the host log show whole."""
    problems = _boot_problems({"url": "http://mirror/vmlinuz", "checksum": checksum})
    assert len(problems) == 1 and problems[0][0] == "c1"
    assert problems[0][1].startswith("image.kernel.checksum (of named image deb12) must be") and message in problems[0][1]
    assert "Tok-Sums-7" not in repr(problems)


def test_a_boot_file_checksum_is_a_digest_of_the_algorithms_image_volumes_take_given_to_get_url_in_lowercase() -> None:
    assert sorted(DIGEST_DIGITS) == sorted(CHECKSUM_ALGORITHMS)
    kernel = {"url": "http://mirror/vmlinuz", "checksum": " SHA256:" + "AB" * 32}
    initrd = {"url": "http://mirror/initrd", "checksum": "md5:" + "0" * 32}
    assert _boot_problems(kernel, initrd) == []
    files = cloud_boot_files([{"name": "c1", "image": "deb12", "size": "2G"}], DEFAULTS, _booting(kernel, initrd))
    assert [f["checksum"] for f in files] == ["sha256:" + "ab" * 32, "md5:" + "0" * 32]
    no_checksum = cloud_boot_files([{"name": "c1", "image": BOOTING, "size": "2G"}], DEFAULTS)
    assert [f["checksum"] for f in no_checksum] == [None, None]


@pytest.mark.parametrize(
    "url, secret, shown",
    [
        ("http://mirror/vmlinuz", False, "http://mirror/vmlinuz"),
        ("http://mirror/vmlinuz?token=Tok-1", True, "http://mirror/vmlinuz?***"),
        ("http://mirror/vmlinuz?TOKBARE", True, "http://mirror/vmlinuz?***"),
        ("http://mirror/vmlinuz#token=Tok-2", True, "http://mirror/vmlinuz#***"),
        ("http://mirror/vmlinuz?sig%3DTok-3", True, "http://mirror/vmlinuz?***"),
        ("http://mirror/vmlinuz%3Fsig%3DTok-4", True, "http://mirror/vmlinuz%3F***"),
        ("http://user:Pw-5@mirror/vmlinuz", True, "http://***@mirror/vmlinuz"),
        ("http://user@mirror/vmlinuz", True, "http://***@mirror/vmlinuz"),
        ("http://mirror/a@b/vmlinuz", True, "http://mirror/a@b/vmlinuz"),
    ],
)
def test_a_boot_url_with_user_information_a_query_or_a_fragment_is_fetched_as_a_secret(url, secret, shown) -> None:
    """The role fetches a boot file with no_log when its item says secret; the loop's copy shows no query."""
    files = cloud_boot_files([{"name": "c1", "image": dict(BOOTING, kernel={"url": url}), "size": "2G"}], DEFAULTS)
    assert [f["secret"] for f in files] == [secret, False]
    assert masked_url(url) == shown
    assert url_redacted(files, "url")[0] == dict(files[0], url=shown)
    assert not re.search("Tok-|Pw-", shown)


def test_cloud_boot_failures_mask_every_query_and_fragment_and_the_secrets_of_the_urls_fetched() -> None:
    """A message may show the path and query without scheme (http.client's refusal of a character), or a
    bare token; the URLs the loop fetched are given, so their queries are masked wherever they show."""
    urls = ["http://mirror/initrd?sig=Tok-Aa11 Tok-Bb22", "http://mirror/vmlinuz#Tok-Frag-3", "http://mirror/x?TokBare-4"]
    files = [{"url": url, "dest": "/b/%d" % index} for index, url in enumerate(urls)]
    results = [
        {
            "failed": True,
            "msg": "URL can't contain control characters. '/initrd?sig=Tok-Aa11 Tok-Bb22' (found at least ' ')",
            "item": url_redacted(files, "url")[0],
        },
        {"failed": True, "msg": "failed on Tok-Frag-3 and TokBare-4", "item": url_redacted(files, "url")[1]},
        {"failed": True, "msg": "see http://h/p#frag-Tok-5 and /p?Tok-6", "item": url_redacted(files, "url")[2]},
    ]
    lines = cloud_boot_failures(results, files)
    assert lines == [
        "boot file /b/0 from http://mirror/initrd?***: URL can't contain control characters. '/initrd?***' (found at least ' ')",
        "boot file /b/1 from http://mirror/vmlinuz#***: failed on *** and ***",
        "boot file /b/2 from http://mirror/x?***: see http://h/p#*** and /p?***",
    ]
    assert "Tok" not in repr(lines)
