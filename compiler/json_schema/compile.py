"""Entry point: `schema_to_regex_ast(schema, options)` walks a JSON Schema into a regex AST.

The walk is keyword-driven and type-directed: a schema's language is the union, over the
JSON types it allows (all seven when ``type`` is absent), of the values of that type that
satisfy the keywords applying to it; in-place applicators (``$ref``, ``allOf``,
``anyOf``/``oneOf``, ``not``) are first reduced by merging schemas (`combinators`).  Every
error carries the JSON pointer of the offending keyword.

The keyword logic lives in one module per group (`strings`, `numbers`, `objects`,
`arrays`, `combinators`, `refs`, `enum_const`) and produces `RegexNode`s; a context-free
back-end can reuse their decisions and swap the node constructors.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from automask.compiler.json_schema import arrays, combinators, conditionals, objects
from automask.compiler.json_schema.enum_const import TYPE_NAMES, json_equal, json_type, values_node
from automask.compiler.json_schema.instance_check import CannotDecide, InstanceChecker, declares_draft
from automask.compiler.json_schema.internal_keywords import INTERNAL_KEYWORDS, refuse_internal_keywords
from automask.compiler.json_schema.json_ast import any_value, json_string
from automask.compiler.json_schema.numbers import NumberError, number_node
from automask.compiler.json_schema.options import DEFAULT_OPTIONS, JsonSchemaOptions
from automask.compiler.json_schema.refs import RefError, escape_pointer, resolve_ref
from automask.compiler.json_schema.strings import StringConstraintError, string_content
from automask.compiler.limits import DEFAULT_LIMITS, CompileLimits
from automask.compiler.regex.ast import NOTHING, RegexNode, alternation, literal
from automask.errors import AutomaskError, CompileLimitExceeded, UnsupportedFeature

ALL_TYPES = frozenset(TYPE_NAMES)

ANNOTATIONS = frozenset(
    (
        "title", "description", "default", "examples", "$comment", "$schema", "$id", "$anchor",
        "$defs", "definitions", "deprecated", "readOnly", "writeOnly", "contentMediaType",
        "contentEncoding", "contentSchema", "$vocabulary", "then", "else",
    )
)  # fmt: skip
"""Keywords that never constrain an instance (``then``/``else`` without ``if`` do nothing)."""

UNSUPPORTED = frozenset(
    (
        "$dynamicRef", "$dynamicAnchor", "$recursiveRef", "$recursiveAnchor",
        "divisibleBy", "disallow", "extends",
    )
)  # fmt: skip
"""Constraining keywords the regular engine does not compile (yet); the last three are draft 3's,
refused rather than mistaken for annotations."""


CONSTRAINING = frozenset(
    (
        "type", "enum", "const", "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum",
        "maxLength", "minLength", "pattern", "format", "maxItems", "minItems", "uniqueItems", "maxContains",
        "minContains", "contains", "items", "prefixItems", "additionalItems", "unevaluatedItems",
        "maxProperties", "minProperties", "required", "dependentRequired", "dependencies",
        "dependentSchemas", "properties", "patternProperties", "additionalProperties",
        "unevaluatedProperties", "propertyNames", "allOf", "anyOf", "oneOf", "not", "if", "then", "else",
        "$ref", "$dynamicRef", "$recursiveRef", *INTERNAL_KEYWORDS,
    )
)  # fmt: skip
"""Keywords that can constrain an instance; any other keyword is an annotation (ignored)."""


class SchemaError(AutomaskError, ValueError):
    """A malformed schema (bad keyword value, dangling ``$ref``); ``pointer`` locates it."""

    def __init__(self, message: str, pointer: str):
        self.pointer = "#" + pointer
        super().__init__(f"{message} (at {self.pointer})")


def pointer_to(pointer: str, *tokens: str | int) -> str:
    return pointer + "".join(f"/{escape_pointer(str(token))}" for token in tokens)


@dataclass
class SchemaCompiler:
    """The state of one walk: root document, options, ignored keywords, active ``$ref``s."""

    root: Any
    options: JsonSchemaOptions = DEFAULT_OPTIONS
    limits: CompileLimits = DEFAULT_LIMITS
    ignored: list[str] = field(default_factory=list)
    active_refs: list[str] = field(default_factory=list)
    truncated_refs: list[str] = field(default_factory=list)
    bounds_recursion: bool = True
    """Unroll a recursive ``$ref`` at most ``max_nesting`` times (a regex cannot recurse)."""
    checker: InstanceChecker | None = None
    """Decides single values against sub-schemas (`values_satisfying`); made on first use."""

    @property
    def legacy_integers(self) -> bool:
        """Whether the document declares draft 3 or 4, where ``1.0`` is not an ``integer``."""
        return declares_draft(self.root, 3, 4)

    @property
    def conditionals_apply(self) -> bool:
        """Whether ``if``/``then``/``else`` are keywords: draft 7 added them, so in a document
        declaring draft 3, 4 or 6 they are unknown words (annotations)."""
        return not declares_draft(self.root, 3, 4, 6)

    # -- errors -------------------------------------------------------------------------

    def unsupported(self, keyword: str, pointer: str, detail: str = "") -> None:
        """Refuse ``keyword`` (or, when lenient, record it as ignored and carry on)."""
        where = "#" + (pointer_to(pointer, keyword) if keyword else pointer)
        if self.options.lenient:
            self.ignored.append(where + (f" ({detail})" if detail else ""))
            return
        text = f"JSON Schema keyword {keyword!r} at {where}"
        raise UnsupportedFeature(text + (f": {detail}" if detail else ""), where)

    def count_keyword(self, schema: dict, keyword: str, pointer: str) -> int | None:
        """A non-negative integer keyword (``minItems``, ``maxProperties`` ...), or None when absent."""
        value = schema.get(keyword)
        if value is None:
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.error(f"{keyword} must be a non-negative integer", f"{pointer}/{keyword}")
        return value

    def error(self, message: str, pointer: str) -> SchemaError:
        return SchemaError(message, pointer)

    def values_satisfying(
        self, values: list[Any], test: Callable[[InstanceChecker, Any], bool]
    ) -> list[Any] | None:
        """The ``values`` passing ``test``, which asks an `InstanceChecker` about sub-schemas
        of this document; None when the checker cannot decide one of them."""
        if self.checker is None:
            self.checker = InstanceChecker.for_document(self.root, self.options, self.limits)
        try:
            return [value for value in values if test(self.checker, value)]
        except CannotDecide:
            return None

    def regular(self) -> SchemaCompiler:
        """The walker to use where a decision is made on a byte DFA (always a pure regex walk)."""
        return self

    # -- the walk -----------------------------------------------------------------------

    def compile(self, schema: Any, pointer: str = "", depth: int | None = None) -> RegexNode:
        """The JSON texts valid under ``schema`` (found at ``pointer``)."""
        depth = self.options.max_nesting if depth is None else depth
        if schema is True:
            return any_value(depth, self.options)
        if schema is False:
            return NOTHING
        if not isinstance(schema, dict):
            raise self.error(
                f"a schema must be an object or a boolean, not {json.dumps(schema)[:60]}", pointer
            )
        if "$ref" in schema:
            return self._compile_ref(schema, pointer, depth)
        schema = conditionals.rewrite(self, schema, pointer)
        schema = combinators.reduce_applicators(self, schema, pointer)
        if isinstance(schema, list):  # a union produced by anyOf/oneOf
            return alternation(
                self.compile(branch, branch_pointer, depth) for branch, branch_pointer in schema
            )
        if schema is False or schema is True:
            return self.compile(schema, pointer, depth)
        for keyword in schema:
            if keyword in UNSUPPORTED:
                self.unsupported(keyword, pointer)
        types = self._types(schema, pointer)
        if "const" in schema or "enum" in schema:
            return self._compile_enum(schema, pointer, depth, types)
        options: list[RegexNode] = []
        for kind in ("null", "boolean", "integer", "number", "string", "array", "object"):
            if kind not in types or (kind == "integer" and "number" in types):
                continue
            options.append(self._compile_type(kind, schema, pointer, depth))
        return alternation(options)

    def _types(self, schema: dict, pointer: str) -> frozenset[str]:
        raw = schema.get("type")
        if raw is None:
            return ALL_TYPES
        names = [raw] if isinstance(raw, str) else raw
        if not isinstance(names, list) or not all(
            isinstance(name, str) and name in ALL_TYPES for name in names
        ):
            raise self.error(
                f"type must be a type name or a list of them, not {json.dumps(raw)}",
                pointer_to(pointer, "type"),
            )
        kinds = frozenset(names)
        if "number" in kinds:
            kinds |= {"integer"}
        return kinds

    def _compile_type(self, kind: str, schema: dict, pointer: str, depth: int) -> RegexNode:
        if kind == "null":
            return literal("null")
        if kind == "boolean":
            return alternation([literal("true"), literal("false")])
        if kind in ("integer", "number"):
            try:
                return number_node(schema, integer=kind == "integer", zero_fraction=not self.legacy_integers)
            except NumberError as error:
                if error.unsupported:
                    self.unsupported(error.keyword, pointer, str(error))
                    return number_node(
                        {k: v for k, v in schema.items() if k != error.keyword}, kind == "integer"
                    )
                raise self.error(str(error), pointer_to(pointer, error.keyword)) from None
        if kind == "string":
            self._check_length_bounds(schema, pointer)
            try:
                return json_string(string_content(schema))
            except StringConstraintError as error:
                if error.unsupported:
                    self.unsupported(error.keyword, pointer, str(error))
                    rest = {k: v for k, v in schema.items() if k not in (error.keyword,)}
                    return self._compile_type(kind, rest, pointer, depth)
                raise self.error(str(error), pointer_to(pointer, error.keyword)) from None
        if kind == "array":
            return arrays.array_node(self, schema, pointer, depth)
        return objects.object_node(self, schema, pointer, depth)

    def _check_length_bounds(self, schema: dict, pointer: str) -> None:
        """``minLength``/``maxLength`` are counted repetitions, bounded like a regex's
        ``{m,n}`` by ``limits.max_repeat`` -- refused at once, not after building an automaton
        of that many copies of a character."""
        for keyword in ("minLength", "maxLength"):
            value = schema.get(keyword)
            if (
                isinstance(value, (int, float))
                and not isinstance(value, bool)
                and value > self.limits.max_repeat
            ):
                raise CompileLimitExceeded(
                    "max_repeat",
                    int(value),
                    self.limits.max_repeat,
                    hint=f"{keyword} at #{pointer_to(pointer, keyword)}; raise CompileLimits(max_repeat=...) to allow it",
                )

    def _compile_enum(self, schema: dict, pointer: str, depth: int, types: frozenset[str]) -> RegexNode:
        candidates: list[Any] = []
        if "enum" in schema:
            if not isinstance(schema["enum"], list):
                raise self.error("enum must be an array", pointer_to(pointer, "enum"))
            candidates = list(schema["enum"])
        if "const" in schema:
            const = schema["const"]
            candidates = [const] if "enum" not in schema else [v for v in candidates if json_equal(v, const)]
        candidates = [value for value in candidates if json_type(value) in types]
        rest = {k: v for k, v in schema.items() if k in CONSTRAINING and k not in ("enum", "const", "type")}
        # keep the values the remaining keywords accept
        if rest and candidates:
            checked = self.values_satisfying(candidates, lambda checker, value: checker.valid(rest, value))
            if checked is None:  # a keyword the checker does not decide: ask the schema's language
                kinds = sorted({json_type(value) for value in candidates})
                checked = self.values_accepted({**rest, "type": kinds}, pointer, depth, candidates)
            candidates = checked
        return values_node(candidates, self.options)

    def values_accepted(self, schema: dict, pointer: str, depth: int, values: list[Any]) -> list[Any]:
        """The ``values`` whose JSON text ``schema`` accepts, decided by the schema's automaton."""
        from automask.compiler.regex import ast_to_dfa

        check = ast_to_dfa(self.regular().compile(schema, pointer, depth), self.limits)
        return [value for value in values if check.matches(json.dumps(value, ensure_ascii=False).encode())]

    def _compile_ref(self, schema: dict, pointer: str, depth: int) -> RegexNode:
        ref = schema["$ref"]
        if not isinstance(ref, str):
            raise self.error("$ref must be a string", pointer_to(pointer, "$ref"))
        try:
            target, target_pointer = resolve_ref(self.root, ref)
        except RefError as error:
            if error.unsupported:
                self.unsupported("$ref", pointer, str(error))
                return self.compile({k: v for k, v in schema.items() if k != "$ref"}, pointer, depth)
            raise self.error(str(error), pointer_to(pointer, "$ref")) from None
        if self.bounds_recursion and self.active_refs.count(target_pointer) > self.options.max_nesting:
            self.truncated_refs.append(f"{pointer_to(pointer, '$ref')} -> #{target_pointer}")
            return NOTHING
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        for keyword in ("unevaluatedProperties", "unevaluatedItems"):
            if keyword in rest:  # the $ref evaluates members too: not a plain additional* keyword
                self.unsupported(keyword, pointer, "next to '$ref', which may evaluate more")
                del rest[keyword]
        self.active_refs.append(target_pointer)
        try:
            if not any(key not in ANNOTATIONS for key in rest):
                return self.compile(target, target_pointer, depth)
            return self.compile({"allOf": [target, rest]}, pointer, depth)
        finally:
            self.active_refs.pop()


def schema_to_regex_ast(
    schema: dict | bool, options: JsonSchemaOptions = DEFAULT_OPTIONS, limits: CompileLimits = DEFAULT_LIMITS
) -> RegexNode:
    """The regex AST of the JSON texts valid under ``schema`` (see the module docstring).

    Raises `UnsupportedFeature` naming the keyword and its JSON pointer (unless
    ``options.lenient``, which warns instead), `SchemaError` for malformed schemas.
    """
    node, _ = compile_schema(schema, options, limits)
    return node


def compile_schema(
    schema: dict | bool, options: JsonSchemaOptions = DEFAULT_OPTIONS, limits: CompileLimits = DEFAULT_LIMITS
) -> tuple[RegexNode, SchemaCompiler]:
    """Like `schema_to_regex_ast`, also returning the walk state (ignored keywords, cut refs)."""
    import warnings

    refuse_internal_keywords(json.dumps(schema, ensure_ascii=False))
    compiler = SchemaCompiler(schema, options, limits)
    node = compiler.compile(schema, "")
    if compiler.ignored:
        warnings.warn(
            "JSON Schema keywords ignored (lenient=True), the constraint accepts more than the schema: "
            + "; ".join(compiler.ignored),
            stacklevel=3,
        )
    return node, compiler
