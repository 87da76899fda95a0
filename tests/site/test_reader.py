"""What a reader meets beyond the article: link previews, language twins for crawlers, the 404 page, and
figures in the dark theme. Static checks read every built page; browser checks drive the served site.
"""

from __future__ import annotations

import html
import re
import struct
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

import checks
from handbook_build import card, content, urls
from tests.site.conftest import SERVED_SITE_URL

SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
XHTML = "{http://www.w3.org/1999/xhtml}"
LOCALE = {"zh": "zh_CN", "en": "en_US"}


def meta(page: str) -> dict[str, str]:
    """The page's <meta property|name=… content=…> tags (HTML-unescaped)."""
    tags = re.findall(r'<meta (?:property|name)="([^"]+)" content="([^"]*)"', page)
    return {key: html.unescape(value) for key, value in tags}


def built_pages(site: Path) -> list[tuple[str, str, Path]]:
    """(language, key, file) of every built page that is not a redirect stub or the 404 page."""
    pages = []
    for lang in urls.LANGUAGES:
        docs = content.ROOT / "docs" / lang
        for md in docs.rglob("*.md"):
            key = urls.key_of(md.relative_to(docs).as_posix())
            pages.append((lang, key, site / urls.url_path(lang, key) / "index.html"))
    return sorted(pages)


def preview_problems(site: Path, lang: str, key: str, page: str) -> list[str]:
    """What is missing or wrong in one built page's Open Graph and Twitter tags."""
    tags = meta(page)
    source = content.front_matter(urls.source(content.ROOT / "docs", lang, key).read_text("utf-8"))
    canonical = re.search(r'<link rel="canonical" href="([^"]+)"', page)
    image = tags.get("og:image", "")
    expected = {
        "og:title": source.get("title", tags.get("og:site_name")),
        "og:description": tags.get("description"),
        "og:url": canonical and canonical.group(1),
        "og:type": "article" if "source" in source else "website",
        "og:locale": LOCALE[lang],
        "og:locale:alternate": LOCALE["en" if lang == "zh" else "zh"],
        "twitter:card": "summary_large_image",
        "twitter:image": image,
    }
    where = f"{lang}:{key or '(home)'}"
    problems = [
        f"{where}: {tag} is {tags.get(tag)!r}, expected {want!r}"
        for tag, want in expected.items()
        if tags.get(tag) != want or not want
    ]
    if len(tags.get("description", "")) < 20:
        problems.append(f"{where}: the description is too short to preview")
    for name, url in [("og:url", tags.get("og:url", "")), ("og:image", image)]:
        if not url.startswith(SERVED_SITE_URL):
            problems.append(f"{where}: {name} {url!r} is not under the site's URL")
    if image and not (site / image.removeprefix(SERVED_SITE_URL)).is_file():
        problems.append(f"{where}: {image} is not built")
    return problems


def test_every_page_has_link_preview_tags_that_match_the_page(site):
    problems = [
        p
        for lang, key, path in built_pages(site)
        for p in preview_problems(site, lang, key, path.read_text("utf-8"))
    ]
    assert problems == [], "\n".join(problems)


def test_link_preview_check_bites(site):
    """A page whose card points elsewhere, or that lost its title, is reported; the built page is not."""
    page = (site / "transformer/normalization/index.html").read_text(encoding="utf-8")
    key = "transformer/normalization"
    assert preview_problems(site, "zh", key, page) == []
    moved = page.replace(
        '<meta property="og:url" content="', '<meta property="og:url" content="https://elsewhere.example/'
    )
    untitled = re.sub(r'<meta property="og:title" content="[^"]*">', "", page)
    assert any("og:url" in p for p in preview_problems(site, "zh", key, moved))
    assert any("og:title" in p for p in preview_problems(site, "zh", key, untitled))


def test_the_card_is_1200_by_630_and_drawn_the_same_every_time(site, tmp_path):
    png = (site / "assets/card.png").read_bytes()
    width, height = struct.unpack(">II", png[16:24])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and (width, height) == (1200, 630)
    card.draw(tmp_path / "again.png")
    assert (tmp_path / "again.png").read_bytes() == png


def sitemap_links(site: Path, lang: str) -> dict[str, dict[str, str]]:
    tree = ElementTree.parse(site / urls.url_path(lang, "") / "sitemap.xml")
    return {
        url.findtext(f"{SITEMAP}loc"): {
            link.get("hreflang"): link.get("href") for link in url.findall(f"{XHTML}link")
        }
        for url in tree.getroot()
    }


def twin_problems(site: Path, lang: str, entries: dict[str, dict[str, str]]) -> list[str]:
    """Each sitemap entry links zh, en and x-default (= zh), its own language is itself, and the zh and en
    links are the same page of each language, built."""
    problems = []
    for loc, links in entries.items():
        if set(links) != {"zh", "en", "x-default"}:
            problems.append(f"{loc}: hreflang links {sorted(links)}")
            continue
        if links[lang] != loc or links["x-default"] != links["zh"]:
            problems.append(f"{loc}: links itself as {links[lang]} and x-default as {links['x-default']}")
        zh, en = (urls.split_url_path(links[lg].removeprefix(SERVED_SITE_URL)) for lg in ("zh", "en"))
        if zh[0] != "zh" or en[0] != "en" or zh[1] != en[1]:
            problems.append(f"{loc}: {links['zh']} and {links['en']} are not twins")
        for href in (links["zh"], links["en"]):
            if not (site / href.removeprefix(SERVED_SITE_URL) / "index.html").is_file():
                problems.append(f"{loc}: {href} is not built")
    return problems


def test_sitemaps_pair_every_page_with_its_twin_and_robots_names_them(site):
    """Each sitemap lists its language's pages; each entry's hreflang links resolve to the twins."""
    for lang in urls.LANGUAGES:
        entries = sitemap_links(site, lang)
        pages = {SERVED_SITE_URL + urls.url_path(lang, key) for lg, key, _ in built_pages(site) if lg == lang}
        assert set(entries) == pages, f"{lang}: sitemap differs from the built pages"
        assert twin_problems(site, lang, entries) == []
    robots = (site / "robots.txt").read_text(encoding="utf-8")
    for lang in urls.LANGUAGES:
        assert f"Sitemap: {SERVED_SITE_URL}{urls.url_path(lang, '')}sitemap.xml" in robots


def test_twin_check_bites(site):
    """An English link to another page, or a missing x-default, is reported."""
    entries = sitemap_links(site, "zh")
    loc = SERVED_SITE_URL + "transformer/normalization/"
    wrong = {**entries, loc: {**entries[loc], "en": SERVED_SITE_URL + "en/transformer/swiglu/"}}
    lost = {**entries, loc: {k: v for k, v in entries[loc].items() if k != "x-default"}}
    assert twin_problems(site, "zh", {loc: entries[loc]}) == []
    assert any("not twins" in p for p in twin_problems(site, "zh", wrong))
    assert any("hreflang links" in p for p in twin_problems(site, "zh", lost))


# --- browser ----------------------------------------------------------------------------------------------


def not_found_problems(page, served_site: str, lang: str) -> list[str]:
    """A missing URL under ``lang``'s root: a 404 status, the page in that language, and links to its home,
    its search (which opens in place) and its source-question index, the home link working."""
    root = served_site + urls.url_path(lang, "")
    response = page.goto(served_site + urls.url_path(lang, "no/such-page"), wait_until="load")
    problems = [] if response.status == 404 else [f"status {response.status}, not 404"]
    if page.evaluate("document.documentElement.lang") != lang:
        problems.append(f"the page is in {page.evaluate('document.documentElement.lang')!r}, not {lang!r}")
    links = page.locator("[data-handbook-404] a")
    hrefs = [page.evaluate("h => new URL(h, location.href).href", links.nth(i).get_attribute("href"))
             for i in range(links.count())]
    if hrefs != [root, root + "#search", root + "source-questions/"]:
        return [*problems, f"links {hrefs}, expected home, search and the source-question index of {root}"]
    links.nth(1).click()  # search opens in place
    page.locator("dialog.handbook-search input").wait_for(state="visible")
    page.keyboard.press("Escape")
    links.nth(0).click()
    page.wait_for_url(root)
    return problems


@pytest.mark.browser
@pytest.mark.parametrize("lang", urls.LANGUAGES)
def test_a_missing_url_gets_the_404_page_in_its_language_with_working_links(served_site, chromium, lang):
    context = chromium.new_context(viewport={"width": 390, "height": 844})
    try:
        assert not_found_problems(context.new_page(), served_site, lang) == []
    finally:
        context.close()


@pytest.mark.browser
def test_404_check_bites(tmp_path, chromium):
    """An English-only 404 page that links nowhere useful is reported for a Chinese URL."""
    (tmp_path / "404.html").write_text(
        '<!doctype html><html lang="en"><body data-handbook-404><a href="/">Home</a></body></html>',
        encoding="utf-8",
    )
    context = chromium.new_context(viewport={"width": 390, "height": 844})
    try:
        with checks.serve(tmp_path) as base:
            problems = not_found_problems(context.new_page(), base, "zh")
    finally:
        context.close()
    assert any("'en', not 'zh'" in p for p in problems) and any("links" in p for p in problems), problems


_FIGURE_CONTRAST = """() => {
  const rgb = (c) => c.match(/[\\d.]+/g).map(Number);
  const alpha = (c) => (rgb(c).length > 3 ? rgb(c)[3] : 1);
  const lum = (c) => {
    const [r, g, b] = rgb(c).slice(0, 3).map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const backdrop = (el) => {
    for (; el; el = el.parentElement) {
      const c = getComputedStyle(el).backgroundColor;
      if (alpha(c) > 0.5) return c;
    }
    return "rgb(255, 255, 255)";
  };
  const ratio = (a, b) => (Math.max(lum(a), lum(b)) + 0.05) / (Math.min(lum(a), lum(b)) + 0.05);
  return [...document.querySelectorAll(".handbook-figure svg")].map((svg) => {
    const page = backdrop(svg);
    const images = [...svg.querySelectorAll("image")].map((i) => i.getBoundingClientRect());
    const onImage = (r) => images.some((b) => r.left >= b.left - 1 && r.right <= b.right + 1
      && r.top >= b.top - 1 && r.bottom <= b.bottom + 1);
    const card = svg.querySelector("[id^=patch_] path");
    const marks = [];
    for (const el of svg.querySelectorAll("text, path, use, line, rect")) {
      const style = getComputedStyle(el);
      if (Number(style.opacity) < 0.9 || onImage(el.getBoundingClientRect())) continue;
      for (const [paint, opacity] of [[style.fill, style.fillOpacity], [style.stroke, style.strokeOpacity]]) {
        if (!paint.startsWith("rgb") || alpha(paint) < 0.5 || Number(opacity) < 0.9) continue;
        if (el.tagName !== "text" && paint === page) continue;  // a knock-out in the page's own colour
        marks.push({text: el.tagName === "text", neutral: paint === style.color, contrast: ratio(paint, page),
                    what: `<${el.tagName}> ${paint} on ${page}`});
      }
    }
    const worst = (list) => list.reduce((a, m) => (m.contrast < a.contrast ? m : a), {contrast: 99, what: ""});
    return {
      figure: svg.getAttribute("aria-label").slice(0, 50),
      card: card ? getComputedStyle(card).fill : "none",
      text: worst(marks.filter((m) => m.text && m.neutral)),
      marks: worst(marks.filter((m) => !(m.text && m.neutral))),
    };
  });
}"""


def figure_pages(site: Path) -> list[str]:
    return [
        urls.url_path(lang, key)
        for lang, key, path in built_pages(site)
        if "handbook-figure" in path.read_text(encoding="utf-8")
    ]


def figure_problems(name: str, figures: list[dict]) -> list[str]:
    """What :data:`_FIGURE_CONTRAST` found wrong with the figures of one page in one theme."""
    problems = []
    for fig in figures:
        where = f"{name}: {fig['figure']!r}"
        if fig["card"] != "none":
            problems.append(f"{where} has an opaque background ({fig['card']})")
        text, mark = fig["text"], fig["marks"]
        if text["contrast"] < 4.5:
            problems.append(f"{where}: text at {text['contrast']:.2f}:1 < 4.5:1 ({text['what']})")
        if mark["contrast"] < 3:
            problems.append(f"{where}: a coloured mark at {mark['contrast']:.2f}:1 < 3:1 ({mark['what']})")
    return problems


@pytest.mark.browser
def test_figures_take_the_themes_background_and_their_text_stays_readable(site, served_site, chromium):
    """Every figure on every page, both languages, in both themes: a transparent background, text in the
    page's colour at 4.5:1 or more, and coloured lines, marks and labels at 3:1 or more (WCAG's minimum for
    graphics) against the page. Marks drawn on an image (a heatmap's labels) are left out. Each page loads
    once; the dark theme is Material's own switch (the body's ``data-md-color-scheme``), as its toggle does."""
    pages = figure_pages(site)
    assert len(pages) >= 10
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, color_scheme="light")
    page = context.new_page()
    problems = []
    try:
        for path in pages:
            page.goto(served_site + path, wait_until="load")
            for scheme in ("default", "slate"):
                page.evaluate("s => document.body.setAttribute('data-md-color-scheme', s)", scheme)
                backdrop = page.evaluate("getComputedStyle(document.body).backgroundColor")
                assert (backdrop == "rgb(255, 255, 255)") == (scheme == "default"), f"{path}: {scheme} {backdrop}"
                problems += figure_problems(f"{path} [{scheme}]", page.evaluate(_FIGURE_CONTRAST))
    finally:
        context.close()
    assert problems == [], "\n".join(problems)


def test_checks_module_is_the_one_the_browser_tests_use():
    assert checks.DESKTOP_VIEWPORT == {"width": 1280, "height": 800}


@pytest.mark.browser
def test_figure_contrast_check_bites(tmp_path, chromium):
    """On a dark page, unfilled (black) tick text and a pale fill are reported; currentColor text and a
    palette line are not."""
    svg = '<svg aria-label="{name}" width="200" height="60" fill="{fill}"><text x="5" y="20">0.5</text>{mark}</svg>'
    good = svg.format(name="good", fill="currentColor", mark='<path d="M0 40 H190" stroke="#1f77b4"/>')
    bad = svg.format(name="bad", fill="", mark='<rect x="5" y="30" width="50" height="20" fill="#e8eaf6"/>')
    (tmp_path / "index.html").write_text(
        '<!doctype html><html><body style="background:#1e2129;color:#e2e4e9">'
        f'<figure class="handbook-figure">{good}</figure><figure class="handbook-figure">{bad}</figure>'
        "</body></html>",
        encoding="utf-8",
    )
    page = chromium.new_page()
    try:
        with checks.serve(tmp_path) as base:
            page.goto(base, wait_until="load")
            good_fig, bad_fig = page.evaluate(_FIGURE_CONTRAST)
    finally:
        page.close()
    assert figure_problems("page", [good_fig]) == [], good_fig
    assert bad_fig["marks"]["contrast"] < 3, bad_fig  # the black text (1.3:1), or the pale box
    assert any("< 3:1" in p for p in figure_problems("page", [bad_fig]))
