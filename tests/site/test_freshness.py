"""Translation freshness: the record, the notice on outdated English pages, and `make stale`/`translated`.

``test_list_stale_translations`` is how ``make test`` prints the stale pages: it issues a
``StaleTranslationWarning`` that pytest shows in its warnings summary, and it never fails, because an
outdated translation is worth a notice, not a red build (the English page shows the same notice).
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from handbook_site import freshness
from tests import tiny_site
from tests.conftest import ROOT

ZH = "---\ntitle: 小页面\n---\n\n# 小页面 { #alpha }\n\n正文。\n"
EN = "---\ntitle: A tiny page\n---\n\n# A tiny page { #alpha }\n\nBody.\n"


def docs(tmp_path: Path, zh: str = ZH, en: str = EN) -> Path:
    for lang, text in (("zh", zh), ("en", en)):
        tiny_site.write(tmp_path / f"docs/{lang}/demo/alpha.md", text)
    return tmp_path / "docs"


def test_list_stale_translations():
    """Prints (in pytest's warnings summary) the English pages whose Chinese source changed; never fails."""
    stale = freshness.outdated(ROOT / "docs")
    if stale:
        warnings.warn(freshness.report(ROOT / "docs"), freshness.StaleTranslationWarning, stacklevel=1)


def test_fingerprint_ignores_line_endings_and_trailing_spaces_only():
    base = freshness.fingerprint(ZH)
    assert len(base) == 12 and int(base, 16) >= 0
    assert freshness.fingerprint(ZH.replace("\n", "\r\n")) == base
    assert freshness.fingerprint(ZH.replace("正文。", "正文。  ") + "\n\n") == base
    assert freshness.fingerprint(ZH.replace("正文", "新正文")) != base
    assert freshness.fingerprint(ZH.replace("小页面\n---", "新标题\n---")) != base  # front matter counts


def test_record_is_added_then_replaced_and_nothing_else_changes():
    once = freshness.with_record(EN, "0123456789ab")
    assert once == EN.replace("title: A tiny page\n", 'title: A tiny page\ntranslated_from: "0123456789ab"\n')
    twice = freshness.with_record(once, "000000000007")
    assert twice == once.replace("0123456789ab", "000000000007")
    assert freshness.recorded(twice) == "000000000007"  # quoted: an all-digit hash stays a string
    assert freshness.recorded(EN) is None
    assert freshness.with_record("# No front matter\n", "abc").startswith(
        '---\ntranslated_from: "abc"\n---\n'
    )
    crlf = freshness.with_record(EN.replace("\n", "\r\n"), "abc")
    assert 'translated_from: "abc"\r\n---\r\n' in crlf


def test_status_follows_the_chinese_page_not_the_english_one(tmp_path):
    docs_dir = docs(tmp_path)
    assert freshness.status(docs_dir, "demo/alpha") == freshness.MISSING
    assert freshness.update(docs_dir, "demo/alpha") is True
    assert freshness.update(docs_dir, "demo/alpha") is False  # already recorded
    assert freshness.status(docs_dir, "demo/alpha") == freshness.FRESH
    en = docs_dir / "en/demo/alpha.md"
    en.write_text(en.read_text(encoding="utf-8").replace("Body.", "Better body."), encoding="utf-8")
    assert freshness.status(docs_dir, "demo/alpha") == freshness.FRESH  # editing English never stales it
    zh = docs_dir / "zh/demo/alpha.md"
    zh.write_text(ZH.replace("正文。", "正文，改过了。"), encoding="utf-8")
    assert freshness.status(docs_dir, "demo/alpha") == freshness.STALE
    assert freshness.outdated(docs_dir) == {"demo/alpha": freshness.STALE}
    assert "docs/en/demo/alpha.md (stale)" in freshness.report(docs_dir)


def test_pages_need_a_chinese_twin(tmp_path):
    docs_dir = docs(tmp_path)
    tiny_site.write(docs_dir / "en/demo/only-english.md", EN)
    tiny_site.write(docs_dir / "en/index.md", EN)
    tiny_site.write(docs_dir / "zh/index.md", ZH)
    assert freshness.pages(docs_dir) == ["demo/alpha", "index"]


@pytest.mark.parametrize(
    "given", ["demo/alpha", "demo/alpha.md", "docs/en/demo/alpha.md", "zh/demo/alpha", "/demo/alpha/"]
)
def test_page_argument_forms(tmp_path, given):
    assert freshness.normalise_key(given, docs(tmp_path)) == "demo/alpha"


def test_section_argument_means_its_index(tmp_path):
    docs_dir = docs(tmp_path)
    for lang, text in (("zh", ZH), ("en", EN)):
        tiny_site.write(docs_dir / f"{lang}/demo/index.md", text)
    assert freshness.normalise_key("demo", docs_dir) == "demo/index"
    with pytest.raises(ValueError, match="Give PAGE as section/slug"):
        freshness.normalise_key("demo/nope", docs_dir)


def test_notice_goes_under_the_title_of_outdated_english_pages_only(tmp_path):
    docs_dir = docs(tmp_path)
    body = "# A tiny page { #alpha }\n\nBody.\n"
    url = "en/demo/alpha/"
    noticed = freshness.outdated_notice(body, "en/demo/alpha.md", url, docs_dir)
    assert noticed.startswith("# A tiny page { #alpha }\n\n!!! warning handbook-outdated ")
    assert '<a href="../../../demo/alpha/" hreflang="zh">Chinese original</a>' in noticed
    assert noticed.endswith("Body.\n")
    assert freshness.outdated_notice(body, "zh/demo/alpha.md", "demo/alpha/", docs_dir) == body
    assert freshness.outdated_notice(body, "en/demo/no-twin.md", "en/demo/no-twin/", docs_dir) == body
    freshness.update(docs_dir, "demo/alpha")
    assert freshness.outdated_notice(body, "en/demo/alpha.md", url, docs_dir) == body
    assert freshness.outdated_notice("No heading.\n", "en/index.md", "en/", docs_dir) == "No heading.\n"


@pytest.mark.parametrize(
    ("src", "dst", "rel"),
    [
        ("en/demo/alpha/", "demo/alpha/", "../../../demo/alpha/"),
        ("en/", "", "../"),
        ("en/demo/", "demo/", "../../demo/"),
        ("en/demo/alpha.html", "demo/alpha.html", "../../demo/alpha.html"),
    ],
)
def test_relative_url(src, dst, rel):
    assert freshness.relative_url(src, dst) == rel


def test_command_line_report_update_and_errors(tmp_path, capsys):
    docs_dir = docs(tmp_path)
    args = ["--docs-dir", str(docs_dir)]
    assert freshness.main(["--report", *args]) == 0
    assert "1 English page(s) may be outdated" in capsys.readouterr().out
    assert freshness.main(["--report", "--check", *args]) == 1
    assert freshness.main(["--update", "demo/nope", *args]) == 2
    assert "No English page" in capsys.readouterr().out
    assert freshness.main(["--update", *args]) == 0  # no PAGE: every page
    assert "1 record(s) updated" in capsys.readouterr().out
    assert freshness.main(["--report", "--check", *args]) == 0
    assert "All 1 English pages are up to date" in capsys.readouterr().out
    assert freshness.main(["--report", "--docs-dir", str(tmp_path / "nowhere")]) == 2


def test_module_runs_as_make_stale_does(tmp_path):
    docs_dir = docs(tmp_path)
    cmd = [
        sys.executable,
        "-m",
        "handbook_site.freshness",
        "--update",
        "demo/alpha",
        "--docs-dir",
        str(docs_dir),
    ]
    assert subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.startswith("recorded:")
    report = [sys.executable, "-m", "handbook_site.freshness", "--report", "--docs-dir", str(docs_dir)]
    assert "up to date" in subprocess.run(report, capture_output=True, text=True, check=True).stdout


@pytest.mark.build
def test_notice_appears_when_chinese_changes_and_disappears_once_recorded(tmp_path):
    site_map = {"sections": [{**tiny_site.SECTION, "pages": ["alpha"]}], "questions": []}
    pages = {
        "zh/demo/alpha.md": tiny_site.page("zh", "alpha"),
        "en/demo/alpha.md": tiny_site.page("en", "alpha"),
    }
    root = tiny_site.make(tmp_path, site_map, pages)
    docs_dir = root / "docs"
    assert freshness.main(["--update", "--docs-dir", str(docs_dir)]) == 0
    assert freshness.outdated(docs_dir) == {}

    # Change the Chinese page only.
    en_before = (docs_dir / "en/demo/alpha.md").read_bytes()
    zh = docs_dir / "zh/demo/alpha.md"
    zh.write_text(zh.read_text(encoding="utf-8") + "\n新增的一段。\n", encoding="utf-8")
    stale = tiny_site.build(root)
    assert stale.returncode == 0, stale.log[-4000:]
    assert "WARNING" not in stale.log  # a notice, not a build error
    english = (stale.site / "en/demo/alpha/index.html").read_text(encoding="utf-8")
    assert '<div class="admonition warning handbook-outdated">' in english
    assert '<a href="../../../demo/alpha/" hreflang="zh">Chinese original</a>' in english
    assert (stale.site / "en/demo/alpha/../../../demo/alpha/index.html").resolve().is_file()
    assert "handbook-outdated" not in (stale.site / "demo/alpha/index.html").read_text(encoding="utf-8")
    assert (docs_dir / "en/demo/alpha.md").read_bytes() == en_before

    # `make translated PAGE=demo/alpha` after checking the translation.
    assert freshness.main(["--update", "demo/alpha", "--docs-dir", str(docs_dir)]) == 0
    fresh = tiny_site.build(root)
    assert fresh.returncode == 0, fresh.log[-4000:]
    english = (fresh.site / "en/demo/alpha/index.html").read_text(encoding="utf-8")
    assert "handbook-outdated" not in english
    assert "A tiny page for tests" in english


def test_make_stale_shows_the_chinese_changes_since_the_translation(tmp_path):
    docs_dir = docs(tmp_path)
    freshness.update(docs_dir, "demo/alpha")

    def git(*args: str) -> str:
        cmd = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args]
        return subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, check=True).stdout.strip()

    git("init", "-q")
    git("add", "-A")
    git("commit", "-q", "-m", "translated")
    translated = git("log", "-1", "--format=%h")
    zh = docs_dir / "zh/demo/alpha.md"
    zh.write_text(ZH.replace("正文。", "正文，改过了。"), encoding="utf-8")
    git("commit", "-q", "-am", "zh changed")
    assert freshness.translated_commit(docs_dir, "demo/alpha") == translated
    expected = f"docs/en/demo/alpha.md (stale; changes since: git diff {translated} -- docs/zh/demo/alpha.md)"
    assert expected in freshness.report(docs_dir, with_diff=True)
    assert "git diff" not in freshness.report(docs_dir)
    zh.write_text(ZH.replace("正文。", "从未提交的内容。"), encoding="utf-8")
    freshness.update(docs_dir, "demo/alpha")  # recorded against a text that was never committed
    zh.write_text(ZH, encoding="utf-8")
    assert freshness.translated_commit(docs_dir, "demo/alpha") is None
