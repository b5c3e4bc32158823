"""Spelling forced text with tokens, shared by every matcher's `forced_tokens`.

Jump-forward decoding appends the text a grammar forces without sampling it.  The tokens
chosen here are a greedy longest match: each lies inside the forced bytes, so each is
allowed where it is placed, but the split is *not* necessarily the tokenizer's canonical
one (re-tokenize the forced text if canonical tokens matter to the model).
"""

from __future__ import annotations

from automask.compiler.vocabulary.vocabulary import Vocabulary


def _regular_tokens_by_bytes(vocab: Vocabulary) -> tuple[dict[bytes, int], int]:
    """Regular token bytes -> the smallest id spelling them, and the longest such token."""
    table: dict[bytes, int] = {}
    for token_id, data in enumerate(vocab.token_bytes):
        if vocab.is_regular(token_id):
            table.setdefault(data, token_id)
    return table, max((len(b) for b in table), default=0)


def greedy_tokens(data: bytes, vocab: Vocabulary) -> list[int]:
    """Greedy longest-match token ids spelling a prefix of ``data`` (all of it when possible)."""
    table, longest = vocab.derived("regular_tokens_by_bytes", _regular_tokens_by_bytes)
    tokens: list[int] = []
    position = 0
    while position < len(data):
        for length in range(min(longest, len(data) - position), 0, -1):
            token_id = table.get(data[position : position + length])
            if token_id is not None:
                tokens.append(token_id)
                position += length
                break
        else:
            break
    return tokens
