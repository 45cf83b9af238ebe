"""Compiled engines (ADR 0007): the hot pure engines may run as mypyc extensions built in place.

`tools/build_native.py` compiles the modules listed in `COMPILED` and records in `native.json` the
SHA-256 of each source it compiled. A compiled package calls `use_compiled(__name__)` before it
imports its modules: the extensions are used only while every source still has the recorded digest
(and `L2C_NATIVE` is not `0`); otherwise each module is loaded from its `.py` file, so an edited
engine never runs an older build. Either way the behaviour is the same — the sources are the truth and
a test prices the same carts both ways.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import sys
from pathlib import Path

__all__ = ["COMPILED", "MANIFEST", "source_digest", "use_compiled"]

# package → its compiled modules, in import order (a module's dependencies first)
COMPILED: dict[str, tuple[str, ...]] = {
    "l2c.engines.pricing": ("l2c.engines.pricing.types", "l2c.engines.pricing.compile",
                            "l2c.engines.pricing.engine", "l2c.engines.pricing.render"),
}
MANIFEST = Path(__file__).with_name("native.json")
_SRC = Path(__file__).resolve().parent.parent.parent

logger = logging.getLogger(__name__)


def _source(module: str) -> Path:
    return _SRC.joinpath(*module.split(".")).with_suffix(".py")


def source_digest(module: str) -> str:
    return hashlib.sha256(_source(module).read_bytes()).hexdigest()


def _built(module: str) -> bool:
    path = _source(module)
    return any(path.parent.glob(path.stem + ".*.so")) or any(path.parent.glob(path.stem + ".*.pyd"))


def use_compiled(package: str) -> bool:
    """True when `package`'s modules will import as their compiled build; else loads them from source."""
    modules = COMPILED[package]
    if not any(_built(module) for module in modules):
        return False  # nothing built: the ordinary import finds the sources
    wanted = os.environ.get("L2C_NATIVE", "1") != "0"
    if wanted:
        try:
            recorded = json.loads(MANIFEST.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            recorded = {}
        stale = [module for module in modules if not _built(module) or recorded.get(module) != source_digest(module)]
        if not stale:
            return True
        logger.warning("compiled %s older than the source; running it as Python (rebuild: make native)",
                       ", ".join(stale))
    for module in modules:  # an extension beside a source wins the ordinary import: load the source by path
        if module in sys.modules:
            continue
        spec = importlib.util.spec_from_file_location(module, _source(module))
        assert spec is not None and spec.loader is not None
        loaded = importlib.util.module_from_spec(spec)
        sys.modules[module] = loaded
        try:
            spec.loader.exec_module(loaded)
        except BaseException:
            del sys.modules[module]
            raise
    return False
