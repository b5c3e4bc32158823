"""Bundled grammars: each loads, accepts its corpus, refuses its invalid texts, and (for the
Lark ones) agrees with lark's own Earley parser on the corpus and on random edits of it.

Agreement on edited texts is checked against ``lexer="dynamic_complete"``: our semantics
are character level (a terminal may end anywhere its regex allows), which is what
dynamic_complete implements; lark's plain ``"dynamic"`` lexer matches each terminal
greedily and so refuses e.g. ``capacityPBETWEEN 1 AND 2`` that the grammar does derive.
On the corpus both lexers must agree with us.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import lark
import pytest

from automask.compiler.grammar.earley_reference import EarleyRecognizer
from automask.compiler.grammar.gbnf_frontend import grammar_from_gbnf
from automask.compiler.grammar.ir import Grammar
from automask.compiler.grammar.lark_frontend import grammar_from_lark
from automask.compiler.grammar.pyregex import python_regex_to_ast
from automask.grammars import bundled_names, load_bundled

CORPUS = Path(__file__).parent / "corpus"
LARK_GRAMMARS = ["json.lark", "arithmetic.lark", "sql.lark", "python_expr.lark"]
GBNF_GRAMMARS = ["json.gbnf", "json_arr.gbnf", "arithmetic.gbnf", "list.gbnf", "chess.gbnf", "c.gbnf"]
MUTATIONS = {"json.lark": 60, "arithmetic.lark": 60, "sql.lark": 12, "python_expr.lark": 12}


def load(name: str) -> Grammar:
    text = load_bundled(name)
    return grammar_from_lark(text) if name.endswith(".lark") else grammar_from_gbnf(text)


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
    recognizer = EarleyRecognizer(load(name))
    valid, invalid = corpus(name, "valid"), corpus(name, "invalid")
    assert len(valid) >= (15 if name == "sql.lark" else 8)
    assert len(invalid) >= 3
    assert [text for text in valid if not recognizer.accepts(text)] == []
    assert [text for text in invalid if recognizer.accepts(text)] == []


@pytest.mark.parametrize("name", LARK_GRAMMARS + GBNF_GRAMMARS)
def test_every_prefix_of_a_valid_text_is_viable(name):
    recognizer = EarleyRecognizer(load(name))
    text = max(corpus(name, "valid"), key=len)
    assert all(recognizer.is_viable_prefix(text[:end]) for end in range(0, len(text) + 1, 3))


@pytest.mark.parametrize("name", LARK_GRAMMARS)
@pytest.mark.parametrize("lexer", ["dynamic", "dynamic_complete"])
def test_lark_agrees_on_corpus(name, lexer):
    recognizer = EarleyRecognizer(load(name))
    parser = lark.Lark(load_bundled(name), parser="earley", lexer=lexer)
    texts = corpus(name, "valid") + corpus(name, "invalid")
    disagreements = [text for text in texts if recognizer.accepts(text) != lark_accepts(parser, text)]
    assert disagreements == []


def _check_mutations(name: str, count: int, seed: int) -> None:
    recognizer = EarleyRecognizer(load(name))
    parser = lark.Lark(load_bundled(name), parser="earley", lexer="dynamic_complete")
    valid = corpus(name, "valid")
    alphabet = "".join(sorted(set("".join(valid)) | set(" ()[]{},.'\"=<>+-*/0123456789azAZ_\n#:;é")))
    rng = random.Random(seed)
    mutants = [mutate(rng, rng.choice(valid), alphabet) for _ in range(count)]
    verdicts = [(text, recognizer.accepts(text), lark_accepts(parser, text)) for text in mutants]
    assert [v for v in verdicts if v[1] != v[2]] == []
    assert any(ours for _, ours, _ in verdicts) and not all(ours for _, ours, _ in verdicts)


@pytest.mark.parametrize("name", LARK_GRAMMARS)
def test_lark_agrees_on_mutated_texts(name):
    _check_mutations(name, MUTATIONS[name], seed=7)


@pytest.mark.slow
@pytest.mark.parametrize("name", LARK_GRAMMARS)
def test_lark_agrees_on_many_mutated_texts(name):
    _check_mutations(name, 200, seed=11)


@pytest.mark.parametrize("name", LARK_GRAMMARS + GBNF_GRAMMARS)
def test_terminal_pattern_and_ast_describe_the_same_language(name):
    # `pattern` (Python re source) re-parses to exactly the stored regex AST.
    for terminal in load(name).terminals:
        assert python_regex_to_ast(terminal.pattern) == terminal.regex, terminal.name
