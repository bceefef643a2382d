"""schemathesis drives the collector from its published OpenAPI schema: no 5xx, status
codes, content types and bodies as documented, whatever it generates."""

import base64

import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.conftest import ADMIN

_c = schemathesis.checks
CHECKS = [_c.not_a_server_error, _c.status_code_conformance, _c.content_type_conformance,
          _c.response_schema_conformance, _c.negative_data_rejection]


def test_api_conforms_to_its_schema(server):
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    basic = "Basic " + base64.b64encode(f"{server.site.write_key}:".encode()).decode()
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 12
    for op in operations:
        check_operation(op, server.url, {"Authorization": f"Bearer {ADMIN}"} if op.path == "/v1/sql" else (
            {"Authorization": basic} if op.method.upper() == "POST" else {}))


def check_operation(op, base_url: str, headers: dict) -> None:
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=op.as_strategy())
    def check(case):
        # Schema-valid is not always semantically valid (any string is not valid SQL, a
        # track without an event is rejected), so positive-data acceptance is not checked.
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)

    check()
