"""The request plumbing of the emulator (:mod:`qiskit_divi.emulator.http_api`): the route
table and the translation of a check's exception into a ``400``."""

from __future__ import annotations

import pytest

from qiskit_divi.emulator.http_api import UNKNOWN_ROUTE, ApiError, Route, bad_request_on, resolve

JOB = "3f2c-a b"  # percent-encoded in the path below: the route carries it decoded


@pytest.mark.parametrize(
    ("path", "endpoint", "method", "job_id"),
    [
        ("/api/", "ping", "GET", None),
        ("/api/qpusystem/", "qpusystem", "GET", None),
        ("/api/simulatorcluster/", "simulatorcluster", "GET", None),
        ("/api/credits/", "credits", "GET", None),
        ("/api/credits/transactions/", "credit_transactions", "GET", None),
        ("/api/job/init/", "job_init", "POST", None),
        ("/api/job/create_failed/", "create_failed", "POST", None),
        ("/api/job/3f2c-a%20b/add_circuits/", "add_circuits", "POST", JOB),
        ("/api/job/3f2c-a%20b/status/", "status", "GET", JOB),
        ("/api/job/3f2c-a%20b/resultsV2/", "results", "GET", JOB),
        ("/api/job/3f2c-a%20b/cancel/", "cancel", "POST", JOB),
        ("/api/job/3f2c-a%20b", "delete", "DELETE", JOB),
    ],
)
def test_every_endpoint_has_its_route(path, endpoint, method, job_id):
    assert resolve(path) == Route(endpoint, frozenset({method}), job_id)


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/api",
        "/apix/",
        "/api/qpusystem",  # the trailing slash is part of the contract
        "/api/credits/transactions",
        "/api/job/",
        "/api/job//status/",
        "/api/job/x/results/",
        "/api/job/x/status",
        "/api/job/x/status/extra/",
        "/api/jobs/x/status/",
    ],
)
def test_other_paths_are_unknown(path):
    assert resolve(path) is UNKNOWN_ROUTE


def test_bad_request_on_answers_the_named_errors_with_their_message():
    with pytest.raises(ApiError) as caught, bad_request_on(KeyError, ValueError, prefix="Bad: "):
        raise ValueError("what was wrong")
    assert caught.value.response.status == 400
    assert caught.value.response.body == {"error": "Bad: what was wrong"}
    assert caught.value.__suppress_context__  # the check's traceback is not the answer's


def test_bad_request_on_lets_other_errors_through():
    with pytest.raises(TypeError), bad_request_on(ValueError):
        raise TypeError("a bug, not bad input")
