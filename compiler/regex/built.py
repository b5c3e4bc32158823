"""Automata built directly by AST nodes (`Product`, tagged nodes), once per equal node.

Why: the JSON-Schema front-end writes ``allOf``/``not``/``anyOf`` combinations of patterns as
products of automata, and distributing ``anyOf`` over its siblings repeats the same inner
products in many branches (MaskBench's ``allany16``: 2,336 products built, 278 of them
distinct).  Within one top-level `automask.compiler.regex.ast_to_dfa` call, `built_dfa`
builds each distinct node once; the memo is a context variable, so it is scoped to that call
(and to its thread) and nothing outlives it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from automask.compiler.automata.byte_dfa import ByteDFA
from automask.compiler.limits import CompileLimits
from automask.errors import EmptyLanguage

_BUILT: ContextVar[dict[Any, ByteDFA | str] | None] = ContextVar("automask_built_dfas", default=None)


@contextmanager
def shared_built_dfas() -> Iterator[None]:
    """Share `built_dfa` results for the duration of the block (the outermost block wins)."""
    if _BUILT.get() is not None:
        yield
        return
    token = _BUILT.set({})
    try:
        yield
    finally:
        _BUILT.reset(token)


def built_dfa(node: Any, limits: CompileLimits) -> ByteDFA:
    """``node.build_dfa(limits)``, reused for an equal node inside `shared_built_dfas`.

    An empty language is remembered too (as its message) and raised again as `EmptyLanguage`.
    """
    memo = _BUILT.get()
    if memo is None:
        return node.build_dfa(limits)
    found = memo.get(node)
    if found is None:
        try:
            found = node.build_dfa(limits)
        except EmptyLanguage as error:
            found = str(error)
        memo[node] = found
    if isinstance(found, str):
        raise EmptyLanguage(found)
    return found
