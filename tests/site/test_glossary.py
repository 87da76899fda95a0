"""The glossary: every term is used, every heading abbreviation is explained, and first uses get tooltips.

``glossary.yml`` generates the glossary pages, the first-use tooltips and the search aliases; the checks
live in ``scripts/checks.py`` and ``test_gates_bite.py`` proves they fail on bad input.
"""

from __future__ import annotations

import markdown
import pytest

import checks
from handbook_build import content, glossary
from tests.conftest import ROOT

DOCS = ROOT / "docs"
TERMS = glossary.terms()
GENERATED = {"glossary.md", "reading-list.md"}  # they list the terms; they do not use them


def pages(lang: str) -> dict[str, str]:
    return {
        p.relative_to(DOCS / lang).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted((DOCS / lang).rglob("*.md"))
        if p.name not in GENERATED
    }


def test_each_term_is_complete_and_names_a_written_page():
    written = set(content.written_pages(DOCS / "zh"))
    for term in TERMS:
        assert term.get("zh") and term.get("en"), term
        assert term["def"].get("zh") and term["def"].get("en"), term["en"]
        assert term["page"] in written, f"{term['en']}: page {term['page']} is not a written page"


def test_no_two_terms_share_a_name():
    for key in ("zh", "en", "abbr"):
        names = [t[key].lower() for t in TERMS if t.get(key)]
        assert sorted({n for n in names if names.count(n) > 1}) == [], key


def test_every_term_is_used_by_a_page_in_each_language():
    assert checks.unused_terms(TERMS, {lang: pages(lang) for lang in ("zh", "en")}) == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_heading_abbreviation_is_in_the_glossary(lang):
    problems = []
    for name, text in pages(lang).items():
        problems += checks.missing_abbreviations(text, f"docs/{lang}/{name}", TERMS)
    assert problems == [], "\n".join(problems)


def render(text: str, lang: str) -> str:
    md = markdown.Markdown(
        extensions=["attr_list", "toc", "handbook_build.glossary"],
        extension_configs={"handbook_build.glossary": {"lang": lang}},
    )
    return md.convert(text)


def lora() -> dict:
    return next(t for t in TERMS if t.get("abbr") == "LoRA" or t["en"] == "LoRA")


def test_only_the_first_use_gets_a_tooltip_in_the_pages_language():
    html = render("We fine-tune with LoRA. Then LoRA again.\n\nAnd LoRA once more.", "en")
    assert html.count("<abbr") == 1 and html.index("<abbr") < html.index("Then")
    assert f'title="{glossary.tooltip(lora(), "en")}"' in html
    assert lora()["def"]["en"] in glossary.tooltip(lora(), "en")
    zh = next(t for t in TERMS if t["en"] == "multimodal large language model")
    assert glossary.tooltip(zh, "zh").startswith("multimodal large language model (MLLM)：")
    assert glossary.tooltip(zh, "en").startswith("多模态大模型 (MLLM): ")


def test_docstrings_on_the_api_reference_get_no_tooltips():
    """mkdocstrings converts each docstring as a document of its own: marks there would repeat per docstring."""
    from mkdocstrings import MkdocstringsInnerExtension

    md = markdown.Markdown(extensions=["toc", "handbook_build.glossary", MkdocstringsInnerExtension([])])
    assert "<abbr" not in md.convert("We fine-tune with LoRA.")
    assert "<abbr" in render("We fine-tune with LoRA.", "en")


def test_code_links_and_headings_are_left_alone():
    html = render("## LoRA { #lora }\n\n`LoRA` and [LoRA](x.md).\n\n```\nLoRA\n```\n\nFinally LoRA.", "en")
    assert html.count("<abbr") == 1 and "<abbr" in html.split("Finally")[1]


def test_names_match_whole_words_and_abbreviations_match_their_case():
    assert render("GLORA and flora and lora.", "en").count("<abbr") == 0
    assert render("Two LoRAs.", "en").count("<abbr") == 1  # a plural is a use
    kv = next(t for t in TERMS if t.get("abbr") == "KV")
    assert glossary.names(kv, "zh")[0] in render(f"先说{glossary.names(kv, 'zh')[0]}。", "zh")


def test_the_longest_name_wins():
    """自注意力 is one term, not 注意力 with a 自 in front."""
    self_attention = next(t for t in TERMS if t["zh"] == "自注意力")
    html = render("这里讲自注意力。", "zh")
    assert f">{self_attention['zh']}</abbr>" in html
