"""Event names from route templates: never the raw path, always a name Canary accepts."""

from __future__ import annotations

import re

import pytest

from analytics.ingest.model import MAX_NAME_LENGTH, valid_name
from canary_resource.naming import event_name, flask_template


@pytest.mark.parametrize(("method", "template", "name"), [
    ("GET", "/reports/{id}", "GET:reports.:id"),
    ("get", "/reports/{id:int}/rows", "GET:reports.:id.rows"),
    ("DELETE", "/orgs/{org}/members/{member_id}", "DELETE:orgs.:org.members.:member_id"),
    ("POST", "/reports/<int:report_id>", "POST:reports.:report_id"),
    ("GET", "/", "GET:."),
    ("GET", "/files/{path:path}", "GET:files.:path"),
    ("PUT", "/a b/ü~x/", "PUT:a_b.__x"),
])
def test_route_templates_become_names_canary_accepts(method: str, template: str, name: str) -> None:
    assert event_name(method, template) == name
    assert valid_name(name)


def test_long_templates_are_cut_to_canary_s_limit() -> None:
    name = event_name("GET", "/" + "/".join(f"segment{i}" for i in range(40)))
    assert len(name) == MAX_NAME_LENGTH and valid_name(name)


def test_flask_rules_are_written_as_templates() -> None:
    assert flask_template("/reports/<int:report_id>/rows/<name>") == "/reports/{report_id}/rows/{name}"
    assert re.fullmatch(r"/static/\{filename\}", flask_template("/static/<path:filename>"))
