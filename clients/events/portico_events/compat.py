"""Backward compatibility of event schemas: what a consumer written against an older document would trip on.

Breaking, for an event type and version already published: the event disappears, a field disappears,
a field changes type (any change of its schema other than title, description, default or examples),
or a field becomes required that was not. Adding an optional field, a new event type or a new version
is compatible.
"""
from typing import Any

Schema = dict[str, Any]
_ANNOTATIONS = frozenset({"title", "description", "default", "examples"})


def message_schemas(document: Schema) -> dict[tuple[str, int], Schema]:
    """(event type, dataversion) → that message's payload schema, every `$ref` resolved in place."""
    found: dict[tuple[str, int], Schema] = {}
    for message in document.get("components", {}).get("messages", {}).values():
        payload = _resolve(document, message["payload"])
        properties = payload.get("properties", {})
        key = (properties["type"]["const"], properties["dataversion"]["const"])
        found[key] = payload
    return found


def breaking_changes(committed: Schema, current: Schema) -> list[str]:
    """Human-readable reasons why `current` would break consumers of `committed`; empty when it would not."""
    now = message_schemas(current)
    problems: list[str] = []
    for (event_type, version), old in sorted(message_schemas(committed).items()):
        name = f"{event_type} v{version}"
        if (event_type, version) not in now:
            problems.append(f"{name}: the event type or version was removed")
            continue
        _compare_object(name, old, now[(event_type, version)], problems)
    return problems


def _compare_object(path: str, old: Schema, new: Schema, problems: list[str]) -> None:
    old_properties, new_properties = old.get("properties", {}), new.get("properties", {})
    for field, old_field in old_properties.items():
        where = f"{path}: {field}" if ":" not in path else f"{path}.{field}"
        if field not in new_properties:
            problems.append(f"{where} was removed")
        elif "properties" in old_field and "properties" in new_properties[field]:
            _compare_object(where, old_field, new_properties[field], problems)
        elif _shape(old_field) != _shape(new_properties[field]):
            problems.append(f"{where} changed type from {_shape(old_field)} to {_shape(new_properties[field])}")
    for field in sorted(set(new.get("required", ())) - set(old.get("required", ()))):
        where = f"{path}: {field}" if ":" not in path else f"{path}.{field}"
        problems.append(f"{where} is newly required")


def _shape(schema: Any) -> Any:
    """The schema without the annotations that do not change what validates."""
    if isinstance(schema, dict):
        return {key: _shape(value) for key, value in schema.items() if key not in _ANNOTATIONS}
    if isinstance(schema, list):
        return [_shape(item) for item in schema]
    return schema


def _resolve(document: Schema, schema: Any, depth: int = 0) -> Any:
    if depth > 32:  # the catalogue has no recursive types; this only stops a malformed document
        raise ValueError("schema references nest too deep")
    if isinstance(schema, dict):
        if "$ref" in schema:
            target: Any = document
            for part in schema["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            extra = {key: value for key, value in schema.items() if key != "$ref"}
            return _resolve(document, {**target, **extra}, depth + 1)
        return {key: _resolve(document, value, depth + 1) for key, value in schema.items()}
    if isinstance(schema, list):
        return [_resolve(document, item, depth + 1) for item in schema]
    return schema
