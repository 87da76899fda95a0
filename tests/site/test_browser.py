"""The built site in a real browser: what a reader hits on every page, in both languages.

The site is served under a sub-path as GitHub Pages serves it (``served_site``), and one headless Chromium
(``chromium``) drives it. Pages are discovered from the docs tree and the built site, never listed by hand;
only the search table (``search_queries.yml``) names pages, because it states what the finished site must do.
The check logic lives in ``scripts/checks.py``; ``test_gates_bite.py`` proves each check fails on bad input.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest
import yaml

import checks
from handbook_build import content, snippets, urls

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
QUERIES = yaml.safe_load((Path(__file__).with_name("search_queries.yml")).read_text(encoding="utf-8"))
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
TIMEOUT = 30_000  # ms, per browser action: generous for a 2-core machine that is also building

pytestmark = pytest.mark.browser


def doc_pages() -> list[str]:
    """Every page the docs tree defines, as URL paths relative to the site root."""
    return sorted(
        urls.url_path(lang, urls.key_of(md.relative_to(DOCS / lang).as_posix()))
        for lang in urls.LANGUAGES
        for md in (DOCS / lang).rglob("*.md")
    )


def question_pages(lang: str) -> list[str]:
    """Written question pages (``section/slug``) in site order."""
    return list(content.written_pages(DOCS / lang))


def sample(items: list[str], count: int) -> list[str]:
    """``count`` items spread evenly over ``items`` (deterministic)."""
    if len(items) <= count:
        return items
    step = len(items) / count
    return [items[int(i * step)] for i in range(count)]


def lang_url(base: str, lang: str, key: str) -> str:
    return base + urls.url_path(lang, key)


@pytest.fixture(scope="module")
def phone(chromium):
    context = chromium.new_context(**PHONE)
    context.set_default_timeout(TIMEOUT)
    yield context
    context.close()


@pytest.fixture(scope="module")
def desktop(chromium, served_site):
    context = chromium.new_context(**DESKTOP)
    context.set_default_timeout(TIMEOUT)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=checks.origin_of(served_site))
    yield context
    context.close()


@pytest.fixture(scope="module")
def audit(once, site, served_site, phone) -> dict[str, list[str]]:
    """Every built page loaded once (per test run) on a 390 px phone viewport: path -> problems."""

    def run() -> dict[str, list[str]]:
        paths = checks.built_pages(site)
        expect_math = {}
        for path in paths:
            source = checks.source_of(path, DOCS)
            expect_math[served_site + path] = bool(source) and checks.has_math(source.read_text("utf-8"))
        report = checks.audit_pages(phone, [served_site + p for p in paths], expect_math, timeout=TIMEOUT)
        return {url.removeprefix(served_site): problems for url, problems in report.items()}

    return once("page-audit", run)


def test_every_docs_page_is_built_and_audited(audit):
    assert sorted(audit) == doc_pages()


@pytest.mark.parametrize("path", doc_pages())
def test_page_loads_cleanly_offline_with_rendered_math(audit, path):
    """No console error, failed request or foreign host; math is MathML, none clipped and no horizontal
    scroll at 390 px."""
    assert path in audit, f"{path or '(home)'} was not built"
    assert audit[path] == [], "\n".join(audit[path])


def columns(line: str) -> int:
    """Display width, as ruff measures a line: wide (CJK) characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


def widest_code_pages() -> list[str]:
    """Per language, a page showing the widest snippet line (ruff keeps every snippet within 80 columns)."""
    included = snippets.included_snippets(DOCS)
    widest = max(included, key=lambda name: max(map(columns, (ROOT / name).read_text("utf-8").splitlines())))
    pages = [page.removeprefix("docs/").split("/", 1) for page in included[widest]]  # docs/<lang>/<file>
    return sorted({urls.url_path(lang, urls.key_of(file)) for lang, file in pages})


def test_the_widest_snippet_fits_the_desktop_column(served_site, phone):
    """At 1280 px no executed code block scrolls sideways. Every snippet fits 80 columns (ruff), so the page
    with the widest line stands for all of them."""
    paths = widest_code_pages()
    assert len(paths) == len(urls.LANGUAGES), paths
    report = checks.audit_pages(phone, [served_site + p for p in paths], timeout=TIMEOUT, desktop_code=True)
    assert [p for problems in report.values() for p in problems] == []


def switcher_cases() -> list[tuple[str, str]]:
    cases = []
    for lang in urls.LANGUAGES:
        keys = ["", "transformer", *sample(question_pages(lang), 4)]
        cases += [(lang, key) for key in keys]
    return cases


@pytest.mark.parametrize(("lang", "key"), switcher_cases(), ids=lambda v: v or "home")
def test_language_switcher_keeps_page_and_anchor(site, served_site, desktop, lang, key):
    other = next(code for code in urls.LANGUAGES if code != lang)
    html = (site / lang_url("", lang, key) / "index.html").read_text(encoding="utf-8")
    anchors = re.findall(r'<h2 id="([^"]+)"', html) or re.findall(r'<h1 id="([^"]+)"', html)
    assert anchors, f"{lang_url('', lang, key) or '(home)'} has no heading anchor to carry over"
    anchor = anchors[len(anchors) // 2]
    page = desktop.new_page()
    try:
        page.goto(f"{lang_url(served_site, lang, key)}#{anchor}")
        page.locator(".md-header .md-select").first.hover()
        page.locator(f"a.md-select__link[hreflang={other}]").first.click()
        page.wait_for_url(f"{lang_url(served_site, other, key)}#{anchor}")  # times out naming the URL it got
        assert page.locator(f"[id='{anchor}']").count() == 1, f"#{anchor} missing on the {other} page"
    finally:
        page.close()


def copy_cases() -> list[tuple[str, str]]:
    cases = []
    for lang in urls.LANGUAGES:
        with_code = [k for k in question_pages(lang) if "```" in (DOCS / lang / f"{k}.md").read_text("utf-8")]
        cases += [(lang, key) for key in sample(with_code, 2)]
    return cases


@pytest.mark.parametrize(("lang", "key"), copy_cases())
def test_code_copy_button_copies_the_code(served_site, desktop, lang, key):
    page = desktop.new_page()
    try:
        page.goto(lang_url(served_site, lang, key))
        button = page.locator("button.md-code__button[data-md-type=copy]").first
        target = button.get_attribute("data-clipboard-target")
        expected = page.locator(target).inner_text().rstrip()
        page.evaluate("navigator.clipboard.writeText('')")
        button.click()
        page.wait_for_function("async () => (await navigator.clipboard.readText()).length > 0")
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied.rstrip() == expected
        assert len(expected) > 20
    finally:
        page.close()


def search_rows(lang: str) -> list[dict]:
    return QUERIES[lang]


def test_search_table_covers_every_planned_page_in_both_languages():
    for lang in urls.LANGUAGES:
        rows = QUERIES[lang]
        assert len({row["q"] for row in rows}) == len(rows), f"{lang}: duplicate queries"
        pages = [row["page"] for row in rows]
        thin = {key for key in content.site_map().pages() if pages.count(key) < (3 if lang == "zh" else 2)}
        assert not thin, f"{lang}: fewer than {3 if lang == 'zh' else 2} queries lead to {sorted(thin)}"
        named = set(pages) | {also for row in rows for also in row.get("also", [])}
        unknown = named - set(content.site_map().pages())
        assert not unknown, f"{lang}: queries name pages the site map does not plan: {sorted(unknown)}"


@pytest.fixture(scope="module")
def search_results(once, served_site, desktop) -> dict[str, dict[str, list[str]]]:
    """Every query of the table through the search dialog (once per test run), per language: query ->
    result URLs."""

    def run() -> dict[str, dict[str, list[str]]]:  # paths under the site, as workers serve on other ports
        results = {}
        for lang in urls.LANGUAGES:
            page = desktop.new_page()
            try:
                root = checks.language_roots(served_site)[lang]
                found = checks.search_all(page, root, [row["q"] for row in QUERIES[lang]])
                results[lang] = {q: [u.removeprefix(served_site) for u in hits] for q, hits in found.items()}
            finally:
                page.close()
        return results

    shared = once("search-table", run)
    return {lang: {q: [served_site + u for u in hits] for q, hits in found.items()} for lang, found in shared.items()}


@pytest.mark.parametrize(
    ("lang", "row"),
    [(lang, row) for lang in urls.LANGUAGES for row in QUERIES[lang]],
    ids=lambda v: v["q"] if isinstance(v, dict) else v,
)
def test_search_finds_the_page_in_the_first_three_in_the_readers_language(
    served_site, search_results, lang, row
):
    """The labelled page, or a page the table lists as answering the query as directly, is in the top 3."""
    root = checks.language_roots(served_site)[lang]
    results = search_results[lang][row["q"]]
    problems = checks.judge_search(results, root, row["page"], checks.other_roots(served_site, lang))
    answers = [root + key + "/" for key in [row["page"], *row.get("also", [])]]
    assert set(answers) & set(results[:3]), f"{lang} {row['q']!r}: no answer in the first three: {results[:3]}"
    assert [p for p in problems if "another language" in p] == []


@pytest.mark.parametrize("lang", urls.LANGUAGES)
def test_search_puts_the_answer_first_for_95_percent_of_the_table(served_site, search_results, lang):
    """First place counts for the labelled page or for a page the table lists as answering it as well."""
    root = checks.language_roots(served_site)[lang]
    missed = []
    for row in QUERIES[lang]:
        first = (search_results[lang][row["q"]] or [""])[0]
        answers = [root + key + "/" for key in [row["page"], *row.get("also", [])]]
        if first not in answers:
            missed.append(f"{row['q']!r} -> {first.removeprefix(root)} (want {row['page']})")
    share = 1 - len(missed) / len(QUERIES[lang])
    assert share >= 0.95, f"{lang}: top-1 {share:.1%} < 95 %; missed:\n" + "\n".join(missed)


def test_search_downloads_nothing_until_opened_then_answers_from_the_keyboard(served_site, desktop):
    """Before the reader searches, no index request; "/" opens it, arrows and Enter follow a result."""
    page = desktop.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    try:
        page.goto(lang_url(served_site, "zh", "transformer/normalization"), wait_until="networkidle")
        assert not [u for u in requested if "/pagefind/" in u or "search/pages.json" in u], requested
        page.bring_to_front()  # the context is shared: keys go to the tab in front
        page.locator(".handbook-search-open").wait_for()  # handbook.js has run
        page.keyboard.press("/")
        box = page.locator("dialog.handbook-search input")
        box.wait_for(state="visible")
        assert page.evaluate("document.activeElement === document.querySelector('dialog.handbook-search input')")
        box.type("位置编码")
        page.wait_for_function("document.querySelector('dialog.handbook-search').dataset.answered === '位置编码'")
        assert [u for u in requested if "/pagefind/" in u], "the index loads once the dialog opens"
        box.press("ArrowDown")  # from the search box, where the reader's cursor is
        page.wait_for_function("document.activeElement.matches('.handbook-search__result')")
        first = page.evaluate("document.activeElement.getAttribute('href')")
        target = first.split("#")[0].lstrip(".")
        page.keyboard.press("Enter")
        page.wait_for_url(lambda url: url.split("#")[0].endswith(target), wait_until="commit")
    finally:
        page.close()


def test_search_on_a_phone_opens_from_the_header_and_fits_the_screen(served_site, phone):
    page = phone.new_page()
    try:
        page.goto(lang_url(served_site, "en", "transformer/normalization"), wait_until="load")
        page.locator(".handbook-search-open").click()
        page.locator("dialog.handbook-search input").fill("rotary position")
        page.wait_for_function(
            "document.querySelector('dialog.handbook-search').dataset.answered === 'rotary position'"
        )
        links = page.locator("dialog.handbook-search .handbook-search__results a")
        assert links.count() >= 1
        box = links.first.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        assert "/en/" in links.first.get_attribute("href"), "results in the reader's language"
    finally:
        page.close()


def test_screenshots_home_and_a_question_page(served_site, chromium):
    """Phone and desktop, both languages, into artifacts/screenshots/ (kept by CI)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    question = "transformer/normalization"
    written = []
    for device, options in (("phone", PHONE), ("desktop", DESKTOP)):
        context = chromium.new_context(**options)
        context.set_default_timeout(TIMEOUT)
        page = context.new_page()
        try:
            for lang in urls.LANGUAGES:
                for name, key in (("home", ""), ("question", question)):
                    page.goto(lang_url(served_site, lang, key), wait_until="networkidle")
                    path = SCREENSHOTS / f"{lang}-{name}-{device}.png"
                    page.screenshot(path=str(path), full_page=False)
                    written.append(path)
        finally:
            context.close()
    assert all(p.stat().st_size > 10_000 for p in written), written


def a11y_cases(scheme: str) -> list[tuple[str, str]]:
    """Light: the home page and every section index. Dark: the home pages (the palette is site-wide)."""
    keys = ["", *(s.slug for s in content.site_map().sections)] if scheme == "light" else [""]
    return [(lang, key) for lang in urls.LANGUAGES for key in keys]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_accessibility_of_home_and_section_indexes(chromium, served_site, scheme):
    """axe-core: no serious or critical violation on the home page and every section index, both languages."""
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    context = chromium.new_context(**DESKTOP, color_scheme=scheme)
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    problems = []
    try:
        for lang, key in a11y_cases(scheme):
            url = lang_url(served_site, lang, key)
            page.goto(url, wait_until="networkidle")
            for violation in axe.run(page).response["violations"]:
                if violation["impact"] in ("serious", "critical"):
                    targets = [node["target"] for node in violation["nodes"][:3]]
                    problems.append(f"{url}: {violation['id']} ({violation['impact']}): {targets}")
    finally:
        context.close()
    assert problems == [], "\n".join(problems)
