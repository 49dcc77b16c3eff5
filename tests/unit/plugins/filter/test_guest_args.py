"""The guest_args filter: role entries -> virt_guest_install options."""

from __future__ import annotations

import re

import pytest
from ansible.errors import AnsibleFilterError
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template
from jinja2 import StrictUndefined, Undefined
from jinja2.exceptions import UndefinedError

from ansible_collections.remotevirt.install.plugins.filter.guest_args import (
    guest_args,
    guest_list_problems,
    guest_preflight_args,
    holds_undefined,
)


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
        ({"name": "a", "colour": "red"}, "guest a: guests[a].colour: unknown key"),
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


@pytest.mark.parametrize(
    "name, message",
    [
        (12345, "each guest's name must be text, got a number; put it in quotes"),
        (True, "each guest's name must be text, got a boolean; put it in quotes"),
        (["web01"], "each guest's name must be text, got a list"),
    ],
)
def test_a_name_that_is_no_text_is_refused(name, message):
    """YAML reads an unquoted 12345 as a number, which the module would turn into text the roles'
    preview and summary do not name the guest by."""
    with pytest.raises(AnsibleFilterError, match=re.escape(message)):
        guest_args({"name": name, "iso": {"path": "/x.iso"}})


def test_preflight_args_name_an_entry_whose_name_is_no_text_by_its_place():
    checked = guest_preflight_args([{"name": 12345, "iso": {"path": "/x.iso"}}], {}, "cdrom", "iso_install_guests")
    assert checked["problems"] == [
        {
            "guest": "iso_install_guests[0]",
            "check": "options",
            "message": "each guest's name must be text, got a number; put it in quotes",
        }
    ]


def test_a_nameless_entry_is_named_by_its_keys():
    with pytest.raises(
        AnsibleFilterError, match=re.escape("each guest needs a name, got an entry with keys kickstart_content, location")
    ):
        guest_args({"kickstart_content": "x", "location": "/tree"})


def test_unknown_keys_get_their_path_the_closest_option_and_their_origin():
    """A typo in the defaults is not in the guest's entry: the message says where to look. Every
    unknown key is named, each as the preflight names unknown keys deeper down."""
    with pytest.raises(
        AnsibleFilterError,
        match=re.escape(
            "guest a: guests[a].colour: unknown key; guests[a].iso_install_async: unknown key in the defaults; "
            "guests[a].memroy: unknown key in the defaults; did you mean memory?"
        ),
    ):
        guest_args({"name": "a", "colour": "red"}, {"memroy": 64, "iso_install_async": 0})


def test_every_problem_of_an_entry_is_named_at_once():
    with pytest.raises(AnsibleFilterError) as refused:
        guest_args({"name": "a", "memroy": 1, "install": {"method": "pxe"}, "iso": {"path": "/x"}})
    assert str(refused.value) == (
        "guest a: guests[a].memroy: unknown key; did you mean memory?; give either install or the shorthand iso, not both"
    )


def test_preflight_args_list_every_problem_of_every_entry_and_fail_on_none():
    """The preflight lists the entries' problems with its own, so every host stops before anything
    slow starts: the filter hands them over instead of failing at the first."""
    entries = [
        {"name": "ok", "iso": {"path": "/x.iso"}},
        {"memory": 64},
        "web02",
        {"name": "typo", "memroy": 64, "colour": 1},
        {"name": "both", "install": {"method": "pxe"}, "iso": {"path": "/x.iso"}},
        {"name": "ks", "kickstart": "http://k/ks.cfg"},
    ]
    checked = guest_preflight_args(entries, {"uri": "qemu:///system"}, None, "iso_install_guests")
    assert checked["problems"] == [
        {
            "guest": "iso_install_guests[1]",
            "check": "options",
            "message": "each guest needs a name, got an entry with keys memory",
        },
        {
            "guest": "iso_install_guests[2]",
            "check": "options",
            "message": "each guest must be a dictionary with a name, got text",
        },
        {"guest": "typo", "check": "options", "message": "guests[typo].colour: unknown key"},
        {"guest": "typo", "check": "options", "message": "guests[typo].memroy: unknown key; did you mean memory?"},
        {"guest": "both", "check": "options", "message": "give either install or the shorthand iso, not both"},
        {"guest": "ks", "check": "options", "message": "kickstart need location"},
    ]
    # The entries that can be read, without what was wrong, for the preflight to find the rest.
    assert checked["places"] == ["iso_install_guests[0]", "iso_install_guests[3]", "iso_install_guests[4]"]
    assert checked["args"] == [
        {"name": "ok", "uri": "qemu:///system", "install": {"method": "cdrom", "cdrom": {"path": "/x.iso"}}},
        {"name": "typo", "uri": "qemu:///system"},
        {"name": "both", "uri": "qemu:///system", "install": {"method": "pxe"}},
    ]


def test_preflight_args_of_a_nameless_entry_name_its_unknown_keys_by_its_place():
    checked = guest_preflight_args([{"memroy": 1}], {}, "cdrom", "pxe_install_guests")
    assert [problem["message"] for problem in checked["problems"]] == [
        "each guest needs a name, got an entry with keys memroy",
        "pxe_install_guests[0].memroy: unknown key; did you mean memory?",
    ]
    assert checked["args"] == [] and checked["places"] == []


def test_preflight_args_hide_secrets_in_options_and_problems():
    entries = [
        {
            "name": "a",
            "location": "/tree",
            "kickstart_content": "rootpw s3cret",
            "graphics": {"type": "vnc", "password": "pw123456"},
        },
        {"kickstart_content": "rootpw s3cret", "location": "/tree"},
    ]
    checked = guest_preflight_args(entries, {}, None, "iso_install_guests")
    # The console password comes apart, for the preflight's option that never shows it.
    assert checked.pop("console_passwords") == {"a": "pw123456"}
    assert "s3cret" not in str(checked) and "pw123456" not in str(checked)
    assert checked["args"][0]["install"]["kickstart_content"] == "#" * len("rootpw s3cret")
    assert checked["args"][0]["graphics"]["password"] == "********"


# BREAK (fixed): a kickstart's content stood for by '#' per character let a NUL and content over the
# size limit (in bytes) through the preflight; a console password in graphics given as k=v text was
# neither hidden nor handed over apart.
def test_preflight_args_keep_what_the_install_refuses_in_a_kickstart_and_read_graphics_given_as_text():
    entries = [
        {
            "name": "a",
            "location": "/tree",
            "kickstart_content": "rootpw s3cr\u00e9t\n\0",
            "graphics": "type=vnc password=pw123456",
        }
    ]
    checked = guest_preflight_args(entries, {}, None, "iso_install_guests")
    assert checked.pop("console_passwords") == {"a": "pw123456"}
    assert "s3cr" not in str(checked) and "pw123456" not in str(checked)
    assert checked["args"][0]["install"]["kickstart_content"] == "#" * len("rootpw s3cr\u00e9t\n".encode("utf-8")) + "\0"
    assert checked["args"][0]["graphics"] == {"type": "vnc", "password": "********"}


def test_preflight_args_of_no_list():
    assert guest_preflight_args(None) == {"args": [], "places": [], "problems": [], "console_passwords": {}, "url_passwords": {}}
    with pytest.raises(AnsibleFilterError, match="iso_install_guests must be a list of guests, got text"):
        guest_preflight_args("web01", {}, None, "iso_install_guests")


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


def test_preflight_args_hide_the_values_of_misspelt_keys_at_any_depth():
    """A misspelt secret key is no option the module hides: its value never reaches the preflight's
    options (-vvv, AWX job events), while the preflight still names the key."""
    entry = {
        "name": "a",
        "location": "http://host/tree",
        "kickstart_contnet": "rootpw top-secret",
        "graphics": {"type": "vnc", "passwrod": "gfx-secret"},
        "disks": [{"pool": "p", "size": "1G", "szie": "disk-secret"}],
        "install": {"method": "location", "location": "/tree", "kickstart_contnet": "ks-secret"},
    }
    checked = guest_preflight_args([entry])
    assert not re.search("secret", repr(checked["args"]))
    args = checked["args"][0]
    assert set(args["graphics"]) == {"type", "passwrod"} and args["disks"][0]["szie"] != "disk-secret"
    assert guest_args({"name": "a", "graphics": {"passwrod": "gfx-secret"}})["graphics"]["passwrod"] == "gfx-secret"


def test_the_filter_knows_exactly_the_module_options():
    """A guest option added to the module's spec is accepted by the roles' filter too, and no other."""
    from ansible_collections.remotevirt.install.plugins.filter.guest_args import MODULE_OPTIONS
    from ansible_collections.remotevirt.install.plugins.module_utils._guest.spec import guest_argument_spec

    assert set(MODULE_OPTIONS) == set(guest_argument_spec())


def test_list_problems_name_each_variable_the_roles_would_refuse():
    """The playbooks read the roles' list variables without the roles' argument validation: each
    variable of another kind than the roles declare is one line."""
    given = {
        "iso_install_guests": {"name": "web01"},
        "pxe_install_guests": "web02",
        "iso_install_defaults": ["x"],
        "iso_install_update_existing": "maybe",
        "cloud_instance_images": "debian",
        "cloud_instance_pool": ["rvtb"],
        "rv_update_existing": 2,
    }
    assert guest_list_problems(given, list(given)) == [
        "cloud_instance_images must be a dictionary, got text",
        "cloud_instance_pool must be text, got a list",
        "iso_install_defaults must be a dictionary, got a list",
        "iso_install_guests must be a list of guests, got a dictionary",
        "iso_install_update_existing must be true or false (yes, no, on, off, 1, 0), got text",
        "pxe_install_guests must be a list of guests, got text",
        "rv_update_existing must be true or false (yes, no, on, off, 1, 0), got a number",
    ]


def test_list_problems_accept_what_the_roles_accept():
    """null (the roles leave it to their default), Ansible's booleans, and variables that are not the
    lists' (the timings have a check of their own)."""
    given = {
        "iso_install_guests": [{"name": "web01"}],
        "pxe_install_guests": None,
        "cloud_instance_defaults": {"memory": 512},
        "iso_install_update_existing": "yes",
        "pxe_install_preflight": "False",
        "cloud_instance_check_memory": 0,
        "rv_guest_defaults": {},
        "iso_install_async": "2h",
        "iso_install_note": ["x"],
    }
    assert guest_list_problems(given, list(given)) == []


def test_list_problems_name_a_variable_that_cannot_be_read():
    """A list whose template names an undefined variable is set but cannot be read: default([])
    would make it no guests at all."""
    assert guest_list_problems({"pxe_install_guests": []}, ["iso_install_guests", "pxe_install_guests", "iso_install_x"]) == [
        "iso_install_guests cannot be read: its value names a variable that is not defined; define that variable or fix "
        "iso_install_guests"
    ]


def test_list_problems_never_show_a_value_that_may_be_a_secret():
    given = {"iso_install_defaults": "s3cret", "iso_install_uri": {"password": "s3cret"}, "iso_install_preflight": "s3cret"}
    assert "s3cret" not in repr(guest_list_problems(given, list(given)))


def test_preflight_args_give_the_url_password_apart():
    """The options hold a placeholder; the password, from the entry or the defaults, comes apart for
    virt_preflight's url_passwords, which never shows it."""
    entries = [
        {"name": "web01", "location": "http://h/tree/", "url_username": "alice"},
        {"name": "web02", "location": "http://h/tree/", "url_password": "Own-Pw-2"},
        {"name": "web03", "iso": {"path": "/x.iso"}, "url_password": None},
    ]
    checked = guest_preflight_args(entries, {"url_password": "Tree-Pw-1"}, None, "iso_install_guests")
    assert checked["url_passwords"] == {"web01": "Tree-Pw-1", "web02": "Own-Pw-2"}
    assert "Tree-Pw-1" not in repr(checked["args"]) and "Own-Pw-2" not in repr(checked["args"])
    assert [args.get("url_password") for args in checked["args"]] == ["*********", "********", None]


class _RaisingList(list):
    """A list whose items raise when read, as ansible-core's lazy templating reads an item naming an
    undefined variable."""

    def __iter__(self):
        raise UndefinedError("'rv_undefined_item' is undefined")


@pytest.mark.parametrize(
    "name, value",
    [
        ("pxe_install_guests", [Undefined(name="rv_undefined_entry")]),
        ("iso_install_guests", [{"name": "web01", "disks": [{"pool": "p", "size": StrictUndefined(name="rv_undefined_size")}]}]),
        ("cloud_instance_guests", [{"name": Undefined(name="rv_undefined_name")}]),
        ("pxe_install_defaults", {"domain_type": "qemu", "memory": Undefined(name="rv_undefined_memory")}),
        ("cloud_instance_images", {"debian": {"kernel": {"url": _RaisingList()}}}),
        ("iso_install_guests", _RaisingList()),
    ],
)
def test_list_problems_name_a_variable_with_an_undefined_value_at_any_depth(name, value):
    """The roles would fail on it only when they read it, with Ansible's own message, after site.yml's
    hypervisor role changed the host: refused first, naming the variable and never a value."""
    assert guest_list_problems({name: value}, [name]) == [
        "%s cannot be read: a value in it names a variable that is not defined; define that variable or fix %s" % (name, name)
    ]


def test_list_problems_read_the_lazy_lists_of_ansible_core():
    """As ansible-core hands a play's variables to a filter: an item whose template names an undefined
    variable raises when read, at any depth; defined values are read as they are."""
    seen = {}

    def probe(name, value):
        seen[name] = guest_list_problems({name: value}, [name])
        return True

    variables = {
        "pxe_install_guests": [trust_as_template("{{ rv_undefined_entry }}")],
        "iso_install_guests": [{"name": "web01", "disks": [{"pool": "p", "size": trust_as_template("{{ rv_undefined_size }}")}]}],
        "pxe_install_defaults": {"memory": trust_as_template("{{ rv_undefined_memory }}"), "domain_type": "qemu"},
        "cloud_instance_guests": [{"name": trust_as_template("{{ 'web' ~ 2 }}"), "size": "2G"}],
        "probe": probe,
    }
    templar = Templar(loader=DataLoader(), variables=variables)
    for name in ("pxe_install_guests", "iso_install_guests", "pxe_install_defaults", "cloud_instance_guests"):
        templar.template(trust_as_template("{{ probe('%s', %s) }}" % (name, name)))
    assert seen == {
        "pxe_install_guests": [
            "pxe_install_guests cannot be read: a value in it names a variable that is not defined; define that variable or"
            " fix pxe_install_guests"
        ],
        "iso_install_guests": [
            "iso_install_guests cannot be read: a value in it names a variable that is not defined; define that variable or"
            " fix iso_install_guests"
        ],
        "pxe_install_defaults": [
            "pxe_install_defaults cannot be read: a value in it names a variable that is not defined; define that variable or"
            " fix pxe_install_defaults"
        ],
        "cloud_instance_guests": [],
    }


def test_holds_undefined_reads_every_depth_once_and_nothing_else():
    shared: list = [{"a": 1}]
    looped: list = [shared, shared]
    looped.append(looped)  # a structure holding itself, as YAML anchors may make
    assert not holds_undefined(looped)
    assert not holds_undefined({"a": [1, "x", None, {"b": (True, 2.5)}]})
    assert holds_undefined(({"a": [1, {"b": [Undefined()]}]},))
    assert holds_undefined({Undefined(): 1})


@pytest.mark.parametrize(
    "secret",
    [
        {"kickstart_content": {"rootpw --plaintext": "s3cretKS"}},  # a kickstart pasted without '|'
        {"kickstart_content": ["rootpw s3cretKS"]},
        {"url_password": {"pw": "s3cretKS"}},
        {"graphics": {"type": "vnc", "password": ["s3cretKS"]}},
    ],
)
def test_a_secret_of_the_wrong_shape_is_a_preflight_problem_never_shown(secret):
    """The placeholder keeps the secret's shape: the preflight refuses a dictionary or a list there as the
    install would, before any host installs, and never sees the secret."""
    from ansible_collections.remotevirt.install.plugins.module_utils._preflight import run as preflight

    entry = dict({"name": "rt40-a", "location": "http://127.0.0.1:9/tree", "disks": [{"pool": "default-pool", "size": "1M"}]})
    entry.update(secret)
    checked = guest_preflight_args([entry], {"uri": "test:///default"}, "cdrom", "iso_install_guests")
    assert "s3cretKS" not in repr(checked["args"])
    result = preflight(dict(uri="test:///default", guests=checked["args"], probe_kvm=False, check_memory=False))
    assert not result["ok"]
    assert any(re.search(r"must be text, not a (dictionary|list)", problem["message"]) for problem in result["problems"])
    assert "s3cretKS" not in repr(result)
