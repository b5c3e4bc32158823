"""`compile_json_schema`: a JSON Schema plus a vocabulary in, a `CompiledGrammar` out.

The schema is walked into a regex AST (`automask.compiler.json_schema`), compiled to a
minimal byte DFA and indexed against the vocabulary exactly like `compile_regex`, so the
result is a `DFAGrammar` matched by the regular engine.  Regular means bounded: arbitrary
JSON (``additionalProperties: true``, ``items: {}``, untyped schemas) and recursive
``$ref``s are expanded to ``max_nesting`` levels; deeper instances are refused.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from automask.compiler.json_schema.compile import compile_schema
from automask.compiler.json_schema.options import JsonSchemaOptions, Whitespace
from automask.compiler.limits import DEFAULT_LIMITS, CompileLimits
from automask.compiler.vocabulary.vocabulary import Vocabulary
from automask.errors import CompileLimitExceeded, EmptyLanguage, UnsupportedFeature
from automask.runtime.compiled_grammar import CompiledGrammar


def schema_from(schema: Any) -> dict | bool:
    """A schema given as a dict/bool, JSON text, or Pydantic model class, as a dict/bool."""
    if isinstance(schema, (dict, bool)):
        return schema
    if isinstance(schema, (str, bytes)):
        try:
            loaded = json.loads(schema)
        except json.JSONDecodeError as error:
            from automask.errors import GrammarSyntaxError

            text = schema if isinstance(schema, str) else schema.decode("utf-8", "replace")
            raise GrammarSyntaxError(f"schema is not valid JSON: {error.msg}", text, error.pos) from None
        if not isinstance(loaded, (dict, bool)):
            raise TypeError("a JSON Schema must be a JSON object or boolean")
        return loaded
    model_json_schema = getattr(schema, "model_json_schema", None)
    if callable(model_json_schema):
        return model_json_schema()
    raise TypeError(
        f"schema must be a dict, a JSON string or a Pydantic model class, not {type(schema).__name__}"
    )


def compile_json_schema(
    schema: Any,
    vocab: Vocabulary | str,
    *,
    whitespace: Whitespace = "flexible",
    max_whitespace: int = 16,
    strict: bool = False,
    lenient: bool = False,
    max_nesting: int = 3,
    limits: CompileLimits | None = None,
) -> CompiledGrammar:
    """Compile a JSON Schema into a token-level constraint for ``vocab``.

    ``schema``: a dict (or ``True``/``False``), JSON text, or a Pydantic model class.
    Options are those of `JsonSchemaOptions`.  Raises `UnsupportedFeature` (keyword and JSON
    pointer), `SchemaError` (malformed schema), `EmptyLanguage` (unsatisfiable) or
    `CompileLimitExceeded`.
    """
    from automask.api import compile_dfa, resolve_vocabulary
    from automask.compiler.regex import ast_to_dfa

    limits = DEFAULT_LIMITS if limits is None else limits
    options = JsonSchemaOptions(whitespace, max_whitespace, strict, lenient, max_nesting)
    vocab = resolve_vocabulary(vocab)
    document = schema_from(schema)
    started = time.perf_counter()
    try:
        node, walk = compile_schema(document, options, limits)
    except RecursionError:
        raise CompileLimitExceeded(
            "schema nesting depth",
            sys.getrecursionlimit() + 1,
            sys.getrecursionlimit(),
            hint="the schema (after $ref expansion) is nested too deeply for the regular path",
        ) from None
    try:
        dfa = ast_to_dfa(node, limits)
    except EmptyLanguage:
        if walk.truncated_refs:
            raise UnsupportedFeature(
                "recursive $ref whose instances are all deeper than max_nesting "
                f"({', '.join(walk.truncated_refs[:3])}); it needs the CFG engine",
                walk.truncated_refs[0],
            ) from None
        raise EmptyLanguage("the JSON Schema accepts no value (unsatisfiable)") from None
    source = json.dumps(document, separators=(",", ":"))
    return compile_dfa(
        dfa, vocab, f"json-schema: {source}", limits, front_end_seconds=time.perf_counter() - started
    )
