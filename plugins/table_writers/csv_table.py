"""CSV tables; ``;`` by default, as MIA wrote them, so existing spreadsheets keep working."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Sequence

from mia_core.atomic import atomic_open
from mia_core.hooks import hookimpl


class CsvWriter:
    """One header line and one line per row; empty cells for missing values."""

    name = "csv"
    suffixes = (".csv",)

    def write(self, path: Path, rows: Sequence[dict[str, Any]], columns: Sequence[str], **options: Any) -> None:
        """Write atomically with ``delimiter`` (default ``;``)."""
        with atomic_open(Path(path), "w") as fh:
            w = csv.writer(fh, delimiter=options.get("delimiter", ";"), lineterminator="\n")
            w.writerow(columns)
            for r in rows:
                w.writerow(["" if r.get(c) is None else r.get(c) for c in columns])


@hookimpl
def mia_table_writers() -> list[CsvWriter]:
    return [CsvWriter()]
