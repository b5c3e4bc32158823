"""Bundled grammars: each loads, accepts its corpus, refuses its invalid texts, and (for the
Lark ones) agrees with lark's own Earley parser on the corpus and on random edits of it.
Then the token level: the compiled engine under real tokenizers of different families
(`TOKENIZERS`) accepts every valid text token by token with EOS only where the text is
complete, refuses mutated texts at the first offending token, and for short samples accepts
*every* tokenization of the bytes (byte-fallback tokens included).

Agreement on edited texts is checked twice: our default for Lark (longest match: a terminal
does not end where the next byte extends it) against lark's ``lexer="dynamic"``, which
matches each terminal greedily and so refuses e.g. ``capacityPBETWEEN 1 AND 2``; and
``longest_match=False`` (a terminal may end anywhere its regex allows) against
``lexer="dynamic_complete"``, which accepts it.  On the corpus both must agree with both.
"""

from __future__ import annotations

import functools
import json
import random
from pathlib import Path

import lark
import pytest

from automask.compiler.cfg.limits import CFGLimits
from automask.compiler.cfg.tables import build_grammar_tables
from automask.compiler.grammar.earley_reference import EarleyRecognizer
from automask.compiler.grammar.gbnf_frontend import grammar_from_gbnf
from automask.compiler.grammar.ir import Grammar
from automask.compiler.grammar.lark_frontend import grammar_from_lark
from automask.compiler.grammar.pyregex import python_regex_to_ast
from automask.compiler.limits import DEFAULT_LIMITS
from automask.grammars import bundled_names, load_bundled

CORPUS = Path(__file__).parent / "corpus"
LARK_GRAMMARS = ["json.lark", "arithmetic.lark", "sql.lark", "python_expr.lark", "python.lark"]
GBNF_GRAMMARS = ["json.gbnf", "json_arr.gbnf", "arithmetic.gbnf", "list.gbnf", "chess.gbnf", "c.gbnf"]
MUTATIONS = {"json.lark": 60, "arithmetic.lark": 60, "sql.lark": 12, "python_expr.lark": 12, "python.lark": 8}
LARK_CORPUS_SUBSET = {"python.lark": 12}
MIN_VALID = {"sql.lark": 15, "python.lark": 30}


def load(name: str, longest_match: bool = True) -> Grammar:
    text = load_bundled(name)
    return (
        grammar_from_lark(text, longest_match=longest_match)
        if name.endswith(".lark")
        else grammar_from_gbnf(text)
    )


@functools.cache
def recognizer_for(name: str, longest_match: bool = True) -> EarleyRecognizer:
    """The oracle for a bundled grammar, with longest match on the terminals the engine keeps it
    for (`GrammarTables.longest_match_terminals`)."""
    grammar = load(name, longest_match)
    kept = build_grammar_tables(grammar, DEFAULT_LIMITS, CFGLimits()).longest_match_terminals
    return EarleyRecognizer(grammar, longest_match=kept)


def corpus(name: str, kind: str) -> list[str]:
    return json.loads((CORPUS / name.replace(".", "_") / f"{kind}.json").read_text(encoding="utf-8"))


def lark_accepts(parser: lark.Lark, text: str) -> bool:
    try:
        parser.parse(text)
    except lark.exceptions.LarkError:
        return False
    return True


def mutate(rng: random.Random, text: str, alphabet: str) -> str:
    """One random single-character insertion, deletion or replacement."""
    position = rng.randrange(len(text) + 1)
    kind = rng.choice("idr") if text else "i"
    char = rng.choice(alphabet)
    if kind == "i":
        return text[:position] + char + text[position:]
    position = min(position, len(text) - 1)
    return text[:position] + ("" if kind == "d" else char) + text[position + 1 :]


def test_every_bundled_grammar_is_covered():
    assert sorted(LARK_GRAMMARS + GBNF_GRAMMARS) == bundled_names()


def test_load_bundled_unknown_name():
    with pytest.raises(FileNotFoundError, match="no bundled grammar"):
        load_bundled("cobol.lark")


@pytest.mark.parametrize("name", LARK_GRAMMARS + GBNF_GRAMMARS)
def test_corpus_accepted_and_invalid_refused(name):
    recognizer = recognizer_for(name)
    valid, invalid = corpus(name, "valid"), corpus(name, "invalid")
    assert len(valid) >= MIN_VALID.get(name, 8)
    assert len(invalid) >= 3
    assert [text for text in valid if not recognizer.accepts(text)] == []
    assert [text for text in invalid if recognizer.accepts(text)] == []


@pytest.mark.parametrize("name", LARK_GRAMMARS + GBNF_GRAMMARS)
def test_every_prefix_of_a_valid_text_is_viable(name):
    recognizer = recognizer_for(name)
    text = max(corpus(name, "valid"), key=len)
    assert all(recognizer.is_viable_prefix(text[:end]) for end in range(0, len(text) + 1, 3))


def _check_lark_on_corpus(name: str, lexer: str, valid_count: int | None) -> None:
    recognizer = recognizer_for(name, lexer == "dynamic")
    parser = lark.Lark(load_bundled(name), parser="earley", lexer=lexer)
    texts = sorted(corpus(name, "valid"), key=len)[:valid_count] + corpus(name, "invalid")
    disagreements = [text for text in texts if recognizer.accepts(text) != lark_accepts(parser, text)]
    assert disagreements == []


@pytest.mark.parametrize("name", LARK_GRAMMARS)
@pytest.mark.parametrize("lexer", ["dynamic", "dynamic_complete"])
def test_lark_agrees_on_corpus(name, lexer):
    # lark's Earley takes seconds per python.lark text: the default run checks its shortest ones
    _check_lark_on_corpus(name, lexer, LARK_CORPUS_SUBSET.get(name))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(LARK_CORPUS_SUBSET))
@pytest.mark.parametrize("lexer", ["dynamic", "dynamic_complete"])
def test_lark_agrees_on_whole_corpus(name, lexer):
    _check_lark_on_corpus(name, lexer, None)


def _check_mutations(name: str, count: int, seed: int, lexer: str) -> None:
    recognizer = recognizer_for(name, lexer == "dynamic")
    parser = lark.Lark(load_bundled(name), parser="earley", lexer=lexer)
    valid = corpus(name, "valid")
    alphabet = "".join(sorted(set("".join(valid)) | set(" ()[]{},.'\"=<>+-*/0123456789azAZ_\n#:;é")))
    rng = random.Random(seed)
    mutants = [mutate(rng, rng.choice(valid), alphabet) for _ in range(count)]
    verdicts = [(text, recognizer.accepts(text), lark_accepts(parser, text)) for text in mutants]
    assert [v for v in verdicts if v[1] != v[2]] == []
    assert any(ours for _, ours, _ in verdicts) and not all(ours for _, ours, _ in verdicts)


@pytest.mark.parametrize("name", LARK_GRAMMARS)
@pytest.mark.parametrize("lexer", ["dynamic", "dynamic_complete"])
def test_lark_agrees_on_mutated_texts(name, lexer):
    _check_mutations(name, MUTATIONS[name], seed=7, lexer=lexer)


@pytest.mark.slow
@pytest.mark.parametrize("name", LARK_GRAMMARS)
@pytest.mark.parametrize("lexer", ["dynamic", "dynamic_complete"])
def test_lark_agrees_on_many_mutated_texts(name, lexer):
    _check_mutations(name, 200, seed=11, lexer=lexer)


@pytest.mark.parametrize("name", LARK_GRAMMARS + GBNF_GRAMMARS)
def test_terminal_pattern_and_ast_describe_the_same_language(name):
    # `pattern` (Python re source) re-parses to exactly the stored regex AST.
    for terminal in load(name).terminals:
        assert python_regex_to_ast(terminal.pattern) == terminal.regex, terminal.name


# ------------------------------------------------------------------- token level

# Three tokenizer families by default: SentencePiece with byte fallback (32k), Llama-3's
# tiktoken-style BPE (128k) and Qwen2's byte-level BPE (152k, with padding ids).  The slow
# sweep adds three more.
TOKENIZERS = ["mistral-sp", "llama3", "qwen2"]
SLOW_TOKENIZERS = ["tekken", "gpt2", "phi3"]
ALL_GRAMMARS = LARK_GRAMMARS + GBNF_GRAMMARS
TOKEN_CORPUS_SUBSET = {"python.lark": 15}  # default run; the slow sweep takes every text
EOS_ORACLE_TEXTS = 3  # per grammar and tokenizer in the default run: the shortest valid texts
EXHAUSTIVE_SAMPLES, EXHAUSTIVE_CAP = 3, 1_000  # default run: samples per grammar, tokenizations each
SLOW_EXHAUSTIVE_SAMPLES, SLOW_EXHAUSTIVE_CAP = 6, 20_000


def syntax_of(name: str) -> str:
    return name.rsplit(".", 1)[1]


@pytest.fixture(scope="module")
def compiled(vocabularies):
    """``compiled(grammar_name, vocab_name)``, compiled once per module."""
    from automask.grammar_api import compile_grammar

    cache: dict[tuple[str, str], object] = {}

    def get(grammar_name: str, vocab_name: str):
        key = (grammar_name, vocab_name)
        if key not in cache:
            text = load_bundled(grammar_name)
            cache[key] = compile_grammar(text, vocabularies(vocab_name), syntax=syntax_of(grammar_name))
        return cache[key]

    return get


@pytest.fixture(scope="module")
def oracles():
    cache: dict[str, EarleyRecognizer] = {}

    def get(grammar_name: str) -> EarleyRecognizer:
        if grammar_name not in cache:
            cache[grammar_name] = recognizer_for(grammar_name)
        return cache[grammar_name]

    return get


def token_table(vocab) -> dict[bytes, list[int]]:
    """Bytes -> every non-special token id spelling them (a byte-fallback ``<0x41>`` and a
    plain ``A`` both spell ``b"A"``)."""
    table: dict[bytes, list[int]] = {}
    for token_id, token in enumerate(vocab.token_bytes):
        if token and token_id not in vocab.special_ids:
            table.setdefault(token, []).append(token_id)
    return table


def greedy_tokenize(table: dict[bytes, list[int]], data: bytes) -> list[int]:
    """Longest-match tokenization: valid, not canonical."""
    longest = max(map(len, table))
    ids, position = [], 0
    while position < len(data):
        for length in range(min(longest, len(data) - position), 0, -1):
            if data[position : position + length] in table:
                ids.append(table[data[position : position + length]][0])
                position += length
                break
        else:
            raise AssertionError(f"no token for {data[position:]!r}")
    return ids


def real_tokenize(tokenizer, vocab, table: dict[bytes, list[int]], text: str) -> list[int]:
    """The real tokenizer's ids for ``text``.  A SentencePiece prefix space is taken off the
    first token (re-spelling its rest); anything else that does not round-trip falls back
    to the greedy tokenization."""
    data = text.encode()
    ids = tokenizer.encode(text, add_special_tokens=False)
    spelled = vocab.decode(ids)
    if spelled == data:
        return ids
    if ids and spelled == b" " + data and vocab[ids[0]].startswith(b" "):
        rest = vocab[ids[0]][1:]
        return (greedy_tokenize(table, rest) if rest else []) + list(ids[1:])
    return greedy_tokenize(table, data)


def prefix_verdict(oracle: EarleyRecognizer, data: bytes) -> bool | None:
    """Whether the bytes are a complete text; None inside a multi-byte character."""
    try:
        return oracle.accepts(data.decode())
    except UnicodeDecodeError:
        return None


def check_valid_text(
    matcher,
    vocab,
    ids: list[int],
    oracle: EarleyRecognizer,
    text: str,
    *,
    every_boundary: bool,
    sampled: int = 4,
) -> None:
    """Every token accepted; EOS only where the prefix is complete, and at the end.

    With ``every_boundary`` the oracle decides EOS at every token boundary (both directions);
    otherwise it checks ``sampled`` of the boundaries where the engine offers EOS, spread
    over the text (the oracle is slow on long texts, and Python offers EOS after every line).
    """
    eos = vocab.eos_id
    consumed, offered_at = b"", []
    for position, token in enumerate(ids):
        offered = matcher.accepts_token(eos)
        if every_boundary:
            assert offered == bool(prefix_verdict(oracle, consumed)), (text, consumed)
        elif offered:
            offered_at.append(consumed)
        assert matcher.consume_token(token), (text, position, vocab[token])
        consumed += vocab[token]
    assert consumed == text.encode()
    assert matcher.is_accepting() and matcher.accepts_token(eos), text
    assert matcher.consume_token(eos) and matcher.is_terminated()
    step = max(1, len(offered_at) // sampled)
    for prefix in offered_at[::step][:sampled]:
        assert prefix_verdict(oracle, prefix), (text, prefix)


def first_dead_char(oracle: EarleyRecognizer, text: str) -> int | None:
    """The smallest ``m`` with ``text[:m]`` not a viable prefix (viability is prefix-closed,
    so a binary search), or None if the whole text is viable."""
    if oracle.is_viable_prefix(text):
        return None
    low, high = 0, len(text)  # text[:low] viable, text[:high] dead
    while high - low > 1:
        middle = (low + high) // 2
        if oracle.is_viable_prefix(text[:middle]):
            low = middle
        else:
            high = middle
    return high


def check_refused_at_first_offending_token(
    matcher, vocab, ids: list[int], oracle: EarleyRecognizer, text: str
) -> None:
    """The engine consumes every token that ends before the first dead character and refuses
    the token that completes it (a token ending inside that character may go either way)."""
    dead = first_dead_char(oracle, text)
    consumed = matcher.consume_tokens(ids)
    if dead is None:  # viable throughout: all tokens consumed, complete iff the oracle says so
        assert consumed == len(ids), text
        assert matcher.is_accepting() == oracle.accepts(text) == matcher.accepts_token(vocab.eos_id), text
        return
    char_start, char_end = len(text[: dead - 1].encode()), len(text[:dead].encode())
    ends = [0]
    for token in ids:
        ends.append(ends[-1] + len(vocab[token]))
    before = sum(1 for end in ends[1:] if end <= char_start)  # tokens wholly before the dead char
    completing = next(index for index, end in enumerate(ends[1:]) if end >= char_end)
    assert before <= consumed <= completing, (text, dead, consumed, before, completing)


def mutants(name: str, count: int, seed: int) -> list[str]:
    valid = corpus(name, "valid")
    alphabet = "".join(sorted(set("".join(valid)) | set(" ()[]{},.'\"=<>+-*/0123456789azAZ_\n#:;é")))
    rng = random.Random(seed)
    shortest = sorted(valid, key=len)[: max(3, len(valid) // 2)]  # keep the oracle's work small
    return [mutate(rng, rng.choice(shortest), alphabet) for _ in range(count)]


@pytest.mark.parametrize("vocab_name", TOKENIZERS)
@pytest.mark.parametrize("name", ALL_GRAMMARS)
def test_valid_corpus_accepted_token_by_token(name, vocab_name, vocabularies, tokenizers, compiled, oracles):
    vocab, tokenizer = vocabularies(vocab_name), tokenizers(vocab_name)
    table = token_table(vocab)
    # python.lark's texts are long and its steps slow: the default run takes the shortest ones
    for index, text in enumerate(sorted(corpus(name, "valid"), key=len)[: TOKEN_CORPUS_SUBSET.get(name)]):
        ids = real_tokenize(tokenizer, vocab, table, text)
        matcher = compiled(name, vocab_name).matcher()
        check_valid_text(matcher, vocab, ids, oracles(name), text, every_boundary=index < EOS_ORACLE_TEXTS)


@pytest.mark.parametrize("vocab_name", TOKENIZERS)
@pytest.mark.parametrize("name", ALL_GRAMMARS)
def test_invalid_and_mutated_texts_refused_at_first_offending_token(
    name, vocab_name, vocabularies, tokenizers, compiled, oracles
):
    vocab, tokenizer = vocabularies(vocab_name), tokenizers(vocab_name)
    table = token_table(vocab)
    texts = corpus(name, "invalid") + mutants(name, 6, seed=3)
    for text in texts:
        ids = real_tokenize(tokenizer, vocab, table, text)
        check_refused_at_first_offending_token(
            compiled(name, vocab_name).matcher(), vocab, ids, oracles(name), text
        )


def prefix_tokenization_counts(table: dict[bytes, list[int]], data: bytes, cap: int) -> list[int]:
    """``counts[end]``: the number of ways to spell ``data[:end]`` as a token sequence,
    saturating at ``cap + 1`` (one forward pass)."""
    longest = max(map(len, table))
    counts = [1] + [0] * len(data)
    for end in range(1, len(data) + 1):
        total = 0
        for start in range(max(0, end - longest), end):
            if counts[start]:
                total += len(table.get(data[start:end], ())) * counts[start]
        counts[end] = min(total, cap + 1)
    return counts


def exhaustive_samples(name: str, table: dict[bytes, list[int]], count: int, cap: int) -> list[str]:
    """Up to ``count`` texts with at most ``cap`` tokenizations each, the richest first: for
    every valid text its longest prefix that fits (the whole text where it fits, otherwise a
    viable prefix).  Whole texts come first, so that EOS at the end is exercised too."""
    candidates: dict[str, tuple[bool, int]] = {}
    for text in corpus(name, "valid"):
        counts = prefix_tokenization_counts(table, text.encode(), cap)
        fitting = [end for end in range(1, len(text) + 1) if counts[len(text[:end].encode())] <= cap]
        if fitting:
            end = fitting[-1]
            candidates[text[:end]] = (end == len(text), counts[len(text[:end].encode())])
    ranked = sorted(candidates, key=lambda text: (candidates[text][1], len(text), text), reverse=True)
    whole = [text for text in ranked if candidates[text][0]][: (count + 1) // 2]
    return whole + [text for text in ranked if text not in whole][: count - len(whole)]


def check_every_tokenization(
    matcher, vocab, table: dict[bytes, list[int]], oracle: EarleyRecognizer, text: str
) -> int:
    """Depth-first over all tokenizations of ``text`` (forking shared prefixes via rollback):
    each token is accepted, EOS is offered exactly at complete prefixes.  Returns the count."""
    data = text.encode()
    complete = [prefix_verdict(oracle, data[:end]) for end in range(len(data) + 1)]
    longest = max(map(len, table))
    eos = vocab.eos_id
    leaves = 0

    def walk(position: int) -> None:
        nonlocal leaves
        assert matcher.accepts_token(eos) == bool(complete[position]), (text, data[:position])
        if position == len(data):
            leaves += 1
            return
        for end in range(position + 1, min(len(data), position + longest) + 1):
            for token in table.get(data[position:end], ()):
                assert matcher.consume_token(token), (text, data[:position], vocab[token], token)
                walk(end)
                matcher.rollback(1)

    walk(0)
    return leaves


def _check_all_tokenizations(
    name: str, vocab_name: str, samples: int, cap: int, vocabularies, compiled, oracles
):
    vocab = vocabularies(vocab_name)
    table = token_table(vocab)
    chosen = exhaustive_samples(name, table, samples, cap)
    assert chosen
    for text in chosen:
        expected = prefix_tokenization_counts(table, text.encode(), cap)[-1]
        walked = check_every_tokenization(
            compiled(name, vocab_name).matcher(), vocab, table, oracles(name), text
        )
        assert walked == expected, text


@pytest.mark.parametrize("vocab_name", TOKENIZERS)
@pytest.mark.parametrize("name", ALL_GRAMMARS)
def test_every_tokenization_of_short_samples(name, vocab_name, vocabularies, compiled, oracles):
    _check_all_tokenizations(
        name, vocab_name, EXHAUSTIVE_SAMPLES, EXHAUSTIVE_CAP, vocabularies, compiled, oracles
    )


@pytest.mark.slow
@pytest.mark.parametrize("vocab_name", TOKENIZERS + SLOW_TOKENIZERS)
@pytest.mark.parametrize("name", ALL_GRAMMARS)
def test_every_tokenization_sweep(name, vocab_name, vocabularies, compiled, oracles):
    _check_all_tokenizations(
        name, vocab_name, SLOW_EXHAUSTIVE_SAMPLES, SLOW_EXHAUSTIVE_CAP, vocabularies, compiled, oracles
    )


@pytest.mark.slow
@pytest.mark.parametrize("vocab_name", TOKENIZERS + SLOW_TOKENIZERS)
@pytest.mark.parametrize("name", ALL_GRAMMARS)
def test_whole_corpora_under_more_tokenizers(name, vocab_name, vocabularies, tokenizers, compiled, oracles):
    vocab, tokenizer = vocabularies(vocab_name), tokenizers(vocab_name)
    table = token_table(vocab)
    for text in corpus(name, "valid"):
        ids = real_tokenize(tokenizer, vocab, table, text)
        check_valid_text(
            compiled(name, vocab_name).matcher(), vocab, ids, oracles(name), text, every_boundary=True
        )
    for text in corpus(name, "invalid") + mutants(name, 30, seed=5):
        ids = real_tokenize(tokenizer, vocab, table, text)
        check_refused_at_first_offending_token(
            compiled(name, vocab_name).matcher(), vocab, ids, oracles(name), text
        )


@pytest.mark.slow
@pytest.mark.parametrize("name", ALL_GRAMMARS)
def test_real_tokens_are_in_every_mask(name, vocabularies, tokenizers, compiled):
    vocab = vocabularies("llama3")
    table = token_table(vocab)
    for text in sorted(corpus(name, "valid"), key=len)[:10]:
        matcher = compiled(name, "llama3").matcher()
        for token in real_tokenize(tokenizers("llama3"), vocab, table, text):
            allowed = set(matcher.allowed_token_ids().tolist())
            assert token in allowed and (vocab.eos_id in allowed) == matcher.is_accepting()
            assert matcher.consume_token(token)
