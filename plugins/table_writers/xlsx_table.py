"""XLSX workbooks (openpyxl): the objects on one sheet (or one per class) and a summary sheet."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from mia_core.atomic import atomic_path
from mia_core.hooks import hookimpl


class XlsxWriter:
    """Sheet ``Objects`` (or one per class with ``sheet_per_class``) and ``Summary``: per image and
    class the object count and the mean of every numeric column."""

    name = "xlsx"
    suffixes = (".xlsx",)

    def write(self, path: Path, rows: Sequence[dict[str, Any]], columns: Sequence[str], **options: Any) -> None:
        """Write the workbook through a temporary file and a rename."""
        from openpyxl import Workbook

        wb = Workbook()
        first = wb.active
        if options.get("sheet_per_class") and rows:
            wb.remove(first)
            used: set[str] = {"summary"}
            for cls in dict.fromkeys(str(r.get("class", "")) for r in rows):
                title = sheet_title(cls, used)
                used.add(title.lower())
                _sheet(wb.create_sheet(title), [r for r in rows if str(r.get("class", "")) == cls], columns)
        else:
            first.title = "Objects"
            _sheet(first, rows, columns)
        numeric = [c for c in columns if c not in _KEYS and any(isinstance(r.get(c), (int, float)) for r in rows)]
        summary = wb.create_sheet("Summary")
        summary.append(["image", "class", "count", *(f"mean {c}" for c in numeric)])
        groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for r in rows:
            groups.setdefault((str(r.get("image", "")), str(r.get("class", ""))), []).append(r)
        for (image, cls), rs in groups.items():
            means = []
            for c in numeric:
                vals = [r[c] for r in rs if isinstance(r.get(c), (int, float))]
                means.append(sum(vals) / len(vals) if vals else None)
            summary.append([image, cls, len(rs), *means])
        with atomic_path(Path(path)) as tmp:
            wb.save(tmp)


#: Characters Excel refuses in a sheet name.
_BAD_TITLE = str.maketrans({c: "_" for c in "[]:*?/\\"})


def sheet_title(name: str, used: set[str]) -> str:
    """A valid, unique (case-insensitively) sheet name for a class: Excel allows 31 characters."""
    base = (name.translate(_BAD_TITLE).strip("'") or "none")[:31]
    title, n = base, 2
    while title.lower() in used:
        suffix = f" ({n})"
        title, n = base[: 31 - len(suffix)] + suffix, n + 1
    return title


_KEYS = ("image", "frame", "object", "class", "class_id", "parent")


def _sheet(ws: Any, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    ws.append(list(columns))
    for r in rows:
        ws.append([r.get(c) for c in columns])


@hookimpl
def mia_table_writers() -> list[XlsxWriter]:
    return [XlsxWriter()]
