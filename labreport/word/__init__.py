"""Word output (``build --format docx``): the record as an editable ``.docx``.

Made from the same :class:`~labreport.render.RecordContext` as the HTML, so it shows the same
run (no program runs again) in the structure of the record's built-in theme: the worksheet's
header and footer tables on every page, the classic running title. One module per job:

* :mod:`~labreport.word.package`: python-docx loaded (or one clear error), the core properties
  and the zip fixed, so that the same record gives the same bytes;
* :mod:`~labreport.word.styles`: the page and the named styles (``Code``, ``Output``...);
* :mod:`~labreport.word.images`: pictures and formulas as PNG at print resolution;
* :mod:`~labreport.word.prose`: the prose's HTML (Markdown already rendered) as paragraphs;
* :mod:`~labreport.word.blocks`: the pieces both themes share (listing, output, figures, tables);
* :mod:`~labreport.word.themes`: the two structures, and :func:`render_docx`.

python-docx and CairoSVG are the ``labreport[docx]`` extra: nothing here is imported unless a
build asks for Word output.
"""

from __future__ import annotations
