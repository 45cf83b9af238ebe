"""Pausing the cyclic garbage collector while a burst of acyclic objects is built.

Pricing a cart or building its 2 MB explained answer makes tens of thousands of small objects that
all survive and hold no cycles; the collector would only rescan them, and now and then the whole
heap (a full collection of a loaded process costs hundreds of milliseconds). Threads share the one
collector: the first pauser in records whether it was enabled and disables it, the last one out
restores that — so two overlapping pauses in two threads can never leave it off, or turn it on for
a caller who had it off.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_pause", "gc_paused", "gc_resume"]

_LOCK = threading.Lock()
_holders = 0
_was_enabled = False


def gc_pause() -> None:
    """Pause the collector (every call needs one `gc_resume`)."""
    global _holders, _was_enabled
    with _LOCK:
        if _holders == 0:
            _was_enabled = gc.isenabled()
            if _was_enabled:
                gc.disable()
        _holders += 1


def gc_resume() -> None:
    """End one `gc_pause`; the collector resumes, as it was, when the last pause ends."""
    global _holders
    with _LOCK:
        _holders -= 1
        if _holders == 0 and _was_enabled:
            gc.enable()


@contextmanager
def gc_paused() -> Iterator[None]:
    gc_pause()
    try:
        yield
    finally:
        gc_resume()
