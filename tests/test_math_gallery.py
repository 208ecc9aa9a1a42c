"""Issue #16 point 5: the mathematics of a course on recurrent networks, typeset by ziamath.

A gallery of formulas from RNN, LSTM, GRU and attention theory, each drawn in display style
($$...$$) and text style ($...$) as an SVG of paths; the layout claims the issue makes (limits
above and below only in display style, an aligned block aligned on its '=' signs); an unknown
command as an error naming the field, in the build and in ``labreport validate``; and every
formula of the shipped course.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from labreport import formulas
from labreport.cli import cli
from labreport.errors import RenderError
from labreport.formulas import Formula, FormulaError, render_formula
from labreport.prose import ProseRenderer, _formulas, _markdown
from labreport.spec import load_experiment, prose_fields

from conftest import REPO, copy_project

SPEC = Path("experiments/gallery/experiment.yaml")

GALLERY: dict[str, str] = {
    "rnn hidden state": r"h_t = \tanh(W_{hh} h_{t-1} + W_{xh} x_t + b_h)",
    "rnn output": r"\hat{y}_t = \operatorname{softmax}(W_{hy} h_t + b_y)",
    "lstm forget gate": r"f_t = \sigma(W_f [h_{t-1}, x_t] + b_f)",
    "lstm input gate": r"i_t = \sigma(W_i [h_{t-1}, x_t] + b_i)",
    "lstm candidate": r"\tilde{c}_t = \tanh(W_c [h_{t-1}, x_t] + b_c)",
    "lstm output gate": r"o_t = \sigma(W_o [h_{t-1}, x_t] + b_o)",
    "lstm cell": r"c_t = f_t \odot c_{t-1} + i_t \odot \tilde{c}_t",
    "lstm hidden": r"h_t = o_t \odot \tanh(c_t)",
    "gru update gate": r"z_t = \sigma(W_z x_t + U_z h_{t-1} + b_z)",
    "gru reset gate": r"r_t = \sigma(W_r x_t + U_r h_{t-1} + b_r)",
    "gru state": r"h_t = (1 - z_t) \odot h_{t-1} + z_t \odot \tanh(W x_t + U (r_t \odot h_{t-1}))",
    "bptt jacobians": (
        r"\frac{\partial L}{\partial h_t} = \frac{\partial L}{\partial h_T}"
        r" \prod_{k=t+1}^{T} \frac{\partial h_k}{\partial h_{k-1}}"
    ),
    "bptt sum": r"\frac{\partial L}{\partial W} = \sum_{t=1}^{T} \frac{\partial L_t}{\partial W}",
    "softmax attention": r"\alpha_{t,s} = \frac{\exp(e_{t,s})}{\sum_{s'=1}^{S} \exp(e_{t,s'})}",
    "context vector": r"c_t = \sum_{s=1}^{S} \alpha_{t,s} \mathbf{h}_s",
    "scaled dot-product": (
        r"\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\left(\frac{Q K^\top}{\sqrt{d_k}}\right) V"
    ),
    "cross-entropy": r"L = -\sum_{t=1}^{T} \sum_{c=1}^{C} y_{t,c} \log \hat{y}_{t,c}",
    "weights bmatrix": (
        r"W = \begin{bmatrix} w_{11} & w_{12} & w_{13} \\ w_{21} & w_{22} & w_{23} \end{bmatrix}"
    ),
    "stacked pmatrix": r"\begin{pmatrix} i_t \\ f_t \\ o_t \\ g_t \end{pmatrix} = "
    r"\begin{pmatrix} \sigma \\ \sigma \\ \sigma \\ \tanh \end{pmatrix} W \begin{pmatrix} h_{t-1}"
    r" \\ x_t \end{pmatrix}",
    "relu cases": r"\mathrm{ReLU}(x) = \begin{cases} x & x > 0 \\ 0 & \text{otherwise} \end{cases}",
    "gradient clipping": (
        r"g \leftarrow \begin{cases} g & \lVert g \rVert \le \theta \\"
        r" \dfrac{\theta}{\lVert g \rVert} g & \text{otherwise} \end{cases}"
    ),
    "aligned derivation": (
        r"\begin{aligned} \delta c_t &= \delta h_t \odot o_t \odot (1 - \tanh^2 c_t)"
        r" + f_{t+1} \odot \delta c_{t+1} \\ \delta f_t &= \delta c_t \odot c_{t-1} \\"
        r" \delta i_t &= \delta c_t \odot \tilde{c}_t \end{aligned}"
    ),
    "underbrace": r"c_t = \underbrace{f_t \odot c_{t-1}}_{\text{keep}}"
    r" + \underbrace{i_t \odot \tilde{c}_t}_{\text{write}}",
    "overbrace": r"\overbrace{W_{hh}^{T-t}}^{\text{vanishes}} \delta_T",
    "norm": r"\lVert \nabla_\theta L \rVert_2 \le \theta",
    "sigmoid": r"\sigma(x) = \frac{1}{1 + e^{-x}}",
    "tanh derivative": r"\tanh'(x) = 1 - \tanh^2(x)",
    "expectation": r"\mathbb{E}_{x \sim p}\left[-\log q(x)\right]",
    "perplexity": r"\mathrm{PPL} = \exp\left(-\frac{1}{N} \sum_{i=1}^{N} \log p(w_i)\right)",
    "hat and bold": r"\hat{\mathbf{y}} = \mathbf{W}^\top \mathbf{h} \in \mathbb{R}^{d}",
}


def _svg(formula: Formula) -> ET.Element:
    return ET.fromstring(formula.svg)


def _tag(element: ET.Element) -> str:
    return element.tag.rpartition("}")[2]


@pytest.mark.parametrize("name", list(GALLERY))
@pytest.mark.parametrize("display", [True, False], ids=["display", "inline"])
def test_each_formula_is_an_svg_of_paths(name: str, display: bool) -> None:
    formula = render_formula(GALLERY[name], display)
    svg = _svg(formula)
    assert _tag(svg) == "svg"
    tags = {_tag(element) for element in svg.iter()}
    assert "path" in tags
    # Glyphs are outlines where they stand: no font, no <text>, no <use> of a <symbol>.
    assert not tags & {"text", "use", "symbol", "font", "style", "image"}, tags
    _, _, width, height = (float(v) for v in svg.attrib["viewBox"].split())
    assert formula.width_em == pytest.approx(width / formulas.EM_UNITS)
    assert formula.height_em == pytest.approx(height / formulas.EM_UNITS)
    assert 0 < formula.depth_em < formula.height_em  # the baseline runs through the drawing
    img = formula.img(display, GALLERY[name])
    assert img.startswith(f'<img class="math-{"display" if display else "inline"}"')
    assert f'style="width:{formula.width_em:.3f}em' in img
    assert (f"vertical-align:{-formula.depth_em:.3f}em" in img) is not display


def test_the_gallery_is_the_size_the_issue_asks_for() -> None:
    assert len(GALLERY) >= 25


@pytest.mark.parametrize(
    "tex", [r"\sum_{t=1}^{T} x_t", r"\prod_{k=t+1}^{T} J_k", r"c_t = \sum_{s=1}^{S} a_s h_s"]
)
def test_limits_go_above_and_below_in_display_style_only(tex: str) -> None:
    display, inline = render_formula(tex, True), render_formula(tex, False)
    assert inline.height_em < display.height_em  # text style: limits beside, as scripts
    assert display.width_em < inline.width_em  # display style: stacked over the operator


def test_limits_do_not_collide_with_their_neighbours() -> None:
    """The lower limit k=t+1 is wider than the product sign: the formula makes room for it."""
    alone = render_formula(r"\prod_{k=t+1}^{T}", True).width_em
    left = render_formula(r"\frac{\partial L}{\partial h_T}", True).width_em
    right = render_formula(r"\frac{\partial h_k}{\partial h_{k-1}}", True).width_em
    whole = render_formula(GALLERY["bptt jacobians"].partition("= ")[2], True).width_em
    assert whole >= left + alone + right


def _glyph_boxes(svg: bytes) -> list[tuple[float, float]]:
    """The x extent of every glyph (path) of a drawn formula, left to right."""
    boxes = []
    for path in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}path"):
        xs = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", path.get("d", ""))][0::2]
        if xs:
            boxes.append((min(xs), max(xs)))
    return sorted(boxes)


@pytest.mark.parametrize("operator", [r"\prod_{k=t+1}^{T}", r"\sum_{t=1}^{T}"])
def test_displayed_limits_stay_clear_of_the_letters_beside_them(operator: str) -> None:
    """The lower limit k=t+1 is wider than the product sign: set between two letters, every
    glyph of the operator and its limits lies strictly between them."""
    boxes = _glyph_boxes(render_formula(f"a {operator} b", True).svg)
    a_right, b_left = boxes[0][1], boxes[-1][0]
    middle = boxes[1:-1]
    assert len(middle) >= 4  # the operator and its limits
    assert all(a_right < left and right < b_left for left, right in middle), boxes


def test_inline_letters_with_scripts_keep_within_a_line_of_text() -> None:
    """The body's line is 1.4 em: its text reaches ~1.05 em above the baseline and ~0.35 em
    below. A letter with a subscript, a hat or a superscript drawn inline stays inside it, so
    it does not push the lines apart: the image is the ink's box, its baseline on the text's."""
    for tex in [r"h_t", r"\hat{y}_t", r"x^2", r"\tilde{c}_t", r"W_{hh}", r"(x)"]:
        formula = render_formula(tex, False)
        assert formula.height_em - formula.depth_em <= 1.05, tex
        assert formula.depth_em <= 0.35, tex


def test_an_inline_sum_or_product_with_a_subscript_keeps_within_a_line_of_text() -> None:
    """#16: inline `∑_t` opened a gap between lines (its subscript hung below the operator's
    own depth, 0.65 em under the baseline). Inline, the scripts sit beside the operator as a
    letter's do, so it stays within the line as `h_t` does; with both limits only the
    superscript reaches a little higher."""
    for tex in [r"L = \sum_t L_t", r"\prod_k J_k", r"\sum_{t=1} x_t", r"\int_0 f"]:
        formula = render_formula(tex, False)
        assert formula.height_em - formula.depth_em <= 1.05, tex
        assert formula.depth_em <= 0.35, tex
    both = render_formula(r"\sum_{t=1}^{T} \delta a_t", False)
    assert both.depth_em <= 0.35 and both.height_em - both.depth_em <= 1.25


def test_a_paragraph_with_inline_sums_keeps_its_line_spacing() -> None:
    """Laid out by WeasyPrint: every line of a paragraph with `L = ∑_t L_t` and `∏_k J_k` in it
    is as far from the next as in plain text."""
    from labreport.pagecheck import flow
    from labreport.pdf import load_weasyprint

    sums = [render_formula(t, False).img(False, t) for t in (r"L = \sum_t L_t", r"\prod_k J_k")]
    words = " word" * 25
    style = "font-size: 10.5pt; line-height: 1.4; width: 80mm"
    body = f"<p style='{style}'>{words}{sums[0]}{words}{sums[1]}{words}</p>"
    lines = flow(load_weasyprint().HTML(string=body).render())[0]
    pitches = {round(b.bottom - a.bottom, 1) for a, b in zip(lines, lines[1:], strict=False)}
    assert len(lines) > 6 and len(pitches) == 1, pitches


def _shape(d: str) -> list[float]:
    """A path's numbers, moved so that its first point is at (0, 0)."""
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", d)]
    x0, y0 = numbers[0], numbers[1]
    return [n - (x0 if i % 2 == 0 else y0) for i, n in enumerate(numbers)]


def _equals_signs(svg: ET.Element, sign: list[float]) -> list[tuple[float, float]]:
    """Where the glyph of ``sign`` (its first point) is drawn in ``svg``."""
    found = []
    for path in svg.iter("{http://www.w3.org/2000/svg}path"):
        d = path.get("d", "")
        shape = _shape(d)
        same = len(shape) == len(sign)
        if same and all(abs(a - b) < 0.01 for a, b in zip(shape, sign, strict=True)):
            numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", d)]
            found.append((numbers[0], numbers[1]))
    return found


def test_an_aligned_block_lines_its_equals_signs_up() -> None:
    lines = [r"a &= b + c", r"\delta c_t + x_{t-1} &= f", r"y &= \tanh(z) \odot w"]
    block = render_formula(r"\begin{aligned} " + r" \\ ".join(lines) + r" \end{aligned}", True)
    [sign] = [p.get("d", "") for p in _svg(render_formula("=", True)).iter() if _tag(p) == "path"]
    places = _equals_signs(_svg(block), _shape(sign))
    assert len(places) == 3, places
    xs = [x for x, _ in places]
    assert max(xs) - min(xs) < 0.01, xs  # one column of '=' though the left sides differ
    assert len({round(y, 1) for _, y in places}) == 3  # on three lines
    widths = [render_formula(line.replace("&", ""), True).width_em for line in lines]
    assert block.width_em < sum(widths)  # stacked, not in a row


def test_matrices_and_cases_are_drawn_as_tables() -> None:
    one_row = render_formula(r"\begin{bmatrix} a & b \end{bmatrix}", True)
    two_rows = render_formula(r"\begin{bmatrix} a & b \\ c & d \end{bmatrix}", True)
    one_long_row = render_formula(r"\begin{bmatrix} a & b & c & d \end{bmatrix}", True)
    assert two_rows.height_em > 1.5 * one_row.height_em  # a second row, below the first
    assert two_rows.width_em < one_long_row.width_em - 1  # not beside it
    cases = render_formula(r"\begin{cases} x & x > 0 \\ 0 & \text{otherwise} \end{cases}", True)
    in_a_row = render_formula(r"\{ x \quad x > 0 \quad 0 \quad \text{otherwise}", True)
    assert cases.width_em < in_a_row.width_em - 1
    assert cases.height_em > 1.5 * in_a_row.height_em


def prose() -> ProseRenderer:
    return ProseRenderer(SPEC, {}, REPO / "tests/projects/mini/experiments/alpha")


@pytest.mark.parametrize(
    ("tex", "command"),
    [
        (r"\foo x", r"\foo"),
        (r"h_t = \tanhh(x)", r"\tanhh"),
        (r"\begin{bmatrix} a & \bogus \end{bmatrix}", r"\bogus"),
        (r"\text{see \ref}", r"\ref"),
    ],
)
def test_an_unknown_command_is_an_error_naming_the_field_and_the_fix(
    tex: str, command: str
) -> None:
    for text in (f"Before ${tex}$ after.", f"$${tex}$$"):
        with pytest.raises(RenderError) as caught:
            prose().block(text, "theory", {})
        message = caught.value.format_message()
        assert message.startswith(f"{SPEC}: theory: cannot typeset ${tex}$: ")
        assert f"unknown command {command} " in message
        assert message.endswith(f"({formulas.TYPESET_FIX})")
        assert "\n" not in message


@pytest.mark.parametrize("tex", [r"\frac{a", r"\begin{aligned} a &= b", r"x^", r"\left( x"])
def test_malformed_tex_is_an_error_not_a_crash(tex: str) -> None:
    with pytest.raises(FormulaError) as caught:
        render_formula(tex, True)
    assert caught.value.what.startswith(f"cannot typeset ${tex}$: ")
    assert caught.value.fix == formulas.TYPESET_FIX


def test_equation_numbers_are_refused_they_would_be_a_page_wide() -> None:
    with pytest.raises(FormulaError, match=r"\\tag is not supported"):
        render_formula(r"E = mc^2 \tag{1}", True)


def test_validate_reports_an_unknown_command_as_the_build_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = copy_project("mini", tmp_path / "mini")
    monkeypatch.chdir(root)
    spec = root / "experiments/alpha/experiment.yaml"
    spec.write_text(spec.read_text().replace("constant slope.", r"slope $\slope x$."))
    expected = (
        r"experiments/alpha/experiment.yaml: theory: cannot typeset $\slope x$: unknown command "
        rf"\slope ({formulas.TYPESET_FIX})"
    )
    checked = CliRunner().invoke(cli, ["validate", "alpha"])
    assert checked.exit_code == 1
    assert expected in checked.stderr + checked.stdout
    built = CliRunner().invoke(cli, ["build", "alpha", "--format", "html"])
    assert built.exit_code == 1
    assert built.stderr.strip().splitlines()[-1] == f"Error: {expected}"


def test_display_and_text_style_are_cached_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tex = r"\sum_{i=1}^{n} x_i^{(cached)}"
    with formulas.cached_in(tmp_path):
        display, inline = render_formula(tex, True), render_formula(tex, False)
    assert len(list(tmp_path.glob("*.json"))) == 2

    def never(tex: str, display: bool) -> Formula:
        raise AssertionError("drawn again")

    monkeypatch.setattr(formulas, "_draw", never)
    with formulas.cached_in(tmp_path):
        assert render_formula(tex, True) == display
        assert render_formula(tex, False) == inline


def _course_formulas() -> list[tuple[str, str, str, bool]]:
    found = []
    for folder in sorted((REPO / "experiments").iterdir()):
        if not (folder / "experiment.yaml").is_file():
            continue
        spec = load_experiment(folder).spec
        for field, text in prose_fields(spec):
            for token in _walk(_markdown.parse(text)):
                if token.type.startswith("math"):
                    display = token.type.startswith("math_block") or token.markup == "$$"
                    found.append((folder.name, field, str(token.content), display))
    return found


def _walk(tokens: list) -> list:  # type: ignore[type-arg]
    out = []
    for token in tokens:
        out.append(token)
        out += _walk(token.children or [])
    return out


def test_every_formula_of_the_shipped_course_is_typeset() -> None:
    found = _course_formulas()
    assert len(found) > 200  # exp5 to exp14 state their theory in formulas
    assert len(found) == sum(
        len(_formulas(_markdown.parse(text)))
        for folder in sorted((REPO / "experiments").iterdir())
        if (folder / "experiment.yaml").is_file()
        for _, text in prose_fields(load_experiment(folder).spec)
    )
    failed = []
    for exp, field, tex, display in found:
        try:
            render_formula(tex, display)
        except FormulaError as exc:
            failed.append(f"{exp}: {field}: {exc}")
    assert not failed, failed


def test_the_gallery_lays_out_as_a_pdf(tmp_path: Path) -> None:
    """WeasyPrint draws ziamath's SVG: a page of the gallery, display and inline."""
    from pypdf import PdfReader

    from labreport.pdf import render_pdf

    text = "\n\n".join(
        f"{name}: ${tex}$\n\n$${tex}$$" for name, tex in GALLERY.items() if "begin" not in tex
    )
    text += "\n\n" + "\n\n".join(f"$${tex}$$" for tex in GALLERY.values() if "begin" in tex)
    body = prose().block(text, "theory", {})
    html = f"<html><body><main class='record'><section>{body}</section></main></body></html>"
    (tmp_path / "gallery.pdf").write_bytes(render_pdf(html, root=tmp_path))
    pages = PdfReader(tmp_path / "gallery.pdf").pages
    assert len(pages) >= 2
    words = " ".join(page.extract_text() for page in pages)
    assert "lstm forget gate" in words and "\\frac" not in words


def test_a_sign_after_an_operator_is_unary() -> None:
    """In ``L = -\\sum ...`` the minus belongs to the sum: no binary space around it (ziamath
    alone spaces it like the minus of ``a - b``)."""
    unary = render_formula("a = -b", True).width_em
    binary = render_formula("a = c - b", True).width_em - render_formula("c", True).width_em
    assert unary < binary - 0.3
