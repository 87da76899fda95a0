"""The published distribution: what `pip install mllm-handbook` gets.

`make package` (run by CI and the release workflow) installs the wheel into a clean venv and runs every
snippet with it; these tests check what the wheel and sdist contain and say, and run in `make check`.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser

import pytest
from packaging.requirements import Requirement

from handbook_build import content
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    command = [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)]
    subprocess.run(command, check=True, capture_output=True, cwd=out)
    (wheel,), (sdist,) = out.glob("*.whl"), out.glob("*.tar.gz")
    return wheel, sdist


def metadata(wheel) -> tuple[list[str], object]:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        info = next(n for n in names if n.endswith(".dist-info/METADATA"))
        return names, Parser().parsestr(archive.read(info).decode())


def test_the_wheel_holds_the_teaching_package_only(dist):
    names, _ = metadata(dist[0])
    modules = {n.split("/")[1] for n in names if n.startswith("mllm_handbook/") and n.endswith(".py")}
    on_disk = {p.name for p in (ROOT / "src/mllm_handbook").glob("*.py")}
    assert modules == on_disk
    assert not [n for n in names if n.startswith(("handbook_build/", "tests/", "snippets/", "docs/"))]
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)


def test_the_metadata_a_package_index_shows(dist):
    _, meta = metadata(dist[0])
    assert meta["Version"] == content.package_version()
    assert meta["License-Expression"] == "MIT"
    assert meta["Description-Content-Type"] == "text/markdown"
    assert "pip install mllm-handbook" in meta.get_payload()
    requires = [Requirement(r) for r in meta.get_all("Requires-Dist")]
    assert sorted(r.name for r in requires) == ["matplotlib", "torch"], "the site's tools are not published"
    assert all(r.specifier and "==" not in str(r.specifier) for r in requires), "ranges, not pins"


def test_the_sdist_builds_the_same_package_with_its_license(dist):
    with tarfile.open(dist[1]) as archive:
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
    assert {"LICENSE", "pyproject.toml", "src/mllm_handbook/README.md"} <= names
    assert "src/mllm_handbook/attention.py" in names
