"""``make pdf``: the whole handbook as one PDF per language, printed by Chromium from a built site.

``python scripts/pdf.py SITE`` writes ``SITE/mllm-handbook-zh.pdf`` and ``SITE/en/mllm-handbook-en.pdf``.
Each holds a cover (title, subtitle, the site's URL, the licence), a table of contents with links and page
numbers, then every section of ``site_map.yml`` in order: its index page, then its question pages, each on
a new page, with the executed output, figures (inline SVG) and formulas (MathML) the site shows.

How: the built pages' articles (``article.md-content__inner``) are put into one print document per
language, which is served from the built site at the language's root, so the site's own stylesheets
(Material's, with its print rules, and ``assets/handbook.css``) apply. A script then makes the pages one
document: every id is prefixed with its page's key, links between question and section pages become
``#`` links inside the PDF, and links to the rest of the site become absolute URLs of the published site
(its address comes from the pages' canonical links). Formulas and tables wider than the page are scaled
down to fit; code wraps. Chromium prints twice: the first print says on which page each page starts, the
second prints those numbers in the contents. The PDF outline comes from the headings (sections, then
questions, then each question's headings).

Chromium's PDF is then corrected by an incremental update (its own bytes are kept): the outline's titles
get back the spaces Chromium drops where a heading wraps, and the Chinese text maps to ideographs, not to
the radicals Noto Sans CJK draws with the same glyphs, so copying and searching work (:func:`finish`).

Nothing leaves the machine: Chromium runs with the offline flags of :mod:`checks`, the print document
loads only files of the built site, and a request for anything else fails the run. The output is
byte-identical for the same site: the dates Chromium writes are replaced by the site's build date
(``SOURCE_DATE_EPOCH`` when set, else the newest ``<lastmod>`` of the language's sitemap).

Usage: ``python scripts/pdf.py SITE [--lang zh en]`` (``make pdf`` builds the site first). It needs the
browser the tests use (``/usr/bin/chromium``, see :data:`checks.NO_BROWSER`) and pypdf.
"""

from __future__ import annotations

import argparse
import html
import io
import os
import re
import sys
import time
import unicodedata
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urljoin

import checks
from handbook_build import content, urls

MAX_BYTES = 15 * 1024 * 1024
#: The printable width of an A4 page with the margins below, in CSS pixels (96 per inch).
PAGE = {"format": "A4", "margin": {"top": "14mm", "bottom": "16mm", "left": "14mm", "right": "14mm"}}
LAYOUT_WIDTH = round((210 - 28) / 25.4 * 96)
LABELS = {
    "zh": {"contents": "目录", "online": "在线版", "edition": "构建日期"},
    "en": {"contents": "Contents", "online": "Online edition", "edition": "Built on"},
}


def pdf_name(lang: str) -> str:
    return f"mllm-handbook-{lang}.pdf"


def pdf_path(site: Path, lang: str) -> Path:
    """``site/mllm-handbook-zh.pdf``, ``site/en/mllm-handbook-en.pdf``: next to the language's home page."""
    return site / urls.root(lang) / pdf_name(lang)


# --------------------------------------------------------------------------------------------------------
# Reading the built site
# --------------------------------------------------------------------------------------------------------

_ARTICLE = re.compile(r'<article class="md-content__inner md-typeset">(.*?)</article>', re.S)
_CANONICAL = re.compile(r'<link rel="canonical" href="([^"]+)"')
_H1 = re.compile(r"<h1\b[^>]*>(.*?)</h1>", re.S)
_DESCRIPTION = re.compile(r'<meta name="description" content="([^"]*)"')
_LICENCE = re.compile(r'<div class="md-copyright__highlight">(.*?)</div>', re.S)
_STYLESHEET = re.compile(r'<link rel="stylesheet" href="([^"]+)"')
_LASTMOD = re.compile(r"<lastmod>(\d{4}-\d{2}-\d{2})</lastmod>")
_SRC = re.compile(r'(\s(?:src|data)=")(?!data:|[a-z]+://|#)([^"]+)"')


def text_of(fragment: str) -> str:
    """Plain text of an HTML fragment without its permalink (``<a class="headerlink">``)."""
    fragment = re.sub(r'<a class="headerlink".*?</a>', "", fragment, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", fragment)).split())


@dataclass(frozen=True)
class Part:
    """One built page in the PDF: a section index page or a question page."""

    key: str  # "transformer" or "transformer/swiglu"
    url: str  # the published URL (the page's canonical link)
    title: str  # its H1
    article: str  # the inner HTML of its article

    @property
    def anchor(self) -> str:
        return self.key.replace("/", "--")

    @property
    def is_section(self) -> bool:
        return "/" not in self.key


@dataclass(frozen=True)
class Book:
    lang: str
    title: str
    subtitle: str
    url: str
    licence: str
    date: datetime
    stylesheets: tuple[str, ...]
    sections: tuple[tuple[Part, tuple[Part, ...]], ...]

    def parts(self) -> list[Part]:
        return [part for section, pages in self.sections for part in (section, *pages)]


def built_page(site: Path, lang: str, key: str) -> str:
    path = site / urls.url_path(lang, key) / "index.html"
    if not path.is_file():
        raise SystemExit(f"pdf: {path} is missing: build the site first (make build)")
    return path.read_text(encoding="utf-8")


def part(site: Path, lang: str, key: str) -> Part:
    page = built_page(site, lang, key)
    article, canonical, h1 = _ARTICLE.search(page), _CANONICAL.search(page), _H1.search(page)
    if not (article and canonical and h1):
        raise SystemExit(f"pdf: {urls.url_path(lang, key)} has no article, canonical link or H1")
    return Part(key, html.unescape(canonical.group(1)), text_of(h1.group(1)), article.group(1))


def build_date(site: Path, lang: str) -> datetime:
    """``SOURCE_DATE_EPOCH`` if set, else the newest ``<lastmod>`` in the language's sitemap (UTC midnight)."""
    if os.environ.get("SOURCE_DATE_EPOCH"):
        return datetime.fromtimestamp(int(os.environ["SOURCE_DATE_EPOCH"]), tz=timezone.utc)
    sitemap = site / urls.root(lang) / "sitemap.xml"
    dates = _LASTMOD.findall(sitemap.read_text(encoding="utf-8")) if sitemap.is_file() else []
    day = max(dates, default="1970-01-01")
    return datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=timezone.utc)


def read_book(site: Path, lang: str, plan: content.SiteMap | None = None) -> Book:
    """Everything the PDF of one language shows, read from the built site in ``site_map.yml`` order."""
    plan = plan or content.site_map()
    home = built_page(site, lang, "")
    found = {
        name: pattern.search(home)
        for name, pattern in [("canonical", _CANONICAL), ("h1", _H1), ("description", _DESCRIPTION)]
    }
    missing = [name for name, match in found.items() if not match]
    if missing:
        raise SystemExit(f"pdf: the {lang} home page has no {', '.join(missing)}")
    licence = _LICENCE.search(home)
    sections = tuple(
        (part(site, lang, s.slug), tuple(part(site, lang, f"{s.slug}/{page}") for page in s.pages))
        for s in plan.sections
    )
    return Book(
        lang=lang,
        title=text_of(found["h1"].group(1)),
        subtitle=html.unescape(found["description"].group(1)),
        url=html.unescape(found["canonical"].group(1)),
        licence=text_of(licence.group(1)) if licence else "",
        date=build_date(site, lang),
        stylesheets=tuple(html.unescape(href) for href in _STYLESHEET.findall(home)),
        sections=sections,
    )


# --------------------------------------------------------------------------------------------------------
# The print document
# --------------------------------------------------------------------------------------------------------

PRINT_CSS = """
@page { size: A4; }
html, body { margin: 0; background: #fff; }
.md-content__inner { margin: 0; padding: 0; }
.md-content__inner::before { display: none; }
.md-content__button, .headerlink, .md-clipboard, .md-code__nav { display: none !important; }

/* Cover and contents: the handbook's fonts and colours, not Material's typeset rules. */
.pdf-cover, .pdf-toc { color: var(--md-default-fg-color); font-size: .68rem; line-height: 1.5; }
.pdf-cover a, .pdf-toc a { color: inherit; text-decoration: none; }
.pdf-cover { display: flex; flex-direction: column; justify-content: center; min-height: 230mm; }
.pdf-cover__title { margin: 0 0 .5em; font-size: 2.2rem; font-weight: 700; line-height: 1.25;
  color: var(--md-primary-fg-color); }
.pdf-cover__subtitle { margin: 0 0 3em; font-size: .9rem; line-height: 1.6; }
.pdf-cover__meta { margin: .3em 0; color: var(--md-default-fg-color--light); }
.pdf-cover__meta a { color: var(--md-typeset-a-color); }
.pdf-toc { break-before: page; }
.pdf-toc__title { margin: 0 0 1em; font-size: 1.3rem; font-weight: 700; }
.pdf-toc__group { margin: 0 0 .8em; }
.pdf-toc__entry { display: flex; align-items: last baseline; gap: .4em; padding: .1em 0; break-inside: avoid; }
.pdf-toc__section { margin-bottom: .15em; font-size: .78rem; font-weight: 700;
  color: var(--md-primary-fg-color); break-after: avoid; }
.pdf-toc__question { padding-left: 1.6em; }
.pdf-toc__leader { flex: 1 1 1.5em; min-width: 1.5em; border-bottom: 1px dotted var(--md-default-fg-color--lighter); }
.pdf-toc__page { flex: none; width: 2.2em; text-align: right; font-variant-numeric: tabular-nums; }

/* A section starts with its index page; each question starts a new page. */
.pdf-part { break-before: page; }
.md-typeset h1 { color: var(--md-default-fg-color); font-weight: 400; }
.pdf-part--section h1 { color: var(--md-primary-fg-color); }
.md-typeset h1, .md-typeset h2, .md-typeset h3, .md-typeset h4, .md-typeset dt { break-after: avoid-page; }
.md-typeset figure, .md-typeset .math-display, .md-typeset .admonition, .md-typeset tr,
.handbook-figure { break-inside: avoid-page; }

/* Nothing may be wider than the page: code wraps; formulas and tables are scaled down by the script. */
.md-typeset pre > code, .md-typeset code { white-space: pre-wrap; overflow-wrap: anywhere; overflow: visible; }
.md-typeset pre > code { max-height: none; }
.md-typeset .math-display { overflow: visible; background: none; }
.md-typeset table:not([class]) { display: table; max-width: 100%; overflow: visible; }
.md-typeset table:not([class]) th { min-width: 0; }
.md-typeset td, .md-typeset th, .md-typeset a { overflow-wrap: anywhere; }
.md-typeset img, .md-typeset svg { max-width: 100%; }
"""


def cover(book: Book) -> str:
    labels, e = LABELS[book.lang], html.escape
    lines = [
        f'<p class="pdf-cover__meta">{e(labels["online"])}: <a href="{e(book.url)}">{e(book.url)}</a></p>',
        f'<p class="pdf-cover__meta">{e(labels["edition"])}: {book.date:%Y-%m-%d}</p>',
    ]
    if book.licence:
        lines.append(f'<p class="pdf-cover__meta">{e(book.licence)}</p>')
    return (
        f'<div class="pdf-cover"><p class="pdf-cover__title">{e(book.title)}</p>'
        f'<p class="pdf-cover__subtitle">{e(book.subtitle)}</p>{"".join(lines)}</div>'
    )


def toc_entry(part: Part) -> str:
    kind = "section" if part.is_section else "question"
    return (
        f'<a class="pdf-toc__entry pdf-toc__{kind}" href="#{part.anchor}"><span>{html.escape(part.title)}</span>'
        f'<span class="pdf-toc__leader"></span><span class="pdf-toc__page" data-target="{part.anchor}">000</span></a>'
    )


def contents(book: Book) -> str:
    """The table of contents: sections and their questions; the page numbers are filled in after a print."""
    groups = "".join(
        f'<div class="pdf-toc__group">{"".join(toc_entry(p) for p in (section, *pages))}</div>'
        for section, pages in book.sections
    )
    title = html.escape(LABELS[book.lang]["contents"])
    return f'<nav class="pdf-toc"><p class="pdf-toc__title">{title}</p>{groups}</nav>'


def print_document(book: Book, local_root: str) -> str:
    """The print HTML of one language, to be served at its root (``local_root``, the local server's URL).

    Relative ``src`` URLs in the articles are made absolute (local) here, before anything loads; ids and
    links are rewritten in the browser by :data:`PREPARE`.
    """
    body = [cover(book), contents(book)]
    for p in book.parts():
        local = urljoin(local_root, f"{p.key}/")  # where the page is served
        article = _SRC.sub(lambda m, local=local: f'{m.group(1)}{urljoin(local, m.group(2))}"', p.article)
        kind = "section" if p.is_section else "question"
        body.append(
            f'<section class="pdf-part pdf-part--{kind}" id="{p.anchor}" data-pdf-key="{p.key}" '
            f'data-pdf-url="{html.escape(p.url)}"><article class="md-content__inner md-typeset">'
            f"{article}</article></section>"
        )
    links = "".join(f'<link rel="stylesheet" href="{html.escape(href)}">' for href in book.stylesheets)
    return (
        f'<!doctype html>\n<html lang="{book.lang}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(book.title)}</title>\n{links}\n<style>{PRINT_CSS}</style>\n</head>\n"
        '<body dir="ltr" data-md-color-scheme="default" data-md-color-primary="indigo" '
        f'data-md-color-accent="indigo">\n{"".join(body)}\n</body>\n</html>\n'
    )


# Runs in the print document once it has loaded. Returns what still overflows the page width.
PREPARE = """({targets}) => {
  for (const el of document.querySelectorAll(".headerlink, .md-content__button, .md-clipboard")) el.remove();
  for (const el of document.querySelectorAll("details")) el.open = true;
  const idRef = /url\\(#([^)]+)\\)/g;
  for (const part of document.querySelectorAll("[data-pdf-key]")) {
    const prefix = part.id, base = part.dataset.pdfUrl;
    const local = (id) => `${prefix}__${id}`;
    for (const el of part.querySelectorAll("[id]")) el.id = local(el.id);
    for (const el of part.querySelectorAll("svg, svg *, [aria-labelledby], [aria-describedby], label[for]")) {
      for (const attr of Array.from(el.attributes)) {
        if (/^(xlink:)?href$/.test(attr.name) && attr.value.startsWith("#") && el.tagName.toLowerCase() !== "a")
          attr.value = "#" + local(attr.value.slice(1));
        else if (/^aria-(labelledby|describedby)$|^for$/.test(attr.name))
          attr.value = attr.value.split(/\\s+/).map(local).join(" ");
        else if (attr.value.includes("url(#")) attr.value = attr.value.replace(idRef, (m, id) => `url(#${local(id)})`);
      }
    }
    for (const style of part.querySelectorAll("svg style"))
      style.textContent = style.textContent.replace(idRef, (m, id) => `url(#${local(id)})`);
    for (const a of part.querySelectorAll("a[href]")) {
      const href = a.getAttribute("href");
      if (href.startsWith("#")) { a.setAttribute("href", "#" + local(decodeURIComponent(href.slice(1)))); continue; }
      let url;
      try { url = new URL(href, base); } catch (error) { continue; }
      if (!/^https?:$/.test(url.protocol)) continue;
      const target = targets[url.href.split("#")[0]];
      const hash = decodeURIComponent(url.hash.slice(1));
      a.setAttribute("href", target === undefined ? url.href : "#" + (hash ? `${target}__${hash}` : target));
    }
    // The outline follows the heading levels: sections at the top, a question page one level down.
    const shift = part.classList.contains("pdf-part--question") ? 1 : 0;
    for (const h of part.querySelectorAll("h1, h2, h3, h4, h5, h6"))
      h.setAttribute("aria-level", String(Math.min(6, Number(h.tagName[1]) + shift)));
  }
  // Chromium tags every run of text for the outline's structure tree, which it writes uncompressed: code
  // blocks and formulas would triple the file. They stay visible, searchable and copyable, but untagged.
  for (const el of document.querySelectorAll("pre, math")) el.setAttribute("aria-hidden", "true");
  // Scale a formula or table down until it fits the column (never below 40 %).
  const fit = (box, el, base) => {
    for (let i = 0; i < 4; i++) {
      const need = el.getBoundingClientRect().width, room = box.clientWidth;
      if (need <= room + 0.5) return;
      const size = parseFloat(getComputedStyle(el).fontSize) * room / need * 0.98;
      el.style.fontSize = `${Math.max(size, base * 0.4)}px`;
    }
  };
  for (const box of document.querySelectorAll(".math-display")) {
    const math = box.querySelector("math");
    if (math) fit(box, math, parseFloat(getComputedStyle(math).fontSize));
  }
  for (const table of document.querySelectorAll(".md-typeset table")) {
    fit(table.closest("article"), table, parseFloat(getComputedStyle(table).fontSize));
  }
  const overflowing = [];
  for (const article of document.querySelectorAll("[data-pdf-key] > article")) {
    const right = article.getBoundingClientRect().right + 8;  // a wrapped line's trailing space may hang
    for (const el of article.querySelectorAll("math, table, pre, svg, img, code")) {
      if (el.getBoundingClientRect().right > right && !el.parentElement.closest("math, table, pre, svg"))
        overflowing.push(`${article.parentElement.dataset.pdfKey}: <${el.tagName.toLowerCase()}> ` +
          el.textContent.trim().slice(0, 60));
    }
  }
  return overflowing;
}"""

HEADINGS = """() => Array.from(document.querySelectorAll("h1, h2, h3, h4, h5, h6"),
  (h) => h.textContent.replace(/\\s+/g, " ").trim())"""

PAGE_NUMBERS = """(numbers) => {
  for (const el of document.querySelectorAll(".pdf-toc__page")) el.textContent = numbers[el.dataset.target];
}"""


# --------------------------------------------------------------------------------------------------------
# Printing, and the PDF after it
# --------------------------------------------------------------------------------------------------------


def destination_pages(data: bytes, names: list[str]) -> dict[str, int]:
    """The 1-based page each named destination (an element id Chromium linked to) points at."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    found = {name.removeprefix("/"): dest for name, dest in reader.named_destinations.items()}
    return {name: reader.get_destination_page_number(found[name]) + 1 for name in names if name in found}


_DATE = re.compile(rb"\(D:\d{14}(?:[+-]\d{2}'\d{2}'|Z)?\)")


def fix_dates(data: bytes, date: datetime) -> bytes:
    """``data`` with the creation and modification dates set to ``date``, in place.

    Chromium (Skia) writes both as literal strings in the document information dictionary and writes no
    document ID; each date is replaced by a string of the same length, so every offset stays valid.
    """

    def fixed(match: re.Match) -> bytes:
        old, stamp = match.group(0), f"D:{date:%Y%m%d%H%M%S}"
        for new in (f"({stamp}+00'00')", f"({stamp}Z)", f"({stamp})"):
            if len(new) == len(old):
                return new.encode()
        raise ValueError(f"pdf: cannot replace the date {old!r} in place")

    out, count = _DATE.subn(fixed, data)
    if count == 0:
        raise ValueError("pdf: no creation date in Chromium's output (did its format change?)")
    return out


_CMAP_BLOCK = re.compile(rb"begin(bfchar|bfrange)(.*?)end\1", re.S)
_BFCHAR = re.compile(rb"(<[0-9A-Fa-f]+>)\s*<([0-9A-Fa-f]+)>")
_BFRANGE = re.compile(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>")
#: Unicode's Equivalent_Unified_Ideograph for the CJK Radicals Supplement (UCD EquivalentUnifiedIdeograph.txt,
#: U+2E81..U+2EF3), as radical:ideograph code points. The Kangxi radicals need no table: NFKC maps them.
SUPPLEMENT_TABLE = """
2E81:5382 2E82:4E5B 2E83:4E5A 2E84:4E59 2E85:4EBB 2E86:5182 2E87:20628 2E88:5200 2E89:5202 2E8A:535C
2E8B:353E 2E8C:5C0F 2E8D:5C0F 2E8E:5140 2E8F:5C23 2E90:5C22 2E91:21BC2 2E92:5DF3 2E93:5E7A 2E94:5F51
2E95:5F50 2E96:5FC4 2E97:5FC3 2E98:624C 2E99:6535 2E9B:65E1 2E9C:65E5 2E9D:6708 2E9E:6B7A 2E9F:6BCD
2EA0:6C11 2EA1:6C35 2EA2:6C3A 2EA3:706C 2EA4:722B 2EA5:722B 2EA6:4E2C 2EA7:725B 2EA8:72AD 2EA9:738B
2EAA:24D14 2EAB:76EE 2EAC:793A 2EAD:793B 2EAE:25AD7 2EAF:7CF9 2EB0:7E9F 2EB1:7F53 2EB2:7F52 2EB3:34C1
2EB4:5197 2EB5:2626B 2EB6:7F8A 2EB7:2634C 2EB8:2634B 2EB9:8002 2EBA:8080 2EBB:807F 2EBC:8089 2EBD:26951
2EBE:8279 2EBF:8279 2EC0:8279 2EC1:864E 2EC2:8864 2EC3:8980 2EC4:897F 2EC5:89C1 2EC6:89D2 2EC7:278B2
2EC8:8BA0 2EC9:8D1D 2ECA:27FB7 2ECB:8F66 2ECC:8FB6 2ECD:8FB6 2ECE:8FB6 2ECF:9091 2ED0:9485 2ED1:9577
2ED2:9578 2ED3:957F 2ED4:95E8 2ED5:28E0F 2ED6:961D 2ED7:96E8 2ED8:9752 2ED9:97E6 2EDA:9875 2EDB:98CE
2EDC:98DE 2EDD:98DF 2EDE:2967F 2EDF:98E0 2EE0:9963 2EE1:29810 2EE2:9A6C 2EE3:9AA8 2EE4:9B3C 2EE5:9C7C
2EE6:9E1F 2EE7:5364 2EE8:9EA6 2EE9:9EC4 2EEA:9EFE 2EEB:6589 2EEC:9F50 2EED:6B6F 2EEE:9F7F 2EEF:7ADC
2EF0:9F99 2EF1:9F9C 2EF2:4E80 2EF3:9F9F
"""
_SUPPLEMENT = {int(a, 16): chr(int(b, 16)) for a, b in (pair.split(":") for pair in SUPPLEMENT_TABLE.split())}


def _ideographs(text: str) -> str:
    """Radicals as the ideographs they stand for: ⽤ (U+2F64) -> 用, ⻓ (U+2ED3) -> 长."""
    return "".join(
        _SUPPLEMENT.get(ord(c)) or (unicodedata.normalize("NFKC", c) if 0x2F00 <= ord(c) <= 0x2FDF else c)
        for c in text
    )


def _utf16(text: str) -> bytes:
    return b"<" + text.encode("utf-16-be").hex().upper().encode() + b">"


def _text(hex_string: bytes) -> str:
    return bytes.fromhex(hex_string.decode()).decode("utf-16-be")


def fix_to_unicode(cmap: bytes) -> bytes:
    """A ToUnicode CMap whose radicals map to the ideographs instead.

    Noto Sans CJK draws a radical (U+2F64 ⽤, U+2ED3 ⻓) and its ideograph (U+7528 用, U+957F 长) with one
    glyph, and Skia maps each glyph back to the lowest code point that uses it: without this, copying or
    searching the Chinese PDF finds ⽤ where the page shows 用, for about two hundred common characters.
    """

    def block(match: re.Match) -> bytes:
        kind, body = match.group(1), match.group(2)
        if kind == b"bfchar":
            body = _BFCHAR.sub(lambda m: m.group(1) + b" " + _utf16(_ideographs(_text(m.group(2)))), body)
        else:

            def expand(m: re.Match) -> bytes:
                low, high, first = int(m.group(1), 16), int(m.group(2), 16), _text(m.group(3))
                values = [first[:-1] + chr(ord(first[-1]) + i) for i in range(high - low + 1)]
                fixed = [_ideographs(v) for v in values]
                if fixed == values:
                    return m.group(0)
                return b"<%s> <%s> [%s]" % (m.group(1), m.group(2), b" ".join(map(_utf16, fixed)))

            body = _BFRANGE.sub(expand, body)
        return b"begin" + kind + body + b"end" + kind

    return _CMAP_BLOCK.sub(block, cmap)


def append_update(data: bytes, objects: dict[int, bytes]) -> bytes:
    """``data`` with an incremental update that replaces ``objects`` (number -> the object's new text).

    The original bytes stay as they are; the new objects, a cross-reference section for them and a
    trailer that points back at the original one are appended (ISO 32000-1, 7.5.6).
    """
    from pypdf import PdfReader

    trailer = PdfReader(io.BytesIO(data)).trailer
    previous = int(re.findall(rb"startxref\s+(\d+)", data)[-1])
    out = bytearray(data if data.endswith(b"\n") else data + b"\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, objects[number])
    xref = len(out)
    out += b"xref\n0 1\n0000000000 65535 f\r\n"  # the head of the free list, as in the original table
    numbers = sorted(offsets)
    runs = [[numbers[0]]]
    for number in numbers[1:]:
        if number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    for run in runs:
        out += b"%d %d\n" % (run[0], len(run)) + b"".join(b"%010d 00000 n\r\n" % offsets[n] for n in run)
    refs = b"".join(
        b"%s %d 0 R " % (key.encode(), trailer.raw_get(key).idnum)
        for key in ("/Root", "/Info")
        if key in trailer
    )
    out += b"trailer\n<</Size %d %s/Prev %d>>\nstartxref\n%d\n%%%%EOF\n" % (
        trailer["/Size"],
        refs,
        previous,
        xref,
    )
    return bytes(out)


def _serialise(obj) -> bytes:
    stream = io.BytesIO()
    obj.write_to_stream(stream)
    return stream.getvalue()


def _outline_items(reader) -> list:
    """Every outline item of ``reader`` as (object number, dictionary), depth first."""
    items, pending = [], []
    outlines = reader.trailer["/Root"].get("/Outlines")
    if outlines is not None and "/First" in outlines:
        pending.append(outlines.raw_get("/First"))
    while pending:
        ref = pending.pop()
        item = ref.get_object()
        items.append((ref.idnum, item))
        if "/Next" in item:
            pending.append(item.raw_get("/Next"))
        if "/First" in item:
            pending.append(item.raw_get("/First"))
    return items


_TO_UNICODE = re.compile(rb"/ToUnicode\s+(\d+)\s+0\s+R")


def finish(data: bytes, date: datetime, headings: list[str]) -> bytes:
    """Chromium's PDF made reproducible, searchable and its outline exact, by an incremental update.

    * The creation and modification dates become ``date`` (in place).
    * ToUnicode maps send radicals to ideographs (:func:`fix_to_unicode`).
    * Outline titles are the headings' text: Chromium drops the space where a heading wraps onto a new line
      ("Beyond Transformers" becomes "BeyondTransformers"), so a title that equals a heading but for
      whitespace is replaced by the heading.
    """
    from pypdf import PdfReader
    from pypdf.generic import NameObject, StreamObject, TextStringObject

    data = fix_dates(data, date)
    reader = PdfReader(io.BytesIO(data))
    objects = {}
    for number in sorted({int(n) for n in _TO_UNICODE.findall(data)}):
        stream = reader.get_object(number)
        if isinstance(stream, StreamObject):
            old = stream.get_data()
            new = fix_to_unicode(old)
            if new != old:
                body = zlib.compress(new, 9)
                objects[number] = b"<</Filter /FlateDecode /Length %d>>\nstream\n%s\nendstream" % (
                    len(body),
                    body,
                )
    exact = {re.sub(r"\s+", "", heading): heading for heading in headings}
    for number, item in _outline_items(reader):
        title = str(item.get("/Title", ""))
        heading = exact.get(re.sub(r"\s+", "", title))
        if heading is not None and heading != title:
            item[NameObject("/Title")] = TextStringObject(heading)
            objects[number] = _serialise(item)
    return append_update(data, objects) if objects else data


def footer(book: Book) -> str:
    return (
        '<div style="width:100%;margin:0 14mm;display:flex;justify-content:space-between;font-size:7.5px;'
        f'color:#757575"><span>{html.escape(book.title)}</span><span class="pageNumber"></span></div>'
    )


def render(browser, base: str, book: Book) -> tuple[bytes, list[str]]:
    """Print one language: returns the PDF's bytes and the elements that overflow the page."""
    root = base + urls.root(book.lang)
    doc_url = root + "__print__.html"
    document = print_document(book, root)
    foreign: list[str] = []

    def route(request_route):
        url = request_route.request.url
        if url == doc_url:
            request_route.fulfill(body=document, content_type="text/html; charset=utf-8")
        elif url.startswith(base):
            request_route.continue_()
        else:
            foreign.append(url)
            request_route.abort()

    context = browser.new_context(viewport={"width": LAYOUT_WIDTH, "height": 1000})
    try:
        page = context.new_page()
        page.route("**/*", route)
        page.emulate_media(media="print")
        response = page.goto(doc_url, wait_until="load", timeout=180_000)
        if response is None or not response.ok:
            raise SystemExit(f"pdf: the {book.lang} print document did not load")
        page.evaluate("document.fonts.ready.then(() => true)")
        overflowing = page.evaluate(PREPARE, {"targets": {p.url: p.anchor for p in book.parts()}})
        headings = page.evaluate(HEADINGS)
        options = {
            **PAGE,
            "print_background": True,
            "display_header_footer": True,
            "header_template": "<span></span>",
            "footer_template": footer(book),
        }
        # The first print only tells where each part starts; tagging does not change the layout.
        anchors = [p.anchor for p in book.parts()]
        numbers = destination_pages(page.pdf(**options), anchors)
        missing = [a for a in anchors if a not in numbers]
        if missing:
            raise SystemExit(f"pdf: no destination in the {book.lang} PDF for {', '.join(missing[:5])}")
        page.evaluate(PAGE_NUMBERS, {anchor: str(n) for anchor, n in numbers.items()})
        data = page.pdf(**options, outline=True, tagged=True)
        if destination_pages(data, anchors) != numbers:
            raise SystemExit(
                f"pdf: the page numbers in the {book.lang} contents moved between the two prints"
            )
    finally:
        context.close()
    if foreign:
        raise SystemExit(
            f"pdf: the print document asked for files outside the site: {sorted(set(foreign))[:5]}"
        )
    return finish(data, book.date, headings), overflowing


def make_pdf(site: Path, lang: str) -> tuple[Path, int, int, float, list[str]]:
    """Write one language's PDF into the built ``site``: its path, size, pages, seconds and overflows."""
    from playwright.sync_api import sync_playwright

    started = time.perf_counter()
    book = read_book(site, lang)
    with checks.serve(site) as base, sync_playwright() as playwright:
        browser = checks.launch_chromium(playwright)
        try:
            data, overflowing = render(browser, base, book)
        finally:
            browser.close()
    if len(data) > MAX_BYTES:
        raise SystemExit(f"pdf: the {lang} PDF is {len(data) / 2**20:.1f} MB, over the 15 MB limit")
    out = pdf_path(site, lang)
    out.write_bytes(data)
    pages = len(re.findall(rb"/Type\s*/Page\b", data))
    return out, len(data), pages, time.perf_counter() - started, overflowing


def make_pdfs(
    site: Path, languages: tuple[str, ...] = urls.LANGUAGES, verbose: bool = True
) -> dict[str, Path]:
    """Each language's PDF, printed in parallel (one browser each); returns their paths."""
    site = site.resolve()
    with ProcessPoolExecutor(len(languages)) as pool:
        results = dict(zip(languages, pool.map(make_pdf, [site] * len(languages), languages), strict=True))
    for out, size, pages, seconds, overflowing in results.values():
        if verbose:
            print(f"pdf: {out.relative_to(site)}: {pages} pages, {size / 2**20:.1f} MB ({seconds:.0f} s)")
            for item in overflowing:
                print(f"pdf: warning: wider than the page: {item}", file=sys.stderr)
    return {lang: result[0] for lang, result in results.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], prog="scripts/pdf.py")
    parser.add_argument("site", type=Path, help="a built site (make build)")
    parser.add_argument("--lang", nargs="+", choices=urls.LANGUAGES, default=list(urls.LANGUAGES))
    args = parser.parse_args(argv)
    make_pdfs(args.site, tuple(args.lang))
    return 0


if __name__ == "__main__":
    sys.exit(main())
