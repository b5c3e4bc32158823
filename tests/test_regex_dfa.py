"""Regex -> byte DFA: language equality with Python ``re.fullmatch``, DFA invariants, limits."""

from __future__ import annotations

import itertools
import random
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from automask.compiler.automata.byte_dfa import DEAD, ByteDFA
from automask.compiler.automata.dfa import live_states, minimize_byte_dfa
from automask.compiler.automata.utf8 import utf8_sequences
from automask.compiler.limits import DEFAULT_LIMITS, CompileLimits
from automask.compiler.regex import ast_to_dfa, parse_regex, regex_to_dfa
from automask.compiler.regex.ast import NOTHING, char_set, concat, literal, repeat
from automask.errors import CompileLimitExceeded, EmptyLanguage

WORDS = [
    "kato", "riex", "monpla", "string", "verande", "loqu", "shent", "ionab", "urel", "tyka",
    "plaex", "deing", "anver", "quing", "strion", "abur", "elty", "kamon", "toex", "ringde",
]  # fmt: skip

PATTERNS = [
    # benchmark patterns
    r"[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}",
    r"\d{4}-\d{2}-\d{2}",
    r"((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)",
    r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?",
    r"\(\d{3}\) \d{3}-\d{4}",
    r"(a|b)*c{3,10}",
    "(" + "|".join(WORDS) + ")",
    r'[^"]{0,50}',
    r".{0,20}",
    # general constructs
    r"a(bb)?",
    r"(a|b)*a(a|b){3}",
    r"(?:ab|a)(?:bc|c)*",
    r"x{2,}y{,2}z{3}",
    r"(a*b)*a?",
    r"^(?P<year>\d\d)(?<rest>-\w+)?$",
    r"\s*\S+\s*",
    r"[\w.-]+",
    r"\W\D",
    r"[^abc\d]+",
    r"(?s)a.b",
    r"(?a)\w+\d",
    r"a{2}?b+?c*?",
    r"[]x]+[a-]",
    r"a{,}b{1,}",
    r"\x41\u00e9\U0001F600\101",
    r"(\.|,|;)+",
    # Unicode: 2/3/4-byte UTF-8 boundaries, negated classes matching multibyte characters
    r"(é|中|😀)+",
    r"[\u0080-\uFFFF]+",
    r"[\u007f-\u0800]{1,3}",
    r"[\U0000FFFF-\U00010000]x",
    r"[^a]{2}",
    r"[^\n]+é",
    r"[α-ω]+|[一-龥]+",
    r"[😀-🙏]*[^😀]",
    r"\u{1F600}+",
    r"(?s).{1,3}",
]

EXTRA_ALPHABET = "a0 é中😀\n٣_-.\t"


def _alphabet(pattern: str) -> list[str]:
    letters = {ch for ch in pattern if ch.isprintable()} | set(EXTRA_ALPHABET)
    return sorted(letters)


def _agrees(dfa: ByteDFA, compiled: re.Pattern[str], text: str) -> bool:
    return dfa.matches(text.encode("utf-8")) == (compiled.fullmatch(text) is not None)


def _python_pattern(pattern: str) -> str:
    """Python ``re`` spelling of a pattern (it lacks ``(?<name>`` and ``\\u{...}``)."""
    pattern = pattern.replace("(?<rest>", "(?P<rest>")
    return re.sub(r"\\u\{([0-9A-Fa-f]+)\}", lambda m: f"\\U{int(m.group(1), 16):08X}", pattern)


@pytest.mark.parametrize("pattern", PATTERNS)
def test_agrees_with_re_on_random_strings(pattern: str) -> None:
    dfa = regex_to_dfa(pattern)
    compiled = re.compile(_python_pattern(pattern))
    alphabet = _alphabet(pattern)
    rng = random.Random(pattern)
    for _ in range(1500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        assert _agrees(dfa, compiled, text), text


@pytest.fixture(scope="module")
def compiled_patterns() -> dict[str, tuple[ByteDFA, re.Pattern[str]]]:
    """Per-module memo of (DFA, re pattern), so hypothesis examples do not recompile."""
    return {}


@pytest.mark.parametrize("pattern", PATTERNS)
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_agrees_with_re_on_samples_and_mutations(
    pattern: str, data: st.DataObject, compiled_patterns: dict[str, tuple[ByteDFA, re.Pattern[str]]]
) -> None:
    if pattern not in compiled_patterns:
        compiled_patterns[pattern] = (regex_to_dfa(pattern), re.compile(_python_pattern(pattern)))
    dfa, compiled = compiled_patterns[pattern]
    sample = data.draw(st.from_regex(compiled, fullmatch=True))
    assert dfa.matches(sample.encode("utf-8")), sample
    # Mutations: delete, insert or replace one character; must still agree with re.
    alphabet = _alphabet(pattern)
    position = data.draw(st.integers(0, len(sample)))
    letter = data.draw(st.sampled_from(alphabet))
    for mutated in (
        sample[:position] + sample[position + 1 :],
        sample[:position] + letter + sample[position:],
        sample[:position] + letter + sample[position + 1 :],
        sample + sample,
    ):
        assert _agrees(dfa, compiled, mutated), mutated


@pytest.mark.parametrize(
    ("pattern", "equivalent"),
    [
        (r"(a*)*b?", r"a*b?"),
        (r"(a?b?)*", r"[ab]*"),
        (r"(a|b?){2,3}c", r"[ab]{0,3}c"),
        (r"((a*)*|b)+", r"[ab]*"),
    ],
)
def test_nested_nullable_loops(pattern: str, equivalent: str) -> None:
    # Python's backtracking ``re`` is exponential on these, so compare with a simpler regex.
    dfa, reference = regex_to_dfa(pattern), regex_to_dfa(equivalent)
    assert dfa.num_states == reference.num_states
    assert np.array_equal(dfa.transitions, reference.transitions)
    assert np.array_equal(dfa.accepting, reference.accepting)


def _assert_valid_dfa(dfa: ByteDFA) -> None:
    table = dfa.transitions
    assert table.dtype == np.int32 and table.shape[1] == 256
    assert ((table >= DEAD) & (table < dfa.num_states)).all()
    assert live_states(table, dfa.accepting).all(), "every state must reach acceptance"
    # Reachable from the start too (minimal DFAs have no unreachable states).
    seen = {dfa.start}
    stack = [dfa.start]
    while stack:
        for target in set(table[stack.pop()].tolist()) - {DEAD} - seen:
            seen.add(target)
            stack.append(target)
    assert len(seen) == dfa.num_states


@pytest.mark.parametrize("pattern", PATTERNS)
def test_dfa_is_trimmed_reachable_and_minimal(pattern: str) -> None:
    dfa = regex_to_dfa(pattern)
    _assert_valid_dfa(dfa)
    again = minimize_byte_dfa(dfa)
    assert again.num_states == dfa.num_states
    assert np.array_equal(again.transitions, dfa.transitions)  # canonical numbering: a fixpoint


def _brute_force_minimal_size(dfa: ByteDFA, max_length: int) -> int:
    """Number of Myhill-Nerode classes among the DFA's states, distinguishing states by the
    words of up to ``max_length`` bytes (over the bytes the DFA uses) that they accept."""
    used = sorted({b for b in range(256) if (dfa.transitions[:, b] != DEAD).any()})
    words: list[bytes] = [b""]
    frontier: list[bytes] = [b""]
    for _ in range(max_length):
        frontier = [w + bytes([b]) for w in frontier for b in used]
        words.extend(frontier)
    signatures = set()
    for state in range(dfa.num_states):
        accepted = []
        for word in words:
            end = dfa.step(state, word)
            accepted.append(end != DEAD and bool(dfa.accepting[end]))
        signatures.add(tuple(accepted))
    return len(signatures)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [("a(bb)?", 4), ("(a|b)*a(a|b){2}", 8), ("ab|cb", 3), ("(ab|cd)e?", 5), ("", 1), ("a*", 1), ("é", 3)],
)
def test_minimal_number_of_states(pattern: str, expected: int) -> None:
    dfa = regex_to_dfa(pattern)
    assert dfa.num_states == expected
    # Distinguishing words of an n-state DFA are at most n - 1 bytes long.
    assert _brute_force_minimal_size(dfa, max_length=max(expected - 1, 0)) == expected


def test_outlines_regression_optional_group_keeps_both_paths() -> None:
    # outlines-core once lost the "end here" path after `a` in `a(bb)?`.
    dfa = regex_to_dfa(r"a(bb)?")
    after_a = dfa.step(dfa.start, b"a")
    assert after_a != DEAD and dfa.accepting[after_a]
    assert dfa.transitions[after_a, ord("b")] != DEAD
    assert dfa.matches(b"abb") and not dfa.matches(b"ab") and not dfa.matches(b"abbb")


@pytest.mark.parametrize(
    "data",
    [
        b"\x80",  # lone continuation byte
        b"\xbf",
        b"\xc0\xaf",  # overlong '/'
        b"\xc1\xbf",  # overlong
        b"\xe0\x80\xaf",  # overlong 3-byte
        b"\xf0\x80\x80\xaf",  # overlong 4-byte
        b"\xed\xa0\x80",  # surrogate U+D800
        b"\xed\xbf\xbf",  # surrogate U+DFFF
        b"\xf4\x90\x80\x80",  # beyond U+10FFFF
        b"\xf5\x80\x80\x80",
        b"\xff",
        b"\xc3",  # truncated
        b"\xe4\xb8",  # truncated
    ],
)
@pytest.mark.parametrize("pattern", [r"(?s).", r"(?s).*", r"[^a]", r"[\u0080-\U0010FFFF]+", r"\W*"])
def test_invalid_utf8_never_accepted(pattern: str, data: bytes) -> None:
    dfa = regex_to_dfa(pattern)
    assert not dfa.matches(data)
    assert not dfa.matches(b"a" + data) or pattern != r"(?s).*"


def test_any_character_accepts_exactly_valid_utf8_characters() -> None:
    dfa = regex_to_dfa(r"(?s).")
    rng = random.Random(7)
    candidates = [bytes([b]) for b in range(256)]
    candidates += [bytes([a, b]) for a in range(0xC0, 0x100) for b in range(0x70, 0xD0, 3)]
    candidates += [bytes(rng.randrange(256) for _ in range(rng.randint(3, 4))) for _ in range(20000)]
    candidates += [
        chr(c).encode() for c in (0x7F, 0x80, 0x7FF, 0x800, 0xFFFF, 0x10000, 0x10FFFF, 0xD7FF, 0xE000)
    ]
    for data in candidates:
        try:
            decoded = data.decode("utf-8")
            valid = len(decoded) == 1
        except UnicodeDecodeError:
            valid = False
        assert dfa.matches(data) == valid, data


@pytest.mark.parametrize(
    "first_last", [(0, 0x7F), (0x75, 0x85), (0x7F0, 0x810), (0xD700, 0xE100), (0xFFF0, 0x10010)]
)
def test_utf8_sequences_cover_exactly_the_encodings(first_last: tuple[int, int]) -> None:
    first, last = first_last
    covered = set()
    for sequence in utf8_sequences(first, last):
        stack = [b""]
        for low, high in sequence:
            stack = [prefix + bytes([b]) for prefix in stack for b in range(low, high + 1)]
        covered.update(stack)
    expected = {chr(c).encode() for c in range(first, last + 1) if not 0xD800 <= c <= 0xDFFF}
    assert covered == expected


@pytest.mark.parametrize(
    "pattern", [r"[^\s\S]", r"[^\d\D]x", r"a[^\w\W]|[^\s\S]+", r"\ud800", r"[\ud800-\udfff]"]
)
def test_empty_language(pattern: str) -> None:
    with pytest.raises(EmptyLanguage):
        regex_to_dfa(pattern)


def test_empty_string_language() -> None:
    dfa = regex_to_dfa("")
    assert dfa.num_states == 1 and dfa.matches(b"") and not dfa.matches(b"a")
    assert (dfa.transitions == DEAD).all()


def test_dfa_state_limit_raised_during_construction() -> None:
    with pytest.raises(CompileLimitExceeded) as info:
        regex_to_dfa(r"(a|b)*a(a|b){30}", CompileLimits(max_dfa_states=1000))
    assert info.value.limit == "max_dfa_states"


def test_nfa_state_limit() -> None:
    with pytest.raises(CompileLimitExceeded) as info:
        regex_to_dfa(r"(abc){5000}", CompileLimits(max_nfa_states=1000))
    assert info.value.limit == "max_nfa_states"


def test_repeat_and_source_limits() -> None:
    with pytest.raises(CompileLimitExceeded) as info:
        regex_to_dfa(r"a{100000}")
    assert info.value.limit == "max_repeat"
    with pytest.raises(CompileLimitExceeded) as info:
        regex_to_dfa("a" * 101, CompileLimits(max_source_chars=100))
    assert info.value.limit == "max_source_chars"


def test_big_counted_repeats() -> None:
    dfa = regex_to_dfa(r'[^"]{0,500}')
    assert dfa.matches(("x" * 500).encode()) and not dfa.matches(("x" * 501).encode())
    assert dfa.matches(("é中😀" * 100).encode()) and not dfa.matches(b'"')
    dots = regex_to_dfa(r".{0,1000}")
    assert dots.matches(("😀" * 1000).encode()) and not dots.matches(("😀" * 1001).encode())
    assert not dots.matches(b"\n")


def test_ast_front_door_for_other_front_ends() -> None:
    node = concat(
        [
            literal('"'),
            repeat(char_set([(ord('"'), ord('"')), (ord("\\"), ord("\\"))], negate=True), 0, None),
            literal('"'),
        ]
    )
    dfa = ast_to_dfa(node)
    assert dfa.matches('"héllo"'.encode()) and not dfa.matches(b'"a"b"')
    _assert_valid_dfa(dfa)


def test_unicode_class_semantics_flag() -> None:
    unicode_digits = regex_to_dfa(r"\d+")
    ascii_digits = regex_to_dfa(r"\d+", unicode_classes=False)
    arabic_indic = "٣٤".encode()
    assert unicode_digits.matches(arabic_indic) and not ascii_digits.matches(arabic_indic)
    assert ascii_digits.matches(b"0123456789")
    assert regex_to_dfa(r"\w", unicode_classes=False).num_states == 2


def test_ast_nested_beyond_the_recursion_limit_is_a_limit_error():
    """Front-ends build ASTs directly; one nested too deeply fails with a typed error, not a crash."""
    import sys

    from automask.compiler.regex import ast_to_dfa
    from automask.compiler.regex.ast import Alternation, Concat, literal

    node = literal("a")
    for depth in range(sys.getrecursionlimit() + 100):
        node = (
            Concat((literal("b"), Alternation((node, literal("c")))))
            if depth % 2
            else Alternation((node, literal("d")))
        )
    with pytest.raises(CompileLimitExceeded):
        ast_to_dfa(node)


# --- fast paths (finite languages, DFA-level repeats) and numba kernels vs references -------

_LEAVES = [
    char_set([(ord("a"), ord("a"))]),
    char_set([(ord("b"), ord("c"))]),
    char_set([(0xE9, 0xE9)]),  # é, 2 bytes
    char_set([(0x1F600, 0x1F600)]),  # 😀, 4 bytes
    char_set([(ord('"'), ord('"')), (ord("\\"), ord("\\"))], negate=True),  # multibyte class
    char_set([(ord("a"), ord("a"))], negate=True),
    char_set([(0xD7FF, 0xE001)]),  # straddles the surrogates
    char_set([(0xD800, 0xD800)]),  # a surrogate only: the empty language
    literal("ab"),
    literal("\\n"),
]


def _random_ast(rng: random.Random, depth: int):
    from automask.compiler.regex.ast import EMPTY, alternation

    if depth == 0 or rng.random() < 0.3:
        return EMPTY if rng.random() < 0.05 else rng.choice(_LEAVES)
    kind = rng.random()
    if kind < 0.35:
        return concat(_random_ast(rng, depth - 1) for _ in range(rng.randint(2, 3)))
    if kind < 0.65:
        return alternation(_random_ast(rng, depth - 1) for _ in range(rng.randint(2, 4)))
    low = rng.randint(0, 3)
    high = rng.choice([low, low + 1, low + 2, None, rng.randint(8, 24)])
    if high is not None and high < low:
        high = low
    return repeat(_random_ast(rng, depth - 1), low, high)


def _reference_ast_to_dfa(node) -> ByteDFA:
    """The general path with the pure-Python references for every kernel-backed step."""
    from automask.compiler.automata import dfa as automata
    from automask.compiler.regex.to_nfa import ast_to_nfa

    determinized = automata.determinize_reference(ast_to_nfa(node, replicate=False))
    live = automata.live_states_reference(determinized.table, determinized.accepting)
    if not live[determinized.start]:
        raise EmptyLanguage("empty")
    kept = np.flatnonzero(live)
    new_id = np.full(determinized.num_states + 1, DEAD, dtype=np.int32)
    new_id[kept] = np.arange(len(kept), dtype=np.int32)
    trimmed = automata.ClassDFA(
        new_id[determinized.table[kept]], determinized.accepting[kept],
        int(new_id[determinized.start]), determinized.class_of_byte,
    )  # fmt: skip
    minimal = automata.minimize_reference(trimmed).to_byte_dfa()
    order = automata.breadth_first_order_reference(minimal.transitions, minimal.start)
    renumber = np.full(minimal.num_states + 1, DEAD, dtype=np.int32)
    renumber[order] = np.arange(len(order), dtype=np.int32)
    table = renumber[minimal.transitions[order]]
    return ByteDFA(np.ascontiguousarray(table, dtype=np.int32), minimal.accepting[order].copy(), 0)


def _random_composable_ast(rng: random.Random):
    """``prefix . item{m,n} . suffix`` with a large or no ``n``: the DFA-level repeat's territory."""
    item = rng.choice(_LEAVES) if rng.random() < 0.6 else _random_ast(rng, 2)
    low = rng.randint(0, 3)
    high = rng.choice([None, rng.randint(8, 30)])
    return concat([_random_ast(rng, 2), repeat(item, low, high), _random_ast(rng, 2)])


@pytest.mark.parametrize("seed", range(200))
def test_fast_paths_and_kernels_give_the_reference_tables(seed: int) -> None:
    """Every path (trie, DFA-level repeat, kernels) yields the reference's exact tables."""
    rng = random.Random(seed)
    node = _random_ast(rng, depth=4) if seed < 120 else _random_composable_ast(rng)
    try:
        expected = _reference_ast_to_dfa(node)
    except EmptyLanguage:
        with pytest.raises(EmptyLanguage):
            ast_to_dfa(node)
        return
    actual = ast_to_dfa(node)
    assert actual.start == expected.start == 0
    assert np.array_equal(actual.transitions, expected.transitions)
    assert np.array_equal(actual.accepting, expected.accepting)


@pytest.mark.parametrize(
    "node",
    [
        literal("propertyName"),
        literal("é中😀"),
        literal(""),
        concat([literal("ab"), char_set([(ord("0"), ord("9"))]), literal("z")]),
        repeat(char_set([(ord("0"), ord("9"))]), 2, 4),
        concat([literal('"'), repeat(char_set([(ord('"'), ord('"'))], negate=True), 0, 40), literal('"')]),
        concat([repeat(literal("ab"), 1, 30), literal("a")]),  # chain, then an overlapping concat
        repeat(concat([repeat(literal("a"), 0, None), literal("b")]), 0, 20),  # start re-entered
        concat([literal('"'), repeat(char_set([(ord('"'), ord('"'))], negate=True), 2, None), literal('"')]),
        repeat(literal("ab"), 0, None),
    ],
    ids=[
        "literal",
        "multibyte-literal",
        "empty",
        "literal-class-mix",
        "small-count",
        "json-string",
        "overlap",
        "loop-item",
        "unbounded-string",
        "star",
    ],
)
def test_special_shapes_match_reference(node) -> None:
    actual, expected = ast_to_dfa(node), _reference_ast_to_dfa(node)
    assert np.array_equal(actual.transitions, expected.transitions)
    assert np.array_equal(actual.accepting, expected.accepting)
    _assert_valid_dfa(actual)


def test_alternation_of_literals_is_a_merged_trie() -> None:
    from automask.compiler.regex.ast import alternation

    dfa = ast_to_dfa(alternation(literal(word) for word in WORDS))
    for word in WORDS:
        assert dfa.matches(word.encode())
        assert not dfa.matches(word[:-1].encode()) or word[:-1] in WORDS
    assert not dfa.matches(b"katoo")
    assert dfa.num_states == minimize_byte_dfa(dfa).num_states
    # Canonical numbering: breadth-first from the start, successors by increasing byte.
    from automask.compiler.automata.dfa import breadth_first_order_reference

    assert breadth_first_order_reference(dfa.transitions, 0).tolist() == list(range(dfa.num_states))


def test_composed_repeat_keeps_bounds_and_limits() -> None:
    body = char_set([(ord('"'), ord('"')), (ord("\\"), ord("\\"))], negate=True)
    node = concat([literal('"'), repeat(body, 2, 300), literal('"')])
    dfa = ast_to_dfa(node)
    assert dfa.matches(('"' + "é" * 300 + '"').encode()) and not dfa.matches(('"' + "x" * 301 + '"').encode())
    assert not dfa.matches(b'"x"') and dfa.matches(b'"xy"')
    with pytest.raises(CompileLimitExceeded) as info:
        ast_to_dfa(node, CompileLimits(max_dfa_states=200))
    assert info.value.limit == "max_dfa_states"
    with pytest.raises(CompileLimitExceeded) as info:
        ast_to_dfa(node, CompileLimits(max_nfa_states=300))
    assert info.value.limit == "max_nfa_states"


def _random_dfa_table(rng: np.random.Generator, num_states: int, num_classes: int) -> np.ndarray:
    table = rng.integers(0, num_states, size=(num_states, num_classes)).astype(np.int32)
    table[rng.random((num_states, num_classes)) < 0.5] = DEAD
    return table


@pytest.mark.parametrize("seed", range(25))
def test_kernels_match_pure_python_references(seed: int) -> None:
    from automask.compiler.automata import dfa as automata
    from automask.compiler.automata._kernels import breadth_first_order, reverse_edges

    rng = np.random.default_rng(seed)
    num_states, num_classes = int(rng.integers(1, 60)), int(rng.integers(1, 6))
    table = _random_dfa_table(rng, num_states, num_classes)
    accepting = rng.random(num_states) < 0.3
    assert np.array_equal(
        automata.live_states(table, accepting), automata.live_states_reference(table, accepting)
    )
    start = int(rng.integers(0, num_states))
    assert np.array_equal(
        breadth_first_order(table, start, num_states), automata.breadth_first_order_reference(table, start)
    )
    for got, want in zip(reverse_edges(table), automata.reverse_edges_reference(table), strict=True):
        assert got.dtype == want.dtype and np.array_equal(got, want)
    repeated = np.ascontiguousarray(
        table[:, rng.integers(0, num_classes, size=2 * num_classes)]
    )  # columns repeat
    classes = np.arange(256, dtype=np.intp) % repeated.shape[1]
    wide = automata.ClassDFA(repeated, accepting, start, classes)
    fast, slow = automata.merge_equivalent_classes(wide), automata.merge_equivalent_classes_reference(wide)
    assert np.array_equal(fast.table, slow.table) and np.array_equal(fast.class_of_byte, slow.class_of_byte)
    class_of_byte = np.minimum(np.arange(256) * num_classes // 256, num_classes - 1).astype(np.intp)
    try:
        trimmed = automata.trim(automata.ClassDFA(table, accepting, start, class_of_byte))
    except EmptyLanguage:
        return
    fast = automata.canonical_numbering(automata.minimize(trimmed))
    slow = automata.canonical_numbering(automata.minimize_reference(trimmed))
    assert np.array_equal(fast.to_byte_dfa().transitions, slow.to_byte_dfa().transitions)
    assert np.array_equal(fast.accepting, slow.accepting)


@pytest.mark.parametrize("seed", range(40))
def test_replicated_repeat_copies_give_the_per_copy_nfa_language(seed: int) -> None:
    """Counted repeats written as shifted copies of one fragment (nested repeats, loops inside
    copies, embedded DFAs) give the same minimal DFA as emitting every copy from the AST,
    with the same number of NFA states."""
    from automask.compiler.automata.dfa import determinize, minimize_class_dfa
    from automask.compiler.regex.ast import Product
    from automask.compiler.regex.to_nfa import ast_to_nfa

    rng = random.Random(7000 + seed)
    inner = _random_ast(rng, depth=2)
    if seed % 4 == 0:
        inner = Product(inner, parse_regex("[a-c]{0,6}"), "difference")
    node = concat(
        [
            repeat(inner, rng.randint(0, 3), rng.choice([None, rng.randint(4, 9)])),
            repeat(concat([rng.choice(_LEAVES), repeat(_random_ast(rng, 1), 2, 5)]), 3, 6),
        ]
    )
    try:
        expected = minimize_class_dfa(determinize(ast_to_nfa(node, replicate=False)))
    except EmptyLanguage:
        with pytest.raises(EmptyLanguage):
            minimize_class_dfa(determinize(ast_to_nfa(node)))
        return
    replicated = ast_to_nfa(node)
    assert replicated.num_states == ast_to_nfa(node, replicate=False).num_states
    actual = minimize_class_dfa(determinize(replicated))
    assert np.array_equal(actual.transitions, expected.transitions)
    assert np.array_equal(actual.accepting, expected.accepting)


@pytest.mark.parametrize("seed", range(20))
def test_breadth_first_renumbering_kernel_is_the_canonical_numbering(seed: int) -> None:
    from automask.compiler.automata import dfa as automata
    from automask.compiler.automata._kernels import breadth_first_renumbering

    rng = np.random.default_rng(2000 + seed)
    num_states = int(rng.integers(1, 80))
    table = _random_dfa_table(rng, num_states, 256)
    accepting = rng.random(num_states) < 0.3
    start = int(rng.integers(0, num_states))
    expected = automata.canonical_numbering(
        automata.ClassDFA(table, accepting, start, np.arange(256, dtype=np.intp))
    ).to_byte_dfa()
    got_table, got_accepting = breadth_first_renumbering(table, accepting, start)
    assert np.array_equal(got_table, expected.transitions)
    assert np.array_equal(got_accepting, expected.accepting)


@pytest.mark.parametrize("seed", range(60))
def test_fused_minimisation_kernel_matches_the_numpy_passes(seed: int) -> None:
    """`minimize_class_dfa` (one kernel) gives the exact tables of the pass-by-pass reference,
    with unreachable and dead states, repeated columns and classes not ordered by first byte."""
    from automask.compiler.automata import dfa as automata

    rng = np.random.default_rng(1000 + seed)
    num_states, num_classes = int(rng.integers(1, 120)), int(rng.integers(1, 12))
    table = _random_dfa_table(rng, num_states, num_classes)
    table = np.ascontiguousarray(table[:, rng.integers(0, num_classes, size=num_classes + 2)])
    accepting = rng.random(num_states) < (0.05 if seed % 3 == 0 else 0.3)
    class_of_byte = rng.integers(0, table.shape[1], size=256).astype(np.intp)
    start = int(rng.integers(0, num_states))
    dfa = automata.ClassDFA(table, accepting, start, class_of_byte)
    try:
        expected = automata.minimize_class_dfa_reference(dfa)
    except EmptyLanguage:
        with pytest.raises(EmptyLanguage):
            automata.minimize_class_dfa(dfa)
        return
    actual = automata.minimize_class_dfa(dfa)
    assert actual.start == expected.start == 0
    assert np.array_equal(actual.transitions, expected.transitions)
    assert np.array_equal(actual.accepting, expected.accepting)


@pytest.mark.parametrize("seed", range(30))
def test_epsilon_closure_kernel_matches_the_nfa_reference(seed: int) -> None:
    import itertools

    from automask.compiler.automata._kernels import epsilon_closures
    from automask.compiler.regex.to_nfa import ast_to_nfa

    nfa = ast_to_nfa(_random_ast(random.Random(seed), depth=4))
    counts = [len(targets) for targets in nfa.epsilon]
    offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    targets = np.fromiter(itertools.chain.from_iterable(nfa.epsilon), dtype=np.int32, count=int(offsets[-1]))
    important = np.array([bool(edges) for edges in nfa.byte_edges])
    important[nfa.accept] = True
    closure_offsets, closure_states = epsilon_closures(offsets, targets, important)
    expected = nfa.epsilon_closures()
    for state in range(nfa.num_states):
        got = closure_states[closure_offsets[state] : closure_offsets[state + 1]].tolist()
        assert got == sorted(expected[state])


def test_intersection_node_is_the_product_on_every_path() -> None:
    from automask.compiler.regex.ast import Product, intersection
    from automask.compiler.regex.to_nfa import ast_to_nfa

    left, right = parse_regex("[a-c]*b[a-c]*"), parse_regex("[a-c]{2,4}")
    node = intersection(left, right)
    assert isinstance(node, Product)
    dfa = ast_to_dfa(node)
    words = [bytes(w) for n in range(7) for w in itertools.product(b"abc", repeat=n)]
    expected = {w for w in words if b"b" in w and 2 <= len(w) <= 4}
    assert {w for w in words if dfa.matches(w)} == expected
    wrapped = concat([literal("<"), node, literal(">")])  # the NFA path embeds the product's DFA
    assert ast_to_nfa(wrapped).num_states > 0
    from automask.compiler.regex import _general_ast_to_dfa

    general = _general_ast_to_dfa(wrapped, DEFAULT_LIMITS)
    assert {w for w in words if general.matches(b"<" + w + b">")} == expected
    assert intersection(left, parse_regex("[d-e]+")) != NOTHING  # emptiness is found by the product
    with pytest.raises(EmptyLanguage):
        ast_to_dfa(intersection(left, parse_regex("[d-e]+")))


def test_an_empty_product_inside_a_larger_expression_is_a_dead_branch():
    """A `Product` whose language is empty (keys left to ``additionalProperties`` when a pattern
    matches every key) contributes no string where it sits: an alternation keeps its other
    branches, a concatenation through it is empty as a whole."""
    from automask.compiler.regex import ast_to_dfa, parse_regex
    from automask.compiler.regex.ast import alternation, concat, difference
    from automask.errors import EmptyLanguage

    empty = difference(parse_regex("a"), parse_regex(r"[\s\S]*"))
    dfa = ast_to_dfa(alternation([parse_regex("x"), concat([parse_regex("y"), empty])]))
    assert [word for word in ("x", "y", "ya", "") if dfa.matches(word.encode())] == ["x"]
    with pytest.raises(EmptyLanguage):
        ast_to_dfa(concat([parse_regex("y"), empty]))
