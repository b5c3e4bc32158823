"""Public compile functions: a constraint plus a vocabulary in, a `CompiledGrammar` out."""

from __future__ import annotations

import time

from automask.compiler.limits import DEFAULT_LIMITS, CompileLimits
from automask.compiler.vocabulary.vocabulary import Vocabulary
from automask.runtime.compiled_grammar import CompiledGrammar


def _resolve_vocabulary(vocab: Vocabulary | str) -> Vocabulary:
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
    ``compile_seconds`` (excluding vocabulary loading), ``regex_seconds``,
    ``index_seconds``, ``num_states``, ``num_classes``, ``num_rows`` and ``index_bytes``.
    """
    from automask.compiler.regex import regex_to_dfa
    from automask.compiler.token_index.index import build_token_index
    from automask.runtime.compiled_grammar import DFAGrammar

    limits = DEFAULT_LIMITS if limits is None else limits
    vocabulary = _resolve_vocabulary(vocab)
    started = time.perf_counter()
    dfa = regex_to_dfa(pattern, limits)
    regex_done = time.perf_counter()
    index = build_token_index(dfa, vocabulary, limits)
    finished = time.perf_counter()
    stats = {
        "compile_seconds": finished - started,
        "regex_seconds": regex_done - started,
        "index_seconds": finished - regex_done,
        "num_states": dfa.num_states,
        "num_classes": index.num_classes,
        "num_rows": index.num_rows,
        "index_bytes": index.nbytes,
    }
    return DFAGrammar(dfa, index, vocabulary, f"regex: {pattern}", stats)
