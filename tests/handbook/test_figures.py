"""Figures are deterministic, accessible, and drawn in the colours of the page's theme."""

from __future__ import annotations

import re

from mllm_handbook.figures import FIGURE_PREFIX, new_figure, show, to_svg


def figure():
    fig, ax = new_figure(4, 2)
    ax.plot([0, 1, 2], [2, 0, 1], label="loss")
    ax.set_title("a title")
    ax.legend()
    return fig


def test_two_renders_are_byte_identical():
    assert to_svg(figure(), "alt") == to_svg(figure(), "alt")


def test_the_svg_has_an_accessible_name_and_no_date():
    svg = to_svg(figure(), 'a "quoted" <alt>')
    assert svg.startswith("<svg") and "\n" not in svg
    assert 'role="img" aria-label="a &quot;quoted&quot; &lt;alt&gt;"' in svg
    assert "<title>a &quot;quoted&quot; &lt;alt&gt;</title>" in svg
    assert "dc:date" not in svg


def test_background_is_transparent_and_black_follows_the_theme():
    """No white patch (figure, axes or legend) and no hard black: both would vanish in one theme."""
    svg = to_svg(figure(), "alt")
    fills = re.findall(r"fill:\s*(#[0-9a-f]{6}|currentColor|none)", svg)
    assert "#ffffff" not in fills, "a white background patch"
    assert "#000000" not in svg and "currentColor" in svg


def test_show_prints_one_figure_element(capsys):
    show(figure(), "alt")
    out = capsys.readouterr().out
    assert out.startswith(FIGURE_PREFIX) and out.count("<svg") == 1 and out.endswith("</figure>\n")
