"""Each quality gate bites: the same check functions the real-site tests use, on tiny throwaway inputs.

A dead anchor, a missing translation anchor, an external ``<script src>`` and a failed search expectation
must each make their gate report a problem; a clean twin of each input must pass, so the gates are not
simply always failing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import checks

ROOT = Path(__file__).resolve().parents[2]
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return folder


def html(body: str, head: str = "") -> str:
    icon = '<link rel="icon" href="data:,">'  # else Chromium asks for /favicon.ico, a 404 here
    return f'<!doctype html><html lang="en"><head><meta charset="utf-8">{icon}{head}<title>t</title></head><body>{body}</body></html>'


# --- links and anchors (lychee) -------------------------------------------------------------------------


def test_dead_anchor_fails_the_link_check(tmp_path):
    site = write(
        tmp_path,
        {
            "index.html": html('<a href="page/#present">ok</a> <a href="page/#gone">dead</a>'),
            "page/index.html": html('<h2 id="present">Here</h2>'),
        },
    )
    problems = checks.check_links(site)
    assert len(problems) == 1 and "#gone" in problems[0] and "index.html" in problems[0], problems


def test_missing_page_fails_the_link_check_and_a_clean_site_passes(tmp_path):
    site = write(
        tmp_path, {"index.html": html('<a href="page/">ok</a>'), "page/index.html": html("<p>x</p>")}
    )
    assert checks.check_links(site) == []
    (site / "page" / "index.html").unlink()
    assert any("page" in p for p in checks.check_links(site))


# --- zh/en parity ---------------------------------------------------------------------------------------

ZH = """\
---
title: 问题
source: ["B13"]
tags: [norm]
---

# 问题 { #normalization }

## 深入解析 { #in-depth }

设 $x$ 为输入：

$$y = x^2$$

```python exec="on"
--8<-- "transformer/normalization.py"
```

## 追问 { #follow-ups }
"""


def test_missing_translation_anchor_fails_parity():
    en = ZH.replace("## 追问 { #follow-ups }", "## Follow-up questions")
    problems = checks.parity(ZH, en, "transformer/normalization.md")
    assert len(problems) == 1, problems
    assert "transformer/normalization.md" in problems[0] and "follow-ups" in problems[0], problems


def test_parity_names_every_kind_of_difference_and_passes_a_faithful_twin():
    assert checks.parity(ZH, ZH.replace("问题", "Question").replace("设", "Let"), "p.md") == []
    en = (
        ZH.replace('source: ["B13"]', 'source: ["B14"]')
        .replace("设 $x$ 为输入", "Let x be the input")
        .replace('"transformer/normalization.py"', '"transformer/other.py"')
        .replace("## 追问", "```text\nextra\n```\n\n## 追问")
    )
    problems = "\n".join(checks.parity(ZH, en, "p.md"))
    for expected in ("snippet includes", "code blocks", "inline math", "'source'"):
        assert expected in problems, problems


def test_an_inline_formula_changed_in_translation_fails_parity_even_when_the_counts_match():
    en = ZH.replace("设 $x$ 为输入", "Let $y$ be the input")
    problems = checks.parity(ZH, en, "p.md")
    assert len(problems) == 1 and "only in zh: ['x']; only in en: ['y']" in problems[0], problems


def test_heading_without_explicit_anchor_is_reported():
    text = "# Title { #title }\n\n## 为什么 { #why }\n\n## 没有锚点\n\n```python\n# not a heading\n```\n"
    problems = checks.headings_without_anchor(text, "zh/x.md")
    assert len(problems) == 1 and "zh/x.md:5" in problems[0] and "没有锚点" in problems[0], problems


def test_chinese_on_an_english_page_is_reported_outside_code_only():
    text = "# Title { #t }\n\nPlain English.\n\n`代码` is fine, and so is\n\n```text\n中文输出\n```\n\nBut 这里 is not.\n"
    problems = checks.chinese_outside_code(text, "en/x.md")
    assert len(problems) == 1 and "en/x.md:11" in problems[0], problems


def test_cjk_lint_reports_prose_and_leaves_code_and_math_alone():
    text = (
        "# 标题 { #t }\n\n"
        "这是中文English混排。\n\n"  # line 3: missing spaces
        "编码器-解码器是复合词，$a,b$ 与 `x,y` 不受影响。\n\n"
        '```python\nprint("你好,世界")  # 中文,注释\n```\n'
    )
    problems = checks.cjk_lint(text, "zh/x.md")
    assert len(problems) == 1 and "zh/x.md:3" in problems[0], problems


def test_markdown_lint_reports_a_list_glued_to_a_paragraph(tmp_path):
    # Python-Markdown renders this "list" as part of the paragraph: a real reader-facing bug.
    bad = write(tmp_path, {"bad.md": "# Title { #t }\n\nA paragraph.\n- not a list\n- in Python-Markdown\n"})
    good = write(tmp_path, {"good.md": "# Title { #t }\n\nA paragraph.\n\n- a list\n- indeed\n"})
    config = ROOT / ".pymarkdown.yml"
    problems = checks.markdown_lint([bad / "bad.md"], config)
    assert len(problems) == 1 and "MD032" in problems[0], problems
    assert checks.markdown_lint([good / "good.md"], config) == []


def test_search_judgement_flags_wrong_page_and_other_language():
    root, en = "http://h/s/", "http://h/s/en/"
    assert checks.judge_search([root + "a/b/", root + "c/d/"], root, "a/b", [en]) == []
    assert "top result" in checks.judge_search([root + "c/d/", root + "a/b/"], root, "a/b", [en])[0]
    assert "no results" in checks.judge_search([], root, "a/b", [en])[0]
    assert "another language" in checks.judge_search([root + "a/b/", en + "a/b/"], root, "a/b", [en])[-1]


def test_glossary_gates_flag_an_unused_term_and_an_unexplained_heading_abbreviation():
    lora = {"zh": "低秩适配", "en": "low-rank adaptation", "abbr": "LoRA", "def": {"zh": "…", "en": "…"}}
    ghost = {"zh": "幽灵术语", "en": "ghost term", "def": {"zh": "…", "en": "…"}}
    pages = {"zh": {"a.md": "# 标题 { #t }\n\n用低秩适配微调。\n"}, "en": {"a.md": "# T { #t }\n\nWe use LoRA.\n"}}
    assert checks.unused_terms([lora], pages) == []
    unused = checks.unused_terms([lora, ghost], pages)
    assert len(unused) == 2 and all("ghost term" in problem for problem in unused), unused
    page = "# T { #t }\n\n## LoRA and RLHF { #h }\n\n## Why `QKV` and $W_Q$ { #c }\n"
    assert checks.missing_abbreviations(page, "a.md", [lora]) == ["a.md: heading abbreviation 'RLHF' is not in glossary.yml"]
    assert checks.missing_abbreviations(page.replace("RLHF", "LoRAs"), "a.md", [lora]) == []


# --- browser: the page audit ----------------------------------------------------------------------------


@pytest.mark.browser
def test_external_script_and_other_reader_facing_faults_fail_the_page_audit(tmp_path, chromium):
    site = write(
        tmp_path,
        {
            "clean/index.html": html('<p>Fine. <math><mi>x</mi></math></p><img src="ok.svg" alt="">'),
            "clean/ok.svg": '<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>',
            "cdn/index.html": html("<p>x</p>", '<script src="https://cdn.example.com/lib.js"></script>'),
            "console/index.html": html('<script>console.error("boom")</script>'),
            "missing/index.html": html('<img src="nope.png" alt="">'),
            "rawtex/index.html": html(r"<p>Energy: $$E = mc^2$$ and \(x\)</p>"),
            "nomath/index.html": html("<p>no formula here</p>"),
            "wide/index.html": html(
                '<div style="width: 1200px">wide</div>', '<meta name="viewport" content="width=device-width">'
            ),
            "clipped/index.html": html(
                '<article><div style="overflow: hidden; width: 120px"><math><mi>'
                + "x" * 80
                + '</mi><annotation encoding="application/x-tex">x</annotation></math></div></article>',
                '<meta name="viewport" content="width=device-width">',
            ),
            "scrolls/index.html": html(
                '<article><div style="overflow-x: auto; width: 120px"><math><mi>'
                + "x" * 80
                + "</mi></math></div></article>",
                '<meta name="viewport" content="width=device-width">',
            ),
            "covered/index.html": html(
                '<pre style="position: relative"><button class="md-clipboard" style="position: absolute; '
                'top: 4px; right: 4px; width: 32px; height: 32px"></button><code>import torch</code></pre>'
            ),
            "widecode/index.html": html(
                '<article><div class="highlight"><span class="filename">snippets/a/b.py</span>'
                '<pre style="overflow: auto; max-width: 600px"><code>' + "x = 1  # " * 30 + "</code></pre>"
                "</div></article>",
                '<meta name="viewport" content="width=device-width">',
            ),
        },
    )
    context = chromium.new_context(**PHONE)
    try:
        with checks.serve(site) as base:
            names = ["clean", "cdn", "console", "missing", "rawtex", "nomath", "wide", "clipped", "scrolls"]
            names += ["covered", "widecode"]
            urls = [f"{base}{name}/" for name in names]
            report = checks.audit_pages(context, urls, {f"{base}nomath/": True}, desktop_code=True)
    finally:
        context.close()
    found = {name: "\n".join(report[f"{base}{name}/"]) for name in names}
    assert found["clean"] == ""
    assert "request to another host: https://cdn.example.com/lib.js" in found["cdn"]
    assert "console error: boom" in found["console"]
    assert "failed request" in found["missing"] and "nope.png" in found["missing"]
    assert "raw TeX" in found["rawtex"]
    assert "no <math> element" in found["nomath"]
    assert "horizontal scroll" in found["wide"]
    assert "clipped" in found["clipped"] and found["scrolls"] == ""
    assert "copy button on their first line" in found["covered"]
    assert "executed code scrolls sideways" in found["widecode"] and "snippets/a/b.py" in found["widecode"]


# --- browser: search ------------------------------------------------------------------------------------


@pytest.mark.browser
def test_failed_search_expectation_fails_the_search_gate(served_site, chromium):
    """The handbook's own search on the built site: a right expectation passes, wrong ones are named."""
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        root = checks.language_roots(served_site)["en"]
        found = checks.search_all(page, root, ["rotary position embedding", "zzzzqqq"])
    finally:
        context.close()
    results, nothing = found["rotary position embedding"], found["zzzzqqq"]
    others = checks.other_roots(served_site, "en")
    assert checks.judge_search(results, root, "transformer/positional-encodings", others) == []
    wrong = checks.judge_search(results, root, "training/peft-lora", others)
    unbuilt = checks.judge_search(results, root, "not-written/yet", others)
    zh_result = served_site + "transformer/normalization/"
    stray = checks.judge_search([*results, zh_result], root, "transformer/positional-encodings", others)
    assert wrong and "expected" in wrong[0], wrong
    assert unbuilt and "not among the results" in unbuilt[0], unbuilt
    assert nothing == [] and "no results" in checks.judge_search(nothing, root, "x/y", others)[0]
    assert stray, "a result outside the reader's language is flagged"
