"""The collector pause is shared: nested and overlapping pauses restore the collector as it was."""

from __future__ import annotations

import gc

from l2c.engines.pricing.engine import _pricing_scope
from l2c.kernel.gcpause import gc_pause, gc_paused, gc_resume


def test_nested_pauses_resume_only_when_the_last_ends() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with _pricing_scope():  # the engine's price inside an answer being built
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_overlapping_pauses_in_any_order() -> None:
    gc_pause()
    with _pricing_scope():
        gc_resume()  # the first pauser leaves while the price still runs
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    try:
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_an_exception_still_resumes() -> None:
    try:
        with gc_paused():
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert gc.isenabled()
