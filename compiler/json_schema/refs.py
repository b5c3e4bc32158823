"""``$ref`` resolution inside one schema document.

Supported targets: ``#`` (the root), JSON pointers ``#/...`` (``~0``/``~1`` and percent
escapes decoded; through ``$defs``, ``definitions`` or any other location), plain-name
fragments ``#name`` matching an ``$anchor``, and URIs equal to (or resolving to the last
path segment of) an embedded ``$id``.  Anything else -- remote documents, ``$dynamicRef`` --
raises `UnsupportedFeature`; a pointer to nothing raises `SchemaError`.

Recursion: the compiler unrolls a recursive ``$ref`` at most ``max_nesting`` times along
one path and then substitutes the empty language for the next level -- instances nested
deeper are refused (never wrongly accepted).  If that makes the whole schema empty, the
API reports that the recursion needs the context-free engine.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urljoin


class RefError(Exception):
    """A ``$ref`` that cannot be followed; ``unsupported`` tells remote from dangling."""

    def __init__(self, message: str, unsupported: bool):
        super().__init__(message)
        self.unsupported = unsupported


def _walk(
    schema: Any, pointer: str, base: str, same_resource: bool = False
) -> Iterator[tuple[Any, str, str]]:
    """Every sub-schema (any dict) with its JSON pointer and base URI; ``same_resource``
    stops at embedded resources (sub-schemas with their own ``$id``)."""
    if isinstance(schema, dict):
        if same_resource and pointer and "$id" in schema:
            return
        identifier = schema.get("$id")
        if isinstance(identifier, str):
            base = urljoin(base, identifier)
        yield schema, pointer, base
        for key, value in schema.items():
            if key in ("enum", "const", "examples", "default"):
                continue
            yield from _walk(value, f"{pointer}/{escape_pointer(key)}", base, same_resource)
    elif isinstance(schema, list):
        for index, item in enumerate(schema):
            yield from _walk(item, f"{pointer}/{index}", base, same_resource)


def escape_pointer(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def follow_pointer(document: Any, pointer: str) -> Any:
    """The value at JSON pointer ``pointer`` (without the ``#``) in ``document``."""
    node = document
    if pointer in ("", "/"):
        return node if pointer == "" else _step(node, "")
    for raw in pointer.lstrip("/").split("/"):
        node = _step(node, unquote(raw).replace("~1", "/").replace("~0", "~"))
    return node


def _step(node: Any, token: str) -> Any:
    if isinstance(node, dict) and token in node:
        return node[token]
    if isinstance(node, list) and token.isdigit() and int(token) < len(node):
        return node[int(token)]
    raise KeyError(token)


def resolve_ref(root: Any, ref: str, base: str = "") -> tuple[Any, str]:
    """The schema ``ref`` points to (relative to ``base``) and its JSON pointer in ``root``."""
    target = urljoin(base, ref) if base else ref
    document_part, _, fragment = target.partition("#")
    scope, scope_pointer = root, ""
    root_id = root.get("$id", "") if isinstance(root, dict) else ""
    if document_part and document_part != root_id:
        for schema, pointer, schema_base in _walk(root, "", ""):
            identifier = schema.get("$id") if isinstance(schema, dict) else None
            if isinstance(identifier, str) and document_part in (identifier, schema_base):
                scope, scope_pointer = schema, pointer
                break
        else:
            raise RefError(f"$ref {ref!r} points outside this document (remote refs are not fetched)", True)
    if fragment and not fragment.startswith("/"):
        for schema, pointer, _ in _walk(scope, scope_pointer if scope_pointer else "", "", True):
            if isinstance(schema, dict) and schema.get("$anchor") == fragment:
                return schema, pointer
        raise RefError(f"$ref {ref!r}: no $anchor {fragment!r}", False)
    try:
        return follow_pointer(scope, fragment), scope_pointer + unquote(fragment)
    except KeyError:
        raise RefError(f"$ref {ref!r} points to nothing in this document", False) from None
