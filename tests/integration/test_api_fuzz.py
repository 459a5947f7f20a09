"""The whole API fuzzed from its own OpenAPI document: no input makes the server answer 5xx.

schemathesis generates requests (valid and invalid) for every operation the document
declares and sends them with a coordinator's token. Operations that would end the fuzzing
session itself (signing out, changing the password) are left out. The fuzzing writes
whatever the schemas accept (reports anywhere, sites, cases), so it runs on a database of its
own, where it cannot move what other tests count.
"""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.conftest import app_on_own_database
from tests.helpers import auth, role_tokens

# Signing out or changing the password would revoke the token the fuzzing runs with.
SESSION_ENDING = {"DELETE /api/v1/auth/token", "POST /api/v1/auth/password"}
EXAMPLES_PER_OPERATION = 25


def _exercise(operation, headers) -> tuple[list[str], set[int]]:
    """Generated requests for one operation: those that got a 5xx, and every status seen."""
    found, statuses = [], set()

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True,
              database=None, suppress_health_check=list(HealthCheck))
    def exercise(case):
        response = case.call(headers=headers)
        statuses.add(response.status_code)
        if response.status_code >= 500:
            found.append(f"{response.status_code} {case.method} {case.formatted_path} "
                         f"query={case.query} body={str(case.body)[:200]}")

    exercise()
    return found, statuses


@pytest.fixture()
def fuzzed_app(tmp_path):
    with app_on_own_database("fuzz", tmp_path) as application:
        yield application


def test_no_input_makes_a_server_error(fuzzed_app):
    app = fuzzed_app
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    headers = auth(role_tokens(app, "fuzz", roles=("coordinator",))["coordinator"])
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40  # the document really lists the API
    errors, only_unauthorised, succeeded = [], [], 0
    for operation in operations:
        label = f"{operation.method.upper()} {operation.path}"
        if label in SESSION_ENDING:
            continue
        found, statuses = _exercise(operation, headers)
        errors.extend(found)
        if statuses == {401}:
            only_unauthorised.append(label)
        succeeded += any(200 <= status < 300 for status in statuses)
    assert not errors, "\n".join(errors[:20])
    # The token stayed valid throughout, and requests got past validation into the views
    # (most paths need ids of rows that exist, so many answers are rightly 404).
    assert not only_unauthorised
    assert succeeded >= 10
