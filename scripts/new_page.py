"""Scaffold a new question page: ``make new-page SECTION=<section> SLUG=<slug>``.

Creates, from the repository root (the current directory):

* ``docs/zh/<section>/<slug>.md`` and ``docs/en/<section>/<slug>.md``: the full page anatomy (front matter,
  question, 30-second answer, in depth, code, follow-ups, references) with placeholders;
* ``snippets/<section>/<slug>.py``: the page's executed snippet, which raises until it is written;
* ``tests/handbook/test_page_<section>_<slug>.py``: a test stub that fails until the page is filled in;

and appends the slug to the section's ``pages`` in ``site_map.yml`` (the site order; move
it by hand if it belongs elsewhere). Every placeholder contains :data:`MARKER`. While a page still has one,
the build warns, naming the file (``handbook_build.hooks``), so the strict
build and ``make test`` fail until the page is filled in.

It refuses, with a message and exit status 1, an unknown section, a malformed slug, and a slug that is
already taken (listed in the site map, an existing file, or the old path of a redirect).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

from handbook_build.hooks import SCAFFOLD_MARKER as MARKER

SITE_MAP = Path("site_map.yml")
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

ZH_PAGE = """\
---
title: "{M}: 写出读者会问的问题"
source: []        # 回答的源问题编号，如 ["B13"]（见 site_map.yml 的 questions）；源文档之外的问题留空
asked: new        # 源文档之外的问题：2026 年调查的 16 份面试题合集中有几份问到（如 9/16）；调查之后新增的写 new
tags: []          # 英文小写，中英文相同，如 [attention, transformer]
keywords: []      # 3–8 个读者会搜、但问题里没有的说法（同义词、缩写、模型名），搜索按它排序
difficulty: 2     # 1 = 基础，2 = 标准，3 = 深入（面试官的期望）
references: []    # bibliography.yml 中的文献键，按列出的顺序，如 [vaswani2017attention]
---

# {M}: 写出读者会问的问题（与 title 相同） {{ #{slug} }}

!!! abstract "30 秒回答"
    {M}: 面试时先说的 3–5 句话：正确、具体、没有空话。第一句会成为页面的 meta description，要能独立成句。

## 深入解析 {{ #in-depth }}

### {M}: 小标题 {{ #{M_ANCHOR} }}

{M}: 纠正并展开的回答：机制、权衡、数字。原文对的保留，错的改正并说明原因。公式用 LaTeX（行内 `$...$`，独立公式 `$$...$$` 单独成行），代码计算的公式写明函数，例如“由 `norms.layer_norm` 计算”。

## 代码 {{ #code }}

{M}: 用一两句话说明输出中该看什么。页面没有代码时，删除本节（标题和代码块）和 `snippets/{page}.py`。

```python exec="on" source="above" title="snippets/{page}.py"
--8<-- "{page}.py"
```

## 追问 {{ #follow-ups }}

**{M}: 面试官接下来会问的问题？**
:   {M}: 一两句回答，或用相对链接指向回答它的页面，如 `[标题](../section/slug.md)`。

## 参考文献 {{ #references }}

{M}: 在 front matter 的 references 中列出一手来源的键（新文献先加入 bibliography.yml），然后删除这一行。

<!-- handbook:references -->
"""

EN_PAGE = """\
---
title: "{M}: the question as a reader would ask it"
source: []        # the same as the Chinese page
asked: new        # the same as the Chinese page
tags: []          # the same as the Chinese page
keywords: []      # 3-8 names readers search for that the question does not contain (synonyms, abbreviations)
difficulty: 2     # the same as the Chinese page
references: []    # the same as the Chinese page
---

# {M}: the question, as in the title {{ #{slug} }}

!!! abstract "30-second answer"
    {M}: the 3-5 sentences a candidate would say first. Correct, specific, no filler. The first sentence becomes the page's meta description, so it must stand on its own.

## In depth {{ #in-depth }}

### {M}: a sub-heading {{ #{M_ANCHOR} }}

{M}: a faithful, natural translation of the Chinese page: the same headings and anchors in the same order, the same formulas and code blocks.

## Code {{ #code }}

{M}: one or two sentences on what to look at in the output. If the page has no code, delete this section (heading and code block) and `snippets/{page}.py`.

```python exec="on" source="above" title="snippets/{page}.py"
--8<-- "{page}.py"
```

## Follow-up questions {{ #follow-ups }}

**{M}: a question an interviewer would ask next?**
:   {M}: a one- or two-line answer, or a relative link to the page that answers it, e.g. `[title](../section/slug.md)`.

## References {{ #references }}

{M}: list the primary sources' keys under `references` in the front matter (add new papers to bibliography.yml first), then delete this line.

<!-- handbook:references -->
"""

SNIPPET = '''\
"""{M}: what this snippet shows, in one line."""

import torch

torch.manual_seed(0)

# {M}: compute the page's formula with mllm_handbook on tiny seeded
# tensors, assert the check the page relies on, and print a short,
# deterministic result (fixed decimals). Keep lines within 80 columns.
raise NotImplementedError("{M}: write this snippet")
'''

TEST = '''\
"""Page {page}: scaffolded by `make new-page`; these tests fail until the page is filled in.

Replace test_todo_scaffold with tests of the code behind the page (compare with the PyTorch built-in where
one exists, else with hand-computed examples and the paper's invariants; test every ValueError), or move them
to tests/handbook/test_<module>.py. Keep the two checks below.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = "{page}"
MARKER = "{M}"


def test_page_has_no_scaffold_placeholders():
    for path in (ROOT / f"docs/zh/{{PAGE}}.md", ROOT / f"docs/en/{{PAGE}}.md", ROOT / f"snippets/{{PAGE}}.py"):
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        lines = [n for n, line in enumerate(text.splitlines(), 1) if MARKER in line]
        assert not lines, f"{{path.relative_to(ROOT)}} still has {{MARKER}} placeholders on lines {{lines}}"


def test_snippet_asserts_its_result():
    snippet = ROOT / f"snippets/{{PAGE}}.py"
    if snippet.exists():  # a page without code has no snippet
        tree = ast.parse(snippet.read_text(encoding="utf-8"))
        assert any(isinstance(node, ast.Assert) for node in ast.walk(tree)), f"{{snippet}} asserts nothing"


def test_todo_scaffold():
    pytest.fail(f"{{MARKER}}: replace this test with tests of the code behind {{PAGE}}, or delete it")
'''


class ScaffoldError(Exception):
    """A request the scaffold refuses; the message says why and what to do."""


def stub_test_path(section: str, slug: str) -> Path:
    """``tests/test_page_<section>_<slug>.py`` with hyphens as underscores."""
    return Path("tests/handbook") / f"test_page_{section}_{slug}.py".replace("-", "_")


def planned_files(section: str, slug: str) -> dict[Path, str]:
    """The files a new page needs, relative to the repository root, with their text."""
    page = f"{section}/{slug}"
    fields = {"M": MARKER, "M_ANCHOR": "todo-anchor", "slug": slug, "page": page}
    return {
        Path("docs/zh") / f"{page}.md": ZH_PAGE.format(**fields),
        Path("docs/en") / f"{page}.md": EN_PAGE.format(**fields),
        Path("snippets") / f"{page}.py": SNIPPET.format(**fields),
        stub_test_path(section, slug): TEST.format(**fields),
    }


def append_to_site_map(text: str, section: str, slug: str) -> str:
    """Append ``slug`` to the section's one-line ``pages: [...]`` list, keeping the rest of the file."""
    lines = text.splitlines(keepends=True)
    start = next(
        (i for i, line in enumerate(lines) if re.match(rf"^\s*-\s+slug:\s*{re.escape(section)}\s*$", line)),
        None,
    )
    if start is None:
        raise ScaffoldError(f"section '{section}' not found in {SITE_MAP}")
    for i in range(start + 1, len(lines)):
        if re.match(r"^\s*-\s+slug:", lines[i]) or not lines[i].startswith((" ", "\t")):
            break
        match = re.match(r"^(\s*pages:\s*\[)(.*?)(\]\s*)$", lines[i], re.S)
        if match:
            items = match.group(2).strip()
            lines[i] = f"{match.group(1)}{items + ', ' if items else ''}{slug}{match.group(3)}"
            return "".join(lines)
    raise ScaffoldError(
        f"could not find a one-line 'pages: [...]' list for section '{section}' in {SITE_MAP}; "
        f"add '{slug}' to it by hand"
    )


def scaffold(root: Path, section: str, slug: str) -> list[Path]:
    """Create the page's files and list it in the site map; return the created paths (relative)."""
    if not section or not slug:
        raise ScaffoldError("usage: make new-page SECTION=<section> SLUG=<slug>")
    site_map_path = root / SITE_MAP
    if not site_map_path.is_file():
        raise ScaffoldError(f"{SITE_MAP} not found under {root}: run this from the repository root")
    text = site_map_path.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    sections = {s["slug"]: s for s in data["sections"]}
    if section not in sections:
        raise ScaffoldError(
            f"unknown section '{section}'. Sections in {SITE_MAP}: {', '.join(sections)}. "
            "A new section needs its own entry there (slug, zh, en, pages) and index pages first."
        )
    if not _SLUG.match(slug) or slug == "index":
        raise ScaffoldError(
            f"'{slug}' is not a valid slug: use short, lowercase, kebab-case ASCII, e.g. rotary-embeddings"
        )
    page = f"{section}/{slug}"
    if slug in sections[section]["pages"]:
        raise ScaffoldError(
            f"page {page} already exists in {SITE_MAP}: edit it instead, or pick another slug"
        )
    if page in (data.get("redirects") or {}):
        raise ScaffoldError(
            f"{page} is the old path of a redirect in {SITE_MAP} (to {data['redirects'][page]}): "
            "pick another slug, or remove the redirect first"
        )
    files = planned_files(section, slug)
    existing = [str(path) for path in files if (root / path).exists()]
    if existing:
        raise ScaffoldError(f"page {page} already has files: {', '.join(existing)}; pick another slug")
    new_site_map = append_to_site_map(text, section, slug)
    for path, content in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(content, encoding="utf-8")
    site_map_path.write_text(new_site_map, encoding="utf-8")
    return [*files, SITE_MAP]


def main(argv: list[str] | None = None, root: Path | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python scripts/new_page.py SECTION SLUG  (make new-page SECTION=... SLUG=...)")
        return 1
    section, slug = (arg.strip() for arg in args)
    try:
        created = scaffold(root or Path.cwd(), section, slug)
    except ScaffoldError as error:
        print(f"make new-page: {error}", file=sys.stderr)
        return 1
    page = f"{section}/{slug}"
    print(f"Scaffolded {page}:")
    for path in created:
        print(f"  {'updated' if path == SITE_MAP else 'created'} {path.as_posix()}")
    print(
        "\nNext: replace every "
        f"{MARKER} in the files above (zh first, then en), write tests of the code behind the page,\n"
        f"then `make translated PAGE={page}` and `make test`. `make serve` previews the page at\n"
        f"http://127.0.0.1:8000/{page}/ and http://127.0.0.1:8000/en/{page}/ . See CONTRIBUTING.md."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
