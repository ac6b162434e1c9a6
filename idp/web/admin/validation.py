"""Request validation against the admin API's JSON Schemas (2020-12), the subset of keywords they use.

The same schema objects go into the OpenAPI document, so what is enforced is what is published. A schema
that uses a keyword this module does not enforce is refused at start-up by ``check_supported``.
Beyond the schemas, strings never carry NUL characters (PostgreSQL cannot store them) nor lone surrogates
(``"\\ud800"`` is valid JSON, but no UTF-8 text: it could be neither stored nor sent back).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

Schema = Mapping[str, Any]
Resolve = Callable[[str], Schema]

ENFORCED = {"type", "properties", "required", "additionalProperties", "items", "minItems", "maxItems",
            "uniqueItems", "minLength", "maxLength", "pattern", "minimum", "maximum", "enum", "$ref"}
ANNOTATIONS = {"title", "description", "format", "default", "examples", "readOnly", "writeOnly", "deprecated"}


class Invalid(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value) and value.is_integer())


_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "integer": _is_integer,
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
}
_NAMES = {"object": "an object", "array": "an array", "string": "a string", "boolean": "true or false",
          "null": "null", "integer": "an integer", "number": "a number"}


@lru_cache(maxsize=256)
def _pattern(pattern: str) -> re.Pattern[str]:
    # ECMA-262 "$" matches only at the very end; Python's also before a final newline.
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


def is_unicode(value: str) -> bool:
    """False when ``value`` holds lone surrogates, so does not encode as UTF-8."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown(text: str) -> str:
    """``text`` as an error may repeat it: lone surrogates escaped (``\\ud800``), so the answer encodes."""
    return text if is_unicode(text) else text.encode("utf-8", "backslashreplace").decode()


def field_name(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{shown(key)}" if path else shown(key)


def validate(schema: Schema, value: Any, resolve: Resolve, field: str = "") -> None:
    """Raise ``Invalid`` naming the first field at fault (``email``, ``organizations[0].role``)."""
    where = field or "body"
    if "$ref" in schema:
        validate(resolve(schema["$ref"]), value, resolve, field)
        return
    types = schema.get("type")
    if types is not None:
        allowed = [types] if isinstance(types, str) else list(types)
        if not any(_TYPES[t](value) for t in allowed):
            raise Invalid(where, "must be " + " or ".join(_NAMES[t] for t in allowed))
    if "enum" in schema and not any(type(value) is type(e) and value == e for e in schema["enum"]):
        raise Invalid(where, "must be one of " + ", ".join(repr(e) for e in schema["enum"]))
    if isinstance(value, str):
        _string(schema, value, where)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            raise Invalid(where, f"must be at least {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            raise Invalid(where, f"must be at most {schema['maximum']}")
    elif isinstance(value, list):
        _array(schema, value, resolve, field)
    elif isinstance(value, dict):
        _object(schema, value, resolve, field)


def _string(schema: Schema, value: str, where: str) -> None:
    if "\x00" in value:
        raise Invalid(where, "must not contain NUL characters")
    if not is_unicode(value):
        raise Invalid(where, "must be valid Unicode")
    if len(value) < schema.get("minLength", 0):
        raise Invalid(where, f"must have at least {schema['minLength']} characters")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        raise Invalid(where, f"must have at most {schema['maxLength']} characters")
    if "pattern" in schema and not _pattern(schema["pattern"]).search(value):
        raise Invalid(where, f"must match {schema['pattern']}")


def _array(schema: Schema, value: list[Any], resolve: Resolve, field: str) -> None:
    where = field or "body"
    if len(value) < schema.get("minItems", 0):
        raise Invalid(where, f"must have at least {schema['minItems']} items")
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        raise Invalid(where, f"must have at most {schema['maxItems']} items")
    if "items" in schema:
        for index, item in enumerate(value):
            validate(schema["items"], item, resolve, field_name(field, index))
    if schema.get("uniqueItems"):
        seen: list[Any] = []
        for index, item in enumerate(value):
            if item in seen:
                raise Invalid(field_name(field, index), "repeats an earlier item")
            seen.append(item)


def _object(schema: Schema, value: dict[str, Any], resolve: Resolve, field: str) -> None:
    properties: Mapping[str, Schema] = schema.get("properties", {})
    if schema.get("additionalProperties") is False:
        for key in value:
            if key not in properties:
                raise Invalid(field_name(field, key), "is not a known field")
    for key in schema.get("required", ()):
        if key not in value:
            raise Invalid(field_name(field, key), "is required")
    for key, item in value.items():
        if key in properties:
            validate(properties[key], item, resolve, field_name(field, key))


def check_supported(schema: Any, resolve: Resolve, seen: set[str] | None = None) -> None:
    """Refuse schemas whose keywords ``validate`` would silently ignore."""
    seen = set() if seen is None else seen
    if not isinstance(schema, Mapping):
        raise ValueError(f"not a schema: {schema!r}")
    unknown = set(schema) - ENFORCED - ANNOTATIONS
    if unknown:
        raise ValueError(f"keywords not enforced by the request validator: {sorted(unknown)}")
    types = [schema["type"]] if isinstance(schema.get("type"), str) else list(schema.get("type", []))
    if set(types) - set(_TYPES):
        raise ValueError(f"unknown type in {types}")
    if ("object" in types or "additionalProperties" in schema) and schema.get("additionalProperties") is not False:
        raise ValueError("request objects must set additionalProperties to false")
    if "$ref" in schema:
        if schema["$ref"] not in seen:
            seen.add(schema["$ref"])
            check_supported(resolve(schema["$ref"]), resolve, seen)
        return
    for sub in schema.get("properties", {}).values():
        check_supported(sub, resolve, seen)
    if "items" in schema:
        check_supported(schema["items"], resolve, seen)
    if "pattern" in schema:
        _pattern(schema["pattern"])
