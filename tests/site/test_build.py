"""The real site: a strict build from an empty store, each snippet executed once, both languages complete."""

from __future__ import annotations

import json
import re

from handbook_build import content, search, urls
from tests.conftest import ROOT


def test_strict_build_passes(site_build):
    assert site_build.returncode == 0, site_build.log[-6000:]
    assert "WARNING" not in site_build.log, site_build.log[-6000:]


def test_each_distinct_snippet_executes_once_and_both_languages_read_it(site_build):
    stats = site_build.stats
    stage = re.search(r"snippets: (\d+) distinct, (\d+) executed, 0 failed", site_build.log)
    assert stage, site_build.log[-3000:]
    distinct, executed = map(int, stage.groups())
    assert executed == distinct > 0  # an empty store: every snippet runs, once
    for lang in urls.LANGUAGES:
        assert stats[lang]["executed"] == 0, f"the {lang} build executed a snippet itself"
        assert stats[lang]["requested"] == distinct, f"the {lang} build did not render every snippet"


def test_every_page_has_its_twin():
    zh = {p.relative_to(ROOT / "docs/zh") for p in (ROOT / "docs/zh").rglob("*.md")}
    en = {p.relative_to(ROOT / "docs/en") for p in (ROOT / "docs/en").rglob("*.md")}
    assert zh == en, f"only zh: {sorted(map(str, zh - en))}; only en: {sorted(map(str, en - zh))}"


def test_html_lang_and_titles_follow_the_build(site):
    zh = (site / "transformer/normalization/index.html").read_text(encoding="utf-8")
    en = (site / "en/transformer/normalization/index.html").read_text(encoding="utf-8")
    assert '<html lang="zh"' in zh and '<html lang="en"' in en
    assert "多模态大模型面试手册</title>" in zh and "MLLM Interview Handbook</title>" in en


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
    for lang in urls.LANGUAGES:
        html = (site / urls.url_path(lang, "source-questions") / "index.html").read_text(encoding="utf-8")
        ids = re.findall(r'<span id="([ab]\d+)"></span>', html)
        assert ids == [q.id.lower() for q in content.site_map().questions]
        assert len(ids) == 50


def test_source_index_links_every_page_that_claims_a_question(site):
    html = (site / "source-questions/index.html").read_text(encoding="utf-8")
    for key, meta in content.written_pages(ROOT / "docs/zh").items():
        if meta.get("source"):
            assert f'href="../{key}/"' in html, key


def test_normalization_numbers_come_from_the_snippet(site):
    for lang in urls.LANGUAGES:
        html = (site / urls.url_path(lang, "transformer/normalization") / "index.html").read_text("utf-8")
        assert "layer_norm, rms_norm, batch_norm == torch.nn.functional: OK" in html
        assert '<figure class="handbook-figure"' in html
        assert "<math" in html and 'encoding="application/x-tex"' in html


def test_api_reference_labels_follow_the_page_language(site):
    zh = (site / "reference/index.html").read_text(encoding="utf-8")
    en = (site / "en/reference/index.html").read_text(encoding="utf-8")
    assert "参数：" in zh and "Parameters:" not in zh
    assert "Parameters:" in en and 'doc-section-title">参数' not in en  # tooltips may show Chinese
    assert 'id="mllm_handbook.norms.layer_norm"' in zh and 'id="mllm_handbook.norms.layer_norm"' in en


def test_api_reference_docstrings_carry_no_glossary_tooltips(site):
    """mkdocstrings converts each docstring on its own: tooltips there would repeat in every docstring."""
    for lang in urls.LANGUAGES:
        html = (site / urls.url_path(lang, "reference") / "index.html").read_text(encoding="utf-8")
        api = html.split('class="doc doc-object', 1)[1]
        assert "<abbr" not in api, lang


def test_edit_links_point_at_each_languages_file(site):
    zh = (site / "transformer/normalization/index.html").read_text(encoding="utf-8")
    en = (site / "en/transformer/normalization/index.html").read_text(encoding="utf-8")
    assert "/edit/main/docs/zh/transformer/normalization.md" in zh
    assert "/edit/main/docs/en/transformer/normalization.md" in en


def test_each_build_links_its_assets_once(site):
    """No asset of a plugin or of the handbook is linked twice (the old single-build i18n did that)."""
    for page in ("index.html", "en/index.html", "en/reference/index.html"):
        html = (site / page).read_text(encoding="utf-8")
        assets = re.findall(r'(?:href|src)="([^"]+\.(?:css|js))"', html)
        assert len(assets) == len(set(assets)), f"{page}: {assets}"


def test_no_external_assets(site):
    """No page loads a script, style, font or image from another host."""
    tags = re.compile(r'<(?:script|link|img|iframe|source)\b[^>]*>', re.I)
    loads = re.compile(r'\b(?:src|href)="(?:https?:)?//', re.I)
    for html in site.rglob("*.html"):
        for tag in tags.findall(html.read_text(encoding="utf-8")):
            if loads.search(tag) and not re.search(r'rel="(?:canonical|alternate)"', tag):
                raise AssertionError(f"{html}: {tag}")
    for css in site.rglob("*.css"):
        assert not re.search(r"@import\s+url\(\s*['\"]?https?:", css.read_text(encoding="utf-8")), css


def test_search_data_names_each_question_page_by_its_pagefind_id(site):
    """The search box ranks Pagefind's results by these ids without fetching fragments: every question
    page has the id of the fragment Pagefind wrote for its URL."""
    for lang in urls.LANGUAGES:
        root = site / urls.url_path(lang, "")
        pages = json.loads((root / "search/pages.json").read_text(encoding="utf-8"))
        fragments = search.fragment_ids(root)
        assert [p["url"] for p in pages] == [f"{key}/" for key in content.written_pages(ROOT / "docs" / lang)]
        for page in pages:
            assert page["id"] and page["id"] == fragments.get(page["url"]), f"{lang}: {page['url']}"
            assert (root / "pagefind/fragment" / f"{page['id']}.pf_fragment").is_file()


def test_pages_link_only_what_they_use(site):
    """No ``<head>`` hreflang pair (the sitemaps pair the twins; Material's script would fetch a sitemap next
    to each link on every page), and mkdocstrings' stylesheet only on the API reference."""
    for page in site.rglob("index.html"):
        html = page.read_text(encoding="utf-8")
        head = html[: html.index("</head>")]
        assert not re.search(r'<link rel="alternate"[^>]*hreflang', head), page
        reference = page.parent.name == "reference"
        assert ("_mkdocstrings.css" in head) == reference, page
