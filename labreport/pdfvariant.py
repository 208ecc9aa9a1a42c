"""The archival PDF variants labreport asks WeasyPrint for (``pdf_variant``).

One home for the accepted names, so that ``--pdf-variant``, ``[build] pdf_variant`` and their
errors agree, and so that a bad name is refused before anything runs (WeasyPrint itself is
imported only by the PDF workers; its ``weasyprint.pdf.VARIANTS`` holds more names, e.g. the
print-shop PDF/X ones, which a lab record has no use for).
"""

from __future__ import annotations

from labreport.errors import UsageError

# PDF/A keeps a record readable for decades (fonts embedded, no outside references); the ``u``
# levels add Unicode text, so the record stays searchable. PDF/UA-1 is the accessible PDF (tagged).
VARIANTS: tuple[str, ...] = (
    "pdf/a-1b", "pdf/a-2b", "pdf/a-3b", "pdf/a-2u", "pdf/a-3u", "pdf/a-4u", "pdf/ua-1",
)  # fmt: skip
OPTION = "--pdf-variant"


def parse_variant(value: str | None) -> str | None:
    """The variant ``value`` names (case and surrounding space do not matter), or None for a
    plain PDF (``None``, ``""`` or ``"none"``). ValueError for an unknown name, listing the
    accepted ones: the option turns it into a UsageError, labreport.toml's reader into its own
    error naming the key (both exit 2)."""
    if value is None:
        return None
    text = value.strip().lower()
    if text in ("", "none"):
        return None
    if text in VARIANTS:
        return text
    raise ValueError(f"unknown PDF variant {value!r}; accepted: {', '.join(VARIANTS)} or none")


def variant_option(value: str | None) -> str | None:
    """``--pdf-variant``'s value checked: a UsageError (exit 2) for an unknown name."""
    try:
        return parse_variant(value)
    except ValueError as exc:
        raise UsageError(str(exc), where=OPTION) from None
