"""The PDF of each language (``scripts/pdf.py``, ``make pdf``), printed from the built site and read with pypdf.

The PDF step runs once on a copy of the session's site (the copy keeps the PDFs away from the other tests
that read the site); reproducibility is shown by printing a short book (the first section's first two
questions) twice. Everything is offline: the script fails if the print document asks for anything but the
site's own files.
"""

from __future__ import annotations

import dataclasses
import html
import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader
from pypdf.generic import ArrayObject

import checks
import pdf
from handbook_build import content, urls
from tests.conftest import ROOT

pytestmark = pytest.mark.browser

PLAN = content.site_map()
MATH_LETTERS = re.compile(r"[\U0001d400-\U0001d7ff]")  # what MathML's italic <mi> letters extract as
RADICALS = re.compile(r"[\u2e80-\u2fdf]")


def run_pdf_step(site: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "scripts/pdf.py", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


@pytest.fixture(scope="module")
def printed(once, site, run_folder) -> tuple[Path, dict[str, bytes]]:
    """A copy of the built site with its PDFs (printed once per test run), and their bytes."""
    copy = run_folder / "pdf-site"

    def run() -> str:
        shutil.copytree(site, copy, dirs_exist_ok=True)
        run_pdf_step(copy)
        return str(copy)

    once("pdf", run)
    return copy, {lang: pdf.pdf_path(copy, lang).read_bytes() for lang in urls.LANGUAGES}


@pytest.fixture(scope="module")
def readers(printed) -> dict[str, PdfReader]:
    copy, _ = printed
    return {lang: PdfReader(pdf.pdf_path(copy, lang), strict=True) for lang in urls.LANGUAGES}


def h1(site: Path, lang: str, key: str) -> str:
    page = (site / urls.url_path(lang, key) / "index.html").read_text(encoding="utf-8")
    heading = re.search(r"<h1\b[^>]*>(.*?)<a class=\"headerlink\"", page, re.S).group(1)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", heading)).split())


def outline(reader: PdfReader, items: list | None = None) -> list[tuple[str, int, list]]:
    """The outline as (title, 0-based page, children) trees."""
    tree: list[tuple[str, int, list]] = []
    for item in reader.outline if items is None else items:
        if isinstance(item, list):
            tree[-1][2].extend(outline(reader, item))
        else:
            tree.append((item.title, reader.get_destination_page_number(item), []))
    return tree


def clean(title: str) -> str:
    return " ".join(title.split())


@pytest.mark.parametrize("lang", urls.LANGUAGES)
def test_the_pdf_is_small_enough(printed, lang):
    data = printed[1][lang]
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert len(data) <= pdf.MAX_BYTES, f"{len(data) / 2**20:.1f} MB"


@pytest.mark.parametrize("lang", urls.LANGUAGES)
def test_two_prints_of_the_same_pages_are_identical(site, chromium, lang):
    """Cover, contents, a section, two questions with code output, formulas and links: byte for byte."""
    first = PLAN.sections[0]
    short = dataclasses.replace(PLAN, sections=(dataclasses.replace(first, pages=first.pages[:2]),))
    book = pdf.read_book(site, lang, short)
    with checks.serve(site) as base:
        prints = [pdf.render(chromium, base, book)[0] for _ in range(2)]
    assert len(PdfReader(io.BytesIO(prints[0])).pages) >= 4
    assert prints[0] == prints[1], "two prints of the same pages differ"


@pytest.mark.parametrize("lang", urls.LANGUAGES)
def test_page_count_and_cover(readers, site, lang):
    reader = readers[lang]
    questions = len(PLAN.pages())
    assert len(reader.pages) > questions + len(PLAN.sections) + 1  # cover, contents, a page or more each
    cover = reader.pages[0].extract_text()
    home = (site / urls.url_path(lang, "") / "index.html").read_text(encoding="utf-8")
    site_url = re.search(r'<link rel="canonical" href="([^"]+)"', home).group(1)
    assert h1(site, lang, "") in clean(cover) and site_url in cover
    assert "CC BY-SA 4.0" in cover and "MIT" in cover


@pytest.mark.parametrize("lang", urls.LANGUAGES)
def test_outline_lists_each_section_with_its_questions_in_site_order(readers, site, lang):
    tree = outline(readers[lang])
    assert [clean(title) for title, _, _ in tree] == [h1(site, lang, s.slug) for s in PLAN.sections]
    for (_, section_page, children), section in zip(tree, PLAN.sections, strict=True):
        titles = [clean(title) for title, _, _ in children]
        assert titles == [h1(site, lang, f"{section.slug}/{page}") for page in section.pages], section.slug
        pages = [page for _, page, _ in children]
        assert pages == sorted(set(pages)) and section_page < pages[0], "each question starts its own page"


@pytest.mark.parametrize("lang", urls.LANGUAGES)
def test_formulas_are_text_in_the_pdf(readers, lang):
    """The first question whose display math has a softmax: its pages contain the formula's text."""
    key = next(
        key
        for key in PLAN.pages()
        if re.search(r"\$\$[^$]*softmax[^$]*\$\$", (ROOT / "docs" / lang / f"{key}.md").read_text("utf-8"))
    )
    reader = readers[lang]
    starts = [page for _, _, children in outline(reader) for _, page, _ in children]
    index = PLAN.pages().index(key)
    text = "".join(reader.pages[p].extract_text() for p in range(starts[index], starts[index + 1]))
    assert "softmax" in text and MATH_LETTERS.search(text), key


def test_chinese_text_extracts_as_ideographs_not_radicals(readers):
    """Noto CJK shares glyphs between radicals and ideographs; the PDF's text maps them to the ideographs."""
    text = "".join(readers["zh"].pages[i].extract_text() for i in range(1, 12))
    assert "用" in text and "语言" in text
    assert not RADICALS.findall(text)


@pytest.mark.parametrize("lang", urls.LANGUAGES)
def test_links_between_pages_are_internal_and_the_rest_absolute(readers, site, lang):
    reader = readers[lang]
    home = (site / "index.html").read_text(encoding="utf-8")
    site_root = re.search(r'<link rel="canonical" href="([^"]+)"', home).group(1)
    named = {name.removeprefix("/") for name in reader.named_destinations}
    internal, external, in_body = 0, [], 0
    first_question = outline(reader)[0][1]
    for number, page in enumerate(reader.pages):
        for annotation in page.get("/Annots") or []:
            annotation = annotation.get_object()
            if annotation.get("/Subtype") != "/Link":
                continue
            if "/Dest" in annotation:
                dest = annotation["/Dest"]
                assert isinstance(dest, ArrayObject) or str(dest).removeprefix("/") in named, dest
                internal += 1
                in_body += number >= first_question
            elif "/A" in annotation:
                external.append(str(annotation["/A"].get("/URI", "")))
    assert internal > len(PLAN.pages()) and in_body > 0, (internal, in_body)
    assert external and all(re.match(r"(https?|mailto):", uri) for uri in external), external[:5]
    # Links to the rest of the site go to the published site, never to the server the PDF was printed from.
    assert not [
        uri for uri in external if uri.startswith("http://127.0.0.1") and not uri.startswith(site_root)
    ]


@pytest.mark.parametrize("lang", urls.LANGUAGES)
def test_home_page_links_the_pdf_it_is_published_with(printed, lang):
    copy, _ = printed
    home = copy / urls.url_path(lang, "") / "index.html"
    hrefs = re.findall(r'<a href="([^"]+\.pdf)"', home.read_text(encoding="utf-8"))
    assert hrefs == [pdf.pdf_name(lang)]
    assert (home.parent / hrefs[0]).resolve() == pdf.pdf_path(copy, lang).resolve()


def test_to_unicode_maps_radicals_to_ideographs():
    cmap = (
        b"3 beginbfchar\n<32> <2F24>\n<36> <5929>\n<37> <2ED3>\nendbfchar\n"
        b"1 beginbfrange\n<40> <41> <2F63>\nendbfrange\n1 beginbfrange\n<50> <51> <0041>\nendbfrange\n"
    )
    fixed = pdf.fix_to_unicode(cmap)
    assert b"<32> <5927>" in fixed and b"<36> <5929>" in fixed  # ⼤ -> 大 (Kangxi radical)
    assert b"<37> <957F>" in fixed  # ⻓ -> 长 (CJK Radicals Supplement)
    assert b"<40> <41> [<751F> <7528>]" in fixed  # ⽣⽤ -> 生用
    assert b"<50> <51> <0041>" in fixed
