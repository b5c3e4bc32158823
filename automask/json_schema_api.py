"""`compile_json_schema`: a JSON Schema plus a vocabulary in, a `CompiledGrammar` out.

Two back-ends share one schema walk (`automask.compiler.json_schema`):

- ``"cfg"`` (`to_grammar.schema_to_grammar`): grammar IR compiled by the CFG engine
  (`compile_grammar_ir`).  Recursive ``$ref``s and arbitrary JSON (``additionalProperties:
  true``, ``items: {}``, untyped schemas) are exact, at any depth; whitespace is its own
  small terminal.
- ``"dfa"``: one regex AST, compiled to a minimal byte DFA and indexed like
  `compile_regex` (a `DFAGrammar`).  Regular means bounded: arbitrary JSON and recursive
  ``$ref``s are expanded to ``max_nesting`` levels; deeper instances are refused.
- ``"auto"`` (default): ``"dfa"`` when the walk needed no nonterminal besides whitespace
  structure -- i.e. the schema is a scalar leaf (one regex, cheap DFA) -- else ``"cfg"``.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, Literal

from automask.compiler.cfg.limits import CFGLimits
from automask.compiler.json_schema.compile import compile_schema
from automask.compiler.json_schema.options import JsonSchemaOptions, Whitespace
from automask.compiler.limits import DEFAULT_LIMITS, CompileLimits
from automask.compiler.regex.ast import RegexNode
from automask.compiler.vocabulary.vocabulary import Vocabulary
from automask.errors import CompileLimitExceeded, EmptyLanguage, UnsupportedFeature
from automask.runtime.compiled_grammar import CompiledGrammar

Backend = Literal["auto", "cfg", "dfa"]

JSON_SCHEMA_CFG_LIMITS = CFGLimits(max_flat_states=0, initial_memo_credit=0.0)
"""The CFG engine's limits for schema grammars: no flattening of regular sub-grammars, and no
subtree memos before the grammar has paid for them in walks (a schema grammar typically
serves one output; `SubtreeMemo.earn`).

Why: a schema's objects are regular when their values are leaves, and flattening one turns
the whole object -- every key spelling, the "any other key" complement, every value -- into
one DFA through the general NFA + subset construction.  On the MaskBench sample that was
the compile-time p99 (seconds), while the masks were no faster: what they cost is the first
visit of each context, not the Earley steps between leaf terminals.  Leaf terminals (string
bodies, numbers, literals) are shared across schemas by the vocabulary's terminal cache."""


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
    backend: Backend = "auto",
) -> CompiledGrammar:
    """Compile a JSON Schema into a token-level constraint for ``vocab``.

    ``schema``: a dict (or ``True``/``False``), JSON text, or a Pydantic model class.
    Options are those of `JsonSchemaOptions`; ``max_nesting`` only bounds the ``"dfa"``
    back-end.  ``backend``: ``"auto"``, ``"cfg"`` or ``"dfa"`` (module docstring).
    Raises `UnsupportedFeature` (keyword and JSON pointer), `SchemaError` (malformed schema), `EmptyLanguage` (unsatisfiable) or
    `CompileLimitExceeded`.
    """
    from automask.api import compile_dfa, resolve_vocabulary
    from automask.compiler.regex import ast_to_dfa

    if backend not in ("auto", "cfg", "dfa"):
        raise ValueError(f"backend must be 'auto', 'cfg' or 'dfa', not {backend!r}")
    limits = DEFAULT_LIMITS if limits is None else limits
    options = JsonSchemaOptions(whitespace, max_whitespace, strict, lenient, max_nesting)
    vocab = resolve_vocabulary(vocab)
    document = schema_from(schema)
    started = time.perf_counter()
    if backend != "dfa":
        grammar, _ = _grammar(document, options, limits)
        leaf = _is_leaf_grammar(grammar)
        if backend == "cfg" or leaf is None:
            return _compile_cfg(grammar, vocab, document, limits, time.perf_counter() - started)
        return compile_dfa(
            ast_to_dfa(leaf, limits),
            vocab,
            f"json-schema: {json.dumps(document, separators=(',', ':'))}",
            limits,
            front_end_seconds=time.perf_counter() - started,
        )
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


def _grammar(document: dict | bool, options: JsonSchemaOptions, limits: CompileLimits):
    from automask.compiler.json_schema.to_grammar import schema_to_grammar

    try:
        return schema_to_grammar(document, options, limits)
    except RecursionError:
        raise CompileLimitExceeded(
            "schema nesting depth",
            sys.getrecursionlimit() + 1,
            sys.getrecursionlimit(),
            hint="the schema is nested too deeply",
        ) from None


def _is_leaf_grammar(grammar) -> RegexNode | None:
    """The one regex of a grammar ``json -> t0`` (a scalar schema), else None."""
    if len(grammar.rules) == 1 and len(grammar.rules[0].expansion) == 1:
        return grammar.terminal(grammar.rules[0].expansion[0].name).regex
    return None


def _compile_cfg(
    grammar, vocab: Vocabulary, document: dict | bool, limits: CompileLimits, front_end_seconds: float
) -> CompiledGrammar:
    from automask.grammar_api import compile_grammar_ir

    if not grammar.rules:
        raise EmptyLanguage("the JSON Schema accepts no value (unsatisfiable)")
    source = f"json-schema: {json.dumps(document, separators=(',', ':'))}"
    compiled = compile_grammar_ir(
        grammar, vocab, limits=limits, cfg_limits=JSON_SCHEMA_CFG_LIMITS, source=source
    )
    stats = getattr(compiled, "stats", None)
    if isinstance(stats, dict):
        stats["front_end_seconds"] = front_end_seconds
    return compiled
