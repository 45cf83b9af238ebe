"""Compile the hot pure engines with mypyc, in place (ADR 0007).

    .venv/bin/python tools/build_native.py [--check]

Each compiled module is an extension (`engine.cpython-311-….so`) beside its source; the package's
`__init__` loads it only while `src/l2c/engines/native.json` records the SHA-256 of the very source
it was built from (`l2c.engines.native`), so an edited engine runs as plain Python until it is
rebuilt — a stale build can never shadow an edit. The build needs mypy (a dev dependency) and a C
compiler; without them, or when compiling fails, it says so and leaves the engines as plain Python
(correct, about 1.4× slower). `--check` exits 1 when a build is missing or stale (no compiling).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
sys.path.insert(0, str(SRC))

from l2c.engines.native import COMPILED, MANIFEST, source_digest  # noqa: E402


def _extensions(module: str) -> list[Path]:
    path = SRC / Path(*module.split("."))
    return sorted(path.parent.glob(path.name + ".*.so"))


def _remove_builds() -> None:
    """Every extension under the engines, listed or not: a module dropped from `COMPILED` must not keep
    an old build that the ordinary import would still find."""
    for extension in (SRC / "l2c" / "engines").rglob("*.so"):
        extension.unlink()
    for shared in SRC.glob("*__mypyc.*.so"):
        shared.unlink()
    MANIFEST.unlink(missing_ok=True)


def _wanted() -> dict[str, str]:
    return {module: source_digest(module) for modules in COMPILED.values() for module in modules}


def build() -> int:
    try:
        from mypyc.build import mypycify
        from setuptools import setup
    except ImportError as error:  # a production install without the dev dependencies
        print(f"build_native: mypyc is not installed ({error}); the engines run as plain Python", file=sys.stderr)
        return 0
    wanted = _wanted()
    _remove_builds()
    paths = [str(Path(*module.split(".")).with_suffix(".py")) for module in wanted]
    previous = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="l2c-native-") as temp:
        os.chdir(SRC)  # mypyc names modules by their path from here
        try:
            extensions = mypycify(paths, opt_level="3", target_dir=temp, group_name="l2c_engines")
            setup(name="l2c-native", ext_modules=extensions,
                  script_args=["--quiet", "build_ext", "--inplace", "--build-temp", temp])
        except (Exception, SystemExit) as error:  # any failure leaves plain Python
            _remove_builds()
            print(f"build_native: compiling failed ({error!r}); the engines run as plain Python", file=sys.stderr)
            return 0
        finally:
            os.chdir(previous)
            shutil.rmtree(SRC / "build", ignore_errors=True)
            shutil.rmtree(SRC / ".mypy_cache", ignore_errors=True)
    MANIFEST.write_text(json.dumps(wanted, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"build_native: compiled {', '.join(wanted)}")
    return 0


def check() -> int:
    try:
        recorded = json.loads(MANIFEST.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        print("build_native: no build")
        return 1
    stale = [module for module, digest in _wanted().items()
             if recorded.get(module) != digest or not _extensions(module)]
    print("build_native: stale " + ", ".join(stale) if stale else "build_native: up to date")
    return 1 if stale else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the build is missing or stale")
    return check() if parser.parse_args().check else build()


if __name__ == "__main__":
    sys.exit(main())
