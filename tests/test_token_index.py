"""Token index: the numba trie walk equals the per-token reference; equivalence classes are exact."""

from __future__ import annotations

import random

import numpy as np
import pytest

from automask.compiler.automata.byte_dfa import DEAD, ByteDFA
from automask.compiler.limits import CompileLimits
from automask.compiler.token_index import _kernels, build_token_index, build_token_trie
from automask.compiler.token_index import trie as trie_module
from automask.compiler.token_index.index import bounded_equivalence
from automask.compiler.token_index.reference import (
    allowed_row_reference,
    allowed_rows_reference,
    build_trie_reference,
    refine_partition_reference,
)
from automask.compiler.vocabulary.vocabulary import Vocabulary
from automask.errors import CompileLimitExceeded
from automask.runtime.bitmask import bitmask_to_token_ids

# Bytes used by random DFAs and vocabularies: ASCII plus UTF-8 lead/continuation bytes, so
# tokens that split multi-byte characters are exercised.
ALPHABET = [ord("a"), ord("b"), ord("c"), ord("-"), 0x00, 0xC3, 0xA9, 0xE4, 0xB8, 0x80]


def trimmed_dfa(transitions: np.ndarray, accepting: np.ndarray, start: int) -> ByteDFA:
    """Keep the states reachable from ``start`` that can reach acceptance (the ByteDFA invariant)."""
    n = len(accepting)
    reachable = {start}
    todo = [start]
    while todo:
        s = todo.pop()
        for t in transitions[s]:
            if t != DEAD and int(t) not in reachable:
                reachable.add(int(t))
                todo.append(int(t))
    live = set(np.flatnonzero(accepting).tolist())
    changed = True
    while changed:
        changed = False
        for s in range(n):
            if s not in live and any(t != DEAD and int(t) in live for t in transitions[s]):
                live.add(s)
                changed = True
    keep = sorted(reachable & live)
    assert start in keep
    renumber = {old: new for new, old in enumerate(keep)}
    table = np.full((len(keep), 256), DEAD, dtype=np.int32)
    for old in keep:
        for b in range(256):
            t = int(transitions[old, b])
            if t != DEAD and t in renumber:
                table[renumber[old], b] = renumber[t]
    return ByteDFA(table, accepting[keep].copy(), renumber[start])


def random_dfa(rng: random.Random, max_states: int = 25) -> ByteDFA:
    n = rng.randint(1, max_states)
    transitions = np.full((n, 256), DEAD, dtype=np.int32)
    density = rng.uniform(0.2, 0.9)
    for s in range(n):
        for b in ALPHABET:
            if rng.random() < density:
                transitions[s, b] = rng.randrange(n)
    accepting = np.array([rng.random() < 0.3 for _ in range(n)], dtype=bool)
    accepting[0] = accepting[0] or not accepting.any()
    start = rng.randrange(n)
    accepting[start] = accepting[start] or rng.random() < 0.5
    # Guarantee the start is live: make it accepting when nothing accepting is reachable.
    try:
        return trimmed_dfa(transitions, accepting, start)
    except AssertionError:
        accepting[start] = True
        return trimmed_dfa(transitions, accepting, start)


def random_vocab(rng: random.Random, size: int | None = None) -> Vocabulary:
    size = size or rng.randint(5, 90)
    tokens = []
    for _ in range(size):
        length = rng.choice([0, 1, 1, 2, 2, 3, 4, 6])
        tokens.append(bytes(rng.choice(ALPHABET) for _ in range(length)))
    # duplicates of existing byte strings (byte-fallback style)
    for _ in range(rng.randint(0, 5)):
        tokens.append(rng.choice(tokens))
    ids = list(range(len(tokens)))
    rng.shuffle(ids)
    eos = ids[: rng.randint(1, 2)]
    special = ids[2 : 2 + rng.randint(0, 3)]  # special ids keep their (text-looking) bytes
    return Vocabulary(tokens, special_ids=special, eos_ids=eos, name="random")


def chain_dfa(length: int, byte_set: set[int]) -> ByteDFA:
    """``[byte_set]{0,length}``: states 0..length, all accepting."""
    table = np.full((length + 1, 256), DEAD, dtype=np.int32)
    for s in range(length):
        for b in byte_set:
            table[s, b] = s + 1
    return ByteDFA(table, np.ones(length + 1, dtype=bool), 0)


def assert_index_equals_reference(dfa: ByteDFA, vocab: Vocabulary, **kwargs) -> None:
    index = build_token_index(dfa, vocab, **kwargs)
    expected = allowed_rows_reference(dfa, vocab)
    for s in range(dfa.num_states):
        assert np.array_equal(index.row_of(s), expected[s]), (
            s,
            bitmask_to_token_ids(index.row_of(s), vocab.size),
            bitmask_to_token_ids(expected[s], vocab.size),
        )


@pytest.mark.parametrize("seed", range(60))
def test_kernel_matches_reference_on_random_dfas_and_vocabularies(seed):
    rng = random.Random(seed)
    assert_index_equals_reference(random_dfa(rng), random_vocab(rng))


def test_index_respects_special_empty_and_duplicate_tokens():
    # ids: 0 "a", 1 "b", 2 "ab", 3 "" (empty), 4 special "a", 5 EOS, 6 duplicate "a", 7 "é"[:1]
    tokens = [b"a", b"b", b"ab", b"", b"a", b"</s>", b"a", b"\xc3"]
    vocab = Vocabulary(tokens, special_ids=[4], eos_ids=[5])
    # a b* , with a second branch "é" (C3 A9)
    table = np.full((3, 256), DEAD, dtype=np.int32)
    table[0, ord("a")] = 1
    table[1, ord("b")] = 1
    table[0, 0xC3] = 2
    table[2, 0xA9] = 1
    dfa = ByteDFA(table, np.array([False, True, False]), 0)
    index = build_token_index(dfa, vocab)
    assert bitmask_to_token_ids(index.row_of(0), vocab.size).tolist() == [0, 2, 6, 7]
    assert bitmask_to_token_ids(index.row_of(1), vocab.size).tolist() == [1, 5]
    assert bitmask_to_token_ids(index.row_of(2), vocab.size).tolist() == []
    assert index.allowed(1, 5) and not index.allowed(0, 5)
    assert not index.allowed(0, 99) and not index.allowed(0, -1)
    assert_index_equals_reference(dfa, vocab)


def test_reference_mode_builds_the_same_index():
    rng = random.Random(7)
    dfa, vocab = random_dfa(rng), random_vocab(rng)
    fast = build_token_index(dfa, vocab)
    slow = build_token_index(dfa, vocab, use_reference=True)
    for s in range(dfa.num_states):
        assert np.array_equal(fast.row_of(s), slow.row_of(s))


def test_trie_layout_lists_every_regular_token_once():
    vocab = Vocabulary([b"ab", b"a", b"abc", b"b", b"", b"a", b"<eos>"], eos_ids=[6])
    trie = build_token_trie(vocab)
    # preorder: a, ab, abc, b
    assert trie.node_byte.tolist() == [ord("a"), ord("b"), ord("c"), ord("b")]
    assert trie.node_depth.tolist() == [1, 2, 3, 1]
    assert trie.node_end.tolist() == [3, 3, 3, 4]
    assert trie.max_depth == 3
    per_node = [
        trie.token_ids[trie.token_offsets[n] : trie.token_offsets[n + 1]].tolist()
        for n in range(trie.num_nodes)
    ]
    assert per_node == [[1, 5], [0], [2], [3]]


@pytest.mark.parametrize("seed", range(20))
def test_trie_kernel_matches_reference(seed):
    vocab = random_vocab(random.Random(500 + seed), size=300)
    trie = build_token_trie(vocab)
    nodes = [
        (
            int(trie.node_byte[n]),
            int(trie.node_depth[n]),
            int(trie.node_end[n]),
            trie.token_ids[trie.token_offsets[n] : trie.token_offsets[n + 1]].tolist(),
        )
        for n in range(trie.num_nodes)
    ]
    assert nodes == build_trie_reference(vocab)
    assert trie.max_depth == max(len(vocab[t]) for t in range(vocab.size) if vocab.is_regular(t))


def test_trie_orders_strings_that_differ_only_by_trailing_nul_bytes():
    vocab = Vocabulary([b"a\x00", b"a", b"\x00", b"a\x00\x00", b"ab", b"a\x00", b"<eos>"], eos_ids=[6])
    trie = build_token_trie(vocab)
    nodes = [
        (int(b), int(d), int(e))
        for b, d, e in zip(trie.node_byte, trie.node_depth, trie.node_end, strict=True)
    ]
    assert nodes == [(b, d, e) for b, d, e, _ in build_trie_reference(vocab)]
    assert trie.token_ids.tolist() == [2, 1, 0, 5, 3, 4]  # "\0", "a", "a\0" x2, "a\0\0", "ab"


@pytest.mark.parametrize("seed", range(5))
def test_trie_sorting_paths_agree(seed):
    """The padded-matrix sort (default) and the Python sort (very long tokens) give the same order."""
    vocab = random_vocab(random.Random(900 + seed), size=400)
    vocab = Vocabulary([t.replace(b"\x00", b"") for t in vocab.token_bytes], eos_ids=vocab.eos_ids)
    flat_data, flat_offsets = vocab.flat()
    lengths = np.diff(flat_offsets)
    ids = np.flatnonzero(lengths > 0).astype(np.int32)
    fast = trie_module.sort_by_bytes_numpy(flat_data, flat_offsets[ids], lengths[ids])
    slow = trie_module.sort_by_bytes_python(vocab.token_bytes, ids)
    assert fast.tolist() == slow.tolist()


def test_trie_of_a_vocabulary_without_regular_tokens_is_empty():
    trie = build_token_trie(Vocabulary([b"", b"<eos>"], eos_ids=[1]))
    assert trie.num_nodes == 0 and trie.max_depth == 0 and trie.token_ids.size == 0


@pytest.mark.parametrize("seed", range(20))
def test_refine_kernel_matches_reference(seed):
    rng = np.random.default_rng(seed)
    n, c = int(rng.integers(1, 40)), int(rng.integers(1, 6))
    columns = rng.integers(-1, n, size=(n, c)).astype(np.int32)
    classes = rng.integers(0, 3, size=n).astype(np.int32)
    out = np.empty(n, dtype=np.int32)
    count = _kernels.refine_partition(columns, classes, out)
    expected = refine_partition_reference(columns, classes)
    assert count == expected.max() + 1
    # same partition up to numbering (both number classes by first occurrence)
    assert out.tolist() == expected.tolist()


@pytest.mark.parametrize("seed", range(30))
def test_equivalence_classes_give_the_same_rows_as_per_state_walks(seed):
    rng = random.Random(1000 + seed)
    dfa, vocab = random_dfa(rng, max_states=40), random_vocab(rng)
    trie = build_token_trie(vocab)
    classes = bounded_equivalence(dfa, trie.max_depth)
    index = build_token_index(dfa, vocab, trie=trie)
    per_state = np.zeros((dfa.num_states, index.words), dtype=np.uint32)
    _kernels.fill_allowed_rows(
        np.ascontiguousarray(dfa.transitions),
        np.arange(dfa.num_states, dtype=np.int32),
        trie.node_byte,
        trie.node_depth,
        trie.node_end,
        trie.token_offsets,
        trie.token_ids,
        trie.max_depth,
        per_state,
    )
    for s in range(dfa.num_states):
        assert np.array_equal(index.row_of(s), allowed_row_reference(dfa, vocab, s))
        for t in range(dfa.num_states):
            if classes[s] == classes[t]:
                assert np.array_equal(per_state[s], per_state[t])
                assert dfa.accepting[s] == dfa.accepting[t]


def test_bounded_repeat_collapses_to_about_longest_token_classes():
    vocab = Vocabulary([b"x", b"xx", b"xxxx", b"y", b"<eos>"], eos_ids=[4])
    dfa = chain_dfa(500, {ord("x"), ord("y")})
    index = build_token_index(dfa, vocab)
    # states with >= 4 bytes left are all equivalent: classes for remaining 0,1,2,3,>=4
    assert index.num_classes == 5
    assert index.num_rows <= 5
    assert_index_equals_reference(dfa, vocab)


def test_rows_are_deduplicated():
    vocab = Vocabulary([b"a", b"b", b"<eos>"], eos_ids=[2])
    # (ab)* : two states with different rows; a longer cycle of equal rows
    table = np.full((4, 256), DEAD, dtype=np.int32)
    table[0, ord("a")] = 1
    table[1, ord("b")] = 2
    table[2, ord("a")] = 3
    table[3, ord("b")] = 0
    dfa = ByteDFA(table, np.array([True, False, False, False]), 0)
    index = build_token_index(dfa, vocab)
    assert index.num_rows == 3  # {a, eos}, {b}, {a}
    assert index.nbytes == index.rows.nbytes + index.state_row.nbytes


def test_index_size_limit_raises():
    vocab = Vocabulary([bytes([b]) for b in range(256)] + [b"<eos>"], eos_ids=[256])
    # state i allows only byte i: 40 distinct rows of 9 words
    table = np.full((41, 256), DEAD, dtype=np.int32)
    for s in range(40):
        table[s, s] = s + 1
    dfa = ByteDFA(table, np.arange(41) == 40, 0)
    assert build_token_index(dfa, vocab).num_rows == 41
    with pytest.raises(CompileLimitExceeded) as err:
        build_token_index(dfa, vocab, CompileLimits(max_index_bytes=41 * 4 + 10 * 9 * 4))
    assert err.value.limit == "max_index_bytes"


def test_index_limit_counts_distinct_rows_only():
    vocab = Vocabulary([b"a", b"<eos>"], eos_ids=[1])
    dfa = chain_dfa(2000, {ord("a")})
    # 2001 states, all accepting, but only 2 distinct rows: {a, eos} and, at the end, {eos}
    index = build_token_index(dfa, vocab, CompileLimits(max_index_bytes=2001 * 4 + 2 * 4))
    assert index.num_rows == 2


def random_regex(rng: random.Random, depth: int = 0) -> str:
    """A random pattern over a few ASCII and multi-byte characters (classes, groups, repeats)."""
    atoms = ["a", "b", "é", "中", "-", "[a-c]", "[^a]", r"[\d-]", ".", "(ab|中é)"]
    if depth >= 3 or rng.random() < 0.3:
        return rng.choice(atoms)
    kind = rng.choice(["concat", "alt", "repeat", "group"])
    if kind == "concat":
        return random_regex(rng, depth + 1) + random_regex(rng, depth + 1)
    if kind == "alt":
        return f"({random_regex(rng, depth + 1)}|{random_regex(rng, depth + 1)})"
    if kind == "repeat":
        return f"({random_regex(rng, depth + 1)})" + rng.choice(["*", "+", "?", "{1,3}", "{2}"])
    return f"(?:{random_regex(rng, depth + 1)})"


@pytest.mark.parametrize("seed", range(25))
def test_kernel_matches_reference_on_random_regexes(seed):
    """Regex front-end -> ByteDFA -> index: the numba walk equals the per-token reference."""
    from automask.compiler.regex import regex_to_dfa

    rng = random.Random(f"regex-{seed}")
    pattern = random_regex(rng)
    vocab = random_vocab(rng, size=300)
    assert_index_equals_reference(regex_to_dfa(pattern), vocab)
