"""docs/openapi.yaml is true to the API: schemathesis generates requests from it (valid and invalid) against
ApiFunction's handler served over real HTTP on loopback (devtools.api_server), on a real table in moto."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from devtools.api_server import ApiServer, forget_configuration

ROOT = Path(__file__).resolve().parents[3]
CONFIGURED = ["hingnet", "skyengine"]  # the test stack's PROVIDERS


def _as_deployed() -> dict:
    """The document, narrowed where its rules are prose, so that generated requests get past those checks
    and reach the others (otherwise nearly all stop at "unknown provider" or a callback_url of ""). Each
    narrowing refuses only what the API refuses too, so the negative cases stay true negatives:
    - `provider`: this stack's providers;
    - `callback_url`: starts with https:// (any case) and a host character (no http: loopback is not allowed).
    """
    document = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text())
    properties = document["components"]["schemas"]["TrackRequest"]["properties"]
    properties["provider"]["enum"] = CONFIGURED
    properties["callback_url"]["pattern"] = "^[hH][tT][tT][pP][sS]://[^/?#]"
    document["components"]["parameters"]["Provider"]["schema"]["enum"] = CONFIGURED
    return document


SCHEMA = schemathesis.openapi.from_dict(_as_deployed())
# Both valid and invalid requests (each invalid one must be refused with a 4xx), deterministic. The SigV4
# Authorization header is left alone: API Gateway checks it before the handler, and this server has no IAM.
SCHEMA.config.generation.update(modes=["positive", "negative"], deterministic=True, with_security_parameters=False)
# Not run: positive_data_acceptance (rules the schema cannot express, like "configured provider" or "not a
# private address", make the API refuse some schema-valid data: the document says so in its descriptions),
# unsupported_method and ignored_auth (API Gateway answers those before the handler: IAM auth, unknown routes).
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture
def api_url(deployed, webhooks, monkeypatch) -> Iterator[str]:
    for name, value in {**deployed.env_overrides()["Parameters"], "ALLOW_LOOPBACK_CALLBACKS": "false"}.items():
        monkeypatch.setenv(name, value)
    with ApiServer() as server:  # reads the variables afresh (forget_configuration)
        yield server.url
    forget_configuration()


def _conforms(method: str, path: str):
    """The conformance test of one operation. One test function per operation, not one `SCHEMA.parametrize()`
    for all: with pytest 9 its items share one node id, and pytest-xdist (make test) then runs only one."""
    TESTED.add((method.lower(), path))

    @SCHEMA.include(method=method, path=path).parametrize()
    @settings(max_examples=50, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    def test(case, api_url):
        case.call_and_validate(base_url=api_url, checks=CHECKS)

    return test


TESTED: set[tuple[str, str]] = set()
test_track_conforms_to_the_document = _conforms("POST", "/v1/jobs")
test_get_conforms_to_the_document = _conforms("GET", "/v1/jobs/{provider}/{video_id}")
test_stop_conforms_to_the_document = _conforms("DELETE", "/v1/jobs/{provider}/{video_id}")
test_redeliver_conforms_to_the_document = _conforms("POST", "/v1/jobs/{provider}/{video_id}/redeliver")


def test_the_document_lists_every_route_of_the_template():
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=_AnyTagLoader)
    events = template["Resources"]["ApiFunction"]["Properties"]["Events"].values()
    routes = {(event["Properties"]["Method"].lower(), event["Properties"]["Path"]) for event in events}
    document = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text())
    documented = {
        (method, path) for path, item in document["paths"].items() for method in item if method != "parameters"
    }
    assert documented == routes
    assert documented == TESTED  # each documented operation has its conformance test above


class _AnyTagLoader(yaml.SafeLoader):
    """template.yaml uses CloudFormation tags (!Ref, !Sub...); their values do not matter here."""


_AnyTagLoader.add_multi_constructor("!", lambda loader, suffix, node: None)
