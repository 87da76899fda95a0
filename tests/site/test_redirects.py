"""Stable links: `redirects:` in site_map.yml become redirect pages in both languages, or fail the build.

The end-to-end build of a redirect is part of the guard control project (``test_guards.py``); here the
rules are checked in-process, and on the real site.
"""

from __future__ import annotations

import re
from pathlib import Path

from handbook_build import content, redirects
from tests.conftest import ROOT
from tests.site import tiny_site

REFRESH = re.compile(r'<meta http-equiv="refresh" content="0; url=([^"]+)">')


def target_of(stub: Path) -> Path:
    """The built page a redirect stub leads to (its refresh URL resolved against the stub's folder)."""
    href = REFRESH.search(stub.read_text(encoding="utf-8")).group(1)
    return (stub.parent / href / "index.html").resolve()


def test_real_redirects_are_valid_in_both_languages():
    mapping = content.site_map().redirects
    assert mapping["transformer/layernorm"] == "transformer/normalization"
    for lang in ("zh", "en"):
        assert redirects.problems(mapping, ROOT / "docs" / lang) == []


def test_problems_name_the_redirect_and_the_file(tmp_path):
    docs = tmp_path / "zh"
    tiny_site.write(docs / "demo/alpha.md", "# a\n")
    tiny_site.write(docs / "demo/beta.md", "# b\n")
    assert redirects.problems({"demo/old": "demo/alpha"}, docs) == []
    assert redirects.problems({"demo/old": "demo/nope"}, docs) == [
        f"Redirect 'demo/old' -> 'demo/nope' in site_map.yml: the target page {docs.as_posix()}/demo/nope.md does not exist"
    ]
    assert "a redirect must not hide a page" in redirects.problems({"demo/beta": "demo/alpha"}, docs)[0]
    chain = redirects.problems({"demo/a": "demo/old", "demo/old": "demo/alpha"}, docs)
    assert any("the target is itself redirected; point to 'demo/alpha'" in p for p in chain)
    assert "kebab-case" in redirects.problems({"Demo/Old": "demo/alpha"}, docs)[0]


def test_stub_keeps_the_anchor_and_is_a_plain_page():
    html = redirects.stub("../alpha/", "https://example.org/h/en/demo/alpha/", "en")
    assert '<meta http-equiv="refresh" content="0; url=../alpha/">' in html
    assert '<link rel="canonical" href="https://example.org/h/en/demo/alpha/">' in html
    assert "location.replace('../alpha/' + location.search + location.hash)" in html
    assert '<html lang="en">' in html and '<a href="../alpha/">' in html
    assert "页面已移动" in redirects.stub("../alpha/", "https://example.org/h/demo/alpha/", "zh")


def test_write_puts_a_stub_at_the_old_path_that_leads_to_the_new_one(tmp_path):
    (tmp_path / "demo/alpha").mkdir(parents=True)
    (tmp_path / "demo/alpha/index.html").write_text("<p>alpha</p>", encoding="utf-8")
    [stub] = redirects.write({"demo/old-alpha": "demo/alpha"}, tmp_path, "https://example.org/h/en/", "en")
    assert stub == tmp_path / "demo/old-alpha/index.html"
    assert target_of(stub) == (tmp_path / "demo/alpha/index.html").resolve()
    assert '<link rel="canonical" href="https://example.org/h/en/demo/alpha/">' in stub.read_text(encoding="utf-8")


def test_real_site_redirects_layernorm_to_normalization(site):
    for prefix in ("", "en/"):
        stub = site / f"{prefix}transformer/layernorm/index.html"
        assert target_of(stub) == (site / f"{prefix}transformer/normalization/index.html").resolve()
