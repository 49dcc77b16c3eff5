"""Property: whatever the guests, virt_preflight lists problems and never fails or raises."""

from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ansible_collections.remotevirt.install.plugins.module_utils._preflight import run
from ansible_collections.remotevirt.install.plugins.modules import virt_preflight
from strategies import examples, junk, option, options

# Only media the host reads at once: a path that is not there, a port nothing listens on.
GUEST = options(
    required={},
    optional=dict(
        name=option(examples("pf01", "pf-02")),
        memory=option(examples("256", "1G", "64T")),
        vcpus=option(st.one_of(st.integers(0, 4), examples("2"))),
        disks=option(
            st.lists(
                option(
                    options(
                        required={},
                        optional=dict(
                            pool=option(examples("default-pool", "no-such-pool")),
                            size=option(examples("1M", "0")),
                            volume=option(examples("missing.qcow2")),
                            path=option(examples("/nonexistent.img")),
                            target=option(examples("vda", "vdb")),
                        ),
                    )
                ),
                max_size=2,
            )
        ),
        networks=option(
            st.lists(
                option(
                    options(
                        required={},
                        optional=dict(
                            network=option(examples("default", "missing")),
                            bridge=option(examples("br-missing")),
                            mac=option(examples("52:54:00:00:00:01")),
                        ),
                    )
                ),
                max_size=2,
            )
        ),
        install=option(
            options(
                required={},
                optional=dict(
                    method=option(st.sampled_from(["pxe", "cdrom", "location", "import"])),
                    cdrom=option(options(required={}, optional=dict(path=option(examples("/nonexistent.iso"))))),
                    location=option(examples("/nonexistent/tree", "http://127.0.0.1:1/os")),
                    kickstart_content=option(examples("rootpw x\n")),
                ),
            )
        ),
        state=option(st.sampled_from(["present", "running", "absent"])),
        graphics=option(options(required={}, optional=dict(password=option(examples("pw"))))),
    ),
)
GUESTS = st.lists(st.one_of(GUEST, GUEST, junk), max_size=3)


@example([{"vcpus": float("inf")}], False)  # Ansible's int check raises OverflowError on .inf
@given(GUESTS, st.booleans())
def test_any_guests_give_problems_never_an_error(test_client, guests, update_existing):
    result = run({"uri": "test:///default", "guests": guests, "update_existing": update_existing})
    assert result["ok"] == (not result["problems"])
    for problem in result["problems"]:
        assert set(problem) == {"guest", "check", "message"} and problem["message"]
    assert test_client.conn.listDefinedDomains() == [] or all(
        not name.startswith("pf") for name in test_client.conn.listDefinedDomains()
    )


@settings(max_examples=25)
@given(GUESTS)
def test_the_module_fails_exactly_on_problems_with_one_line_each(capsys, test_client, guests):
    with patch_module_args({"uri": "test:///default", "guests": guests, "_ansible_check_mode": True}):
        with pytest.raises(SystemExit) as exited:
            virt_preflight.main()
    result = json.loads(capsys.readouterr().out)
    assert "exception" not in result
    assert bool(exited.value.code) == bool(result.get("failed")) == bool(result["problems"]), result.get("msg")
    if result["problems"]:
        assert result["msg"].count("\n") + 1 >= len(result["problems"])
        assert result["msg"].startswith("%s [%s]: " % (result["problems"][0]["guest"] or "host", result["problems"][0]["check"]))
