"""Durations as people read them, shared by the CLI's progress lines and the app's training window."""

from __future__ import annotations


def format_seconds(seconds: float | None) -> str:
    """A short duration: 45s, 12m03s, 2h05m."""
    if seconds is None:
        return "--"
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"
