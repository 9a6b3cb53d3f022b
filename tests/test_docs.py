"""The documents in docs/ and the README stay true to the code.

* the option tables of ``docs/options.md`` name exactly the options the code has, with
  their defaults (backend default options, ``SamplerOptions`` / ``EstimatorOptions`` fields,
  the emulator's argparse options);
* every relative link of README.md and docs/*.md points at a file (and heading) that exists;
* the curl walkthrough runs: its ``bash`` blocks are executed in order against an emulator
  started from the walkthrough's own command line, and each printed output must equal the
  one on the page once job ids, timestamps and run times are masked.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qiskit_divi import QoroBackend
from qiskit_divi.cli import build_parser
from qiskit_divi.emulator.cli import add_arguments, build_server
from qiskit_divi.primitives.options import EstimatorOptions, SamplerOptions

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
WALKTHROUGH = DOCS / "curl-walkthrough.md"

_FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.MULTILINE | re.DOTALL)


# --- option tables -----------------------------------------------------------------------


def _section(text: str, heading: str) -> str:
    """The text under ``heading`` (a ``#``-line) up to the next heading of any level."""
    match = re.search(rf"^#+ {re.escape(heading)}\n(.*?)(?=^#|\Z)", text, re.M | re.S)
    assert match, f"docs/options.md has no section {heading!r}"
    return match.group(1)


def _table(section: str) -> dict[str, str]:
    """First column (the option, without backticks) -> second column (the default)."""
    rows: dict[str, str] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        option = cells[0].strip("`").split(" ")[0]
        assert option not in rows, f"{option} is documented twice"
        rows[option] = cells[1].strip("`")
    return rows


def _matches(cell: str, value: Any) -> bool:
    """Whether a documented default ``cell`` is ``value``: a Python literal, the plain text
    of a string, or a comma-separated list."""
    try:
        if ast.literal_eval(cell) == value and type(ast.literal_eval(cell)) is type(value):
            return True
    except (ValueError, SyntaxError):
        pass
    if isinstance(value, list):
        return cell == ",".join(map(str, value))
    return isinstance(value, str) and cell == value


def _assert_table(documented: dict[str, str], actual: dict[str, Any]) -> None:
    assert set(documented) == set(actual), (
        f"undocumented: {sorted(set(actual) - set(documented))}, "
        f"documented but absent: {sorted(set(documented) - set(actual))}"
    )
    wrong = {k: (documented[k], v) for k, v in actual.items() if not _matches(documented[k], v)}
    assert not wrong, f"documented default differs from the code (doc, code): {wrong}"


@pytest.fixture(scope="module")
def options_doc() -> str:
    return (DOCS / "options.md").read_text(encoding="utf-8")


def test_backend_options_table_matches_default_options(options_doc: str) -> None:
    actual = dict(QoroBackend._default_options().__dict__)
    _assert_table(_table(_section(options_doc, "Backend options")), actual)


@pytest.mark.parametrize("cls", [SamplerOptions, EstimatorOptions])
def test_primitive_options_table_matches_the_dataclass(options_doc: str, cls: type) -> None:
    actual = {f.name: f.default for f in dataclasses.fields(cls)}
    _assert_table(_table(_section(options_doc, cls.__name__)), actual)


def test_parallel_simulator_extras_table_matches_its_signature(options_doc: str) -> None:
    from qiskit_divi.backends import ParallelSimulator

    parameters = inspect.signature(ParallelSimulator.__init__).parameters.values()
    actual = {p.name: p.default for p in parameters if p.kind is p.KEYWORD_ONLY}
    _assert_table(_table(_section(options_doc, "ParallelSimulator extras")), actual)


def _emulator_options() -> dict[str, Any]:
    """Long option -> default (``"off"`` for flags) of ``qiskit-divi emulator``."""
    parser = build_parser()
    (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    options: dict[str, Any] = {}
    for action in sub.choices["emulator"]._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        name = max(action.option_strings, key=len)
        options[name] = "off" if action.nargs == 0 else action.default
    return options


def test_emulator_options_tables_match_the_parser(options_doc: str) -> None:
    documented: dict[str, str] = {}
    for heading in ("Server", "Emulation", "Fault injection"):
        documented.update(_table(_section(options_doc, heading)))
    _assert_table(documented, _emulator_options())


def test_a_changed_default_is_caught() -> None:
    """The comparison itself fails on drift (so the tests above can fail)."""
    with pytest.raises(AssertionError):
        _assert_table({"shots": "1000"}, {"shots": 1024})
    with pytest.raises(AssertionError):
        _assert_table({"shots": "1024"}, {"shots": 1024, "new_option": None})
    assert not _matches("True", 1) and _matches("None", None) and _matches("INFO", "INFO")


# --- links -------------------------------------------------------------------------------


def _markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to ``-``."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = _FENCE.sub("", path.read_text(encoding="utf-8"))
    return {_slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", text, re.M)}


def _relative_links(path: Path) -> Iterator[str]:
    text = _FENCE.sub("", path.read_text(encoding="utf-8"))
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if not re.match(r"[a-z]+:", target):
            yield target


def test_docs_exist_and_the_readme_links_each() -> None:
    readme_links = set(_relative_links(ROOT / "README.md"))
    for name in ("protocol.md", "curl-walkthrough.md", "migration.md", "options.md"):
        assert (DOCS / name).is_file()
        assert f"docs/{name}" in {link.split("#")[0] for link in readme_links}, name


def test_every_relative_link_resolves() -> None:
    broken = []
    checked = 0
    for path in _markdown_files():
        for link in _relative_links(path):
            checked += 1
            file_part, _, anchor = link.partition("#")
            target = (path.parent / file_part).resolve() if file_part else path
            if not target.exists():
                broken.append(f"{path.name}: {link} (no such file)")
            elif anchor and target.suffix == ".md" and anchor not in _anchors(target):
                broken.append(f"{path.name}: {link} (no such heading)")
    assert checked > 10
    assert not broken, broken


def test_no_document_points_at_the_private_design_docs() -> None:
    for path in _markdown_files():
        assert "qoro-api.md" not in path.read_text(encoding="utf-8"), path.name


# --- the curl walkthrough ----------------------------------------------------------------


def walkthrough_steps(text: str) -> list[tuple[str, tuple[str, str] | None]]:
    """Each ``bash`` block with the output block right after it (language, text), if any."""
    blocks = [(m.group(1), m.group(2), m.start(), m.end()) for m in _FENCE.finditer(text)]
    steps: list[tuple[str, tuple[str, str] | None]] = []
    for i, (lang, body, _, end) in enumerate(blocks):
        if lang != "bash":
            continue
        output = None
        if i + 1 < len(blocks):
            next_lang, next_body, next_start, _ = blocks[i + 1]
            if next_lang in ("json", "text") and not text[end:next_start].strip():
                output = (next_lang, next_body)
        steps.append((body, output))
    return steps


_MASKS = [
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<job-id>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z?"), "<time>"),
    (re.compile(r'"run_time": [0-9.e-]+'), '"run_time": 0'),
]


def mask(text: str) -> Any:
    """``text`` with what differs from run to run (ids, timestamps, run times) replaced;
    parsed when it is JSON (the page may lay it out over several lines)."""
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    try:
        return json.loads(text)
    except ValueError:
        return text.strip()


_DOC_URL = "http://127.0.0.1:8777/api"


def run_steps(steps: list[str], base_url: str, cwd: Path) -> list[str]:
    """Run the ``bash`` steps in one shell (they share variables); each step's output."""
    marker = "@@@ step done @@@"
    script = "".join(f"{step}\necho '{marker}'\n" for step in steps).replace(_DOC_URL, base_url)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        ["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    outputs = done.stdout.split(marker + "\n")
    assert len(outputs) == len(steps) + 1, done.stdout
    return outputs[:-1]


def _emulator_command(text: str) -> list[str]:
    match = re.search(r"^```console\n(qiskit-divi emulator .*)\n```", text, re.M)
    assert match, "the walkthrough shows how to start the emulator"
    return shlex.split(match.group(1))[2:]


def test_walkthrough_json_outputs_parse() -> None:
    text = WALKTHROUGH.read_text(encoding="utf-8")
    outputs = [out for _, out in walkthrough_steps(text) if out is not None]
    json_outputs = [body for lang, body in outputs if lang == "json"]
    assert len(json_outputs) >= 15
    for body in json_outputs:
        json.loads(body)
    assert "(pending)" not in text


def test_walkthrough_runs_and_prints_what_the_page_shows(tmp_path: Path) -> None:
    assert shutil.which("curl"), "the walkthrough is typed with curl: install curl to run it"
    text = WALKTHROUGH.read_text(encoding="utf-8")
    parser = argparse.ArgumentParser()
    add_arguments(parser.add_subparsers().add_parser("emulator"))
    # A free port; jobs in the server's process (same seeded counts) spare a child's start-up.
    argv = [*_emulator_command(text), "--port", "0", "--in-process-jobs"]
    args = parser.parse_args(["emulator", *argv])
    server, _ = build_server(args)
    steps = walkthrough_steps(text)
    with server:
        outputs = run_steps([code for code, _ in steps], server.base_url, tmp_path)
    for (code, expected), got in zip(steps, outputs, strict=True):
        if expected is None:
            assert not got.strip(), code
            continue
        assert mask(got) == mask(expected[1]), f"step:\n{code}"
