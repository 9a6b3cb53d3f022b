"""Malformed server replies become ``QoroProtocolError`` naming what was wrong, never a bare
``KeyError``/``IndexError``/``TypeError``."""

from __future__ import annotations

import base64

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from qiskit_divi.api.errors import QoroProtocolError
from qiskit_divi.api.histogram import decode_envelope, encode_envelope, encode_histogram
from qiskit_divi.api.models import InitJobRequest, JobType
from qiskit_divi.api.submission import fetch_results

INIT = InitJobRequest(JobType.SIMULATE, "qoro_maestro")


def _page(*rows, count=None):
    return (
        200,
        {},
        {"count": len(rows) if count is None else count, "next": None, "results": list(rows)},
    )


@pytest.mark.parametrize(
    ("method", "path", "reply", "call", "message"),
    [
        (
            "POST",
            "job/init/",
            (201, {}, "<html>gateway</html>"),
            lambda c: c.init_job(INIT),
            "job/init/ returned non-JSON",
        ),
        (
            "POST",
            "job/init/",
            (201, {}, {"id": "j"}),
            lambda c: c.init_job(INIT),
            "no 'job_id' field",
        ),
        (
            "POST",
            "job/init/",
            (201, {}, ["j"]),
            lambda c: c.init_job(INIT),
            "should be a JSON object",
        ),
        (
            "POST",
            "job/init/",
            (202, {}, {"job_id": "j"}),
            lambda c: c.init_job(INIT),
            "answered 202",
        ),
        (
            "GET",
            "job/j/status/",
            (200, {}, {"state": "DONE"}),
            lambda c: c.job_status("j"),
            "no 'status' field",
        ),
        (
            "GET",
            "job/j/status/",
            (200, {}, {"status": 3}),
            lambda c: c.job_status("j"),
            "'status' of the status/ reply should be str",
        ),
        (
            "GET",
            "job/j/status/",
            (200, {}, "ok"),
            lambda c: c.job_status("j"),
            "status/ returned non-JSON",
        ),
        (
            "GET",
            "qpusystem/",
            (200, {}, {"name": "x"}),
            lambda c: c.list_systems(),
            "should return a JSON array",
        ),
        (
            "GET",
            "qpusystem/",
            (200, {}, [{"qpus": []}]),
            lambda c: c.list_systems(),
            "no 'name' field",
        ),
        (
            "GET",
            "qpusystem/",
            (200, {}, [{"name": "s", "qpus": [{"nickname": "n"}]}]),
            lambda c: c.list_systems(),
            "no 'q_bits' field",
        ),
        (
            "GET",
            "job/j/resultsV2/",
            (200, {}, {"count": 1}),
            lambda c: list(c.iter_results("j")),
            "no 'results' field",
        ),
        (
            "GET",
            "job/j/resultsV2/",
            _page({"results": {}}),
            lambda c: list(c.iter_results("j")),
            "results row 0 has no 'label' field",
        ),
        (
            "GET",
            "job/j/resultsV2/",
            _page({"label": "a"}),
            lambda c: list(c.iter_results("j")),
            "results row 0 has no 'results' field",
        ),
        (
            "GET",
            "job/j/resultsV2/",
            (200, {}, {"results": [], "count": "2"}),
            lambda c: list(c.iter_results("j")),
            "'count'",
        ),
        (
            "GET",
            "job/j/resultsV2/",
            _page(count=4),
            lambda c: list(c.iter_results("j")),
            "reported 4 results but 0 arrived",
        ),
    ],
)
def test_malformed_replies_name_the_problem(scripted, client, method, path, reply, call, message):
    scripted.on(method, path, reply)
    with pytest.raises(QoroProtocolError, match="Malformed server reply|answered") as info:
        call(client)
    assert message in str(info.value)


def _envelope(counts, n_bits):
    return encode_envelope(counts, n_bits)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (
            {"encoding": "qh1", "n_bits": 2, "payload": base64.b64encode(b"XYZ\x00").decode()},
            "bad magic",
        ),
        ({"encoding": "qh1", "n_bits": 2, "payload": "not base64!"}, "not valid base64"),
        ({"encoding": "qh9", "n_bits": 2, "payload": "AAAA"}, "Unsupported encoding"),
        (
            {
                "encoding": "qh1",
                "n_bits": 2,
                "payload": base64.b64encode(encode_histogram({"01": 5, "10": 5}, 2)[:-2]).decode(),
            },
            "truncated varint",
        ),
        ({**_envelope({"01": 5}, 2), "n_bits": 3}, "n_bits=3"),
        ({"encoding": "qh1", "n_bits": 2, "payload": 17}, "base64 string"),
        (["not", "a", "histogram"], "neither a histogram envelope"),
        ({"ZZ": "high"}, "neither a histogram envelope"),
    ],
)
def test_corrupt_results_name_the_circuit(scripted, client, payload, message):
    scripted.on("GET", "job/j/resultsV2/", _page({"label": "bell", "results": payload}))
    with pytest.raises(QoroProtocolError) as info:
        fetch_results(client, "j")
    text = str(info.value)
    assert message in text and "'bell'" in text and "Malformed server reply" in text


def test_counts_must_add_up_to_the_shots(scripted, client):
    scripted.on(
        "GET",
        "job/j/resultsV2/",
        _page({"label": "a", "results": _envelope({"00": 60, "11": 40}, 2)}),
    )
    assert fetch_results(client, "j", shots=100) == {"a": {"00": 60, "11": 40}}
    with pytest.raises(
        QoroProtocolError, match="circuit 'a' in job j add up to 100 shots, but 1000 were requested"
    ):
        fetch_results(client, "j", shots=1000)


def test_a_duplicated_or_missing_label_is_reported(scripted, client):
    row = {"label": "a", "results": _envelope({"0": 1}, 1)}
    scripted.on("GET", "job/j/resultsV2/", _page(row, row))
    with pytest.raises(QoroProtocolError, match="label 'a' twice"):
        fetch_results(client, "j")
    scripted.on("GET", "job/k/resultsV2/", _page(row))
    with pytest.raises(QoroProtocolError, match=r"no result for \['b'\]"):
        fetch_results(client, "k", expected_labels=["a", "b"])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64), st.sampled_from([b"QH1", b"QH2", b""]))
@example(tail=b"\xf1N*\x00X\xc08\xad\xcb!\ti\xcd\xad\xb2\xe1\xf4\x05", magic=b"QH1")  # huge RLE run
def test_random_histogram_bytes_never_escape_as_other_errors(tail, magic):
    envelope = {
        "encoding": "qh1",
        "n_bits": 4,
        "payload": base64.b64encode(magic + tail).decode() or "AA==",
    }
    try:
        counts = decode_envelope(envelope)
    except QoroProtocolError:
        return
    assert all(isinstance(k, str) and isinstance(v, int) for k, v in counts.items())
