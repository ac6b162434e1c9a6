"""The OpenAPI document: valid, served without a token, and it matches the routes and the validator."""

from __future__ import annotations

import httpx
import pytest

from idp.app import ROUTES
from idp.web.admin import schemas
from idp.web.admin.validation import Invalid, check_supported, validate
from tests.functional.admin.conftest import Admin, Spec, validation_agreement
from tests.functional.conftest import Provider

METHODS = ("get", "post", "put", "patch", "delete")


def test_document_is_valid_openapi_3_1(spec: Spec, provider: Provider) -> None:
    document = spec.document
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": provider.url}]
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    response = httpx.get(f"{provider.url}/admin/api/openapi.json")
    assert response.headers["content-type"].startswith("application/json")


def test_every_route_is_documented_and_every_documented_operation_answers(admin: Admin, spec: Spec) -> None:
    mount = next(r for r in ROUTES if getattr(r, "path", None) == "/admin/api")
    served = {"/admin/api" + r.path for r in mount.routes if "{rest" not in r.path}  # type: ignore[attr-defined]
    assert served == set(spec.document["paths"])
    for path, item in spec.document["paths"].items():
        if path.endswith("openapi.json"):
            continue
        for method in item:
            concrete = path.replace("{", "x-").replace("}", "")
            response = admin.request(method.upper(), concrete, token=None)
            assert response.status_code == 401, (method, path, response.status_code)
            assert response.headers["www-authenticate"].startswith("Bearer")
        for method in set(METHODS) - set(item):
            response = admin.request(method.upper(), path.replace("{", "x-").replace("}", ""))
            assert response.status_code == 405 and response.json()["error"] == "method_not_allowed"
            assert response.headers["allow"]


def test_every_operation_documents_its_errors(spec: Spec) -> None:
    for path, item in spec.document["paths"].items():
        for method, operation in item.items():
            if path.endswith("openapi.json"):
                assert operation["security"] == []
                continue
            responses = operation["responses"]
            assert {"400", "401", "403", "503"} <= set(responses), (method, path)
            assert ("404" in responses) == ("{" in path), (method, path)
            assert ("413" in responses) == ("requestBody" in operation), (method, path)
            assert operation["operationId"] and operation["summary"]


def test_request_schemas_use_only_enforced_keywords(spec: Spec) -> None:
    bodies = [op["requestBody"]["content"]["application/json"]["schema"]
              for item in spec.document["paths"].values() for op in item.values() if "requestBody" in op]
    assert len(bodies) == 12
    for body in bodies:
        check_supported(body, schemas.resolve)
    parameters = [p["schema"] for item in spec.document["paths"].values() for op in item.values()
                  for p in op.get("parameters", [])]
    for parameter in parameters:
        check_supported(parameter, schemas.resolve)


SAMPLES: list[tuple[str, object]] = [
    ("AccountCreate", {"email": "a@example.com"}),
    ("AccountCreate", {"email": "a@example.com", "name": "A", "password": "12345678", "email_verified": True,
                       "organizations": [{"organization": "acme", "role": "owner"}, {"organization": "x"}]}),
    ("AccountCreate", {"email": "a@example.com", "organizations": [{"organization": "acme", "role": "Owner"}]}),
    ("AccountCreate", {"email": "a@example.com", "organizations": [{"role": "owner"}]}),
    ("AccountCreate", {"email": "a@example.com", "password": "short"}),
    ("AccountCreate", {"email": "a@example.com", "email_verified": 1}),
    ("AccountCreate", {"email": "a@example.com", "extra": None}),
    ("AccountCreate", {"email": 1.0}),
    ("AccountCreate", {"name": "no email"}),
    ("AccountCreate", []),
    ("AccountCreate", None),
    ("AccountUpdate", {}),
    ("AccountUpdate", {"disabled": False, "name": ""}),
    ("AccountUpdate", {"name": None}),
    ("AccountUpdate", {"name": "n" * 201}),
    ("OrganizationCreate", {"slug": "acme-1"}),
    ("OrganizationCreate", {"slug": "-acme"}),
    ("OrganizationCreate", {"slug": "a" * 99}),
    ("OrganizationCreate", {"slug": "a" * 100}),
    ("OrganizationUpdate", {"name": ""}),
    ("MemberRole", {}),
    ("MemberRole", {"role": "billing_admin"}),
    ("MemberRole", {"role": "9lives"}),
    ("ClientCreate", {"name": "x", "grant_types": ["client_credentials"], "scope": "a b:c admin"}),
    ("ClientCreate", {"name": "x", "grant_types": ["client_credentials", "client_credentials"]}),
    ("ClientCreate", {"name": "x", "grant_types": []}),
    ("ClientCreate", {"name": "x", "grant_types": ["implicit"]}),
    ("ClientCreate", {"name": "x", "scope": "a  b"}),
    ("ClientCreate", {"name": "x", "scope": "a\\b"}),
    ("ClientCreate", {"name": "x", "scope": "é"}),
    ("ClientCreate", {"name": "x", "redirect_uris": ["u"] * 51}),
    ("ClientCreate", {"name": "x", "id_token_signed_response_alg": "ES256", "public": True}),
    ("ClientCreate", {"name": ""}),
    ("ClientUpdate", {"admin": False, "first_party": True}),
    ("ClientUpdate", {"admin": 0}),
]


def test_request_validation_agrees_with_jsonschema(spec: Spec) -> None:
    agreed = validation_agreement(spec, SAMPLES)
    assert agreed[True] >= 10 and agreed[False] >= 15


def test_patterns_end_at_the_end_as_in_ecma_262() -> None:
    with pytest.raises(Invalid):
        validate(schemas.COMPONENTS["OrganizationCreate"], {"slug": "acme\n"}, schemas.resolve)
