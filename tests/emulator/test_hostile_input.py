"""Small hostile request bodies cost the emulator next to nothing and never answer 5xx.

Each test sends an input of the hostile-input probe (issue 15) over loopback: register
sizes are checked before parsing, inflation stops at its limits, deep JSON nesting is a
400, and malformed bodies of every shape get a 4xx from every endpoint.
"""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from qiskit import qasm2

from qiskit_divi.api.circuits import pack_circuit
from qiskit_divi.emulator import EmulatorConfig, EmulatorServer

from .conftest import Api

HEADER = 'OPENQASM 2.0;\ninclude "qelib1.inc";\n'
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def no_parse(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Texts handed to the OpenQASM parser; parsing any of them fails the request (an
    oversized register would cost gigabytes if it were really parsed)."""
    parsed: list[str] = []

    def refuse(text: str, *args: Any, **kwargs: Any) -> None:
        parsed.append(text)
        raise AssertionError("the parser was reached")

    monkeypatch.setattr(qasm2, "loads", refuse)
    return parsed


def _add(api: Api, job_id: str, circuits: dict[str, str], **fields: Any) -> requests.Response:
    """``add_circuits`` with already packed circuits."""
    body = {"circuits": circuits, "mode": "append", "finalized": "false", **fields}
    if "observables" not in body:
        body.setdefault("shots", 10)
    return api.post(f"job/{job_id}/add_circuits/", body)


def _error(resp: requests.Response) -> str:
    body = resp.json()
    return str(body.get("error") or body.get("detail"))


# --- 1. width before parse ---------------------------------------------------------------


@pytest.mark.parametrize(
    "declaration",
    [
        "qreg q[100000000];",
        "qreg // a comment between the tokens\n q\n[ 100000000 ]\n;",
        "qreg a[20];\nqreg b[100000000];",
    ],
    ids=["plain", "comments-and-breaks", "second-register"],
)
def test_an_oversized_qreg_is_refused_before_it_is_parsed(api, no_parse, declaration):
    job_id = api.init()
    packed = pack_circuit(HEADER + declaration + "\ncreg c[1];\n")
    resp = _add(api, job_id, {"huge": packed})
    assert resp.status_code == 400
    width = 100_000_000 + (20 if "a[20]" in declaration else 0)
    assert _error(resp) == f"Circuit 'huge' uses {width} qubits; system 'qoro_maestro' has 24."
    assert no_parse == []


@pytest.mark.parametrize("name", ["../../etc/passwd", "stdgates.inc", "qelib1.inc/../x"])
def test_an_include_of_another_file_is_refused_before_it_is_parsed(api, no_parse, name):
    """The parser would read the file from the server's disk."""
    job_id = api.init()
    text = f'OPENQASM 2.0;\ninclude "qelib1.inc";\ninclude "{name}";\nqreg q[1];\ncreg c[1];\n'
    resp = _add(api, job_id, {"inc": pack_circuit(text)})
    assert resp.status_code == 400
    assert _error(resp).startswith(f"Circuit 'inc' includes {name!r}: only")
    assert no_parse == []


def test_a_commented_out_include_is_not_an_include(api, qasm):
    job_id = api.init()
    text = qasm(1).replace("qreg", '// include "secret.inc";\nqreg', 1)
    assert _add(api, job_id, {"ok": pack_circuit(text)}).status_code == 200


def test_the_width_check_counts_every_register_against_the_system(api, no_parse):
    job_id = api.init(system="fake_nairobi")
    resp = _add(api, job_id, {"wide": pack_circuit(HEADER + "qreg a[4];\nqreg b[4];\n")})
    assert resp.status_code == 400
    assert _error(resp) == "Circuit 'wide' uses 8 qubits; system 'fake_nairobi' has 7."
    assert no_parse == []


def test_an_oversized_creg_is_refused_before_it_is_parsed(make_server, client, no_parse):
    srv = make_server(config=EmulatorConfig(max_clbits=64))
    api = client(srv)
    job_id = api.init()
    resp = _add(api, job_id, {"c": pack_circuit(HEADER + "qreg q[1];\ncreg c[100000000];\n")})
    assert resp.status_code == 400
    assert "declares 100000000 classical bits" in _error(resp)
    assert "at most 64 (EmulatorConfig.max_clbits)" in _error(resp)
    assert no_parse == []


def test_the_default_clbit_cap_refuses_the_probe_and_keeps_ordinary_circuits(api, qasm):
    job_id = api.init()
    resp = _add(api, job_id, {"c": pack_circuit(HEADER + "qreg q[1];\ncreg c[1000000];\n")})
    assert resp.status_code == 400
    assert "at most 1024" in _error(resp)
    ok = api.add(job_id, {"mid-circuit": qasm(2, cregs={"c": 2, "d": 40}, measure=False)})
    assert ok.status_code == 200, ok.text


# --- 2. bounded inflation ----------------------------------------------------------------


def _bomb(inflated_bytes: int) -> str:
    """A valid circuit whose comment line inflates it to about ``inflated_bytes``: a few KB
    packed, ~1000:1."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [deflate.compress(HEADER.encode() + b"qreg q[1];\ncreg c[1];\n//")]
    blocks, rest = divmod(inflated_bytes, 65536)
    parts += [deflate.compress(b" " * 65536) for _ in range(blocks)]
    parts.append(deflate.compress(b" " * rest))
    parts += [deflate.compress(b"\nmeasure q -> c;\n"), deflate.flush()]
    return base64.b64encode(b"".join(parts)).decode("ascii")


@pytest.fixture
def bounded(make_server: Callable[..., EmulatorServer], client: Callable[..., Api]) -> Api:
    """A server with small inflation limits: 64 KiB per circuit, 160 KiB per job, 4 KiB of
    observables."""
    config = EmulatorConfig(
        max_circuit_bytes=64 * 1024, max_job_circuit_bytes=160 * 1024, max_observable_bytes=4096
    )
    return client(make_server(config=config))


def test_a_gzip_bomb_stops_inflating_at_the_circuit_limit(bounded, no_parse):
    packed = _bomb(32 * 1024 * 1024)
    assert len(packed) < 64 * 1024
    resp = _add(bounded, bounded.init(), {"bomb": packed})
    assert resp.status_code == 413
    assert _error(resp).startswith("Circuit 'bomb' inflates to more than 65,536 bytes")
    assert "EmulatorConfig.max_circuit_bytes" in _error(resp)
    assert no_parse == []


def test_a_circuit_at_the_limit_is_accepted(bounded):
    text = HEADER + "qreg q[1];\ncreg c[1];\nmeasure q -> c;\n"
    text += "/" * (64 * 1024 - len(text) - 1) + "\n"
    assert len(text) == 64 * 1024
    resp = _add(bounded, bounded.init(), {"edge": pack_circuit(text)})
    assert resp.status_code == 200, resp.text


def test_a_jobs_circuits_stop_at_the_job_limit_over_all_its_chunks(bounded):
    job_id = bounded.init()
    circuit = _bomb(50 * 1024)  # ~50 KiB of text each, under the circuit limit
    assert _add(bounded, job_id, {"a": circuit, "b": circuit}).status_code == 200
    third = _add(bounded, job_id, {"c": circuit, "d": circuit})
    assert third.status_code == 413
    assert "per-job limit (EmulatorConfig.max_job_circuit_bytes)" in _error(third)
    duplicate = _add(bounded, job_id, {"a": circuit})  # refused: uses none of the budget
    assert duplicate.status_code == 400
    assert _add(bounded, job_id, {"e": circuit}).status_code == 200  # what still fits
    assert _add(bounded, job_id, {"f": circuit}).status_code == 413
    done = _add(bounded, job_id, {}, finalized="true")
    assert done.status_code == 200, done.text
    assert done.json()["total_circuits"] == 3
    assert bounded.wait(job_id)[-1] == "COMPLETED"


def _gzs(n_qubits: int | str, sparse: bytes = b"Z0") -> str:
    return f"@gzs{n_qubits}:" + base64.b64encode(gzip.compress(sparse)).decode("ascii")


@pytest.mark.parametrize("n_qubits", [40_000_000, 5_000_000_000, "9" * 5000])
def test_a_gzs_width_above_the_system_is_refused_before_expanding(api, qasm, n_qubits):
    job_id = api.init("EXPECTATION")
    resp = api.add(job_id, {"c": qasm(1, measure=False)}, observables=_gzs(n_qubits))
    assert resp.status_code == 400
    assert "qubits; the system has 24" in _error(resp)


def test_a_gzs_payload_bomb_stops_at_the_observable_limit(bounded, qasm):
    job_id = bounded.init("EXPECTATION")
    bomb = _gzs(2, b"I;" * 1_000_000 + b"Z0")
    resp = bounded.add(job_id, {"c": qasm(2, measure=False)}, observables=bomb)
    assert resp.status_code == 400
    assert "inflates to more than 4,096 bytes" in _error(resp)


def test_a_gzs_with_too_many_dense_terms_is_refused_before_expanding(bounded, qasm):
    job_id = bounded.init("EXPECTATION")
    many = _gzs(12, b";".join([b"I"] * 1000))  # 2 KB of text, 13 KB of dense terms
    resp = bounded.add(job_id, {"c": qasm(12, measure=False)}, observables=many)
    assert resp.status_code == 400
    assert "expands to 1000 terms of 12 qubits (13,000 bytes)" in _error(resp)
    fits = _gzs(12, b"Z0;Z11;I")
    assert bounded.add(job_id, {"c": qasm(12, measure=False)}, observables=fits).status_code == 200


# --- 6. no body answers 5xx --------------------------------------------------------------


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"a":' * 100_000, b'[{"a":' * 50_000])
@pytest.mark.parametrize("path", ["job/init/", "job/create_failed/", "add_circuits"])
def test_deep_json_nesting_is_a_400(api, body, path):
    if path == "add_circuits":
        path = f"job/{api.init()}/add_circuits/"
    resp = api.post(path, data=body, headers=JSON)
    assert resp.status_code == 400
    assert "nests arrays or objects too deeply" in _error(resp)


MALFORMED: list[bytes] = [
    b"[" * 100_000,
    json.dumps({"circuits": {}, "observables": _gzs(5_000_000_000)}).encode(),
    b"\xff\xfe\x00",
    b"\xef\xbb\xbf{}",
    b"{",
    b"null",
    b"[]",
    b'"text"',
    b"1e999999",
    b"NaN",
    b"{" + b'"a":1,' * 3 + b'"a":2}',
    b'{"shots": ' + b"9" * 5000 + b"}",
    b'{"job_type": [], "qpu_system_name": {}, "tag": 1}',
    b'{"job_type": "SIMULATE", "qpu_system_name": "qoro_maestro", "use_packing": []}',
    b'{"job_type": "EXPECTATION", "qpu_system_name": "fake_nairobi"}',
    b'{"circuits": [], "shots": 1}',
    b'{"circuits": {"": "x"}, "shots": 1}',
    b'{"circuits": {"a": 1}, "shots": 1}',
    b'{"circuits": {"a": "!!!"}, "shots": 1}',
    b'{"circuits": {"a": "H4sI"}, "shots": true}',
    b'{"circuits": {}, "shots": 1e308, "finalized": null}',
    b'{"circuits": {}, "shots": -1, "mode": {"a": [1]}}',
    b'{"circuits": {}, "observables": "@gzs0:"}',
    b'{"circuits": {}, "observables": "@gzs\xc2\xb2:AAAA"}',
    b'{"circuits": {"\\ud800": "x"}, "shots": 1, "tag": "\\udfff"}',
    json.dumps({"circuits": {"c": pack_circuit("OPENQASM 2.0;\nqreg q[0];\n")}}).encode(),
    json.dumps({"circuits": {"c": pack_circuit("\x00" * 100)}, "shots": 1}).encode(),
    json.dumps({"circuits": {"c": base64.b64encode(b"\x1f\x8b" * 50).decode()}}).encode(),
]


@pytest.fixture
def endpoints(api: Api) -> Iterator[list[tuple[str, str]]]:
    """``(method, path)`` of every endpoint, on jobs of their own that are still open."""
    job_id, expectation = api.init(), api.init("EXPECTATION")
    yield [
        ("GET", ""),
        ("GET", "qpusystem/"),
        ("POST", "job/init/"),
        ("POST", "job/create_failed/"),
        ("POST", f"job/{job_id}/add_circuits/"),
        ("POST", f"job/{expectation}/add_circuits/"),
        ("GET", f"job/{job_id}/status/"),
        ("GET", f"job/{job_id}/resultsV2/?limit=x&offset=-1"),
        ("POST", f"job/{job_id}/cancel/"),
        ("DELETE", f"job/{job_id}"),
        ("PUT", "job/init/"),
        ("POST", "nowhere/"),
    ]


@pytest.mark.parametrize("index", range(len(MALFORMED)))
def test_no_malformed_body_answers_5xx_on_any_endpoint(api, endpoints, index):
    body = MALFORMED[index]
    for method, path in endpoints:
        for headers in (JSON, {**JSON, "Idempotency-Key": f"malformed-{index}"}):
            resp = api.session.request(
                method, api.url(path), data=body, headers=headers, timeout=30
            )
            assert resp.status_code < 500, (method, path, resp.status_code, resp.text)


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
_FIELDS = st.sampled_from(
    [
        "job_type",
        "qpu_system_name",
        "tag",
        "use_packing",
        "circuits",
        "shots",
        "observables",
        "mode",
        "finalized",
        "simulator_cluster",
    ]
)
_CIRCUIT_VALUES = st.one_of(
    _JSON_VALUES,
    st.dictionaries(
        st.text(max_size=4),
        st.sampled_from([pack_circuit(HEADER + "qreg q[2];\ncreg c[2];\n"), "H4sI", ""])
        | st.text(max_size=12),
        max_size=3,
    ),
)
_BODIES = st.one_of(
    _JSON_VALUES.map(lambda value: json.dumps(value).encode()),
    st.dictionaries(_FIELDS, _JSON_VALUES | _CIRCUIT_VALUES, max_size=6).map(
        lambda fields: json.dumps(fields).encode()
    ),
    st.binary(max_size=64),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=_BODIES, to_job=st.booleans())
def test_no_generated_body_answers_5xx(api, body, to_job):
    job_path = "job/{}/add_circuits/" if to_job else "job/init/"
    path = job_path.format(api.init()) if to_job else job_path
    resp = api.post(path, data=body, headers=JSON)
    assert resp.status_code < 500, (path, body, resp.text)


# --- templates and shot groups ----------------------------------------------------


def _template(text: str, names: list[str], sets: Any, **fields: Any) -> dict[str, Any]:
    body = {
        "circuit_template": pack_circuit(text),
        "parameter_names": names,
        "parameter_sets": sets,
        "mode": "append",
        "finalized": "false",
    }
    return body | (fields or {"shots": 10})


def test_an_oversized_qreg_in_a_template_is_refused_before_it_is_parsed(api, no_parse):
    job_id = api.init()
    text = HEADER + "qreg q[100000000];\ncreg c[1];\nry(a) q[0];\n"
    sets = [{"label": "s", "values": [0.5]}]
    resp = api.post(f"job/{job_id}/add_circuits/", _template(text, ["a"], sets))
    assert resp.status_code == 400
    assert "uses 100000000 qubits" in _error(resp)
    assert no_parse == []


def test_a_foreign_include_in_a_template_is_refused_before_it_is_parsed(api, no_parse):
    """Values cannot build an include: the name inside the string is never substituted."""
    job_id = api.init()
    text = HEADER + 'include "a.inc";\nqreg q[1];\ncreg c[1];\nry(a) q[0];\n'
    sets = [{"label": "s", "values": [0.5]}]
    resp = api.post(f"job/{job_id}/add_circuits/", _template(text, ["a"], sets))
    assert resp.status_code == 400 and "includes 'a.inc'" in _error(resp)
    assert no_parse == []


def test_a_template_inflating_past_the_circuit_limit_stops_inflating(make_server, client):
    srv = make_server(config=EmulatorConfig(max_circuit_bytes=4096))
    api = client(srv)
    job_id = api.init()
    text = HEADER + "qreg q[1];\ncreg c[1];\n" + "ry(a) q[0];\n" * 100_000
    resp = api.post(
        f"job/{job_id}/add_circuits/", _template(text, ["a"], [{"label": "s", "values": [1]}])
    )
    assert resp.status_code == 413 and "max_circuit_bytes" in _error(resp)


_TEMPLATE_FIELDS = st.sampled_from(
    ["circuit_template", "parameter_names", "parameter_sets", "shot_groups", "shots", "circuits"]
)
_TEMPLATE_VALUES = st.one_of(
    _JSON_VALUES,
    st.sampled_from([pack_circuit(HEADER + "qreg q[1];\ncreg c[1];\nry(a) q[0];\n"), "H4sI"]),
    st.lists(st.sampled_from(["a", "b", "pi", "q", "1x", "rz"]), max_size=3),
    st.lists(
        st.fixed_dictionaries(
            {"label": st.text(max_size=3), "values": st.lists(_JSON_VALUES, max_size=3)}
        ),
        max_size=3,
    ),
    st.lists(st.lists(st.integers(-2, 3) | st.booleans(), max_size=4), max_size=3),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    fields=st.dictionaries(_TEMPLATE_FIELDS, _TEMPLATE_VALUES, max_size=5),
    expectation=st.booleans(),
)
def test_no_generated_template_or_shot_groups_body_answers_5xx(api, fields, expectation):
    job_id = api.init("EXPECTATION" if expectation else "SIMULATE")
    body = {"mode": "append", "finalized": "false", **fields}
    # Raw JSON, so NaN and Infinity (which Python's json writes and reads) reach the server.
    resp = api.post(f"job/{job_id}/add_circuits/", data=json.dumps(body), headers=JSON)
    assert resp.status_code < 500, (body, resp.text)
