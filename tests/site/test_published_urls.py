"""No URL the site ever published may break: every page and anchor in published_urls.txt still resolves.

A page that moved resolves through its redirect stub (``redirects:`` in site_map.yml); the anchors are then
looked up on the page the stub leads to.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PUBLISHED = Path(__file__).with_name("published_urls.txt")
REFRESH = re.compile(r'<meta http-equiv="refresh" content="0; url=([^"]+)">')


def published() -> list[tuple[str, list[str]]]:
    rows = []
    for line in PUBLISHED.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            url, *anchors = line.split()
            rows.append((url.strip("/"), anchors))
    return rows


def resolve(site: Path, url: str) -> Path | None:
    """The built page at ``url``, following at most one redirect stub; ``None`` if nothing is there."""
    page = site / url / "index.html"
    if not page.is_file():
        return None
    stub = REFRESH.search(page.read_text(encoding="utf-8")[:2000])
    if stub:
        page = (page.parent / stub.group(1) / "index.html").resolve()
    return page if page.is_file() else None


@pytest.mark.parametrize(("url", "anchors"), published(), ids=lambda v: v if isinstance(v, str) else "")
def test_published_url_and_anchors_still_resolve(site, url, anchors):
    page = resolve(site, url)
    assert page is not None, f"/{url} no longer resolves"
    ids = set(re.findall(r'\bid="([^"]+)"', page.read_text(encoding="utf-8")))
    missing = [a for a in anchors if a not in ids]
    assert not missing, f"/{url} lost anchors {missing}"


def test_the_list_covers_both_languages_and_a_redirect():
    urls = [url for url, _ in published()]
    assert "" in urls and "en" in urls and len(urls) > 100
    assert "transformer/layernorm" in urls and "en/transformer/layernorm" in urls
