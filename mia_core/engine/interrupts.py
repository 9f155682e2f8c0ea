"""A second Ctrl+C that ends the process at once, but never in the middle of a checkpoint write.

``mia train`` asks for an :func:`abort` on the second Ctrl+C; checkpoint and model writes run
inside :func:`deferred`, so an abort asked for during a write happens right after it.  The process
ends with ``os._exit``: no Python unwinding through JAX's compiler or a half-done write, which is
what turned a second Ctrl+C into a segfault or a traceback.
"""

from __future__ import annotations

import os
import sys
import threading
from contextlib import contextmanager
from typing import Iterator

_lock = threading.RLock()  # re-entrant: the signal handler may run inside a held block
_writes = 0
_pending: tuple[int, str] | None = None


@contextmanager
def deferred() -> Iterator[None]:
    """Run a block that an abort must not cut short (files that belong together)."""
    global _writes
    with _lock:
        _writes += 1
    try:
        yield
    finally:
        with _lock:
            _writes -= 1
            pending = _pending if _writes == 0 else None
        if pending is not None:
            _exit(*pending)


def abort(code: int, message: str) -> bool:
    """End the process with ``code`` after printing ``message``, now or when the running write ends;
    True when it has to wait for a write."""
    global _pending
    with _lock:
        if _writes:
            _pending = (code, message)
            return True
    _exit(code, message)
    return False  # pragma: no cover - _exit does not return


def _exit(code: int, message: str) -> None:
    """Print, flush and leave without unwinding."""
    try:
        print(message, file=sys.stderr, flush=True)
        sys.stdout.flush()
    finally:
        os._exit(code)
