"""Endpoints 1-9 of qoro-api.md (plus create_failed), over real HTTP."""

from __future__ import annotations

import base64
import gzip
import json
import logging
import re
import time
import uuid

import numpy as np
import pytest
import requests

from qiskit_divi.api.circuits import pack_circuit
from qiskit_divi.api.histogram import decode_envelope
from qiskit_divi.emulator import EmulatorConfig, EmulatorServer

PERMISSION = {"detail": "You do not have permission to modify this job."}


# --- auth, routing, systems ----------------------------------------------------------


def test_every_endpoint_requires_a_valid_bearer_token(server, client, token, other_token):
    anonymous = client(server, None)
    wrong = client(server, "not-a-token")
    for unauthorised in (anonymous, wrong):
        for resp in (
            unauthorised.get(""),
            unauthorised.get("qpusystem/"),
            unauthorised.post("job/init/", {"job_type": "SIMULATE"}),
        ):
            assert resp.status_code == 401
            assert set(resp.json()) == {"detail"}
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    not_bearer = requests.get(
        server.base_url + "/", headers={"Authorization": f"Token {token}"}, timeout=10
    )
    assert not_bearer.status_code == 401
    assert client(server, token).get("").status_code == 200
    assert client(server, other_token).get("").status_code == 200


def test_unknown_paths_and_methods_answer_json(api):
    for resp in (
        api.get("nope/"),
        api.get("job/"),
        api.get("qpusystem"),
        api.get("job/abc/status"),
    ):
        assert resp.status_code == 404
        assert resp.headers["Content-Type"] == "application/json"
        assert "detail" in resp.json()
    wrong_method = api.post("qpusystem/", {})
    assert wrong_method.status_code == 405
    assert wrong_method.headers["Allow"] == "GET"


def test_system_catalogue_has_the_wire_shape(api):
    resp = api.get("qpusystem/")
    assert resp.status_code == 200
    systems = resp.json()
    assert isinstance(systems, list)
    by_name = {s["name"]: s for s in systems}
    assert set(by_name) == {"qoro_maestro", "fake_nairobi", "fake_ion"}
    for system in systems:
        assert isinstance(system["access_level"], str)
        for qpu in system["qpus"]:
            assert set(qpu) == {"nickname", "q_bits", "status", "system_kind"}
            assert isinstance(qpu["q_bits"], int) and qpu["status"] == "active"
    kinds = {
        name: (s["qpus"][0]["system_kind"], s["qpus"][0]["q_bits"]) for name, s in by_name.items()
    }
    assert kinds["qoro_maestro"][1] >= 24
    assert kinds["fake_nairobi"] == ("superconducting", 7)
    assert kinds["fake_ion"][0] == "trapped_ion" and kinds["fake_ion"][1] >= 7


def test_job_init_validates_type_and_target(api):
    job_id = api.init("SIMULATE", "qoro_maestro")
    assert uuid.UUID(job_id).version == 4
    for job_type in ("EXECUTE", "EXPECTATION", "CIRCUIT_CUT"):
        api.init(job_type, "qoro_maestro")
    cases = [
        ({"job_type": "SIMULATE", "qpu_system_name": "no_such_system"}, "no_such_system"),
        ({"job_type": "TELEPORT", "qpu_system_name": "qoro_maestro"}, "TELEPORT"),
        ({"qpu_system_name": "qoro_maestro"}, "job_type"),
        ({"job_type": "SIMULATE"}, "qpu_system_name"),
        ({"job_type": "EXPECTATION", "qpu_system_name": "fake_nairobi"}, "EXPECTATION"),
        ({"job_type": "EXPECTATION", "qpu_system_name": "fake_ion"}, "EXPECTATION"),
    ]
    for body, needle in cases:
        resp = api.post("job/init/", body)
        assert resp.status_code == 400, body
        assert needle in resp.json()["error"]
    not_json = api.post("job/init/", data=b"{oops", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 400


# --- lifecycle -----------------------------------------------------------------------


def test_full_lifecycle_with_polling(make_server, client, token, qasm):
    server = make_server(config=EmulatorConfig(min_job_seconds=0.3, seed=5))
    api = client(server)
    job_id = api.init("SIMULATE", "qoro_maestro", tag="lifecycle")
    assert api.status(job_id) == "PENDING"
    assert api.add(job_id, {"a": qasm(2, "x q[1]")}, finalized=False).status_code == 200
    assert api.status(job_id) == "PENDING"
    early = api.get(f"job/{job_id}/resultsV2/?limit=100&offset=0")
    assert early.status_code == 400 and "error" in early.json()
    assert api.add(job_id, {"b": qasm(2, "x q[0]")}, finalized=True).status_code == 200

    seen, results_while_running = [], None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        status = api.status(job_id)
        if not seen or seen[-1] != status:
            seen.append(status)
        if status == "RUNNING" and results_while_running is None:
            results_while_running = api.get(
                f"job/{job_id}/resultsV2/?limit=100&offset=0"
            ).status_code
        if status == "COMPLETED":
            break
        time.sleep(0.01)
    assert seen[-2:] == ["RUNNING", "COMPLETED"]
    assert seen[0] in ("PENDING", "RUNNING")
    assert results_while_running == 400
    assert api.counts(job_id) == {"a": {"10": 100}, "b": {"01": 100}}

    snap = server.jobs[job_id]
    assert (snap.status, snap.tag, snap.job_type, snap.system, snap.n_circuits, snap.finalized) == (
        "COMPLETED",
        "lifecycle",
        "SIMULATE",
        "qoro_maestro",
        2,
        True,
    )
    assert token not in repr(server.jobs) and token not in repr(server) and token not in snap.owner


def test_a_job_is_not_terminal_before_min_job_seconds(make_server, client, qasm):
    server = make_server(config=EmulatorConfig(min_job_seconds=0.4))
    api = client(server)
    started = time.monotonic()
    job_id = api.submit({"a": qasm(1, "h q[0]")})
    assert api.wait(job_id)[-1] == "COMPLETED"
    assert time.monotonic() - started >= 0.4


def test_never_finalised_job_stays_pending(api, qasm):
    job_id = api.init()
    assert api.add(job_id, {"a": qasm(1)}, finalized=False).status_code == 200
    time.sleep(0.2)  # > min_job_seconds of the shared server
    assert api.status(job_id) == "PENDING"
    assert api.get(f"job/{job_id}/resultsV2/").status_code == 400


def test_chunked_upload_keeps_submission_order(api, qasm):
    job_id = api.init()
    labels = [f"k{i:02d}" for i in range(9)]
    circuits = {label: qasm(3, f"x q[{i % 3}]") for i, label in enumerate(labels)}
    chunks = [labels[0:3], labels[3:7], labels[7:9]]
    for n, chunk in enumerate(chunks):
        resp = api.add(
            job_id, {lab: circuits[lab] for lab in chunk}, finalized=n == len(chunks) - 1, shots=50
        )
        assert resp.status_code == 200, resp.text
        if n < len(chunks) - 1:
            assert api.status(job_id) == "PENDING"
            assert api.get(f"job/{job_id}/status/").json() == {"status": "PENDING"}
    counts = api.counts(job_id)
    assert list(counts) == labels
    expected = {0: "001", 1: "010", 2: "100"}
    for i, label in enumerate(labels):
        assert counts[label] == {expected[i % 3]: 50}


def test_add_circuits_after_finalisation_is_409(api, qasm):
    job_id = api.submit({"a": qasm(1)})
    late = api.add(job_id, {"b": qasm(1)})
    assert late.status_code == 409 and "error" in late.json()
    assert api.wait(job_id)[-1] == "COMPLETED"
    assert api.add(job_id, {"c": qasm(1)}).status_code == 409


# --- results: bit order, expectation values, pagination ------------------------------


def test_bit_order_single_register(api, qasm):
    job_id = api.submit({"x0": qasm(3, "x q[0]"), "x0x1": qasm(4, "x q[0]; x q[1]")}, shots=321)
    counts = api.counts(job_id)
    assert counts == {"x0": {"001": 321}, "x0x1": {"0011": 321}}
    envelope = api.rows(job_id)[0]["results"]
    assert envelope["encoding"] == "qh1" and envelope["n_bits"] == 3


def test_bit_order_several_registers_and_partial_measurement(api, qasm):
    two_regs = qasm(
        3,
        "x q[0]; x q[2]; measure q[0] -> b[1]; measure q[2] -> a[0]",
        cregs={"a": 1, "b": 2},
    )
    # clbits: a[0] = 0, b[0] = 1, b[1] = 2 -> "b1 b0 a0" = "101", no space.
    partial = qasm(3, "x q[0]; x q[1]; measure q[0] -> c[0]; measure q[2] -> c[2]", cregs={"c": 3})
    job_id = api.submit({"two_regs": two_regs, "partial": partial}, shots=10)
    assert api.wait(job_id)[-1] == "COMPLETED"
    rows = api.rows(job_id)
    assert [decode_envelope(r["results"]) for r in rows] == [{"101": 10}, {"001": 10}]
    assert [r["results"]["n_bits"] for r in rows] == [3, 3]


def test_expectation_values_worked_example(api, qasm):
    job_id = api.submit({"c": qasm(4, "x q[0]; x q[1]")}, observables="ZIII;IZII;IIZI;IIIZ")
    values = api.values(job_id)["c"]
    assert values == {"ZIII": -1.0, "IZII": -1.0, "IIZI": 1.0, "IIIZ": 1.0}


def test_expectation_values_non_symmetric_and_gzs(api, qasm):
    # |q2 q1 q0> = |1, 0, +>: X on qubit 0 is +1, Z on qubit 2 is -1, the rest 0.
    circuit = qasm(3, "h q[0]; x q[2]")
    job_id = api.submit({"c": circuit}, observables="XII;IIX;IIZ;ZII;XIZ;ZIX;XII")
    values = api.values(job_id)["c"]
    assert list(values) == ["XII", "IIX", "IIZ", "ZII", "XIZ", "ZIX"]  # duplicates collapse
    expected = {"XII": 1.0, "IIX": 0.0, "IIZ": -1.0, "ZII": 0.0, "XIZ": -1.0, "ZIX": 0.0}
    assert values == pytest.approx(expected, abs=1e-12)

    gzs = "@gzs3:" + base64.b64encode(gzip.compress(b"X0Z2;Z2;I")).decode()
    job_id = api.submit({"c": circuit}, observables=gzs)
    assert api.values(job_id)["c"] == pytest.approx(
        {"XIZ": -1.0, "IIZ": -1.0, "III": 1.0}, abs=1e-12
    )


def test_expectation_job_validation(api, qasm):
    job_id = api.init("EXPECTATION")
    assert api.add(job_id, {"c": qasm(3)}, observables="ZZ").status_code == 400  # width mismatch
    assert api.add(job_id, {"c": qasm(3)}, observables="ZQZ").status_code == 400  # bad letter
    assert api.add(job_id, {"c": qasm(3)}, shots=10).status_code == 400  # shots on EXPECTATION
    body = {
        "circuits": {"c": pack_circuit(qasm(3))},
        "finalized": "true",
        "shots": 5,
        "observables": "ZZZ",
    }
    both = api.post(f"job/{job_id}/add_circuits/", body)
    assert both.status_code == 400
    sampling = api.init("SIMULATE")
    assert api.add(sampling, {"c": qasm(3)}, observables="ZZZ").status_code == 400
    assert api.status(job_id) == "PENDING"  # rejected chunks leave the job untouched


def test_pagination_over_many_circuits(api, server, qasm):
    n = 260
    circuits = {f"c{i:03d}": qasm(2, "x q[0]" if i % 2 else "") for i in range(n)}
    job_id = api.submit(circuits, shots=5)
    assert api.wait(job_id)[-1] == "COMPLETED"
    pages = []
    for offset in (0, 100, 200):
        resp = api.get(f"job/{job_id}/resultsV2/?limit=100&offset={offset}")
        assert resp.status_code == 200
        pages.append(resp.json())
    assert [p["count"] for p in pages] == [n, n, n]
    assert [len(p["results"]) for p in pages] == [100, 100, 60]
    base = f"{server.base_url}/job/{job_id}/resultsV2/"
    assert pages[0]["next"] == f"{base}?limit=100&offset=100"
    assert pages[1]["next"] == f"{base}?limit=100&offset=200"
    assert pages[2]["next"] is None
    assert pages[0]["previous"] is None and pages[1]["previous"] == f"{base}?limit=100&offset=0"
    labels = [row["label"] for p in pages for row in p["results"]]
    assert labels == list(circuits)
    assert decode_envelope(pages[2]["results"][-1]["results"]) == {"01": 5}  # c259 is odd

    followed = api.session.get(pages[0]["next"], timeout=10).json()
    assert followed["results"] == pages[1]["results"]
    capped = api.get(f"job/{job_id}/resultsV2/?limit=5000").json()
    assert len(capped["results"]) == n and capped["next"] is None
    default = api.get(f"job/{job_id}/resultsV2/?limit=zero").json()
    assert len(default["results"]) == 100
    assert api.get(f"job/{job_id}/resultsV2/?offset=1000").json()["results"] == []


# --- cancel, delete, permissions -----------------------------------------------------


def test_cancel(api, other_api, qasm):
    job_id = api.init()
    assert api.add(job_id, {"a": qasm(1), "b": qasm(1)}, finalized=False).status_code == 200
    assert other_api.post(f"job/{job_id}/cancel/").json() == PERMISSION
    resp = api.post(f"job/{job_id}/cancel/")
    assert resp.status_code == 200
    assert resp.json() == {"status": "cancelled", "job_id": job_id, "circuits_cancelled": 2}
    assert api.status(job_id) == "CANCELLED"
    again = api.post(f"job/{job_id}/cancel/")
    assert again.status_code == 409
    assert again.json() == {"error": "Can only cancel a PENDING or RUNNING job"}
    assert api.get(f"job/{job_id}/resultsV2/").status_code == 400
    assert api.add(job_id, {"c": qasm(1)}).status_code == 409

    done = api.submit({"a": qasm(1)})
    assert api.wait(done)[-1] == "COMPLETED"
    assert api.post(f"job/{done}/cancel/").status_code == 409
    assert api.post(f"job/{uuid.uuid4()}/cancel/").status_code == 404


def test_cancel_a_running_job_discards_its_results(make_server, client, qasm):
    server = make_server(config=EmulatorConfig(min_job_seconds=0.3))
    api = client(server)
    job_id = api.submit({"a": qasm(2, "h q[0]")})
    assert api.status(job_id) in ("PENDING", "RUNNING")
    assert api.post(f"job/{job_id}/cancel/").status_code == 200
    time.sleep(0.4)
    assert api.status(job_id) == "CANCELLED"
    assert server.jobs[job_id].status == "CANCELLED"


def test_delete(api, other_api, server, qasm):
    job_id = api.submit({"a": qasm(1)})
    assert other_api.delete(f"job/{job_id}").status_code == 403
    assert api.delete(f"job/{job_id}/").status_code == 404  # the real path has no trailing slash
    count = server.job_count
    resp = api.delete(f"job/{job_id}")
    assert resp.status_code == 204 and resp.content == b""
    assert server.job_count == count - 1 and job_id not in server.jobs
    assert api.get(f"job/{job_id}/status/").status_code == 404
    assert api.delete(f"job/{job_id}").status_code == 404
    assert api.delete(f"job/{uuid.uuid4()}").status_code == 404
    assert api.get("").status_code == 200  # keep-alive connection still healthy after a 204


def test_jobs_belong_to_their_token(api, other_api, qasm):
    job_id = api.submit({"a": qasm(1)})
    for resp in (
        other_api.get(f"job/{job_id}/status/"),
        other_api.get(f"job/{job_id}/resultsV2/?limit=100&offset=0"),
        other_api.add(job_id, {"b": qasm(1)}),
        other_api.post(f"job/{job_id}/cancel/"),
        other_api.delete(f"job/{job_id}"),
    ):
        assert resp.status_code == 403
        assert resp.json() == PERMISSION
    assert api.wait(job_id)[-1] == "COMPLETED"
    assert api.get(f"job/{uuid.uuid4()}/status/").status_code == 404


def test_create_failed_helper(api):
    resp = api.post("job/create_failed/", {"tag": "test"})
    assert resp.status_code == 201
    job_id = resp.json()["job_id"]
    status = api.get(f"job/{job_id}/status/").json()
    assert status["status"] == "FAILED" and status["reason"]
    results = api.get(f"job/{job_id}/resultsV2/?limit=100&offset=0")
    assert results.status_code == 400 and "failed" in results.json()["error"].lower()
    assert api.post(f"job/{job_id}/cancel/").status_code == 409
    assert api.delete(f"job/{job_id}").status_code == 204


def test_simulation_error_fails_the_job_with_a_reason(api, qasm):
    # A mid-circuit measurement has no statevector: the EXPECTATION run raises.
    circuit = qasm(1, "measure q[0] -> c[0]; h q[0]", measure=False)
    job_id = api.submit({"mid": circuit}, observables="Z")
    assert api.wait(job_id)[-1] == "FAILED"
    status = api.get(f"job/{job_id}/status/").json()
    assert status["status"] == "FAILED" and "measure" in status["reason"]
    assert api.get(f"job/{job_id}/resultsV2/").status_code == 400


# --- add_circuits validation ---------------------------------------------------------


def test_invalid_qasm_is_400_and_nothing_is_added(api, qasm):
    job_id = api.init()
    resp = api.add(job_id, {"good": qasm(1), "bad": "OPENQASM 2.0;\nqreg q[1];\nfoo q[0];\n"})
    assert resp.status_code == 400
    assert resp.json()["error"].startswith("Circuit 'bad' is not valid OpenQASM 2.0: ")
    qasm3 = api.add(job_id, {"q3": "OPENQASM 3.0;\nqubit q;\n"})
    assert qasm3.status_code == 400 and "OpenQASM 2.0" in qasm3.json()["error"]
    raw = api.post(
        f"job/{job_id}/add_circuits/",
        {"circuits": {"x": "not base64!"}, "mode": "append", "finalized": "true", "shots": 10},
    )
    assert raw.status_code == 400 and "'x'" in raw.json()["error"]
    # "good" was not kept: it can be uploaded again under the same label.
    assert api.add(job_id, {"good": qasm(1)}).status_code == 200
    assert api.counts(job_id) == {"good": {"0": 100}}


def test_qiskit_exports_are_accepted(api):
    from qiskit import QuantumCircuit, qasm2

    circuit = QuantumCircuit(2)
    circuit.p(1e-7, 0)
    circuit.sx(1)
    circuit.ecr(0, 1)
    circuit.measure_all()
    job_id = api.submit({"exported": qasm2.dumps(circuit)}, shots=10)
    assert api.wait(job_id)[-1] == "COMPLETED"


def test_circuit_wider_than_the_system_is_400(api, qasm):
    job_id = api.init("EXECUTE", "fake_nairobi")
    resp = api.add(job_id, {"wide": qasm(8, "h q[0]")})
    assert resp.status_code == 400 and "8 qubits" in resp.json()["error"]


def test_duplicate_labels_are_400(api, qasm):
    job_id = api.init()
    assert api.add(job_id, {"a": qasm(1)}, finalized=False).status_code == 200
    assert api.add(job_id, {"a": qasm(1)}, finalized=True).status_code == 400
    packed = pack_circuit(qasm(1))
    raw = (
        f'{{"circuits": {{"b": "{packed}", "b": "{packed}"}}, "mode": "append", '
        '"finalized": "true", "shots": 10}'
    )
    resp = api.post(
        f"job/{job_id}/add_circuits/", data=raw, headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 400


@pytest.mark.parametrize("shots", [0, -5, 1.5, "100", True, None, 1_000_001])
def test_bad_shots_are_400(api, qasm, shots):
    job_id = api.init()
    body = {
        "circuits": {"a": pack_circuit(qasm(1))},
        "mode": "append",
        "finalized": "true",
        "shots": shots,
    }
    resp = api.post(f"job/{job_id}/add_circuits/", body)
    assert resp.status_code == 400 and "shots" in resp.json()["error"]


def test_add_circuits_field_rules(api, qasm):
    job_id = api.init()
    base = {"circuits": {"a": pack_circuit(qasm(1))}, "shots": 10}
    assert (
        api.post(
            f"job/{job_id}/add_circuits/", {**base, "finalized": "true", "mode": "replace"}
        ).status_code
        == 400
    )
    assert api.post(f"job/{job_id}/add_circuits/", {**base, "finalized": "yes"}).status_code == 400
    no_clbits = {
        "circuits": {"m": pack_circuit("OPENQASM 2.0;\nqreg q[1];\n")},
        "finalized": "true",
        "shots": 10,
    }
    assert api.post(f"job/{job_id}/add_circuits/", no_clbits).status_code == 400
    path = f"job/{job_id}/add_circuits/"
    assert (
        api.post(path, {"circuits": {}, "finalized": "true", "shots": 10}).status_code == 400
    )  # nothing to run
    assert api.post(path, {**base, "finalized": "false"}).status_code == 200
    assert (
        api.post(path, {"circuits": {}, "finalized": "true", "shots": 11}).status_code == 400
    )  # shots changed
    assert api.post(path, {"circuits": {}, "finalized": "true", "shots": 10}).status_code == 200
    assert api.counts(job_id) == {"a": {"0": 10}}


def test_circuit_cut_takes_exactly_one_circuit(api, qasm):
    job_id = api.submit({"only": qasm(2, "x q[1]")}, job_type="CIRCUIT_CUT")
    assert api.counts(job_id) == {"only": {"10": 100}}
    two = api.init("CIRCUIT_CUT")
    assert api.add(two, {"a": qasm(1), "b": qasm(1)}).status_code == 400


def test_oversized_body_is_413(api, server):
    job_id = api.init()
    size = server.config.max_body_bytes + 1000
    body = json.dumps({"circuits": {"big": "A" * size}, "finalized": "true", "shots": 1})
    resp = api.post(
        f"job/{job_id}/add_circuits/", data=body, headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 413 and "detail" in resp.json()
    assert api.status(job_id) == "PENDING"


# --- noisy systems and seeds ---------------------------------------------------------


@pytest.mark.parametrize("system", ["fake_nairobi", "fake_ion"])
def test_qpu_systems_sample_with_noise_and_reproducible_seeds(api, qasm, system):
    circuits = {"x0": qasm(3, "x q[0]; cx q[0],q[1]; cx q[1],q[2]")}
    first = api.counts(api.submit(circuits, shots=2000, job_type="EXECUTE", system=system))["x0"]
    second = api.counts(api.submit(circuits, shots=2000, job_type="EXECUTE", system=system))["x0"]
    assert sum(first.values()) == 2000 and all(len(k) == 3 for k in first)
    assert first["111"] > 1600
    assert len(first) > 1  # noise produces other outcomes
    assert first == second  # EmulatorConfig(seed=...) makes runs reproducible


# --- server object -------------------------------------------------------------------


def test_server_object_contract(qasm):
    with pytest.raises(ValueError, match="allow_remote"):
        EmulatorServer(tokens=["t"], host="0.0.0.0")
    EmulatorServer(tokens=["t"], host="0.0.0.0", allow_remote=True)  # constructing binds nothing
    generated = EmulatorServer()
    assert len(generated.tokens) == 1 and len(generated.tokens[0]) >= 32
    with pytest.raises(RuntimeError):
        _ = generated.base_url
    with EmulatorServer(tokens=["t1", "t2"], config=EmulatorConfig(min_job_seconds=0.01)) as srv:
        assert srv.start() is srv
        assert srv.base_url == f"http://127.0.0.1:{srv.port}/api"
        assert srv.tokens == ["t1", "t2"]
        assert (
            requests.get(
                srv.base_url + "/", headers={"Authorization": "Bearer t2"}, timeout=10
            ).status_code
            == 200
        )
        assert "t1" not in repr(srv)
    srv.stop()  # idempotent
    with pytest.raises(requests.ConnectionError):
        requests.get(srv.base_url + "/", headers={"Authorization": "Bearer t1"}, timeout=2)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("min_job_seconds", -0.1),
        ("min_job_seconds", float("inf")),
        ("min_job_seconds", True),
        ("seed", -1),
        ("seed", 1.5),
        ("seed", False),
        ("idempotency", 1),
        ("idempotency_ttl_seconds", 0),
        ("max_shots", 0),
        ("max_shots", True),
        ("max_body_bytes", 1e6),
        ("default_page_size", "100"),
        ("max_page_size", -1),
        ("idempotency_max_keys", None),
    ],
)
def test_emulator_config_refuses_bad_values_naming_the_field(field, value):
    with pytest.raises(ValueError, match=f"^{field}.* must be .*got {re.escape(repr(value))}"):
        EmulatorConfig(**{field: value})


def test_emulator_config_keeps_plain_python_numbers():
    config = EmulatorConfig(max_shots=np.int64(500), seed=np.int64(3), min_job_seconds=0)
    assert (config.max_shots, config.seed) == (500, 3)
    assert type(config.max_shots) is int and type(config.seed) is int
    assert config == EmulatorConfig(max_shots=500, seed=3, min_job_seconds=0.0)
    with pytest.raises(ValueError, match=r"default_page_size \(20\) must not exceed .*\(10\)"):
        EmulatorConfig(default_page_size=20, max_page_size=10)
    with pytest.raises(ValueError, match="At least one system"):
        EmulatorConfig(systems=())


@pytest.mark.parametrize("port", [-1, 65536, True, "8080", 80.0])
def test_server_refuses_a_bad_port(port):
    with pytest.raises(ValueError, match=f"port must be an integer in 0..65535, got {port!r}"):
        EmulatorServer(tokens=["t"], port=port)


def test_token_never_logged(make_server, client, qasm, caplog):
    token = "very-secret-token-value-42"
    server = make_server(tokens=[token], config=EmulatorConfig(min_job_seconds=0.01))
    api = client(server, token)
    with caplog.at_level(logging.DEBUG, logger="qiskit_divi"):
        api.counts(api.submit({"a": qasm(1)}))
        client(server, "wrong-" + token).get("")
        server.stop()
    assert "qiskit_divi.emulator" in caplog.text  # DEBUG logging did happen
    assert token not in caplog.text
    assert all(token not in str(v) for v in (server.jobs, server.stats, repr(server)))


def test_stats_count_the_time_spent_simulating(server, api, qasm):
    before = server.stats["simulation_seconds"]
    job_id = api.submit({"c": qasm(12)}, shots=2000)
    api.wait(job_id)
    spent = server.stats["simulation_seconds"] - before
    # The job ran, so some time was spent; it ran once, in at most the time it took to finish.
    assert 0.0 < spent < 30.0
    again = server.stats["simulation_seconds"]
    api.status(job_id)
    assert server.stats["simulation_seconds"] == again  # polling does not simulate
