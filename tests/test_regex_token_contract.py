"""The correctness contract for regex constraints, checked with real tokenizers.

Oracle: the third-party `regex` module's partial matching (``fullmatch(..., partial=True)``
tells whether a string can still be extended to a match).  It is independent of automask's
parser and automata.

- Sound: at each step every token whose bytes keep the output a viable prefix is allowed,
  whatever tokenization led there (all token paths over short strings are enumerated).
- Complete: every allowed token keeps the output viable; random walks through allowed
  tokens always reach acceptance; EOS is allowed exactly when the output is complete.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
import regex as oracle_regex

import automask
from automask.runtime.bitmask import allocate_numpy_bitmask, bitmask_to_bool

PATTERNS = [
    r"\d{4}-\d{2}-\d{2}",
    r"[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}",
    r"((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)",
    r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?",
    r"a(bb)?",
    r"(café|naïve|中文|😀 ok)+",
    r"[^\"]{0,12}",
    r"\(\d{3}\) \d{3}-\d{4}",
]

VOCABS = ["mistral-sp", "llama3", "tekken"]


def viable(pattern: str, data: bytes) -> bool:
    """Whether ``data`` is a prefix of some UTF-8 encoded match (oracle, via `regex` partial)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        # An incomplete multi-byte character at the end: viable iff some completion of it is.
        if err.reason != "unexpected end of data":
            return False
        head = data[: err.start].decode("utf-8")
        return any(
            oracle_regex.fullmatch(pattern, head + chr(cp), partial=True) is not None
            for cp in _completions(pattern, data[err.start :])
        )
    return oracle_regex.fullmatch(pattern, text, partial=True) is not None


def _completions(pattern: str, lead: bytes) -> list[int]:
    """Code points whose UTF-8 encoding starts with ``lead`` that can decide viability.

    The code points with a given UTF-8 prefix form one range.  Checking all of it per token is
    too slow, so we check the representatives that matter for the patterns of this file: the
    characters written in the pattern, every Unicode digit if it uses ``\\d``, and evenly spaced
    samples (enough for broad classes such as ``[^"]``).
    """
    width = 2 if lead[0] < 0xE0 else 3 if lead[0] < 0xF0 else 4
    payload_bits = (0x1F, 0x0F, 0x07)[width - 2]
    lo = hi = lead[0] & payload_bits
    for i in range(1, width):
        byte = lead[i] & 0x3F if i < len(lead) else None
        lo = (lo << 6) | (0 if byte is None else byte)
        hi = (hi << 6) | (0x3F if byte is None else byte)
    lo_cp = max(lo, (0x80, 0x800, 0x10000)[width - 2])
    hi_cp = min(hi, (0x7FF, 0xFFFF, 0x10FFFF)[width - 2])
    if lo_cp > hi_cp:
        return []
    candidates = {ord(ch) for ch in pattern} | set(range(lo_cp, hi_cp + 1, max(1, (hi_cp - lo_cp) // 16)))
    candidates.add(hi_cp)
    if "\\d" in pattern:
        candidates |= _UNICODE_DIGITS
    return sorted(cp for cp in candidates if lo_cp <= cp <= hi_cp and not 0xD800 <= cp <= 0xDFFF)


_UNICODE_DIGITS = frozenset(cp for cp in range(0x110000) if chr(cp).isdecimal())


def complete(pattern: str, data: bytes) -> bool:
    try:
        return oracle_regex.fullmatch(pattern, data.decode("utf-8")) is not None
    except UnicodeDecodeError:
        return False


@pytest.fixture(scope="module", params=VOCABS)
def vocab(request, vocabularies):
    return vocabularies(request.param)


def _mask(matcher, vocab) -> np.ndarray:
    bm = allocate_numpy_bitmask(1, vocab.size)
    matcher.fill_next_token_bitmask(bm, 0)
    return bitmask_to_bool(bm[0], vocab.size)


def _expected_mask(pattern: str, prefix: bytes, vocab, ending_ok: bool) -> np.ndarray:
    expected = np.zeros(vocab.size, dtype=bool)
    for tid, data in enumerate(vocab.token_bytes):
        if vocab.is_regular(tid):
            expected[tid] = viable(pattern, prefix + data)
    if ending_ok:
        expected[sorted(vocab.eos_ids)] = True
    return expected


# The full-vocabulary oracle costs one `regex` call per token per step: every pattern runs on
# the 32k vocabulary, two on each large one.
ORACLE_CASES = [("mistral-sp", p) for p in PATTERNS[:5]] + [(v, p) for v in VOCABS[1:] for p in PATTERNS[:2]]


@pytest.mark.parametrize(("vocab_name", "pattern"), ORACLE_CASES)
def test_full_mask_equals_oracle_along_a_walk(vocab_name, pattern, vocabularies):
    """Every step of a seeded random walk: the mask is exactly the set of viable tokens."""
    vocab = vocabularies(vocab_name)
    grammar = automask.compile_regex(pattern, vocab)
    matcher = grammar.matcher()
    rng = random.Random(f"{pattern}-{vocab.name}")
    prefix = b""
    for _ in range(4):
        mask = _mask(matcher, vocab)
        expected = _expected_mask(pattern, prefix, vocab, complete(pattern, prefix))
        diff = np.flatnonzero(mask != expected)
        assert diff.size == 0, [
            (int(t), vocab[int(t)], "allowed" if mask[t] else "refused") for t in diff[:10]
        ]
        choices = [t for t in np.flatnonzero(mask) if t not in vocab.eos_ids]
        if not choices:
            break
        token = rng.choice(choices)
        assert matcher.consume_token(int(token))
        prefix += vocab[int(token)]


SAMPLES = [
    (r"\d{4}-\d{2}-\d{2}", "2024-01-31"),
    (r"(café|naïve|中文|😀 ok)+", "café中文😀 ok"),
    (r"[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}", "ab-c@x.io"),
    (r"[^\"]{0,12}", "é中 -x"),
]


def _tokens_at(vocab, text: bytes):
    by_bytes: dict[bytes, list[int]] = {}
    for tid, data in enumerate(vocab.token_bytes):
        if vocab.is_regular(tid):
            by_bytes.setdefault(data, []).append(tid)
    longest = max(len(b) for b in by_bytes)
    return [
        [
            (tid, len(text[i:j]))
            for j in range(i + 1, min(len(text), i + longest) + 1)
            for tid in by_bytes.get(text[i:j], [])
        ]
        for i in range(len(text))
    ]


@pytest.mark.parametrize(("pattern", "text"), SAMPLES)
def test_every_tokenization_is_accepted(pattern, text, vocab):
    """DFS over every token path spelling ``text`` (incl. byte-fallback and split UTF-8)."""
    data = text.encode()
    edges = _tokens_at(vocab, data)
    matcher = automask.compile_regex(pattern, vocab).matcher()
    paths = 0
    seen_edges: set[tuple[int, int]] = set()

    def walk(pos: int) -> None:
        nonlocal paths
        if paths >= 20_000:
            return
        if pos == len(data):
            assert matcher.is_accepting()
            assert matcher.accepts_token(vocab.eos_id)
            paths += 1
            return
        assert not matcher.accepts_token(vocab.eos_id) or complete(pattern, data[:pos])
        for tid, length in edges[pos]:
            seen_edges.add((pos, tid))
            assert matcher.accepts_token(tid), (pos, tid, vocab[tid])
            assert matcher.consume_token(tid)
            walk(pos + length)
            matcher.rollback(1)

    walk(0)
    assert paths > 0
    # Edges past the path cap are still checked one by one: the state depends only on the bytes.
    for pos, options in enumerate(edges):
        if any((pos, tid) not in seen_edges for tid, _ in options):
            probe = matcher.fork()
            probe.reset()
            single_bytes = _byte_path(vocab, data[:pos])
            assert probe.consume_tokens(single_bytes) == len(single_bytes)
            for tid, _ in options:
                assert probe.accepts_token(tid)


def _byte_path(vocab, data: bytes) -> list[int]:
    by_bytes = {b: t for t, b in enumerate(vocab.token_bytes) if vocab.is_regular(t)}
    return [by_bytes[bytes([b])] for b in data]


def test_byte_fallback_duplicates_allowed(vocabularies):
    vocab = vocabularies("mistral-sp")
    dash = [t for t, b in enumerate(vocab.token_bytes) if b == b"-" and vocab.is_regular(t)]
    assert len(dash) >= 2, "expected both '-' and its <0x2D> byte-fallback token"
    matcher = automask.compile_regex(r"\d-\d", vocab).matcher()
    one = vocab.token_bytes.index(b"1")
    assert matcher.consume_token(one)
    for t in dash:
        assert matcher.accepts_token(t)


@pytest.mark.parametrize("pattern", PATTERNS)
def test_random_walks_reach_acceptance(pattern, vocab):
    grammar = automask.compile_regex(pattern, vocab)
    rng = random.Random(f"walk-{pattern}-{vocab.name}")
    special = sorted(vocab.special_ids - vocab.eos_ids)
    for _ in range(5):
        matcher = grammar.matcher()
        out = b""
        for _step in range(200):
            allowed = matcher.allowed_token_ids()
            assert len(allowed) > 0, f"dead end after {out!r}"
            assert not set(special) & set(allowed.tolist())
            eos_allowed = bool(set(allowed.tolist()) & vocab.eos_ids)
            assert eos_allowed == complete(pattern, out)
            text_tokens = [t for t in allowed.tolist() if t not in vocab.eos_ids]
            if eos_allowed and (not text_tokens or rng.random() < 0.3):
                assert matcher.consume_token(vocab.eos_id)
                break
            token = rng.choice(text_tokens)
            assert matcher.consume_token(token)
            out += vocab[token]
            assert viable(pattern, out), out
        else:
            continue
        assert matcher.is_terminated()
        assert complete(pattern, out)
