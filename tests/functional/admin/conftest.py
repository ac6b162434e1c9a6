"""The admin API over real HTTP; every response body is checked against the served OpenAPI document."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_spec
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from tests.functional.conftest import Provider

DOCUMENT_URI = "urn:canary:admin-openapi"
API = "/admin/api/v1"


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


class Spec:
    """The served OpenAPI document, and response checks against it."""

    def __init__(self, document: dict[str, Any]) -> None:
        validate_spec(document)
        self.document = document
        self.registry: Registry[Any] = Registry().with_resource(DOCUMENT_URI, DRAFT202012.create_resource(document))
        self.templates = [(re.compile("^" + re.sub(r"{[a-z_]+}", "[^/]+", path) + "$"), path)
                          for path in document["paths"]]

    def template(self, path: str) -> str | None:
        matches = [template for pattern, template in self.templates if pattern.match(path)]
        # A literal segment beats a parameter: /accounts/{id}/disable over a longer parameterised match.
        return min(matches, key=lambda t: t.count("{")) if matches else None

    def validator(self, pointer: str) -> Draft202012Validator:
        return Draft202012Validator({"$ref": f"{DOCUMENT_URI}#{pointer}"}, registry=self.registry,
                                    format_checker=Draft202012Validator.FORMAT_CHECKER)

    def check(self, response: httpx.Response) -> None:
        """The response's status is documented for its operation and its body matches the schema."""
        request = response.request
        method = request.method.lower()
        template = self.template(request.url.path)
        operation = self.document["paths"].get(template, {}).get(method) if template else None
        if operation is None:  # an undeclared path or method: still the documented error shape
            assert response.status_code in (404, 405), (request.url.path, response.status_code)
            self.validator("/components/schemas/Error").validate(response.json())
            return
        status = str(response.status_code)
        assert status in operation["responses"], f"{method.upper()} {template} answered undocumented {status}: " \
                                                 f"{response.text[:300]}"
        documented = operation["responses"][status]
        if "content" not in documented:
            assert response.content == b"", response.content
            return
        assert response.headers["content-type"].startswith("application/json")
        for header in documented.get("headers", {}):
            assert header.lower() in response.headers, f"missing {header}"
        pointer = "/".join(["/paths", _escape(template or ""), method, "responses", status, "content",
                            _escape("application/json"), "schema"])
        self.validator(pointer).validate(response.json())


@pytest.fixture(scope="session")
def spec(provider: Provider) -> Spec:
    response = httpx.get(f"{provider.url}/admin/api/openapi.json")
    assert response.status_code == 200
    return Spec(response.json())


def client_credentials_token(provider: Provider, client_id: str, secret: str | None, **data: str) -> str:
    response = httpx.post(f"{provider.url}/token", data={"grant_type": "client_credentials", **data},
                          auth=(client_id, secret or ""))
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def new_token(provider: Provider, **client: Any) -> str:
    client.setdefault("grant_types", ["client_credentials"])
    client.setdefault("name", "admin api test")
    client_id, secret = provider.client(**client)
    return client_credentials_token(provider, client_id, secret)


@dataclass
class Admin:
    """An HTTP client of the admin API with a fresh admin token; every response is checked against the spec."""

    provider: Provider
    spec: Spec
    token: str
    http: httpx.Client

    def request(self, method: str, path: str, *, token: str | None = "", **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        bearer = self.token if token == "" else token
        if bearer is not None:
            headers.setdefault("Authorization", f"Bearer {bearer}")
        url = path if path.startswith("/admin/") else API + path
        response = self.http.request(method, url, headers=headers, **kwargs)
        self.spec.check(response)
        return response

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    def ok(self, method: str, path: str, status: int = 200, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        assert response.status_code == status, (response.status_code, response.text[:500])
        return response.json() if response.content else None

    def error(self, method: str, path: str, status: int, error: str, field: str | None = None,
              **kwargs: Any) -> dict[str, Any]:
        response = self.request(method, path, **kwargs)
        assert response.status_code == status, (response.status_code, response.text[:500])
        body: dict[str, Any] = response.json()
        assert body["error"] == error and body["error_description"], body
        if field is not None:
            assert body.get("field") == field, body
        assert response.headers["cache-control"] == "no-store"
        return body

    # factories
    def account(self, **fields: Any) -> dict[str, Any]:
        fields.setdefault("email", f"acct-{secrets.token_hex(5)}@example.com")
        result: dict[str, Any] = self.ok("POST", "/accounts", 201, json=fields)
        return result

    def organization(self, **fields: Any) -> dict[str, Any]:
        fields.setdefault("slug", f"org-{secrets.token_hex(5)}")
        result: dict[str, Any] = self.ok("POST", "/organizations", 201, json=fields)
        return result

    def client(self, **fields: Any) -> dict[str, Any]:
        fields.setdefault("name", f"client {secrets.token_hex(3)}")
        result: dict[str, Any] = self.ok("POST", "/clients", 201, json=fields)
        return result


@pytest.fixture
def admin(provider: Provider, spec: Spec) -> Iterator[Admin]:
    token = new_token(provider, admin=True, scope="admin")
    with httpx.Client(base_url=provider.url, timeout=30) as http:
        yield Admin(provider, spec, token, http)


def unique() -> str:
    return secrets.token_hex(5)


def validation_agreement(spec: Spec, samples: list[tuple[str, Any]],
                         service: Callable[[str, Any], bool] | None = None) -> dict[bool, int]:
    """For each (component name, body): the server's own validator and jsonschema must agree, and so must
    `service` (the domain's own checks: True when it accepts the body) when given.

    Returns how many bodies both accepted (True) and both refused (False)."""
    from idp.web.admin import schemas
    from idp.web.admin.validation import Invalid, validate

    agreed = {True: 0, False: 0}
    for name, body in samples:
        published = Draft202012Validator({"$ref": f"{DOCUMENT_URI}#/components/schemas/{name}"},
                                         registry=spec.registry).is_valid(body)
        try:
            validate(schemas.COMPONENTS[name], body, schemas.resolve)
            enforced = True
        except Invalid:
            enforced = False
        assert enforced == published, (name, body)
        if service is not None:
            assert service(name, body) == published, (name, body, "the service disagrees with the schema")
        agreed[enforced] += 1
    return agreed
