"""Public compile functions: a constraint plus a vocabulary in, a `CompiledGrammar` out."""

from __future__ import annotations

import time

from automask.compiler.automata.byte_dfa import ByteDFA
from automask.compiler.limits import DEFAULT_LIMITS, CompileLimits
from automask.compiler.vocabulary.vocabulary import Vocabulary
from automask.runtime.compiled_grammar import CompiledGrammar


def resolve_vocabulary(vocab: Vocabulary | str) -> Vocabulary:
    """A `Vocabulary` as given, or the built-in one of that name."""
    if isinstance(vocab, Vocabulary):
        return vocab
    if isinstance(vocab, str):
        from automask.compiler.vocabulary.builtin import load_vocabulary

        return load_vocabulary(vocab)
    raise TypeError(f"vocab must be a Vocabulary or a vocabulary name, not {type(vocab).__name__}")


def compile_regex(
    pattern: str, vocab: Vocabulary | str, *, limits: CompileLimits | None = None
) -> CompiledGrammar:
    """Compile a regular expression into a token-level constraint for ``vocab``.

    The whole output must match ``pattern`` (an anchored full match over UTF-8 bytes).
    ``vocab`` is a `Vocabulary` or the name of a built-in one (``"llama3"``, ``"mistral-sp"``
    ...).  Raises `RegexSyntaxError`, `UnsupportedFeature`, `EmptyLanguage` or
    `CompileLimitExceeded` (see `automask.errors`).  ``stats`` of the result holds
    ``compile_seconds`` (excluding vocabulary loading), ``front_end_seconds``,
    ``index_seconds``, ``num_states``, ``num_classes``, ``num_rows`` and ``index_bytes``.
    """
    from automask.compiler.regex import regex_to_dfa

    limits = DEFAULT_LIMITS if limits is None else limits
    vocabulary = resolve_vocabulary(vocab)
    started = time.perf_counter()
    dfa = regex_to_dfa(pattern, limits)
    return compile_dfa(
        dfa, vocabulary, f"regex: {pattern}", limits, front_end_seconds=time.perf_counter() - started
    )


def compile_dfa(
    dfa: ByteDFA,
    vocab: Vocabulary | str,
    source: str,
    limits: CompileLimits | None = None,
    *,
    front_end_seconds: float = 0.0,
) -> CompiledGrammar:
    """Index a `ByteDFA` built by any regular front-end (regex, JSON Schema) for ``vocab``.

    ``front_end_seconds`` is the time the caller spent building ``dfa``; it is added to
    ``stats["compile_seconds"]`` and kept as ``stats["front_end_seconds"]``.
    """
    from automask.compiler.token_index.index import build_token_index
    from automask.runtime.compiled_grammar import DFAGrammar

    limits = DEFAULT_LIMITS if limits is None else limits
    vocabulary = resolve_vocabulary(vocab)
    started = time.perf_counter()
    index = build_token_index(dfa, vocabulary, limits)
    index_seconds = time.perf_counter() - started
    stats = {
        "compile_seconds": front_end_seconds + index_seconds,
        "front_end_seconds": front_end_seconds,
        "index_seconds": index_seconds,
        "num_states": dfa.num_states,
        "num_classes": index.num_classes,
        "num_rows": index.num_rows,
        "index_bytes": index.nbytes,
    }
    return DFAGrammar(dfa, index, vocabulary, source, stats)


_resolve_vocabulary = resolve_vocabulary  # older private name, still used by grammar_api
