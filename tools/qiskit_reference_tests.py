"""Run Qiskit's own BackendSamplerV2 / BackendEstimatorV2 tests against qiskit_divi's primitives.

    python tools/qiskit_reference_tests.py [--cache-dir DIR] [pytest arguments]

(pytest arguments, e.g. ``-x -k run_errors``, pass through.)

1. Downloads the sdist of the INSTALLED Qiskit version with pip (``pip download --no-deps
   --no-binary :all: qiskit==<version>``), once, into the cache directory (default
   ``build/qiskit-reference``, which git ignores).
2. Extracts only ``test/python/primitives/test_backend_sampler_v2.py``,
   ``test_backend_estimator_v2.py`` and the modules of Qiskit's ``test`` package they import
   (found by reading their imports), into ``<cache>/qiskit-<version>/``. No Qiskit test code
   lives in this repository.
3. Installs what those modules need and the project does not (``ddt``) into
   ``<cache>/site`` with pip, unless it is importable already.
4. Runs pytest on the two files with ``tools/qiskit_reference_plugin.py``, which puts
   qiskit_divi's ``SamplerV2`` / ``EstimatorV2`` on the local emulator in place of Qiskit's
   classes (see that module for the backend mapping and the deselected tests).

Exits with pytest's status: non-zero on any failure, error, or if nothing ran.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TOOLS = Path(__file__).resolve().parent
DEFAULT_CACHE = REPO / "build" / "qiskit-reference"
TEST_FILES = (
    "test/python/primitives/test_backend_sampler_v2.py",
    "test/python/primitives/test_backend_estimator_v2.py",
)
TEST_PACKAGE = "test"
HELPER_REQUIREMENTS = {"ddt": "ddt>=1.2.0"}
"""Modules the extracted tests import that the project does not install: module -> pip
requirement."""

PYTEST_INI = """\
# Written by tools/qiskit_reference_tests.py: keeps the project's pytest settings out of this run.
[pytest]
addopts = -ra
"""


def installed_qiskit_version() -> str:
    import qiskit

    return qiskit.__version__


def pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", *args], check=True)


def ensure_sdist(version: str, cache: Path) -> Path:
    """The path of Qiskit's sdist for ``version``, downloaded with pip when it is not cached."""
    sdist = cache / f"qiskit-{version}.tar.gz"
    if sdist.exists():
        return sdist
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:  # no half-downloaded file in the cache
        print(f"Downloading the sdist of qiskit=={version} with pip ...", flush=True)
        pip(
            "download",
            "--quiet",
            "--no-deps",
            "--no-binary",
            ":all:",
            f"qiskit=={version}",
            "-d",
            tmp,
        )
        found = sorted(Path(tmp).glob("qiskit-*.tar.gz"))
        if len(found) != 1 or found[0].name != sdist.name:
            raise SystemExit(
                f"pip download gave {[p.name for p in Path(tmp).iterdir()]}, expected {sdist.name}."
            )
        found[0].replace(sdist)
    return sdist


def _package_of(path: str) -> list[str]:
    parts = path[: -len(".py")].split("/")
    return parts[:-1]  # a module's package; for ``pkg/__init__.py`` that is ``pkg``


def _module_files(module: str) -> tuple[str, str]:
    base = module.replace(".", "/")
    return f"{base}.py", f"{base}/__init__.py"


def needed_files(sources: dict[str, str]) -> list[str]:
    """The test files plus every module of the ``test`` package they import, transitively,
    with the ``__init__.py`` of each package on the way (paths relative to the sdist root)."""
    todo = list(TEST_FILES)
    out: set[str] = set()
    while todo:
        path = todo.pop()
        if path in out:
            continue
        if path not in sources:
            raise SystemExit(
                f"{path} is not in the sdist: Qiskit's test layout changed; update this runner."
            )
        out.add(path)
        parts = path.split("/")[:-1]
        todo.extend(
            f
            for i in range(1, len(parts) + 1)
            if (f := "/".join(parts[:i]) + "/__init__.py") in sources
        )
        modules: list[str] = []
        for node in ast.walk(ast.parse(sources[path], filename=path)):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    package = _package_of(path)
                    base = package[: len(package) - (node.level - 1)]
                    module = ".".join(base + ([node.module] if node.module else []))
                elif node.module and node.module.split(".")[0] == TEST_PACKAGE:
                    module = node.module
                else:
                    continue
                modules.append(module)
                modules.extend(
                    f"{module}.{alias.name}" for alias in node.names
                )  # names may be submodules
            elif isinstance(node, ast.Import):
                modules.extend(a.name for a in node.names if a.name.split(".")[0] == TEST_PACKAGE)
        for module in modules:
            todo.extend(f for f in _module_files(module) if f in sources)
    return sorted(out)


def extract(sdist: Path, version: str, cache: Path) -> Path:
    """Extract the needed files afresh into ``<cache>/qiskit-<version>``; return that folder."""
    root = f"qiskit-{version}/"
    sources: dict[str, str] = {}
    with tarfile.open(sdist) as tar:
        for member in tar.getmembers():
            if (
                member.isfile()
                and member.name.startswith(root + TEST_PACKAGE + "/")
                and member.name.endswith(".py")
            ):
                handle = tar.extractfile(member)
                assert handle is not None
                sources[member.name[len(root) :]] = handle.read().decode("utf-8")
    if not sources:
        raise SystemExit(f"{sdist} has no {root}{TEST_PACKAGE}/ folder.")
    dest = cache / f"qiskit-{version}"
    if dest.exists():
        shutil.rmtree(dest)
    for path in needed_files(sources):
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(sources[path], encoding="utf-8")
    (dest / "pytest.ini").write_text(PYTEST_INI, encoding="utf-8")
    return dest


def ensure_helpers(cache: Path) -> Path:
    """A folder holding the helper modules that are not importable already (pip --target)."""
    site = cache / "site"
    missing = [
        requirement
        for module, requirement in HELPER_REQUIREMENTS.items()
        if importlib.util.find_spec(module) is None and not any(site.glob(f"{module}*"))
    ]
    if missing:
        print(f"Installing {', '.join(missing)} into {site} with pip ...", flush=True)
        pip("install", "--quiet", "--no-deps", "--target", str(site), *missing)
    return site


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--cache-dir", type=Path, default=DEFAULT_CACHE, help=f"default: {DEFAULT_CACHE}"
    )
    args, pytest_args = parser.parse_known_args(argv)
    start = time.monotonic()
    cache = args.cache_dir.resolve()
    version = installed_qiskit_version()
    sdist = ensure_sdist(version, cache)
    src = extract(sdist, version, cache)
    site = ensure_helpers(cache)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(TOOLS), str(src), str(site)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    )
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-c",
        str(src / "pytest.ini"),
        "--rootdir",
        str(src),
        "-p",
        "qiskit_reference_plugin",
        "-p",
        "no:cacheprovider",
        *TEST_FILES,
        *pytest_args,
    ]
    print(f"Qiskit {version} reference tests on qiskit_divi: {' '.join(command[1:])}", flush=True)
    status = subprocess.run(command, cwd=src, env=env).returncode
    print(
        f"Qiskit reference tests: exit status {status}, {time.monotonic() - start:.1f} s in all.",
        flush=True,
    )
    return status


if __name__ == "__main__":
    sys.exit(main())
