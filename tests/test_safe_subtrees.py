"""Safe subtrees (`compiler/cfg/safe_subtrees.py`): rows that skip safe subtrees must equal the
full trie walk's on real vocabularies, and every safe set must have the property the walk
relies on."""

from __future__ import annotations

import random

import numpy as np
import pytest

from automask.compiler.cfg import _plain_kernels
from automask.compiler.cfg.safe_subtrees import (
    is_safe_set,
    safe_set,
    subtree_byte_set_reference,
)
from automask.compiler.cfg.terminal_cache import build_state_row, terminal_cache
from automask.compiler.grammar.pyregex import python_regex_to_ast
from automask.compiler.json_schema.json_ast import ANY_STRING_CONTENT, json_string
from automask.compiler.regex import ast_to_dfa
from automask.compiler.vocabulary.builtin import load_vocabulary

REGEXES = [
    json_string(ANY_STRING_CONTENT),
    # an unanchored pattern that must not contain a word: most bytes keep it in a few states
    python_regex_to_ast(r'"(?:[^"\\n]|n(?:[^"\\e]|e(?:[^"\\t]|t[^"\\_])))*"'),
    python_regex_to_ast(r'"[A-Za-z0-9 ]*"'),  # a restricted set: no plain depth at all
    python_regex_to_ast(r'"[a-z ]{2,30}"'),  # a counter over a restricted set
    python_regex_to_ast(r"[a-z]+"),  # accepting states: nothing is safe past them
]


def _tables(regex):
    dfa = ast_to_dfa(regex)
    return np.ascontiguousarray(dfa.transitions, dtype=np.int32), np.ascontiguousarray(dfa.accepting)


@pytest.mark.parametrize("tokenizer", ["llama3", "mistral-sp"])
def test_rows_skipping_safe_subtrees_equal_the_full_walk(tokenizer):
    """Every state of each DFA: the same row and completion points with safe subtrees skipped
    (with and without the plain slice) as without any skip."""
    cache = terminal_cache(load_vocabulary(tokenizer))
    plain = cache.plain_slice()
    fired = []
    for regex in REGEXES:
        transitions, accepting = _tables(regex)
        depths = _plain_kernels.plain_depths(transitions, accepting, plain.max_chars)
        for state in range(transitions.shape[0]):
            found = safe_set(transitions, accepting, np.array([state], dtype=np.int32), cache.safe_trie()[1])
            assert is_safe_set(transitions, accepting, found)
            fired.append(bool(found.states.any()))
            full = build_state_row(transitions, accepting, cache.trie, cache.children, cache.words, state)
            for sliced_plain, depth in ((None, 0), (plain, int(depths[state]))):
                skipping = build_state_row(
                    transitions, accepting, cache.trie, cache.children, cache.words, state,
                    sliced_plain, depth, cache.safe_trie(),
                )  # fmt: skip
                assert np.array_equal(full.row, skipping.row), (regex, state)
                assert np.array_equal(full.completions, skipping.completions)
                assert np.array_equal(full.by_byte_nodes, skipping.by_byte_nodes)
    assert sum(fired) > 10 and not all(fired)


def test_safe_sets_of_a_forbidden_word_keep_its_common_letters():
    """The pattern that must not contain "net_": the safe set takes out the backslash and one
    byte of the word (the rarest in the vocabulary's trie), not the letters it shares with text."""
    cache = terminal_cache(load_vocabulary("llama3"))
    transitions, accepting = _tables(REGEXES[1])
    body = int(transitions[0, ord('"')])
    found = safe_set(transitions, accepting, np.array([body], dtype=np.int32), cache.safe_trie()[1])
    members = {byte for byte in range(127) if (int(found.byte_set[byte >> 6]) >> (byte & 63)) & 1}
    assert ord('"') not in members and ord("\\") not in members
    assert {ord(char) for char in "abcdefghijklmopqrsuvwxyz "} <= members
    assert {ord(char) for char in "net_"} - members == {ord("_")}  # rarer in tokens than "n", "e", "t"


def test_subtree_byte_sets_on_a_real_trie():
    cache = terminal_cache(load_vocabulary("llama3"))
    sets = cache.safe_trie()[0]
    nodes = random.Random(5).sample(range(cache.trie.num_nodes), 3000)
    for node in nodes + [0, cache.trie.num_nodes - 1]:
        assert np.array_equal(sets[node], subtree_byte_set_reference(cache.trie, node)), node
