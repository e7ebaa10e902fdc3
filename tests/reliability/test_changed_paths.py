"""No containers: what preflight and the leftover check count as a container's changes. From overlay2's
upper directory where it can be read (files changed or added; a whiteout is a deletion), else from the
daemon's `docker diff`; both give the same files (checked live by the dirty-stack and interrupt tests)."""
from __future__ import annotations

import os
import stat
import pytest
from docker.models.containers import Container as SDKContainer

from alertdrill.target.preflight import changed_paths
from tests.doubles import stand_in


def Container(attrs: dict, changes):  # noqa: N802 (reads as the class it stands in for)
    """The Docker SDK's Container, its interface checked (tests/doubles.py): its inspect data and its diff."""
    return stand_in(SDKContainer, attrs=attrs, diff=lambda: changes)


def overlay(upper) -> dict:
    return {"GraphDriver": {"Name": "overlay2", "Data": {"UpperDir": str(upper), "LowerDir": "/nowhere"}}}


def test_files_changed_or_added_are_read_from_the_upper_directory(tmp_path):
    (tmp_path / "app" / "backend").mkdir(parents=True)
    (tmp_path / "app" / "backend" / ".env").write_text("DB_POOL_SIZE=2\n")
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "denylist.txt").write_text("10.0.0.1\n")
    (tmp_path / "var" / "empty").mkdir(parents=True)  # a directory alone is no file change
    c = Container(attrs=overlay(tmp_path), changes=[])
    assert sorted(changed_paths(c)) == ["/app/backend/.env", "/etc/denylist.txt"]
    assert c.diff.call_count == 0, "asked the daemon although the upper directory was readable"


def test_a_deleted_file_is_not_a_change(tmp_path):
    whiteout = tmp_path / "removed.env"
    try:
        os.mknod(whiteout, stat.S_IFCHR | 0o600, os.makedev(0, 0))
    except PermissionError:
        pytest.skip("creating a whiteout (a 0/0 character device) needs root")
    (tmp_path / "kept.env").write_text("A=1\n")
    assert changed_paths(Container(attrs=overlay(tmp_path), changes=[])) == ["/kept.env"]


@pytest.mark.parametrize("attrs", [
    {"GraphDriver": {"Name": "vfs", "Data": None}},
    {"GraphDriver": {"Name": "overlay2", "Data": {"UpperDir": "/no/such/dir"}}},  # a remote or rootless daemon
    {},
], ids=["another-driver", "upper-dir-not-here", "no-driver-shown"])
def test_elsewhere_the_daemon_is_asked(attrs):
    c = Container(attrs=attrs, changes=[{"Path": "/app/.env", "Kind": 0}, {"Path": "/app/new.env", "Kind": 1},
                                        {"Path": "/app/old.env", "Kind": 2}])
    assert changed_paths(c) == ["/app/.env", "/app/new.env"]
    assert c.diff.call_count == 1


def test_the_daemon_answering_no_change_is_none(tmp_path):
    assert changed_paths(Container(attrs={}, changes=None)) == []
