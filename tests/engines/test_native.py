"""The compiled engines (ADR 0007) are the source engines: the same inputs give the same results (the
pricing engine over seeded carts); and a build that no longer matches its source is never used."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from l2c.engines import native

ROOT = Path(__file__).resolve().parents[2]

# Prices 400 seeded carts over the property tests' catalogue (every price and promotion kind, four
# customers, two dates, coupons, budgets) and prints whether the build ran and a digest of the reprs.
_PRICING = textwrap.dedent("""
    import hashlib, random, sys
    from decimal import Decimal
    import l2c.engines.pricing as pricing
    from l2c.engines.pricing.types import Coupon, LineInput, PricingRequest, Quota
    from tests.engines.pricing.test_properties import CATALOG, CUSTOMERS, START
    from datetime import UTC, datetime
    digest = hashlib.sha256()
    for seed in range(400):
        rng = random.Random(seed)
        lines = tuple(LineInput(str(index), rng.choice("ABCDEFGNZ"),
                                rng.choice([Decimal(rng.randint(1, 60)), Decimal("0.5"), Decimal("2.5"), Decimal(0)]),
                                rng.choice([{}, {"colour": "red"}, {"colour": "blue"}, {"capacity": "4T"}]),
                                rng.choice([None, Decimal(0), Decimal("12.5"), Decimal(150)]),
                                rng.choice([None, Decimal("50"), Decimal("0.01")]))
                      for index in range(rng.randint(0, 14)))
        request = PricingRequest("CNY", rng.choice([START, datetime(2026, 7, 1, tzinfo=UTC)]), lines,
                                 rng.choice(CUSTOMERS), coupon_codes=rng.choice([(), ("c5",), ("ONE", "C5", "BAD")]),
                                 coupons=(Coupon("C5", "O-CPN", remaining_uses=3), Coupon("ONE", "P-CODE")),
                                 quotas={"P-PCT": Quota(remaining_budget=rng.randint(1, 20000))})
        result = pricing.price(CATALOG, request)
        digest.update(repr(result).encode())
        digest.update(repr([(line.unit_price, line.margin_percent) for line in result.lines]).encode())
    print(pricing.NATIVE, digest.hexdigest())
""")

def _run(script: str, native_wanted: bool) -> tuple[str, str]:
    environment = {**os.environ, "L2C_NATIVE": "1" if native_wanted else "0", "PYTHONPATH": str(ROOT)}
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                               cwd=ROOT, env=environment, timeout=300)
    mode, digest = completed.stdout.split()
    return mode, digest


@pytest.mark.parametrize(("package", "script"), [("l2c.engines.pricing", _PRICING)])
def test_a_compiled_engine_computes_exactly_as_its_source(package: str, script: str) -> None:
    if not all(native._built(module) for module in native.COMPILED[package]):
        pytest.skip("no compiled build here (make native)")
    compiled_mode, compiled = _run(script, native_wanted=True)
    assert compiled_mode == "True", "the compiled build is older than the sources: run make native"
    source_mode, source = _run(script, native_wanted=False)
    assert source_mode == "False"
    assert compiled == source


@pytest.fixture
def fake_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A package `fakeengine` with modules `a` and `b` (b imports a) under tmp_path, registered as compiled."""
    package = tmp_path / "fakeengine"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("value = 'source a'\n")
    (package / "b.py").write_text("from .a import value\ndouble = value * 2\n")
    monkeypatch.setattr(native, "_SRC", tmp_path)
    monkeypatch.setattr(native, "MANIFEST", tmp_path / "native.json")
    monkeypatch.setattr(native, "COMPILED", {"fakeengine": ("fakeengine.a", "fakeengine.b")})
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("fakeengine", "fakeengine.a", "fakeengine.b"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.delenv("L2C_NATIVE", raising=False)
    return package


def _record(package: Path) -> None:
    digests = {f"fakeengine.{name}": hashlib.sha256((package / f"{name}.py").read_bytes()).hexdigest()
               for name in ("a", "b")}
    (package.parent / "native.json").write_text(json.dumps(digests))


def test_nothing_built_leaves_the_ordinary_import(fake_package: Path) -> None:
    assert native.use_compiled("fakeengine") is False
    assert "fakeengine.a" not in sys.modules


def test_a_build_matching_its_sources_is_used(fake_package: Path) -> None:
    for name in ("a", "b"):
        (fake_package / f"{name}.cpython-311-x86_64-linux-gnu.so").write_bytes(b"")
    _record(fake_package)
    assert native.use_compiled("fakeengine") is True
    assert "fakeengine.a" not in sys.modules  # left to the ordinary import, which finds the extension


@pytest.mark.parametrize("why", ["edited", "switched_off", "no_manifest", "one_module_unbuilt"])
def test_a_stale_or_refused_build_loads_every_module_from_source(fake_package: Path, why: str,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("a", "b"):
        (fake_package / f"{name}.cpython-311-x86_64-linux-gnu.so").write_bytes(b"")  # not loadable: must not be
    _record(fake_package)
    if why == "edited":
        (fake_package / "a.py").write_text("value = 'edited a'\n")
    elif why == "switched_off":
        monkeypatch.setenv("L2C_NATIVE", "0")
    elif why == "no_manifest":
        (fake_package.parent / "native.json").unlink()
    else:
        (fake_package / "b.cpython-311-x86_64-linux-gnu.so").unlink()
    value_of_a = "edited a" if why == "edited" else "source a"
    import fakeengine  # noqa: F401 - the package itself, as a compiled package's __init__ runs first

    assert native.use_compiled("fakeengine") is False
    module_a, module_b = sys.modules["fakeengine.a"], sys.modules["fakeengine.b"]
    assert (module_a.value, module_b.double) == (value_of_a, value_of_a * 2)
    assert module_b.__file__ == str(fake_package / "b.py")
