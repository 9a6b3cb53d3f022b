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
            if level == 0 and module.split(".")[0] in {
                "qiskit",
                "qiskit_aer",
                "qiskit_ibm_runtime",
            }:
                if (path.name, module) not in ALLOWED_QISKIT:
                    offenders.append(f"{path.name}: imports {module}")
    assert not offenders, offenders
    assert len(list(API_DIR.glob("*.py"))) >= 8  # the walk really saw the package
