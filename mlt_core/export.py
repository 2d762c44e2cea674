"""CSV for people: cells that a spreadsheet would run as a formula are escaped (OWASP "CSV injection").

A text cell starting with = + - @ (or a tab / carriage return) gets a leading apostrophe, which
spreadsheets show as text; numbers stay numbers. Every CSV the app or the CLI writes for a user
goes through `to_csv`.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from mlt_core.io import atomic_write_text

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(value):
    """'=1+1' -> "'=1+1"; anything that is not such a string is returned as is."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_START) else value


def to_csv(df: pd.DataFrame, path: str | Path | None = None) -> str | None:
    """df.to_csv(index=False) with formula-leading text cells escaped (column names too); to `path` if given."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(escape_cell)
    out.columns = [escape_cell(str(c)) for c in out.columns]
    if path is None:
        return out.to_csv(index=False)
    atomic_write_text(path, out.to_csv(index=False))
    return None
