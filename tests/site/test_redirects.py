"""Stable links: the `redirects:` of site_map.yml become redirect pages in both languages, or fail the build."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from handbook_site import redirects
from tests import tiny_site
from tests.conftest import ROOT

REFRESH = re.compile(r'<meta http-equiv="refresh" content="0; url=([^"]+)">')


def target_of(stub: Path) -> Path:
    """The built page a redirect stub leads to (its refresh URL resolved against the stub's folder)."""
    href = REFRESH.search(stub.read_text(encoding="utf-8")).group(1)
    return (stub.parent / href / "index.html").resolve()


def test_real_redirects_are_valid():
    mapping = redirects.load()
    assert mapping["transformer/layernorm"] == "transformer/normalization"
    assert redirects.problems(mapping, ROOT / "docs") == []


def test_problems_name_the_redirect_and_the_missing_file(tmp_path):
    for lang in ("zh", "en"):
        tiny_site.write(tmp_path / f"{lang}/demo/alpha.md", "# a\n")
        tiny_site.write(tmp_path / f"{lang}/demo/beta.md", "# b\n")
    assert redirects.problems({"demo/old": "demo/alpha"}, tmp_path) == []
    missing = redirects.problems({"demo/old": "demo/nope"}, tmp_path)
    assert missing == [
        f"Redirect 'demo/old' -> 'demo/nope' in src/handbook_site/site_map.yml: "
        f"the target page docs/{lang}/demo/nope.md does not exist"
        for lang in ("zh", "en")
    ]
    assert "a redirect must not hide a page" in redirects.problems({"demo/beta": "demo/alpha"}, tmp_path)[0]
    chain = redirects.problems({"demo/a": "demo/old", "demo/old": "demo/alpha"}, tmp_path)
    assert any("the target is itself redirected; point to 'demo/alpha'" in p for p in chain)
    assert "kebab-case" in redirects.problems({"Demo/Old": "demo/alpha"}, tmp_path)[0]


def test_stub_keeps_the_anchor_and_is_a_plain_page():
    html = redirects.stub("../alpha/", "https://example.org/h/en/demo/alpha/", "en")
    assert '<meta http-equiv="refresh" content="0; url=../alpha/">' in html
    assert '<link rel="canonical" href="https://example.org/h/en/demo/alpha/">' in html
    assert "location.replace('../alpha/' + location.search + location.hash)" in html
    assert '<html lang="en">' in html and '<a href="../alpha/">' in html
    assert '<html lang="zh">' in redirects.stub("../alpha/", None, "zh")
    assert "canonical" not in redirects.stub("../alpha/", None, "zh")


def demo_site(tmp_path: Path, mapping: dict[str, str]) -> Path:
    site_map = {
        "sections": [{**tiny_site.SECTION, "pages": ["alpha"]}],
        "questions": [],
        "redirects": mapping,
    }
    pages = {f"{lang}/demo/alpha.md": tiny_site.page(lang, "alpha") for lang in ("zh", "en")}
    return tiny_site.make(tmp_path, site_map, pages)


@pytest.mark.build
def test_old_path_redirects_in_both_languages(tmp_path):
    result = tiny_site.build(demo_site(tmp_path, {"demo/old-alpha": "demo/alpha"}))
    assert result.returncode == 0, result.log[-4000:]
    for prefix in ("", "en/"):
        stub = result.site / f"{prefix}demo/old-alpha/index.html"
        assert target_of(stub) == (result.site / f"{prefix}demo/alpha/index.html").resolve()
        assert target_of(stub).is_file()
        assert f'<link rel="canonical" href="http://127.0.0.1:8000/{prefix}demo/alpha/">' in stub.read_text()


@pytest.mark.build
def test_redirect_to_a_missing_page_fails_the_build(tmp_path):
    result = tiny_site.build(demo_site(tmp_path, {"demo/old-alpha": "demo/no-such-page"}))
    assert result.returncode != 0
    assert (
        "Redirect 'demo/old-alpha' -> 'demo/no-such-page' in src/handbook_site/site_map.yml: "
        "the target page docs/zh/demo/no-such-page.md does not exist"
    ) in result.log


@pytest.mark.build
def test_real_site_redirects_layernorm_to_normalization(site):
    for prefix in ("", "en/"):
        stub = site / f"{prefix}transformer/layernorm/index.html"
        assert target_of(stub) == (site / f"{prefix}transformer/normalization/index.html").resolve()
