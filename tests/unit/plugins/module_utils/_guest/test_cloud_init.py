"""cloud_init: rendering as #cloud-config, the refusals of user-data and network-config, the seed's
files and the instance-id; no secret in a repr."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.remotevirt.install.plugins.module_utils._common.plan import PlanError
from ansible_collections.remotevirt.install.plugins.module_utils._guest.cloud_init import cloud_init_param, render_yaml

SECRET = "Pa55-Cl0ud-Secret"


def test_dict_user_data_is_cloud_config_in_key_order():
    cloud_init = cloud_init_param(
        {"user_data": {"hostname": "h1", "runcmd": ["echo hi > /dev/ttyS0"], "chpasswd": {"expire": False}}}
    )
    assert cloud_init.user_data == (
        '#cloud-config\nhostname: h1\nruncmd:\n  - "echo hi > /dev/ttyS0"\nchpasswd:\n  expire: false\n'
    )


def test_text_user_data_is_kept_as_is():
    for text in (
        "#cloud-config\nhostname: x\n",
        "#!/bin/sh\necho hi\n",
        "#include\nhttp://x/y\n",
        "Content-Type: multipart/mixed; boundary=x\n",
        "MIME-Version: 1.0\nContent-Type: multipart/mixed\n",
    ):
        assert cloud_init_param({"user_data": text}).user_data == text


@pytest.mark.parametrize("text", ["hostname: x\n", "", "cloud-config\n", " #cloud-config\n"])
def test_other_user_data_text_is_refused_without_showing_it(text):
    with pytest.raises(PlanError, match="must start with #cloud-config") as error:
        cloud_init_param({"user_data": text + SECRET})
    assert SECRET not in str(error.value)


@pytest.mark.parametrize(
    "text, where",
    [
        ("#cloud-config\nchpasswd: {users: [{name: root, password: %s\nruncmd: [\n", "line 3, column 7"),
        ("#cloud-config\nhostname: h1\n  bad: %s\n", "line 3, column 6"),
        ("#cloud-config\nusers:\n\t- %s\n", "line 3, column 1"),
    ],
)
def test_cloud_config_text_that_is_not_yaml_is_refused_by_line_without_showing_it(text, where):
    with pytest.raises(PlanError, match="not valid YAML at %s" % where) as error:
        cloud_init_param({"user_data": text % SECRET})
    assert SECRET not in str(error.value)


@pytest.mark.parametrize(
    "text",
    [
        "#cloud-config\npassword: !!int %s\n",
        "#cloud-config\npassword: !!float %s\n",
        "#cloud-config\nwhen: !!timestamp %s\n",
        "#cloud-config\nkey: %s\na: " + "[" * 5000 + "\n",
    ],
)
def test_cloud_config_values_its_tags_cannot_build_are_refused_without_showing_them(text):
    with pytest.raises(PlanError, match="not valid YAML") as error:
        cloud_init_param({"user_data": text % SECRET})
    assert SECRET not in str(error.value) and SECRET.lower() not in str(error.value).lower()


def test_network_config_nested_too_deep_is_refused():
    with pytest.raises(PlanError, match="network_config: text that is not valid YAML"):
        cloud_init_param({"user_data": "#cloud-config\n", "network_config": "version: 2\nx: " + "{a: " * 3000})


@pytest.mark.parametrize("text, kind", [("#cloud-config\n- %s\n", "a list"), ("#cloud-config\n%s\n", "a single value")])
def test_cloud_config_text_must_be_a_dictionary(text, kind):
    with pytest.raises(PlanError, match="must be YAML of a dictionary .* not %s" % kind) as error:
        cloud_init_param({"user_data": text % SECRET})
    assert SECRET not in str(error.value)


def test_other_user_data_formats_are_not_parsed_as_yaml():
    for text in ("#!/bin/sh\necho {[\n", "#include\nhttp://x/{[\n", "#cloud-config\n"):
        assert cloud_init_param({"user_data": text}).user_data == text


@pytest.mark.parametrize(
    "config, version",
    [
        ({"version": 2, "ethernets": {"eth0": {"dhcp4": True}}}, True),
        ({"network": {"version": 1, "config": []}}, True),
        ("version: 2\nethernets: {}\n", True),
        ("network:\n  version: 1\n  config: []\n", True),
        ({"version": 3}, False),
        ({"version": True}, False),  # YAML's true is no version, though Python takes it for 1
        ({"network": {"version": True}}, False),
        ({"ethernets": {}}, False),
        ("ethernets: {}\n", False),
    ],
)
def test_network_config_needs_version_1_or_2(config, version):
    if version:
        assert cloud_init_param({"network_config": config}).network_config
    else:
        with pytest.raises(PlanError, match="version: 1 or version: 2"):
            cloud_init_param({"network_config": config})


@pytest.mark.parametrize(
    "text, message",
    [
        ("version: 2\nethernets: [unclosed\n", "not valid YAML at line"),
        ("- version: 2\n", "must be YAML of a dictionary, not a list"),
        ("just words\n", "must be YAML of a dictionary, not a single value"),
    ],
)
def test_network_config_text_that_is_not_a_yaml_dictionary_is_refused(text, message):
    pytest.importorskip("yaml")
    with pytest.raises(PlanError, match="cloud_init.network_config.*" + message):
        cloud_init_param({"network_config": text})


def test_empty_cloud_init_is_refused():
    with pytest.raises(PlanError, match="give user_data"):
        cloud_init_param({})


def test_secrets_stay_out_of_repr():
    cloud_init = cloud_init_param({"user_data": {"password": SECRET}, "network_config": {"version": 2, "x": SECRET}})
    assert SECRET not in repr(cloud_init)


def test_instance_id_is_stable_and_follows_the_content():
    first = cloud_init_param({"user_data": {"hostname": "a"}})
    again = cloud_init_param({"user_data": {"hostname": "a"}})
    other = cloud_init_param({"user_data": {"hostname": "b"}})
    assert first.instance_id("g1") == again.instance_id("g1") == "g1-" + first.fingerprint[:16]
    assert other.instance_id("g1") != first.instance_id("g1")
    given_id = cloud_init_param({"meta_data": {"instance-id": "fixed"}})
    assert given_id.instance_id("g1") == "fixed"


def test_seed_files():
    files = cloud_init_param(
        {"user_data": {"hostname": "a"}, "meta_data": {"public-keys": ["ssh-ed25519 AAA"]}, "network_config": "version: 2\n"}
    ).seed_files("web01")
    meta = yaml.safe_load(files["meta-data"])
    assert meta["instance-id"].startswith("web01-") and meta["local-hostname"] == "web01"
    assert meta["public-keys"] == ["ssh-ed25519 AAA"]
    assert files["user-data"] == b"#cloud-config\nhostname: a\n" and files["network-config"] == b"version: 2\n"
    assert "local-hostname" not in yaml.safe_load(
        cloud_init_param({"user_data": "#!/bin/sh\n"}).seed_files("odd_name")["meta-data"]
    )


def test_values_yaml_cannot_hold_are_refused():
    with pytest.raises(PlanError, match="cloud_init.user_data.x: values must be"):
        cloud_init_param({"user_data": {"x": object()}})
    with pytest.raises(PlanError, match="keys must be text"):
        cloud_init_param({"user_data": {1: "x"}})


def test_rendering_of_tricky_text():
    assert render_yaml({"a": "yes", "b": "0600", "c": "", "d": "line1\nline2\n", "e": "x\u2028y", "f": 1.5e-20}) == (
        'a: "yes"\nb: "0600"\nc: ""\nd: |\n  line1\n  line2\ne: "x\\u2028y"\nf: 1.5e-20\n'
    )


SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4), max_leaves=20
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(), VALUES, max_size=5))
def test_yaml_reads_back_what_was_rendered(value):
    """cloud-init reads user-data with PyYAML's safe loader: it must get exactly the dictionary given."""
    assert yaml.safe_load(render_yaml(value)) == value


@pytest.mark.parametrize(
    "text",
    [
        "#cloud-config-archive\n- type: text/cloud-config\n  content: 'hostname: a'\n",
        '#cloud-config-jsonp\n[{"op": "add", "path": "/hostname", "value": "a"}]\n',
    ],
)
def test_cloud_config_archive_and_jsonp_are_lists_not_cloud_config(text):
    """cloud-init reads the longest header a text starts with: these are lists, not #cloud-config dictionaries."""
    assert cloud_init_param({"user_data": text}).user_data == text
    with pytest.raises(PlanError, match="#cloud-config-archive text must be a YAML list, not a dictionary") as error:
        cloud_init_param({"user_data": "#cloud-config-archive\npassword: %s\n" % SECRET})
    assert SECRET not in str(error.value)


@pytest.mark.parametrize("key", ["instance-id", "local-hostname"])
@pytest.mark.parametrize("value", ["../../etc", "a/b", "a\nb", "", "a b", "a\x00b", ".", "..", {"a": 1}, ["x"], True])
def test_meta_data_ids_that_are_no_single_name_are_refused(key, value):
    """instance-id is a directory name on the guest (/var/lib/cloud/instances/<id>), local-hostname its name."""
    with pytest.raises(PlanError, match="cloud_init.meta_data.%s must be text without '/'" % key):
        cloud_init_param({"meta_data": {key: value}})


def test_meta_data_ids_of_one_word_are_kept():
    cloud_init = cloud_init_param({"meta_data": {"instance-id": "i-0ab.c_d", "local-hostname": "web01.example.org"}})
    assert cloud_init.instance_id("g") == "i-0ab.c_d"
    assert cloud_init_param({"meta_data": {"instance-id": 42}}).instance_id("g") == "42"


@pytest.mark.parametrize("where", ["user_data", "network_config"])
def test_a_seed_over_16_mib_is_refused_before_it_is_parsed(where):
    """More is a file's content given by mistake; #cloud-config text would take minutes to parse."""
    big = "#cloud-config\nruncmd: [%s]\n" % ("x" * (16 << 20))
    if where == "network_config":
        big = "version: 2\n# " + big
    with pytest.raises(
        PlanError, match=r"cloud_init: 167772\d\d bytes of user_data, meta_data and network_config, more than the 16777216"
    ):
        cloud_init_param({where: big})
