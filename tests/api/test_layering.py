"""The wire layer imports no Qiskit (beyond the QiskitError base) and nothing above it."""

import ast
from pathlib import Path

import qiskit_divi.api

API_DIR = Path(qiskit_divi.api.__file__).parent
ALLOWED_QISKIT = {("errors.py", "qiskit.exceptions")}


def _imports(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, 0
        elif isinstance(node, ast.ImportFrom):
            yield node.module or "", node.level


def test_api_imports_no_qiskit_and_nothing_above_it():
    offenders = []
    for path in sorted(API_DIR.glob("*.py")):
        for module, level in _imports(path):
            if level > 1 or (
                level == 0
                and module.startswith("qiskit_divi")
                and not module.startswith("qiskit_divi.api")
            ):
                offenders.append(f"{path.name}: imports {'.' * level}{module}")
            if (
                level == 0
                and module.split(".")[0] in {"qiskit", "qiskit_aer", "qiskit_ibm_runtime"}
                and (path.name, module) not in ALLOWED_QISKIT
            ):
                offenders.append(f"{path.name}: imports {module}")
    assert not offenders, offenders
    assert len(list(API_DIR.glob("*.py"))) >= 8  # the walk really saw the package


# --- wire paths live in api/ (and the emulator, which serves them) ---------------------------

PACKAGE_DIR = API_DIR.parent
WIRE_PATH_OWNERS = {"api", "emulator"}
WIRE_PATH_FRAGMENTS = (
    "qpusystem/",
    "job/init/",
    "job/create_failed/",
    "/add_circuits/",
    "/status/",
    "/resultsV2/",
    "/cancel/",
)
"""The paths of ``QoroClient``'s endpoint methods (``systems``, ``init_job``, ...). A string
starting with ``job/`` is one too (``DELETE job/<id>``)."""


def _string_literals(source: str) -> list[tuple[int, str]]:
    """(line, text) of every string literal that is not documentation; an f-string's
    placeholders read ``{}``."""
    tree = ast.parse(source)
    documentation = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    f_string_parts = {
        id(part)
        for node in ast.walk(tree)
        if isinstance(node, ast.JoinedStr)
        for part in node.values
    }
    literals = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(
                part.value if isinstance(part, ast.Constant) else "{}" for part in node.values
            )
            literals.append((node.lineno, text))
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in documentation | f_string_parts
        ):
            literals.append((node.lineno, node.value))
    return sorted(literals)


def _wire_paths(source: str) -> list[tuple[int, str]]:
    return [
        (line, text)
        for line, text in _string_literals(source)
        if text.startswith(("job/", "/job/")) or any(f in text for f in WIRE_PATH_FRAGMENTS)
    ]


def test_the_wire_path_check_sees_paths_and_ignores_documentation():
    source = '''
"""Module docs may name job/init/ and job/<id>/resultsV2/."""
A = "job/init/"
def f(job_id):
    """``POST job/<id>/cancel/``."""
    return f"job/{job_id}/add_circuits/", "job/" + job_id, "results of resultsV2"
'''
    assert _wire_paths(source) == [(3, "job/init/"), (6, "job/"), (6, "job/{}/add_circuits/")]
    # Each fragment is a path api/ really sends (the list stays true when endpoints change).
    literals = [
        text for path in API_DIR.glob("*.py") for _, text in _string_literals(path.read_text())
    ]
    for fragment in WIRE_PATH_FRAGMENTS:
        if fragment != "job/create_failed/":  # an emulator test helper, which api/ never sends
            assert any(fragment in text for text in literals), f"api/ no longer sends {fragment}"


def test_no_wire_path_outside_api_and_emulator():
    """One wire implementation: every other module reaches the service through ``api/``."""
    offenders = []
    scanned = 0
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        relative = path.relative_to(PACKAGE_DIR)
        if relative.parts[0] in WIRE_PATH_OWNERS:
            continue
        scanned += 1
        for line, text in _wire_paths(path.read_text()):
            offenders.append(f"{relative}:{line}: {text!r}")
    assert scanned >= 10  # the walk really saw the package
    assert not offenders, "wire paths outside api/ and emulator/:\n" + "\n".join(offenders)


# --- private names stay inside their package --------------------------------------------------


def _private_imports_across_packages(package: str, source: str) -> list[str]:
    """``from <module> import _name`` in a module of ``package`` (dotted) where ``<module>``
    belongs to another package of qiskit_divi."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module or ""
        if target != "qiskit_divi" and not target.startswith("qiskit_divi."):
            continue
        target_package = (
            target
            if (PACKAGE_DIR.parent / target.replace(".", "/")).is_dir()
            else target.rsplit(".", 1)[0]
        )
        if target_package == package:
            continue
        found += [
            f"from {'.' * node.level}{node.module or ''} import {alias.name}"
            for alias in node.names
            if alias.name.startswith("_") and not alias.name.startswith("__")
        ]
    return found


def test_the_private_import_check_tells_packages_apart():
    source = (
        "from ._results_processing import _decode\n"  # same package: fine
        "from .._circuits import _helper, bound_qasm\n"  # another package: found
        "from qiskit_divi.api.client import _retry_after\n"
        "from ..api.errors import QoroError\n"
        "from .._version import __version__\n"
    )
    assert _private_imports_across_packages("qiskit_divi.backends", source) == [
        "from .._circuits import _helper",
        "from qiskit_divi.api.client import _retry_after",
    ]


def test_no_module_imports_a_private_name_from_another_package():
    """Private names are a package's own business; what other packages need is public.
    (``primitives/`` is checked once its shared helpers have moved to ``primitives/_common``.)"""
    offenders = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        relative = path.relative_to(PACKAGE_DIR)
        if relative.parts[0] == "primitives":
            continue
        package = ".".join(("qiskit_divi", *relative.parts[:-1]))
        for found in _private_imports_across_packages(package, path.read_text()):
            offenders.append(f"{relative}: {found}")
    assert not offenders, offenders
