"""Schemathesis against the dispatch OpenAPI document: every operation, generated valid and
invalid input (path values made up and ones that exist), with the right token for it and with
none or a forged one. Nothing may give a 5xx, answer with a body its schema does not allow, or
take what the schema refuses; without a valid token every well-formed request gets 401. Bounded: a fixed number of examples per operation, no deadline per example.

Driven through schemathesis's Python API (operation → hypothesis strategy): its lazy pytest
loader does not work with this pytest."""

from __future__ import annotations

from typing import Callable

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.dispatch.conftest import sighting

EXAMPLES = 60  # per operation and test: about 20 operations × 60 requests each
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))
CHECKS = [schemathesis.checks.not_a_server_error, schemathesis.checks.response_schema_conformance,
          schemathesis.checks.negative_data_rejection]
FORGED = ({}, {"Authorization": "Bearer dep_forged"}, {"Authorization": "Basic Zm9vOmJhcg=="})


def token_for(live, path: str) -> dict[str, str]:
    """The token each part of the API is for: admin routes, ingest, or a department."""
    if path.startswith("/v1/admin"):
        return live.as_admin
    if path == "/v1/sightings":
        return live.as_ingest
    return live.as_dept("kecheng-urban")


def known_ids(live) -> dict[str, str]:
    """Path values that exist, so generated bodies reach the code behind the 404s."""
    alert = live.post(sighting("fuzz-a", (118.87, 28.95))).json()
    live.post(sighting("fuzz-b", (118.87, 28.96)))
    webhook = live.client.get(f"{live.url}/v1/alerts/{alert['alert_id']}/deliveries",
                              headers=live.as_dept("kecheng-urban")).json()["deliveries"]
    live.client.post(f"{live.url}/v1/admin/departments/kecheng-urban/accounts", json={"login": "fuzz", "name": "fuzz"},
                     headers=live.as_admin)
    return {"alert_id": alert["alert_id"], "department_id": "kecheng-urban", "login": "fuzz", "key": "fuzz-a",
            "webhook_id": webhook[0]["webhook_id"] if webhook else "none"}


def strategy(op, known: dict[str, str], headers: dict[str, str], modes: tuple[GenerationMode, ...]):
    """Generated input in each mode, with generated path values and with ones that exist."""
    names = {p.name for p in op.path_parameters}
    paths = [None, {k: known[k] for k in names}] if names else [None]
    return st.one_of([op.as_strategy(mode, headers=headers, path_parameters=path) for mode in modes for path in paths])


def fuzz(live, call: Callable, headers_for: Callable[[str], dict[str, str]],
         modes: tuple[GenerationMode, ...] = tuple(GenerationMode)) -> dict[str, str]:
    """Run `call(case)` on generated cases of every operation; the first failure of each, by operation."""
    known = known_ids(live)
    schema = schemathesis.openapi.from_url(live.url + "/openapi.json")
    failures, operations = {}, 0
    for result in schema.get_all_operations():
        op = result.ok()
        operations += 1

        @SETTINGS
        @given(case=strategy(op, known, headers_for(op.path), modes))
        def run(case) -> None:
            call(case)

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis's FailureGroup is a BaseExceptionGroup
            failures[op.label] = f"{type(exc).__name__}: {str(exc)[:2000]}"
    assert operations >= 15, operations
    return failures


def test_every_operation_with_its_token(live):
    failures = fuzz(live, lambda case: case.call_and_validate(base_url=live.url, checks=CHECKS),
                    lambda path: token_for(live, path))
    assert failures == {}


def test_every_operation_without_a_valid_token(live):
    """Well-formed requests without a valid token: 401, whatever else they carry."""
    def call(case) -> None:
        for headers in FORGED:
            response = case.call_and_validate(base_url=live.url, headers=headers,
                                              checks=[schemathesis.checks.not_a_server_error])
            assert response.status_code == 401, (case.path, response.status_code, response.text[:200])

    assert fuzz(live, call, lambda _: {}, (GenerationMode.POSITIVE,)) == {}
