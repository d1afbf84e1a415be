"""Cells safe to open in a spreadsheet (OWASP "CSV injection"; ASVS 1.2.10).

Every export (audit log, directory, questionnaires) passes its text cells through neutralise():
a cell that a spreadsheet would read as a formula gets a leading apostrophe.
"""

from __future__ import annotations

# Formula triggers, including the full-width forms some spreadsheets also accept.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def neutralise(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text
