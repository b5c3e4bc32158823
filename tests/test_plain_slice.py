"""The plain-content slice (`compiler/cfg/plain_slice.py`): rows that skip plain-text subtrees
must equal the full trie walk's, and the depth kernel its Python specification."""

from __future__ import annotations

import numpy as np
import pytest

from automask.compiler.cfg import _plain_kernels
from automask.compiler.cfg.plain_slice import plain_chars, plain_depths_reference
from automask.compiler.cfg.terminal_cache import build_state_row, terminal_cache
from automask.compiler.grammar.pyregex import python_regex_to_ast
from automask.compiler.json_schema.json_ast import ANY_STRING_CONTENT, json_string
from automask.compiler.regex import ast_to_dfa
from automask.compiler.vocabulary.builtin import load_vocabulary


def test_plain_chars():
    assert plain_chars("héllo wörld 😀".encode()) == 13
    assert plain_chars(b'say "hi"') == -1 and plain_chars(b"a\\b") == -1 and plain_chars(b"a\nb") == -1
    assert plain_chars("é".encode()[:1]) == -1 and plain_chars(b"") == -1  # a split character, nothing


def _string_dfas():
    """DFAs of strings whose states read text: any string, bounded ones, a pattern, a key."""
    regexes = [
        json_string(ANY_STRING_CONTENT),
        python_regex_to_ast(r'"[^"\\\x00-\x1f]{0,12}"'),
        python_regex_to_ast(r'"[a-z ]{2,30}"'),
        python_regex_to_ast(r'"(?:[^"\\\x00-\x1f]|\\n){0,6}x"'),
        python_regex_to_ast(r'"ab\u00e9[^"]*"'),
    ]
    return [ast_to_dfa(regex) for regex in regexes]


@pytest.mark.parametrize("index", range(5))
def test_plain_depths_kernel_equals_its_reference(index):
    dfa = _string_dfas()[index]
    transitions = np.ascontiguousarray(dfa.transitions, dtype=np.int32)
    accepting = np.ascontiguousarray(dfa.accepting)
    for cap in (3, 40):
        expected = plain_depths_reference(transitions, accepting, cap)
        assert np.array_equal(_plain_kernels.plain_depths(transitions, accepting, cap), expected)
    applies = plain_depths_reference(transitions, accepting, 40).max() > 0
    assert applies == (index != 2)  # "[a-z ]" does not read every plain text: never sliced


@pytest.mark.parametrize("tokenizer", ["mistral-sp", "llama3"])
def test_rows_with_the_slice_equal_the_full_walk(tokenizer):
    """Every state of the string DFAs: the same row and completion points either way (mistral's
    byte-fallback tokens and llama3's split characters are not plain, so they are walked)."""
    vocab = load_vocabulary(tokenizer)
    cache = terminal_cache(vocab)
    plain = cache.plain_slice()
    skipped = 0
    for dfa in _string_dfas():
        transitions = np.ascontiguousarray(dfa.transitions, dtype=np.int32)
        accepting = np.ascontiguousarray(dfa.accepting)
        depths = _plain_kernels.plain_depths(transitions, accepting, plain.max_chars)
        for state in range(dfa.num_states):
            full = build_state_row(transitions, accepting, cache.trie, cache.children, cache.words, state)
            sliced = build_state_row(
                transitions,
                accepting,
                cache.trie,
                cache.children,
                cache.words,
                state,
                plain,
                int(depths[state]),
            )
            assert np.array_equal(full.row, sliced.row), (state, int(depths[state]))
            assert np.array_equal(full.completions, sliced.completions)
            assert np.array_equal(full.by_byte_nodes, sliced.by_byte_nodes)
            skipped += int(depths[state] > 0)
    assert skipped > 10


def test_slice_building_kernels_equal_their_references():
    """`token_plain_chars` equals `plain_chars` on a real vocabulary and on random bytes
    (overlong forms, surrogates, code points past U+10FFFF, truncated sequences), and
    `subtree_maxima` equals the per-range maximum on a real trie."""
    import random

    from automask.compiler.cfg._kernels import node_parents
    from automask.compiler.cfg.plain_slice import subtree_maxima_reference, tokens_plain_chars

    vocab = load_vocabulary("mistral-sp")
    rng = random.Random(3)
    tokens = [vocab.token_bytes[token] for token in range(vocab.size)]
    tokens += [bytes(rng.randrange(256) for _ in range(rng.randrange(6))) for _ in range(20000)]
    tokens += [b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe0\x80\x80", b"\xc0\x80", b"\xe2\x82", b"a\x7f", b""]
    assert tokens_plain_chars(tokens).tolist() == [plain_chars(token) for token in tokens]
    trie = terminal_cache(vocab).trie
    own = np.random.default_rng(4).integers(0, 1000, size=trie.node_byte.shape[0]).astype(np.int64)
    got = _plain_kernels.subtree_maxima(own, node_parents(trie.node_depth))
    assert np.array_equal(got, subtree_maxima_reference(own, trie))
