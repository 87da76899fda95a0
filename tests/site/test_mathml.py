"""Build-time math: arithmatex's TeX wrappers become MathML, and what latex2mathml cannot do is reported."""

from handbook_site.mathml import render_math


def collect():
    reported = []
    return reported, lambda tex, error: reported.append((tex, str(error)))


def test_inline_and_display_math_become_mathml():
    reported, report = collect()
    html = (
        '<p>A <span class="arithmatex">\\(x^2 &lt; y\\)</span> B</p>'
        '<div class="arithmatex">\\[\\frac{1}{d}\\sum_i x_i\\]</div>'
    )
    out = render_math(html, report)
    assert reported == []
    assert "arithmatex" not in out
    assert '<span class="math math-inline"><math' in out and 'display="inline"' in out
    assert '<div class="math math-block"><math' in out and 'display="block"' in out
    assert "<mfrac>" in out and "<mo>&#x0003C;</mo>" in out  # "&lt;" was unescaped, then encoded as MathML


def test_unknown_command_is_reported_and_left_visible():
    reported, report = collect()
    html = '<span class="arithmatex">\\(\\notacommand{x}\\)</span>'
    assert render_math(html, report) == html
    assert reported and "unsupported TeX command \\notacommand" in reported[0][1]


def test_alignment_is_reported():
    reported, report = collect()
    render_math('<div class="arithmatex">\\[\\begin{aligned} a &amp;= b \\end{aligned}\\]</div>', report)
    assert reported and "alignment is not supported" in reported[0][1]
