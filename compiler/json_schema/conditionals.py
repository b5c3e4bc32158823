"""Keywords rewritten into ones the walk already compiles, exactly (never approximately).

- ``dependentRequired`` / ``dependencies`` (array form): for each trigger property ``p``,
  an object either lacks ``p`` (``properties: {p: false}``) or has ``p`` and the listed
  names (``required``).  ``dependentSchemas`` / ``dependencies`` (schema form): either no
  ``p``, or ``p`` present and the dependent schema holds.  Each trigger becomes an
  ``anyOf`` of those two cases inside an ``allOf`` with the rest of the schema; non-objects
  satisfy both cases, as the spec says.  At most `MAX_TRIGGERS` triggers (the object rule
  enumerates the cases).
- ``if``/``then``/``else``: valid iff ``(if and then) or (not if and else)``.  Without
  ``then`` that is ``if or else`` (no negation needed); otherwise the negation of ``if``
  must be expressible (`negation.complement`: types, required, properties, bounds, ...).
  Anything else raises `UnsupportedFeature` at ``if``.  Next to an ``enum``/``const`` each
  value is checked instead.
- ``unevaluatedProperties`` / ``unevaluatedItems``: in a schema without in-place
  applicators (``allOf``, ``anyOf``, ``oneOf``, ``not``, ``if``, ``$ref``,
  ``dependentSchemas``, ...) exactly the properties not covered by ``properties`` /
  ``patternProperties`` / ``additionalProperties`` (items after ``prefixItems`` / ``items``,
  no ``contains``) are unevaluated, so the keyword *is* ``additionalProperties`` /
  ``items``.  Elsewhere it is refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from automask.compiler.json_schema.compile import SchemaCompiler

MAX_TRIGGERS = 4
_APPLICATORS = (
    "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "$ref", "$dynamicRef", "$recursiveRef",
    "dependentSchemas", "dependencies",
)  # fmt: skip


def rewrite(ctx: SchemaCompiler, schema: dict, pointer: str) -> dict:
    """``schema`` with the keywords above replaced by equivalent supported ones."""
    schema = rewrite_unevaluated(ctx, schema, pointer)
    schema = _dependencies(ctx, schema, pointer)
    return _conditional(ctx, schema, pointer)


def rewrite_unevaluated(ctx: SchemaCompiler, schema: dict, pointer: str) -> dict:
    if "unevaluatedProperties" not in schema and "unevaluatedItems" not in schema:
        return schema
    applicators = [key for key in _APPLICATORS if key in schema]
    schema = dict(schema)
    for keyword, replaces, covering in (
        ("unevaluatedProperties", "additionalProperties", ("additionalProperties",)),
        ("unevaluatedItems", "items", ("items", "additionalItems")),
    ):
        if keyword not in schema:
            continue
        value = schema.pop(keyword)
        if applicators or (keyword == "unevaluatedItems" and "contains" in schema):
            reason = applicators[0] if applicators else "contains"
            ctx.unsupported(keyword, pointer, f"next to {reason!r}, which may evaluate more")
            continue
        if keyword == "unevaluatedItems" and isinstance(schema.get("items"), list):
            covering = ("additionalItems",)
            replaces = "additionalItems"
        if not any(key in schema for key in covering):
            schema[replaces] = value
    return schema


def _dependencies(ctx: SchemaCompiler, schema: dict, pointer: str) -> dict:
    triggers: list[tuple[str, Any, str]] = []  # (name, required list or schema, keyword)
    for keyword in ("dependentRequired", "dependentSchemas", "dependencies"):
        value = schema.get(keyword)
        if value is None:
            continue
        if not isinstance(value, dict):
            raise ctx.error(f"{keyword} must be an object", f"{pointer}/{keyword}")
        for name, dependency in value.items():
            if keyword == "dependentRequired" or (keyword == "dependencies" and isinstance(dependency, list)):
                if not isinstance(dependency, list) or not all(isinstance(n, str) for n in dependency):
                    raise ctx.error(f"{keyword}/{name} must be an array of strings", f"{pointer}/{keyword}")
                triggers.append((name, dependency, keyword))
            else:
                triggers.append((name, dependency, keyword))
    if not triggers:
        return schema
    rest = {
        k: v for k, v in schema.items() if k not in ("dependentRequired", "dependentSchemas", "dependencies")
    }
    cases = []
    for name, dependency, _ in triggers:
        if dependency is True or dependency == [] or dependency == {}:
            continue
        present: Any = {"required": [name, *dependency]} if isinstance(dependency, list) else None
        if present is None:
            present = {"allOf": [{"required": [name]}, dependency]}
        cases.append({"anyOf": [{"properties": {name: False}}, present]})
    if len(cases) > MAX_TRIGGERS:
        ctx.unsupported(triggers[0][2], pointer, f"more than {MAX_TRIGGERS} dependency triggers")
        return rest
    if not cases:
        return rest
    return {**rest, "allOf": [*rest.get("allOf", []), *cases]}


def _conditional(ctx: SchemaCompiler, schema: dict, pointer: str) -> dict:
    if "if" not in schema:
        return schema
    condition = schema["if"]
    rest = {k: v for k, v in schema.items() if k not in ("if", "then", "else")}
    if not ctx.conditionals_apply:  # a draft 3/4/6 document: if/then/else are annotations
        return rest
    then, otherwise = schema.get("then", True), schema.get("else", True)
    if "then" not in schema and "else" not in schema:
        return rest
    if "enum" in rest or "const" in rest:  # a finite set of values: check each one
        from automask.compiler.json_schema.combinators import filter_values

        filtered = filter_values(
            ctx,
            rest,
            lambda checker, value: checker.valid(
                then if checker.valid(condition, value) else otherwise, value
            ),
        )
        if filtered is not None:
            return filtered
    if "then" not in schema:
        case: Any = {"anyOf": [condition, otherwise]}
    else:
        negation = _negation(condition, ctx.root)
        if negation is None:
            ctx.unsupported("if", pointer, "its negation (for then/else) is not expressible")
            return rest
        case = {"anyOf": [{"allOf": [condition, then]}, {"allOf": [negation, otherwise]}]}
    return {**rest, "allOf": [*rest.get("allOf", []), case]}


def _negation(condition: Any, root: Any) -> Any:
    from automask.compiler.json_schema.compile import ANNOTATIONS
    from automask.compiler.json_schema.negation import complement

    if isinstance(condition, dict) and set(condition) - ANNOTATIONS == {"type"}:
        return {"not": condition}  # reduced next to the branch: integer minus number needs it
    alternatives = complement(condition, root)
    if alternatives is None:
        return None
    return {"anyOf": alternatives} if alternatives else False
