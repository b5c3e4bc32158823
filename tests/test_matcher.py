"""DFAMatcher semantics: masks, consume/rollback/fork/reset, EOS and termination, jump-forward."""

from __future__ import annotations

import interegular
import numpy as np
import pytest
from interegular.fsm import anything_else

import automask
from automask.compiler.automata.byte_dfa import DEAD, ByteDFA
from automask.compiler.limits import CompileLimits
from automask.compiler.token_index import build_token_index
from automask.compiler.vocabulary.vocabulary import Vocabulary
from automask.errors import CompileLimitExceeded
from automask.runtime.bitmask import (
    allocate_numpy_bitmask,
    apply_token_bitmask_inplace,
    bitmask_to_token_ids,
    bitmask_words,
)
from automask.runtime.compiled_grammar import CompiledGrammar, DFAGrammar
from automask.runtime.matcher import Matcher


def ascii_dfa(pattern: str) -> ByteDFA:
    """Test-only: a trimmed ByteDFA for an ASCII regex, via interegular (independent of automask's parser)."""
    fsm = interegular.parse_pattern(pattern).to_fsm()
    symbols = fsm.alphabet._symbol_mapping
    other = symbols[anything_else]
    states = sorted(fsm.states)
    position = {s: i for i, s in enumerate(states)}
    table = np.full((len(states), 256), DEAD, dtype=np.int32)
    for s in states:
        for b in range(128):
            target = fsm.map.get(s, {}).get(symbols.get(chr(b), other))
            if target is not None:
                table[position[s], b] = position[target]
    accepting = np.array([s in fsm.finals for s in states], dtype=bool)
    # trim to live states
    live = set(np.flatnonzero(accepting).tolist())
    changed = True
    while changed:
        changed = False
        for i in range(len(states)):
            if i not in live and any(int(t) in live for t in table[i] if t != DEAD):
                live.add(i)
                changed = True
    keep = sorted(live)
    renumber = {old: new for new, old in enumerate(keep)}
    trimmed = np.full((len(keep), 256), DEAD, dtype=np.int32)
    for old in keep:
        for b in range(256):
            t = int(table[old, b])
            if t != DEAD and t in renumber:
                trimmed[renumber[old], b] = renumber[t]
    return ByteDFA(trimmed, accepting[keep].copy(), renumber[position[fsm.initial]])


EXTRA_TOKENS = [b"ab", b"abc", b"bb", b"cd", b'{"', b"name", b'": "', b'"}', b'"', b"na", b"me"]


def ascii_vocab() -> Vocabulary:
    """Printable ASCII bytes, some multi-byte tokens, a duplicate, an empty token, BOS and EOS."""
    tokens = [bytes([b]) for b in range(32, 127)] + EXTRA_TOKENS + [b"a", b"", b"<s>", b"</s>"]
    return Vocabulary(tokens, special_ids=[len(tokens) - 2], eos_ids=[len(tokens) - 1], name="ascii")


VOCAB = ascii_vocab()
EOS = VOCAB.eos_id
BOS = EOS - 1
EMPTY = EOS - 2
DUPLICATE_A = EOS - 3


def tid(text: str, vocab: Vocabulary = VOCAB) -> int:
    return vocab.token_bytes.index(text.encode())


def grammar_for(pattern: str, vocab: Vocabulary = VOCAB) -> DFAGrammar:
    dfa = ascii_dfa(pattern)
    return DFAGrammar(
        dfa, build_token_index(dfa, vocab), vocab, f"regex: {pattern}", {"num_states": dfa.num_states}
    )


def allowed(matcher: Matcher, vocab: Vocabulary = VOCAB) -> set[bytes | str]:
    out: set[bytes | str] = set()
    for t in matcher.allowed_token_ids().tolist():
        out.add("EOS" if t in vocab.eos_ids else vocab[t])
    return out


def test_outlines_core_regression_a_bb_optional():
    vocab = Vocabulary([b"a", b"b", b"bb", b"<eos>"], eos_ids=[3])
    matcher = grammar_for(r"a(bb)?", vocab).matcher()
    assert allowed(matcher, vocab) == {b"a"}
    assert matcher.consume_token(0)
    assert allowed(matcher, vocab) == {b"b", b"bb", "EOS"}
    fork = matcher.fork()
    assert fork.consume_token(1) and allowed(fork, vocab) == {b"b"}
    assert fork.consume_token(1) and allowed(fork, vocab) == {"EOS"}
    assert matcher.consume_token(2) and allowed(matcher, vocab) == {"EOS"}


def test_refused_token_leaves_state_unchanged():
    matcher = grammar_for(r"abc(d|e)").matcher()
    assert matcher.consume_token(tid("ab"))
    before = matcher.allowed_token_ids()
    for token in (tid("a"), tid("d"), EOS, BOS, EMPTY, 10_000, -1):
        assert not matcher.accepts_token(token)
        assert not matcher.consume_token(token)
    assert np.array_equal(matcher.allowed_token_ids(), before)
    assert matcher.num_consumed == 1


def test_duplicate_byte_strings_are_all_allowed():
    matcher = grammar_for(r"a+").matcher()
    assert VOCAB[DUPLICATE_A] == b"a" and tid("a") != DUPLICATE_A and VOCAB[EMPTY] == b""
    assert matcher.accepts_token(tid("a")) and matcher.accepts_token(DUPLICATE_A)
    assert not matcher.accepts_token(BOS) and not matcher.accepts_token(EMPTY)


def test_eos_exactly_when_accepting_and_termination():
    matcher = grammar_for(r"ab(cd)?").matcher()
    assert not matcher.is_accepting() and not matcher.accepts_token(EOS)
    assert matcher.consume_tokens([tid("a"), tid("b")]) == 2
    assert matcher.is_accepting() and matcher.accepts_token(EOS)
    assert matcher.consume_token(tid("c"))
    assert not matcher.is_accepting() and not matcher.accepts_token(EOS)
    assert matcher.consume_token(tid("d"))
    assert matcher.consume_token(EOS)
    assert matcher.is_terminated() and matcher.is_accepting()
    # terminated: only EOS, which stays accepted (recorded, so rollback stays consistent)
    assert bitmask_to_token_ids(_mask(matcher)[0], VOCAB.size).tolist() == [EOS]
    assert not matcher.consume_token(tid("a"))
    assert matcher.consume_token(EOS) and matcher.num_consumed == 6
    matcher.rollback(2)
    assert not matcher.is_terminated() and matcher.accepts_token(EOS) and matcher.num_consumed == 4


def test_rollback_fork_reset_validate():
    grammar = grammar_for(r"abc(d|e)")
    matcher = grammar.matcher()
    tokens = [tid("a"), tid("bb"), tid("c")]
    assert matcher.validate_tokens(tokens) == 1
    assert matcher.num_consumed == 0
    assert matcher.validate_tokens([tid("abc"), tid("e"), EOS]) == 3
    assert matcher.num_consumed == 0
    start_mask = matcher.allowed_token_ids()
    assert matcher.consume_tokens([tid("ab"), tid("c")]) == 2
    fork = matcher.fork()
    assert fork.consume_token(tid("d")) and fork.is_accepting()
    assert not matcher.is_accepting() and matcher.num_consumed == 2  # fork is independent
    matcher.rollback(1)
    assert allowed(matcher) == {b"c", b"cd"}
    with pytest.raises(ValueError):
        matcher.rollback(2)
    matcher.reset()
    assert matcher.num_consumed == 0
    assert np.array_equal(matcher.allowed_token_ids(), start_mask)
    assert fork.num_consumed == 3


def test_forced_bytes_and_tokens():
    matcher = grammar_for(r"abc(d|e)").matcher()
    assert matcher.forced_bytes() == b"abc"
    assert matcher.forced_tokens() == [tid("abc")]
    matcher.consume_token(tid("a"))
    assert matcher.forced_bytes() == b"bc"
    assert matcher.forced_tokens() == [tid("b"), tid("c")]
    matcher.consume_tokens([tid("b"), tid("c")])
    assert matcher.forced_bytes() == b""  # a choice between d and e
    assert matcher.forced_tokens() == []

    json_like = grammar_for(r'\{"name": "[a-z]+"\}').matcher()
    assert json_like.forced_bytes() == b'{"name": "'
    forced = json_like.forced_tokens()
    assert b"".join(VOCAB[t] for t in forced) == b'{"name": "'
    assert forced == [tid('{"'), tid("name"), tid('": "')]
    assert json_like.consume_tokens(forced) == len(forced)
    assert json_like.forced_bytes() == b""
    json_like.consume_token(tid("x"))
    assert json_like.forced_bytes() == b""  # more letters or the closing quote
    json_like.consume_token(tid('"'))
    assert json_like.forced_bytes() == b"}"


def test_forced_bytes_stop_at_accepting_states():
    matcher = grammar_for(r"ab(cd)?").matcher()
    assert matcher.forced_bytes() == b"ab"
    matcher.consume_token(tid("ab"))
    assert matcher.forced_bytes() == b""  # EOS or "cd"
    matcher.consume_token(EOS)
    assert matcher.forced_bytes() == b"" and matcher.forced_tokens() == []


def _mask(matcher: Matcher, width: int | None = None) -> np.ndarray:
    bm = np.full((2, width or bitmask_words(VOCAB.size)), -1, dtype=np.int32)
    matcher.fill_next_token_bitmask(bm, 0)
    return bm


def test_bitmask_wider_than_vocabulary_is_zero_padded():
    matcher = grammar_for(r"[a-c]+").matcher()
    words = bitmask_words(VOCAB.size)
    bm = np.full((3, words + 4), -1, dtype=np.int32)
    matcher.fill_next_token_bitmask(bm, 1)
    assert (bm[1, words:] == 0).all()
    assert (bm[0] == -1).all() and (bm[2] == -1).all()  # other rows untouched
    ids = bitmask_to_token_ids(bm[1], VOCAB.size)
    assert {VOCAB[t] for t in ids.tolist()} == {b"a", b"b", b"c", b"ab", b"abc", b"bb"}
    with pytest.raises(ValueError):
        matcher.fill_next_token_bitmask(np.zeros((1, words - 1), dtype=np.int32), 0)


def test_torch_bitmask_and_logits_wider_than_vocabulary():
    import torch

    matcher = grammar_for(r"a(bb)?").matcher()
    bitmask = automask.allocate_token_bitmask(2, VOCAB.size)
    matcher.fill_next_token_bitmask(bitmask, 1)
    assert (bitmask[0] == -1).all()
    logits = torch.zeros(2, VOCAB.size + 40)
    apply_token_bitmask_inplace(logits, bitmask)
    finite = torch.isfinite(logits[1]).nonzero().flatten().tolist()
    assert finite == [tid("a"), tid("ab"), DUPLICATE_A]  # "ab" is a prefix of "abb"
    assert torch.isfinite(logits[0, : 32 * bitmask.shape[1]]).all()
    assert not torch.isfinite(logits[0, 32 * bitmask.shape[1] :]).any()


def test_numpy_bitmask_from_allocator_matches_accepts_token():
    matcher = grammar_for(r'\{"name": "[a-z]+"\}').matcher()
    matcher.consume_tokens([tid('{"'), tid("name"), tid('": "'), tid("a")])
    bm = allocate_numpy_bitmask(1, VOCAB.size)
    matcher.fill_next_token_bitmask(bm)
    ids = set(bitmask_to_token_ids(bm[0], VOCAB.size).tolist())
    assert ids == {t for t in range(VOCAB.size) if matcher.accepts_token(t)}
    assert tid('"}') in ids and tid('"') in ids and tid("{") not in ids


def test_compiled_grammar_is_shared_and_reports_stats():
    grammar = grammar_for(r"[a-z]+")
    assert isinstance(grammar, CompiledGrammar)
    assert grammar.vocab is VOCAB
    assert grammar.stats["num_states"] == grammar.dfa.num_states
    a, b = grammar.matcher(), grammar.matcher()
    a.consume_token(tid("a"))
    assert a.num_consumed == 1 and b.num_consumed == 0
    assert b.vocab_size == VOCAB.size


def test_compile_regex_end_to_end():
    grammar = automask.compile_regex(r"a(bb)?", VOCAB)
    for key in ("compile_seconds", "num_states", "index_bytes", "num_rows"):
        assert key in grammar.stats
    assert isinstance(grammar, CompiledGrammar) and grammar.vocab is VOCAB
    matcher = grammar.matcher()
    assert matcher.consume_token(tid("a"))
    assert allowed(matcher) == {b"b", b"bb", "EOS"}
    with pytest.raises(CompileLimitExceeded):
        automask.compile_regex(r"[a-z]{0,50}", VOCAB, limits=CompileLimits(max_index_bytes=64))
    with pytest.raises(TypeError):
        automask.compile_regex("a", 42)


def test_mistral_byte_fallback_duplicates(vocabularies):
    vocab = vocabularies("mistral-sp")
    dashes = [t for t in range(vocab.size) if vocab.is_regular(t) and vocab[t] == b"-"]
    assert len(dashes) >= 2  # "-" and "<0x2D>"
    grammar = automask.compile_regex(r"[a-z]+(-[a-z]+)*", vocab)
    matcher = grammar.matcher()
    assert not any(matcher.accepts_token(t) for t in dashes)
    assert matcher.consume_token(vocab.token_bytes.index(b"ab"))
    assert all(matcher.accepts_token(t) for t in dashes)
    for dash in dashes:
        fork = matcher.fork()
        assert fork.consume_token(dash) and not fork.accepts_token(vocab.eos_id)
        assert not any(fork.accepts_token(t) for t in dashes)
    assert not matcher.accepts_token(vocab.token_bytes.index(b" -"))  # SentencePiece "▁-"


def test_llama3_rows_equal_reference_and_forced_tokens(vocabularies):
    from automask.compiler.token_index.reference import allowed_row_reference

    vocab = vocabularies("llama3")
    grammar = automask.compile_regex(r'\{"name": "[^"]{0,300}"\}', vocab)
    assert grammar.stats["num_classes"] < grammar.stats["num_states"]
    matcher = grammar.matcher()
    forced = matcher.forced_tokens()
    assert vocab.decode(forced) == matcher.forced_bytes() == b'{"name": "'
    assert matcher.consume_tokens(forced) == len(forced)
    output = vocab.decode(forced)
    hello = vocab.token_bytes.index(b"hello")
    for _ in range(2):
        row = np.zeros((1, bitmask_words(vocab.size)), dtype=np.int32)
        matcher.fill_next_token_bitmask(row)
        state = grammar.dfa.step(grammar.dfa.start, output)
        assert np.array_equal(row[0], allowed_row_reference(grammar.dfa, vocab, state))
        assert matcher.consume_token(hello)
        output += b"hello"
    assert not matcher.accepts_token(vocab.eos_id)
    assert matcher.consume_token(vocab.token_bytes.index(b'"}'))
    assert matcher.accepts_token(vocab.eos_id) and matcher.allowed_token_ids().tolist() == sorted(
        vocab.eos_ids
    )
