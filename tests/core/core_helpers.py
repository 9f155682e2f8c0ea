"""Helpers shared by the core tests (a module of its own so tests can import it by a name no other
test folder uses)."""

from __future__ import annotations


def square(x0: int, y0: int, size: int) -> list[tuple[int, int]]:
    """The four corners of a ``size`` square at (x0, y0), a polygon for ``add_polygon``."""
    return [(x0, y0), (x0 + size, y0), (x0 + size, y0 + size), (x0, y0 + size)]
