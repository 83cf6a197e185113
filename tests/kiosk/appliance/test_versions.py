"""What `appliance install|upgrade` accept as a wheel, and how versions are ordered."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.appliance.install import BadWheel, wheel_version
from kiosk.appliance.upgrade import version_key
from tests.conftest import muontra

versions = st.lists(st.integers(min_value=0, max_value=300), min_size=1, max_size=4)


@given(versions, versions)
def test_versions_are_ordered_by_their_numbers(a: list[int], b: list[int]):
    left, right = ".".join(map(str, a)), ".".join(map(str, b))
    assert (version_key(left) < version_key(right)) == (tuple(a) < tuple(b))


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(st.characters(codec="utf-8", exclude_characters="/\0"), min_size=1, max_size=60))
def test_only_a_muontra_wheel_is_taken(tmp_path: Path, name: str):
    path = tmp_path / name
    try:
        path.write_bytes(b"PK")
    except OSError:
        return  # a name the file system refuses ("." or too long): nothing to install either
    try:
        version = wheel_version(path)
    except BadWheel:
        return
    assert path.name.startswith("muontra-") and path.name.endswith(".whl") and version == path.name.split("-")[1]


def test_install_refuses_a_file_that_is_no_wheel_and_writes_nothing(tmp_path: Path):
    wrong = tmp_path / "muontra.zip"
    wrong.write_bytes(b"PK")
    refused = muontra("--lang", "en", "appliance", "install", "--root", str(tmp_path / "root"), "--wheel", str(wrong))
    assert refused.returncode == 1 and "is not a Mượn Trả wheel" in refused.stderr
    assert not (tmp_path / "root").exists()


def test_a_release_candidate_comes_before_its_release():
    assert version_key("0.2.0rc1") < version_key("0.2.0") < version_key("0.10.0")


@pytest.mark.parametrize("name", ["muontra-0.2.0-py3-none-any.whl", "muontra-1.10.3-py3-none-any.whl"])
def test_a_wheel_name_gives_its_version(tmp_path: Path, name: str):
    (tmp_path / name).write_bytes(b"PK")
    assert wheel_version(tmp_path / name) == name.split("-")[1]
