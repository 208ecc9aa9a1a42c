"""labreport.console.terminal_text: what a reader would have seen on the terminal at the end.

(The end-to-end cases, through real programs, are in test_gallery.py; any bytes at all in
test_robustness.py.)"""

from __future__ import annotations

import pytest

from labreport.console import terminal_text


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"plain\nlines\n", "plain\nlines\n"),
        (b"crlf\r\nline\r\n", "crlf\nline\n"),
        # tqdm and hand-written bars: \r back to the start, later text over earlier text
        (b"  0%|      |\r 50%|###   |\r100%|######|\n", "100%|######|\n"),
        (b"long line here\rshort\n", "shortline here\n"),
        # Keras's Progbar: backspaces over the whole bar, then \r, then the new bar
        (
            b"1/2 [==>...]" + b"\b" * 12 + b"\r2/2 [======] - loss: 0.5\n",
            "2/2 [======] - loss: 0.5\n",
        ),
        (b"abc\b\bX\n", "aXc\n"),
        (b"\b\b\bstart\n", "start\n"),  # not past the line's start
        # cursor up (ESC[A, ESC[nA) and erase line (ESC[2K, ESC[K): multi-line redraws
        (b"a  0%\nb  0%\n\x1b[2A\x1b[2Ka 100%\n\x1b[2Kb 100%\n", "a 100%\nb 100%\n"),
        (b"one\ntwo\n\x1b[A\rTWO\n", "one\nTWO\n"),
        (b"top\n\x1b[9Aup\n", "upp\n"),  # not above the first line
        (b"row 1\nrow 2\nrow 3\n\x1b[3A\x1b[Jdone\n", "done\n"),  # ESC[J: all below goes
        (b"keep this\x1b[4D\x1b[Kthat\n", "keep that\n"),
        (b"ab\x1b[3Ccd\n", "ab   cd\n"),
        (b"ab\x1b[1Gx\n", "xb\n"),
        (b"first\nsecond\x1b[Fx\n", "xirst\nsecond"),  # its \n only goes down to "second"
        # colours, titles and stray control bytes go; what they surrounded stays
        (b"\x1b[1;32mgreen\x1b[0m and plain\n", "green and plain\n"),
        (b"\x1b]0;title\x07shown\n", "shown\n"),
        (b"nul\x00byte bell\x07\n", "nulbyte bell\n"),
        (b"caf\xe9\n", "caf\ufffd\n"),
        (b"tab\tkept\n", "tab\tkept\n"),
    ],
)
def test_redrawn_lines_end_in_their_final_state(raw: bytes, text: str) -> None:
    assert terminal_text(raw) == text


def test_a_real_tqdm_style_stream_collapses_to_its_last_bar() -> None:
    updates = b"".join(
        b"\rtrain: %3d%%|%-10s| %d/50" % (i * 2, b"#" * (i // 5), i) for i in range(51)
    )
    assert terminal_text(b"start\n" + updates + b"\ndone\n") == (
        "start\ntrain: 100%|##########| 50/50\ndone\n"
    )


def test_cursor_moves_far_past_the_line_cost_no_more_than_a_short_gap() -> None:
    far = terminal_text(b"x\x1b[999999999Cy\n")
    assert far.startswith("x ") and far.endswith(" y\n") and len(far) < 200
    # a number no terminal would take counts as 1: column 1
    assert terminal_text(b"x\x1b[" + b"9" * 5000 + b"Gz\n") == "z\n"
