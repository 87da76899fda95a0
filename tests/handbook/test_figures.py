"""Figures are deterministic, accessible, and drawn in the colours of the page's theme."""

from __future__ import annotations

import re

from mllm_handbook.figures import FIGURE_PREFIX, PALETTE, new_figure, show, to_svg


def figure():
    fig, ax = new_figure(4, 2)
    ax.plot([0, 1, 2], [2, 0, 1], label="loss")
    ax.set_title("a title")
    ax.legend()
    return fig


def test_two_renders_are_byte_identical():
    assert to_svg(figure(), "alt") == to_svg(figure(), "alt")


def test_the_svg_has_an_accessible_name_and_no_metadata():
    svg = to_svg(figure(), 'a "quoted" <alt>')
    assert svg.startswith("<svg") and "\n" not in svg
    assert 'role="img" aria-label="a &quot;quoted&quot; &lt;alt&gt;"' in svg
    assert "<title>a &quot;quoted&quot; &lt;alt&gt;</title>" in svg
    assert "<metadata" not in svg and "dc:date" not in svg


def test_background_is_transparent_and_black_follows_the_theme():
    """No white patch (figure, axes or legend) and no hard black: both would vanish in one theme."""
    svg = to_svg(figure(), "alt")
    fills = re.findall(r"fill:\s*(#[0-9a-f]{6}|currentColor|none)", svg)
    assert "#ffffff" not in fills, "a white background patch"
    assert "#000000" not in svg and "currentColor" in svg
    # Black text and tick marks carry no fill of their own: they inherit the root's, not SVG's black.
    assert re.match(r"<svg[^>]* fill=\"currentColor\"", svg)
    assert re.search(r"<text (?![^>]*fill)", svg), "the figure has unfilled text for this test to cover"


def test_show_prints_one_figure_element(capsys):
    show(figure(), "alt")
    out = capsys.readouterr().out
    assert out.startswith(FIGURE_PREFIX) and out.count("<svg") == 1 and out.endswith("</figure>\n")


def luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_the_colour_cycle_keeps_3_to_1_on_white_and_on_material_slate():
    """Slate is Material's dark background, hsl(232, 15%, 14%) = #1e2129."""
    for colour in PALETTE:
        on_white = 1.05 / (luminance(colour) + 0.05)
        on_slate = (luminance(colour) + 0.05) / (luminance("#1e2129") + 0.05)
        assert min(on_white, on_slate) >= 3, colour
    fig, ax = new_figure()
    ax.plot([0, 1], [0, 1])
    assert PALETTE[0] in to_svg(fig, "alt")
