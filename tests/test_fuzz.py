"""schemathesis against the app's own /openapi.json, in both dialects: bounded and seeded.

Whatever it sends, valid or not, the answer must be JSON, never a 5xx, with a status code and
a body the document allows. Hundreds of cases per dialect; the same ones each run.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gateway.app import create_app
from gateway.config import load_settings
from tests.conftest import EMPLOYEES, write_config, write_csv

CHECKS = [
    not_a_server_error,
    content_type_conformance,
    status_code_conformance,
    response_schema_conformance,
]


@pytest.mark.parametrize("dialect", ["legacy", "current"])
def test_no_answer_outside_the_document(tmp_path, dialect):
    write_csv(tmp_path / "employees.csv", EMPLOYEES)
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'j.db'}", dialect=dialect)
    app = create_app(load_settings(config))
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 4
    try:
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(
                max_examples=60,
                derandomize=True,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
            )
            def answers_within_the_document(case: schemathesis.Case) -> None:
                case.call_and_validate(checks=CHECKS)

            answers_within_the_document()
    finally:
        app.extensions["points_gateway"].close()
