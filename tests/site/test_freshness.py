"""Translation freshness: the record, the notice on outdated English pages, and `make stale`/`translated`.

``test_list_stale_translations`` is how ``make test`` shows stale pages: a warning in pytest's summary, never
a failure, because an outdated translation is worth a notice, not a red build (the page shows it too).
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest

import translations
from handbook_build import freshness, hooks
from tests.conftest import ROOT
from tests.site import tiny_site

ZH = "---\ntitle: 小页面\n---\n\n# 小页面 { #alpha }\n\n正文。\n"
EN = "---\ntitle: A tiny page\n---\n\n# A tiny page { #alpha }\n\nBody.\n"


class StaleTranslationWarning(UserWarning):
    """An English page whose Chinese twin changed since it was translated."""


def docs(tmp_path: Path, zh: str = ZH, en: str = EN) -> Path:
    for lang, text in (("zh", zh), ("en", en)):
        tiny_site.write(tmp_path / f"docs/{lang}/demo/alpha.md", text)
    return tmp_path / "docs"


def test_list_stale_translations():
    """Prints (in pytest's warnings summary) the English pages whose Chinese source changed; never fails."""
    if translations.outdated(ROOT / "docs"):
        warnings.warn(translations.report(ROOT / "docs"), StaleTranslationWarning, stacklevel=1)


def test_fingerprint_ignores_line_endings_and_trailing_spaces_only():
    base = freshness.fingerprint(ZH)
    assert len(base) == 12 and int(base, 16) >= 0
    assert freshness.fingerprint(ZH.replace("\n", "\r\n")) == base
    assert freshness.fingerprint(ZH.replace("正文。", "正文。  ") + "\n\n") == base
    assert freshness.fingerprint(ZH.replace("正文", "新正文")) != base
    assert freshness.fingerprint(ZH.replace("小页面\n---", "新标题\n---")) != base  # front matter counts


def test_record_is_added_then_replaced_and_nothing_else_changes():
    once = translations.with_record(EN, "0123456789ab")
    assert once == EN.replace("title: A tiny page\n", 'title: A tiny page\ntranslated_from: "0123456789ab"\n')
    twice = translations.with_record(once, "000000000007")
    assert twice == once.replace("0123456789ab", "000000000007")
    assert translations.with_record("# No front matter\n", "abc").startswith('---\ntranslated_from: "abc"\n---\n')
    assert 'translated_from: "abc"\r\n---\r\n' in translations.with_record(EN.replace("\n", "\r\n"), "abc")


def test_status_follows_the_chinese_page_not_the_english_one(tmp_path):
    root = docs(tmp_path)
    assert freshness.status(root, "demo/alpha.md") == freshness.MISSING
    assert translations.update(root, "demo/alpha.md") is True
    assert translations.update(root, "demo/alpha.md") is False  # already recorded
    assert freshness.status(root, "demo/alpha.md") == freshness.FRESH
    en = root / "en/demo/alpha.md"
    en.write_text(en.read_text(encoding="utf-8").replace("Body.", "Better body."), encoding="utf-8")
    assert freshness.status(root, "demo/alpha.md") == freshness.FRESH  # editing English never stales it
    (root / "zh/demo/alpha.md").write_text(ZH.replace("正文。", "正文，改过了。"), encoding="utf-8")
    assert freshness.status(root, "demo/alpha.md") == freshness.STALE
    assert translations.outdated(root) == {"demo/alpha.md": freshness.STALE}
    assert "docs/en/demo/alpha.md (stale)" in translations.report(root)


@pytest.mark.parametrize("given", ["demo/alpha", "demo/alpha.md", "docs/en/demo/alpha.md", "zh/demo/alpha", "/demo/alpha/"])
def test_page_argument_forms(tmp_path, given):
    assert translations.normalise(given, docs(tmp_path)) == "demo/alpha.md"


def test_section_argument_means_its_index_and_unknown_pages_are_refused(tmp_path):
    root = docs(tmp_path)
    for lang, text in (("zh", ZH), ("en", EN)):
        tiny_site.write(root / f"{lang}/demo/index.md", text)
    assert translations.normalise("demo", root) == "demo/index.md"
    with pytest.raises(ValueError, match="Give PAGE as section/slug"):
        translations.normalise("demo/nope", root)


def render(root: Path, lang: str, markdown: str) -> str:
    """``hooks.on_page_markdown`` for ``docs/<lang>/demo/alpha.md`` of the tiny project at ``root``."""
    config = tiny_site.config(root, lang)
    page = SimpleNamespace(file=SimpleNamespace(src_uri="demo/alpha.md"), meta={}, url="demo/alpha/")
    return hooks.on_page_markdown(markdown, page, config, None)


def test_notice_goes_under_the_title_of_outdated_english_pages_only(tmp_path):
    root = tiny_site.make(tmp_path, {"zh/demo/alpha.md": ZH, "en/demo/alpha.md": EN})
    body = "# A tiny page { #alpha }\n\nBody.\n"
    noticed = render(root, "en", body)
    assert noticed.startswith("# A tiny page { #alpha }\n\n!!! warning handbook-outdated ")
    assert '<a href="../../../demo/alpha/" hreflang="zh">Chinese original</a>' in noticed
    assert render(root, "zh", body) == body
    translations.update(root / "docs", "demo/alpha.md")
    assert render(root, "en", body) == body


def test_command_line_report_update_and_errors(tmp_path, capsys):
    args = ["--docs-dir", str(docs(tmp_path))]
    assert translations.main(["--report", *args]) == 0
    assert "1 English page(s) may be outdated" in capsys.readouterr().out
    assert translations.main(["--update", "demo/nope", *args]) == 2
    assert "No English page" in capsys.readouterr().out
    assert translations.main(["--update", *args]) == 0  # no PAGE: every page
    assert "1 record(s) updated" in capsys.readouterr().out
    assert translations.main(["--report", *args]) == 0
    assert "All 1 English pages are up to date" in capsys.readouterr().out


def test_script_runs_as_make_translated_does(tmp_path):
    script = [sys.executable, str(ROOT / "scripts/translations.py"), "--docs-dir", str(docs(tmp_path))]
    assert subprocess.run([*script, "--update", "demo/alpha"], capture_output=True, text=True, check=True).stdout.startswith("recorded:")
    assert "up to date" in subprocess.run([*script, "--report"], capture_output=True, text=True, check=True).stdout


def test_make_stale_shows_the_chinese_changes_since_the_translation(tmp_path):
    root = docs(tmp_path)
    translations.update(root, "demo/alpha.md")

    def git(*args: str) -> str:
        cmd = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args]
        return subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, check=True).stdout.strip()

    git("init", "-q")
    git("add", "-A")
    git("commit", "-q", "-m", "translated")
    translated = git("log", "-1", "--format=%h")
    zh = root / "zh/demo/alpha.md"
    zh.write_text(ZH.replace("正文。", "正文，改过了。"), encoding="utf-8")
    git("commit", "-q", "-am", "zh changed")
    assert translations.translated_commit(root, "demo/alpha.md") == translated
    assert f"(stale; changes since: git diff {translated} -- docs/zh/demo/alpha.md)" in translations.report(root)
