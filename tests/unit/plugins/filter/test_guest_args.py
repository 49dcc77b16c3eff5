"""The guest_args filter: role entries -> virt_guest_install options."""

from __future__ import annotations

import re

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.remotevirt.install.plugins.filter.guest_args import guest_args


@pytest.mark.parametrize(
    "entry, method, expected_install",
    [
        (
            {"name": "a", "iso": {"pool": "isos", "volume": "x.iso"}},
            "cdrom",
            {"method": "cdrom", "cdrom": {"pool": "isos", "volume": "x.iso"}},
        ),
        ({"name": "a", "iso": {"path": "/x.iso"}}, None, {"method": "cdrom", "cdrom": {"path": "/x.iso"}}),
        (
            {"name": "a", "location": "http://m/os/", "kickstart": "http://k/ks.cfg", "extra_args": "console=ttyS0"},
            "cdrom",
            {"method": "location", "location": "http://m/os/", "kickstart": "http://k/ks.cfg", "extra_args": "console=ttyS0"},
        ),
        ({"name": "a"}, "pxe", {"method": "pxe"}),
        ({"name": "a", "pxe": True}, None, {"method": "pxe"}),
        ({"name": "a", "install": {"method": "import"}}, "pxe", {"method": "import"}),
    ],
)
def test_media_shorthand_becomes_install(entry, method, expected_install):
    """Each shorthand maps to the module's install option; an explicit install wins over the role's method."""
    assert guest_args(entry, {}, method)["install"] == expected_install


def test_no_media_and_no_method_leaves_install_unset():
    """An existing guest needs no install option."""
    assert "install" not in guest_args({"name": "a", "memory": 512})


@pytest.mark.parametrize("method", ["cdrom", "pxe", "location", "import"])
def test_removal_takes_no_install_from_the_method(method):
    """An absent entry of iso_install or pxe_install removes its guest and needs no media."""
    assert guest_args({"name": "a", "state": "absent", "remove_storage": True}, {"memory": 256}, method) == {
        "name": "a",
        "state": "absent",
        "remove_storage": True,
        "memory": 256,
    }


def test_removal_keeps_media_it_was_given():
    """Media given with an absent entry stay as given (the module does not read them for removal)."""
    args = guest_args({"name": "a", "state": "absent", "iso": {"path": "/x.iso"}}, {}, "pxe")
    assert args["install"] == {"method": "cdrom", "cdrom": {"path": "/x.iso"}}


def test_defaults_are_merged_under_the_entry():
    """The entry's own values win; defaults fill the rest."""
    args = guest_args({"name": "a", "memory": 512}, {"memory": 256, "vcpus": 2, "domain_type": "qemu"})
    assert args == {"name": "a", "memory": 512, "vcpus": 2, "domain_type": "qemu"}


def test_already_resolved_entries_pass_through_unchanged():
    """Applying the filter twice (playbook, then role) gives the same options."""
    once = guest_args({"name": "a", "iso": {"path": "/x.iso"}}, {"memory": 256}, "pxe")
    assert guest_args(once, {}, "pxe") == once


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"memory": 1}, "each guest needs a name"),
        ({"name": "a", "colour": "red"}, "guest a: unknown option(s) colour"),
        ({"name": "a", "install": {"method": "pxe"}, "iso": {"path": "/x"}}, "give either install or the shorthand iso"),
        ({"name": "a", "kickstart": "http://k/ks.cfg"}, "guest a: kickstart need location"),
    ],
)
def test_bad_entries_fail_with_the_guest_named(entry, message):
    with pytest.raises(AnsibleFilterError, match=re.escape(message)):
        guest_args(entry)


@pytest.mark.parametrize(
    "entry, defaults",
    [
        ({"kickstart_content": "rootpw --plaintext s3cret", "location": "/tree"}, {}),
        ({"name": "", "graphics": {"type": "vnc", "password": "s3cret"}}, {}),
        (["rootpw s3cret"], {}),
        ({"name": "a"}, "s3cret"),
    ],
)
def test_refusals_never_show_values(entry, defaults):
    """A refused entry may hold a kickstart or a password: the message names keys and types only."""
    with pytest.raises(AnsibleFilterError) as refused:
        guest_args(entry, defaults)
    assert "s3cret" not in str(refused.value)


def test_a_nameless_entry_is_named_by_its_keys():
    with pytest.raises(
        AnsibleFilterError, match=re.escape("each guest needs a name, got an entry with keys kickstart_content, location")
    ):
        guest_args({"kickstart_content": "x", "location": "/tree"})


def test_unknown_keys_get_the_closest_option_and_their_origin():
    """A typo in the defaults is not in the guest's entry: the message says where to look."""
    with pytest.raises(
        AnsibleFilterError,
        match=re.escape(
            "guest a: unknown option(s) colour, iso_install_async from the defaults, "
            "memroy (did you mean memory?) from the defaults"
        ),
    ):
        guest_args({"name": "a", "colour": "red"}, {"memroy": 64, "iso_install_async": 0})


def test_redact_keeps_lengths_and_hides_secrets():
    """Checks see the same sizes (the preflight plan shows the kickstart's byte count), never the text."""
    entry = {
        "name": "a",
        "location": "/tree",
        "kickstart_content": "rootpw s3cret\n",
        "graphics": {"type": "vnc", "password": "pw123456"},
    }
    args = guest_args(entry, redact=True)
    assert args["install"]["kickstart_content"] == "#" * len("rootpw s3cret\n")
    assert args["graphics"]["password"] == "********"
    assert "s3cret" not in repr(args) and "pw123456" not in repr(args)
    assert guest_args(entry)["install"]["kickstart_content"] == "rootpw s3cret\n"


def test_the_filter_knows_exactly_the_module_options():
    """A guest option added to the module's spec is accepted by the roles' filter too, and no other."""
    from ansible_collections.remotevirt.install.plugins.filter.guest_args import MODULE_OPTIONS
    from ansible_collections.remotevirt.install.plugins.module_utils._guest.spec import guest_argument_spec

    assert set(MODULE_OPTIONS) == set(guest_argument_spec())
