# -*- coding: utf-8 -*-
# Copyright: remotevirt.install contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.remotevirt.install.plugins.filter.cloud_instance import (
    cloud_boot_failures,
    cloud_boot_files,
    cloud_guest_args,
    cloud_images,
    cloud_overlays,
    cloud_pending,
    cloud_pending_outcomes,
    cloud_preflight_args,
    cloud_preview,
    url_password,
    url_redacted,
    volume_name_of,
)

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
        "boot file /b/k from http://mirror/vmlinuz?X-Amz-Signature=***: Request failed (HTTP 404)",
        "boot file /b/i from http://***@mirror/initrd: Request failed: <urlopen error refused"
        " http://mirror/vmlinuz?X-Amz-Signature=***",  # the mask takes the rest of the word
    ]
    assert "Sig-0123456789abcdef" not in repr(lines) and "Pw-9" not in repr(lines)
    assert cloud_boot_failures([]) == [] and cloud_boot_failures(None) == []
