"""The real site builds strictly, executes each distinct block once, and has what every page promises."""

import re
from pathlib import Path

from handbook_site import sitemap

ROOT = Path(__file__).resolve().parents[1]


def test_strict_build_passes(site_build):
    assert site_build.returncode == 0, site_build.log[-6000:]
    assert "WARNING" not in site_build.log, site_build.log[-6000:]


def test_each_distinct_block_executes_once(site_build):
    stats = site_build.stats
    assert stats["failures"] == 0
    assert stats["executed"] == stats["distinct"]
    # Both languages render every block, so the build asks for each one twice.
    assert stats["requested"] == 2 * stats["distinct"]


def test_every_page_has_its_twin():
    zh = {p.relative_to(ROOT / "docs/zh") for p in (ROOT / "docs/zh").rglob("*.md")}
    en = {p.relative_to(ROOT / "docs/en") for p in (ROOT / "docs/en").rglob("*.md")}
    assert zh == en, f"only zh: {sorted(map(str, zh - en))}; only en: {sorted(map(str, en - zh))}"


def test_every_page_has_a_meta_description(site):
    for html in site.rglob("index.html"):
        text = html.read_text(encoding="utf-8")
        if 'http-equiv="refresh"' in text:
            continue  # a redirect stub
        assert re.search(r'<meta name="description" content="[^"]{20,}"', text), html


def test_question_pages_take_description_from_the_30_second_answer(site):
    html = (site / "en/transformer/normalization/index.html").read_text(encoding="utf-8")
    assert '<meta name="description" content="The two formulas are almost the same' in html


def test_source_index_lists_all_50_questions_in_order(site):
    for lang_root in (site, site / "en"):
        html = (lang_root / "source-questions/index.html").read_text(encoding="utf-8")
        ids = re.findall(r'<span id="([ab]\d+)"></span>', html)
        assert ids == [q.id.lower() for q in sitemap.questions()]


def test_source_index_links_every_written_page(site):
    html = (site / "source-questions/index.html").read_text(encoding="utf-8")
    for key in sitemap.written_pages(ROOT / "docs/zh"):
        assert f'href="../{key}/"' in html, key


def test_normalization_numbers_come_from_the_snippet(site):
    for page in ("transformer/normalization/index.html", "en/transformer/normalization/index.html"):
        html = (site / page).read_text(encoding="utf-8")
        assert "layer_norm, rms_norm, batch_norm == torch.nn.functional: OK" in html
        assert '<figure class="handbook-figure"' in html
        assert "<math" in html and "arithmatex" not in html


def test_api_reference_labels_follow_the_page_language(site):
    zh = (site / "reference/index.html").read_text(encoding="utf-8")
    en = (site / "en/reference/index.html").read_text(encoding="utf-8")
    assert "参数：" in zh and "Parameters:" not in zh
    assert "Parameters:" in en and "参数" not in en
    assert 'id="mllm_handbook.norms.layer_norm"' in zh and 'id="mllm_handbook.norms.layer_norm"' in en


def test_each_language_has_its_own_search_index(site):
    import json

    zh = json.loads((site / "search/search_index.json").read_text(encoding="utf-8"))
    en = json.loads((site / "en/search/search_index.json").read_text(encoding="utf-8"))
    assert zh["docs"] and en["docs"]
    assert not any(d["location"].startswith("en/") for d in zh["docs"])
    assert any("LayerNorm" in d["text"] for d in en["docs"])
    assert not any(re.search(r"[\u4e00-\u9fff]", d["title"]) for d in en["docs"] if d["location"] != "")


def test_no_external_assets(site):
    """No page loads a script, style, font or image from another host."""
    external = re.compile(
        r'<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)="(?:https?:)?//(?!127\.0\.0\.1)', re.I
    )
    for html in site.rglob("*.html"):
        text = html.read_text(encoding="utf-8")
        for tag in external.findall(text):
            if 'rel="canonical"' in tag or 'rel="alternate"' in tag:
                continue
            raise AssertionError(f"{html}: {tag}")
    for css in site.rglob("*.css"):
        assert not re.search(r"@import\s+url\(\s*['\"]?https?:", css.read_text(encoding="utf-8")), css
