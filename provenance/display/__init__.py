"""Showing captured data to a person, safely: the one rendering rule of the project.

Every string that came from traffic (model ids, products, hosts, paths, headers, bodies, reasons
that quote them) is attacker-chosen. Renderers call the function for their medium and never
format captured text themselves:

- :func:`~provenance.display.text.visible`: control characters, ANSI/OSC escapes, bidirectional
  overrides, invisible format characters and lone surrogates shown as ``\\x1b``-style escapes
  (the base of every other form).
- :mod:`provenance.display.terminal`: Rich cells and lines that are never parsed as markup.
- :mod:`provenance.display.markup`: Markdown (no link, image, HTML or emphasis survives) and HTML.
- :func:`~provenance.display.cells.csv_cell`: spreadsheet cells that cannot start a formula.

JSON outputs need no escaping beyond ``json.dumps`` with its default ``ensure_ascii=True``.
"""

from provenance.display.cells import csv_cell
from provenance.display.markup import html_text, md_code, md_text
from provenance.display.text import shorten, visible, visible_deep

__all__ = ["csv_cell", "html_text", "md_code", "md_text", "shorten", "visible", "visible_deep"]
