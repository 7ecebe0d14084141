"""Schemathesis against the app's own /openapi.json, in process.

Valid and invalid inputs alike: no 5xx; every status code, content type and body an operation
answers is the one its schema documents (errors in the one ErrorBody shape); and every request
that breaks a documented constraint (a type, a bound, a format, a required field) is refused.
"""

from __future__ import annotations

import json
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from marketscout.entrypoints.app import create_app
from tests.integration.api.support import NOW, MovableClock, api_settings, build_container

app = create_app(build_container(api_settings(), MovableClock(NOW)))
schema = schemathesis.openapi.from_asgi("/openapi.json", app)
# /health and /ready take no input at all: there is nothing invalid to send them.
with_input = schemathesis.openapi.from_asgi(
    "/openapi.json", app, config=schemathesis.config.SchemathesisConfig()
).exclude(path_regex=r"^/(health|ready)$")
with_input.config.generation.update(modes=[schemathesis.GenerationMode.NEGATIVE])


@schemathesis.serializer("application/x-ndjson")
def ndjson(ctx: schemathesis.SerializationContext, value: Any) -> bytes:
    """The ingest's NDJSON, documented as the array of its lines: one JSON value a line."""
    return b"".join(
        json.dumps(line).encode() + b"\n" for line in (value if isinstance(value, list) else [value])
    )


CONFORMANCE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_answers_match_the_documented_schema(case: schemathesis.Case[Any]) -> None:
    case.call_and_validate(checks=CONFORMANCE)


@with_input.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_input_that_breaks_a_documented_constraint_is_refused(case: schemathesis.Case[Any]) -> None:
    case.call_and_validate(checks=[negative_data_rejection, *CONFORMANCE])
