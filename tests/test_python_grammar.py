"""The indentation-aware Python grammar (`compiler/grammar/indented.py`, ``grammars/python.lark``).

Checked against Python's own parser (`ast.parse`) on the corpus and on random edits of it,
with the dialect differences of docs/grammar-ir.md made explicit; the depth bound and the
indentation unit are parameters; and the token-level engine accepts every tokenization of
short indented samples.  The bundled-grammar suite (test_bundled_grammars.py) adds lark's
Earley and the three-tokenizer checks.
"""

from __future__ import annotations

import ast
import random
import re
import warnings

import pytest
from test_bundled_grammars import (
    check_every_tokenization,
    corpus,
    greedy_tokenize,
    mutate,
    prefix_tokenization_counts,
    token_table,
)

from automask.compiler.grammar.earley_reference import EarleyRecognizer
from automask.compiler.grammar.indented import DEFAULT_MAX_DEPTH, python_grammar
from automask.compiler.grammar.lark_frontend import grammar_from_lark
from automask.errors import UnsupportedFeature
from automask.grammars import load_bundled


def python_error(text: str) -> str | None:
    """Python's SyntaxError message for ``text``, None if it parses (warnings silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ast.parse(text)
        except SyntaxError as error:
            return str(error.msg)
    return None


def python_accepts(text: str) -> bool:
    return python_error(text) is None


@pytest.fixture(scope="module")
def bundled() -> EarleyRecognizer:
    return EarleyRecognizer(grammar_from_lark(load_bundled("python.lark")))


@pytest.fixture(scope="module")
def shallow() -> EarleyRecognizer:
    """Depth 2: fast to build, enough for the block structure."""
    return EarleyRecognizer(grammar_from_lark(python_grammar(max_depth=2)))


def nested(depth: int, indent: str = "    ") -> str:
    """``depth`` nested ifs, the innermost statement at depth ``depth``."""
    lines = [indent * level + f"if x{level}:" for level in range(depth)]
    return "\n".join(lines + [indent * depth + "y = 1"]) + "\n"


def test_bundled_file_is_the_generated_default():
    assert load_bundled("python.lark") == python_grammar()


def test_corpus_agrees_with_python():
    valid, invalid = corpus("python.lark", "valid"), corpus("python.lark", "invalid")
    assert len(valid) >= 30 and len(invalid) >= 10
    assert [text for text in valid if not python_accepts(text)] == []
    assert [text for text in invalid if python_accepts(text)] == []


def test_depth_bound(shallow):
    assert shallow.accepts(nested(2)) and python_accepts(nested(2))
    assert not shallow.accepts(nested(3)) and python_accepts(nested(3))
    assert shallow.accepts(nested(2).replace("y = 1", "if z: y = 1"))  # same-line suite at the bound
    assert EarleyRecognizer(grammar_from_lark(python_grammar(max_depth=3))).accepts(nested(3))


def test_default_depth(bundled):
    assert bundled.accepts(nested(DEFAULT_MAX_DEPTH))
    assert not bundled.accepts(nested(DEFAULT_MAX_DEPTH + 1))


def test_indent_unit_is_a_parameter():
    tabs = EarleyRecognizer(grammar_from_lark(python_grammar(max_depth=2, indent="\t")))
    assert tabs.accepts(nested(2, "\t")) and not tabs.accepts(nested(2))
    two = EarleyRecognizer(grammar_from_lark(python_grammar(max_depth=2, indent="  ")))
    assert two.accepts(nested(2, "  ")) and not two.accepts(nested(2))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("def f():\n    if a:\n        b\n    c\n", True),  # dedent one level
        ("def f():\n    if a:\n        b\nc\n", True),  # dedent two levels
        ("def f():\n    if a:\n        b\n      c\n", False),  # dedent to a level no block opened
        ("def f():\n    b\n        c\n", False),  # unexpected indent
        ("if a:\nb\n", False),  # expected an indented block
        ("if a\n    b\n", False),  # missing colon
        ("if a:\n    b\n  # a comment at any column\n\n    \n    c\n", True),
        ("x = f(1,\n      2,  # comment inside brackets\n  3)\n", True),  # implicit line joining
        ("x = 1; y = 2;\n", True),
        ("if a: b = 1\nelif c: pass\nelse: d()\n", True),
        ("   x = 1\n", False),  # indented first line
        ("x = 1\n   ", True),  # trailing blanks at the end
        ("x = 1  # trailing comment", True),
        ("x = 1 + \\\n    2\n", False),  # backslash continuation: not covered
    ],
)
def test_block_structure(shallow, text, expected):
    assert shallow.accepts(text) == expected
    if expected:
        assert python_accepts(text)


@pytest.mark.parametrize(
    ("text", "ours", "python", "why"),
    [
        ("def f():\n  return 1\n", False, True, "indentation other than the unit"),
        ("if a:\n\tb\n", False, True, "tabs when the unit is spaces"),
        ("x = 1 + \\\n    2\n", False, True, "backslash continuation"),
        ("if = 1\n", True, False, "keywords are not reserved"),
        ("a < b = 1\n", True, False, "assignment targets are not checked"),
        ("x = 1if y else 2\n", True, True, "no space needed between tokens"),
        ("x = ainb\n", True, True, "`ainb` is one name (longest match)"),
        ("for iin y: pass\n", False, False, "`iin` is one name (longest match), so no `in`"),
        ("ifx: pass\n", True, False, "a keyword needs no blank after it"),
        ("x = f'{'\n", True, False, "f-string contents are not checked"),
    ],
)
def test_documented_dialect_differences(shallow, text, ours, python, why):
    assert shallow.accepts(text) == ours, why
    assert python_accepts(text) == python, why


@pytest.mark.parametrize(
    "text",
    [
        "x = ''\n",
        "x = '' 'a'\n",
        "x = ''\"a\"''\n",  # empty literals of alternating quotes need no blank
        "x = ''r''\n",
        "x = ''''''\n",  # an empty triple-quoted string
        "x = '''a''' 'b'\n",
        "x = ('a'\n     'b')\n",
        "x = '''a'\n",  # three quotes open a triple-quoted string, never '' then 'a'
        "x = b''''\n",
        "x = ''''a'\n",
        'x = """a"\n',
    ],
)
def test_string_concatenation_agrees_with_python(shallow, text):
    """Adjacent literals are one terminal whose regex excludes an empty literal directly
    followed by its own quote (Python's tokenizer reads a triple quote there)."""
    assert shallow.accepts(text) == python_accepts(text)


GLUED = re.compile(
    r"[A-Za-z0-9_](?:in|is|and|or|not|if|else|for|as)\b"
    r"|\b(?:in|is|and|or|not|if|else|for|return|yield|del|raise|assert|lambda|import|from|as|await)[A-Za-z0-9_]"
)


def indentation_units_only(text: str) -> bool:
    """Every statement line is indented by a multiple of four spaces (no other widths, no tabs)."""
    for line in text.split("\n"):
        stripped = line.lstrip(" \t")
        width = len(line) - len(stripped)
        if stripped and not stripped.startswith("#") and ("\t" in line[:width] or width % 4):
            return False
    return True


@pytest.mark.parametrize("seed", [1, 2])
def test_mutations_agree_with_python_up_to_documented_differences(bundled, seed):
    """Random single-character edits: where ``ast.parse`` and the grammar disagree, the
    difference is a documented one (another indentation width, an assignment to a
    non-target, a keyword glued to a name).  Lines inside brackets may be indented freely,
    so the indentation check is a heuristic that only ever excuses refusals."""
    valid = sorted(corpus("python.lark", "valid"), key=len)[:25]
    alphabet = " ()[]{},.'\"=<>+-*/0123456789azAZ_\n#:;\t"
    rng = random.Random(seed)
    unexplained, verdicts = [], set()
    for _ in range(40):
        original = rng.choice(valid)
        text = mutate(rng, original, alphabet)
        ours, theirs = bundled.accepts(text), python_accepts(text)
        verdicts.add(ours)
        if ours and not theirs:
            message = python_error(text) or ""
            if "assign" in message or "delete" in message:
                continue
            if len(GLUED.findall(text)) > len(GLUED.findall(original)):
                continue
            unexplained.append(text)
        elif theirs and not ours and not indentation_units_only(text):
            continue
        elif theirs and not ours:
            unexplained.append(text)
    assert unexplained == []
    assert verdicts == {True, False}


def test_bad_parameters():
    with pytest.raises(UnsupportedFeature):
        python_grammar(max_depth=-1)
    with pytest.raises(UnsupportedFeature):
        python_grammar(indent="  x")
    with pytest.raises(UnsupportedFeature):
        python_grammar(indent="")


# ------------------------------------------------------------------- token level

# Runs of spaces have very many tokenizations (every split of "    ", each piece also as
# byte-fallback tokens), so nested samples use a depth-2 grammar indented by tabs.
SPACE_SAMPLES = ["if a:\n    b\n", "if a:\n    b\nc"]
TAB_SAMPLES = [
    "def f(x):\n\treturn x\n",
    "for i in y:\n\tif i:\n\t\tbreak\nz\n",
    "try:\n\ta\nexcept E:\n\tpass\n",
    "if a:\n\tif b:\n\t\tc\nd",
]
EVERY_TOKENIZATION_CAP = 12_000


@pytest.fixture(scope="module")
def compiled_python(vocabularies):
    from automask.grammar_api import compile_grammar

    cache: dict[tuple[str, str], object] = {}

    def get(vocab_name: str, text: str | None = None):
        """The bundled grammar, or the grammar text given."""
        key = (vocab_name, text or "")
        if key not in cache:
            source = load_bundled("python.lark") if text is None else text
            cache[key] = compile_grammar(source, vocabularies(vocab_name), syntax="lark")
        return cache[key]

    return get


def _check_indented_samples(
    vocab_name, space_samples, tab_samples, vocabularies, compiled_python, bundled
) -> int:
    vocab = vocabularies(vocab_name)
    table = token_table(vocab)
    tab_text = python_grammar(max_depth=2, indent="\t")
    tab_oracle = EarleyRecognizer(grammar_from_lark(tab_text))
    checked = 0
    for samples, grammar_text, oracle in [
        (space_samples, None, bundled),
        (tab_samples, tab_text, tab_oracle),
    ]:
        for text in samples:
            expected = prefix_tokenization_counts(table, text.encode(), EVERY_TOKENIZATION_CAP)[-1]
            if expected > EVERY_TOKENIZATION_CAP:  # byte fallback doubles every byte
                continue
            matcher = compiled_python(vocab_name, grammar_text).matcher()
            assert check_every_tokenization(matcher, vocab, table, oracle, text) == expected
            checked += 1
    return checked


@pytest.mark.parametrize("vocab_name", ["mistral-sp", "llama3", "qwen2"])
def test_every_tokenization_of_indented_samples(vocab_name, vocabularies, compiled_python, bundled):
    checked = _check_indented_samples(
        vocab_name, SPACE_SAMPLES[:1], TAB_SAMPLES[-1:], vocabularies, compiled_python, bundled
    )
    assert checked == 2


@pytest.mark.slow
@pytest.mark.parametrize("vocab_name", ["mistral-sp", "llama3", "qwen2", "tekken", "gpt2", "phi3"])
def test_every_tokenization_of_more_indented_samples(vocab_name, vocabularies, compiled_python, bundled):
    checked = _check_indented_samples(
        vocab_name, SPACE_SAMPLES, TAB_SAMPLES, vocabularies, compiled_python, bundled
    )
    assert checked >= 3


@pytest.mark.parametrize("vocab_name", ["mistral-sp", "llama3"])
def test_bad_indentation_refused_at_the_offending_token(vocab_name, vocabularies, compiled_python):
    vocab = vocabularies(vocab_name)
    table = token_table(vocab)
    by_bytes = {token: ids[0] for token, ids in table.items()}
    good = compiled_python(vocab_name).matcher()
    header = greedy_tokenize(table, b"def f():\n    if x:\n")
    assert good.consume_tokens(header) == len(header)
    # eight spaces then a statement is fine; six then a statement is not (no such level)
    for spaces, allowed in [(8, True), (6, False), (4, False)]:
        matcher = good.fork()
        assert matcher.consume_tokens([by_bytes[b" "]] * spaces) == spaces
        assert matcher.accepts_token(by_bytes[b"y"]) == allowed, spaces
    # after the block, dedent to column 0 works, to column 2 does not
    matcher = good.fork()
    assert matcher.consume_tokens([by_bytes[b" "]] * 8 + [by_bytes[b"y"], by_bytes[b"\n"]]) == 10
    assert matcher.accepts_token(by_bytes[b"z"])
    assert matcher.consume_tokens([by_bytes[b" "]] * 2) == 2
    assert not matcher.accepts_token(by_bytes[b"z"])
