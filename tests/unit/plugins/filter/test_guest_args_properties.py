"""Property: any role entry becomes module options or an AnsibleFilterError, never another error."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.remotevirt.install.plugins.filter.guest_args import guest_args, guest_preflight_args
from strategies import examples, junk, option, options

ENTRY = options(
    required={},
    optional=dict(
        name=option(examples("web01")),
        iso=option(
            options(
                required={},
                optional=dict(
                    pool=option(examples("isos")), volume=option(examples("d.iso")), path=option(examples("/srv/d.iso"))
                ),
            )
        ),
        location=option(examples("http://m/os")),
        kickstart=option(examples("http://k/ks.cfg")),
        kickstart_content=option(examples("rootpw x\n")),
        extra_args=option(examples("console=ttyS0")),
        pxe=option(st.booleans()),
        boot_dir=option(examples("/boot")),
        install=option(junk),
        graphics=option(options(required={}, optional=dict(password=option(examples("pw"))))),
        memory=option(junk),
    ),
)


@given(
    st.one_of(ENTRY, junk),
    st.one_of(st.none(), ENTRY, junk),
    st.one_of(st.none(), junk, st.sampled_from(["pxe", "cdrom", "location", "import"])),
    st.booleans(),
)
def test_any_entry_gives_options_or_a_filter_error(entry, defaults, method, redact):
    try:
        result = guest_args(entry, defaults, method, redact)
    except AnsibleFilterError as error:
        assert str(error)
        return
    assert isinstance(result, dict) and result["name"]
    if redact:
        install, graphics = result.get("install"), result.get("graphics")
        if isinstance(install, dict) and install.get("kickstart_content"):
            assert set(install["kickstart_content"]) == {"#"}
        if isinstance(graphics, dict) and graphics.get("password"):
            assert set(graphics["password"]) == {"*"}


@given(st.lists(st.one_of(ENTRY, junk), max_size=4), st.one_of(st.none(), ENTRY), st.sampled_from([None, "pxe", "cdrom"]))
def test_any_list_gives_the_preflight_its_view_and_fails_on_none(entries, defaults, method):
    """The preflight lists the entries' problems with its own: the filter never fails on an entry, each
    entry it leaves out has a problem, and an entry guest_args refuses has one too."""
    checked = guest_preflight_args(entries, defaults, method, "iso_install_guests")
    assert len(checked["args"]) == len(checked["places"])
    named = {problem["guest"] for problem in checked["problems"]}
    for index, entry in enumerate(entries):
        place = "iso_install_guests[%d]" % index
        try:
            guest_args(entry, defaults, method)
        except AnsibleFilterError:
            name = entry.get("name") if isinstance(entry, dict) else None
            assert (name if isinstance(name, str) and name else place) in named
        else:
            assert place in checked["places"]
