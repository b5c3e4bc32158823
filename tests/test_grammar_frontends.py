"""Grammar front-ends (Lark, GBNF, builder), validation errors and the Earley reference."""

from __future__ import annotations

import itertools
import random
import re
import warnings
from dataclasses import replace

import lark
import pytest

from automask.compiler.grammar.builder import (
    GrammarBuilder,
    choice,
    choice_grammar,
    lit,
    opt,
    plus,
    ref,
    regex,
    repeat,
    seq,
    sql_grammar_for_schema,
    star,
)
from automask.compiler.grammar.earley_reference import EarleyRecognizer
from automask.compiler.grammar.errors import (
    EmptyGrammarError,
    UndefinedSymbolError,
    UnproductiveRuleError,
)
from automask.compiler.grammar.gbnf_frontend import grammar_from_gbnf
from automask.compiler.grammar.indented import python_grammar
from automask.compiler.grammar.ir import Grammar, NonTerminal, Terminal
from automask.compiler.grammar.lark_frontend import _lower, grammar_from_lark
from automask.compiler.grammar.pyregex import python_regex_to_ast
from automask.compiler.grammar.validate import GrammarWarning
from automask.errors import (
    AutomaskError,
    CompileLimitExceeded,
    EmptyLanguage,
    GrammarSyntaxError,
    RegexSyntaxError,
    UnsupportedFeature,
)
from automask.grammars import bundled_names, load_bundled


def recognizer_for_lark(text: str) -> EarleyRecognizer:
    return EarleyRecognizer(grammar_from_lark(text))


def recognizer_for_gbnf(text: str) -> EarleyRecognizer:
    return EarleyRecognizer(grammar_from_gbnf(text))


# ------------------------------------------------------------ Python regex -> AST


@pytest.mark.parametrize(
    "pattern",
    [
        r"ab|c*",
        r"[a-c]{1,2}d?",
        r"(?i:ab)[^b]",
        r"(?i)[a-b]+",
        r"\d\w?",
        r"[^\d\s]",
        r"a.b",
        r"(?s:a.b)",
        r"(?:ab)+?c",
        r"[\-\]]|\\",
        r"x{0}y{2,}",
    ],
)
def test_python_regex_ast_matches_like_re(pattern):
    # Regex AST as a one-terminal grammar, compared with re.fullmatch on all short strings.
    grammar = GrammarBuilder("root").rule("root", regex(pattern)).build()
    recognizer = EarleyRecognizer(grammar)
    compiled = re.compile(pattern)
    for length in range(4):
        for chars in itertools.product("abcdAB1 \n-]\\y", repeat=length):
            text = "".join(chars)
            assert recognizer.accepts(text) == bool(compiled.fullmatch(text)), (pattern, text)


@pytest.mark.parametrize("pattern", [r"^a", r"a$", r"\ba", r"(?=a)a", r"(?<!x)a", r"(a)\1"])
def test_python_regex_non_regular_constructs_are_unsupported(pattern):
    with pytest.raises(UnsupportedFeature):
        python_regex_to_ast(pattern)


def test_python_regex_syntax_error_has_position():
    with pytest.raises(RegexSyntaxError) as caught:
        python_regex_to_ast("ab(c")
    assert caught.value.position is not None


# ------------------------------------------------------------------ Lark front-end

LARK_FEATURES = r"""
start: greeting+ NAME? count
greeting: "hello"i | /hi+/ | word
word: WORD
count.3: "x" ~ 2..3 | [NUMBER]
WORD.2: LETTER LETTER+
NAME: /[0-9]name/
%import common.NUMBER
%import common.LETTER
%import common.WS
%ignore WS
"""


def test_lark_frontend_maps_rules_terminals_priorities_and_ignore():
    grammar = grammar_from_lark(LARK_FEATURES)
    assert grammar.start == "start"
    assert grammar.ignore == ("WS",)
    assert {rule.priority for rule in grammar.alternatives("count")} == {3}
    assert grammar.terminal("WORD").priority == 2
    # WORD referenced other terminals: lark inlined them into one regex.
    assert re.fullmatch(grammar.terminal("WORD").pattern, "ab")
    assert grammar.location_of("count").line == 5
    assert any(Terminal("NAME") in rule.expansion for rule in grammar.alternatives("start"))
    assert all(isinstance(s, NonTerminal | Terminal) for _, s in grammar.symbols_used())


@pytest.mark.parametrize(
    ("text", "accepted"),
    [
        ("HeLLo xx", True),
        ("hello hiii 7name x x x", True),
        ("hello ab 12.5", True),
        ("hello", True),  # [NUMBER] may be empty
        ("hello 7name xxxx", False),  # ~ 2..3
        ("hello x", False),
        ("a", False),  # WORD needs two letters
        ("7name", False),  # greeting+ needs one
    ],
)
def test_lark_frontend_language(text, accepted):
    assert recognizer_for_lark(LARK_FEATURES).accepts(text) is accepted


def test_lark_escaped_string_from_common_is_unsupported():
    grammar = "start: ESCAPED_STRING\n%import common.ESCAPED_STRING\n"
    with pytest.raises(UnsupportedFeature, match="ESCAPED_STRING"):
        grammar_from_lark(grammar)


def test_lark_undefined_rule_has_line_and_column():
    with pytest.raises(UndefinedSymbolError) as caught:
        grammar_from_lark('start: a\na: "x" missing\n')
    assert (caught.value.name, caught.value.line, caught.value.column) == ("missing", 2, 8)


def test_lark_undefined_terminal_has_line_and_column():
    with pytest.raises(UndefinedSymbolError) as caught:
        grammar_from_lark('start: "a"\n    | "b" MISSING\n')
    assert (caught.value.line, caught.value.column) == (2, 11)


def test_lark_unproductive_rule():
    with pytest.raises(UnproductiveRuleError) as caught:
        grammar_from_lark('start: loop | "z"\nloop: loop "x"\n')
    assert (caught.value.name, caught.value.line, caught.value.column) == ("loop", 2, 1)


def test_lark_empty_start_is_both_syntax_and_empty_language_error():
    with pytest.raises(EmptyGrammarError) as caught:
        grammar_from_lark('start: a\na: a "x"\n')
    assert isinstance(caught.value, EmptyLanguage) and isinstance(caught.value, GrammarSyntaxError)
    assert caught.value.line == 1


def test_lark_malformed_syntax_has_line_and_column():
    with pytest.raises(GrammarSyntaxError) as caught:
        grammar_from_lark('start: item\nitem: ("x" | "y"\n')
    assert caught.value.line == 2 and caught.value.column is not None


def test_lark_bad_terminal_regex_is_located():
    with pytest.raises(RegexSyntaxError) as caught:
        grammar_from_lark("start: A\nA: /[a-/\n")
    assert caught.value.line == 2


def test_lark_bad_grammar_syntax_error_is_located():
    with pytest.raises(GrammarSyntaxError) as caught:
        grammar_from_lark('start: "a" @\n')
    assert (caught.value.line, caught.value.column) == (1, 12)


# ------------------------------------------- Lark front-end: loader vs lark's whole parser
#
# The front-end reads lark's compiled grammar from its loader without building an Earley
# parser.  The reference below is the former path (a whole ``lark.Lark``, then the same
# lowering): both must give the same IR, and what ``lark.Lark`` refuses must still be refused.


def grammar_via_lark_parser(text: str, start: str = "start") -> Grammar:
    """The IR from a fully constructed Earley ``lark.Lark`` (the pre-loader front-end)."""
    parser = lark.Lark(text, parser="earley", lexer="dynamic", start=start)
    ir = _lower(text, start, parser.terminals, parser.rules, parser.ignore_tokens)
    return replace(ir, longest_match=True)  # the front-end's default, as lark's "dynamic" lexer


HANDWRITTEN_LARK = [
    LARK_FEATURES,
    'start: start start | "a" | "ab"\n',
    'start: x y x\nx: | "a" x\ny: | B y\nB: /b+/\n',
    'start: (A | AB | B)+ "c"\nA: "a"\nAB: "ab"\nB: "b"\n',
    'start: "let" NAME "=" NAME\nNAME: /[a-z]+/\n%ignore " "\n',
    'start: "(" start ")" start |\n',
    'start: e\ne: e "+" e | e e | "a" | empty\nempty:\n',
    'start: "a"*\n',
    'start: "let" NAME "=" NUM\nNAME: /[a-z]+/\nNUM: /[0-9]+/\n%ignore " "\n',
    'start: pair{"a", B} ("," pair{B, c})*\npair{k, v}: k ":" v\nc: /c+/i\nB.3: "b" | "bb"\n',
    '?start: item+ _sep?\n!item.2: /x/ ~ 1..3 | "y" ["z"]\n_sep: ";"\n%import common (INT, WS)\n%ignore WS\n',
    'start: X\nX: ("a".."c" | DIGIT) DIGIT ~ 2\n%import common.DIGIT\n',
    'start: a\na: b -> alias\n   | "q"\nb: "z"\n%declare UNUSED\n',
]


@pytest.mark.parametrize("name", [name for name in bundled_names() if name.endswith(".lark")])
def test_lark_loader_ir_equals_lark_parser_ir_on_bundled_grammars(name):
    text = load_bundled(name)
    assert grammar_from_lark(text) == grammar_via_lark_parser(text)


@pytest.mark.parametrize("text", [*HANDWRITTEN_LARK, python_grammar(max_depth=2, indent="\t")])
def test_lark_loader_ir_equals_lark_parser_ir_on_handwritten_grammars(text):
    with warnings.catch_warnings(record=True) as new_warnings:
        warnings.simplefilter("always")
        loaded = grammar_from_lark(text)
    with warnings.catch_warnings(record=True) as old_warnings:
        warnings.simplefilter("always")
        reference = grammar_via_lark_parser(text)
    assert loaded == reference
    assert [str(w.message) for w in new_warnings] == [str(w.message) for w in old_warnings]


def test_lark_loader_honours_the_start_symbol():
    text = 'begin: "a" other\nother: "b"\nstart: "z"\n'
    assert grammar_from_lark(text, start="begin") == grammar_via_lark_parser(text, start="begin")
    assert grammar_from_lark(text, start="begin").nonterminals() == ("begin", "other")


LARK_TERMINAL_POOL = ['"a"', '"ab"i', "/[bc]+/", '"c" "d"', '("a" | "b") ~ 2', "/(b|c)+/", "/a*/"]
LARK_ITEM_POOL = ['"a"', '"b"i', "/c+/", "/d/", '("x" | "y")']


def random_lark_grammar(rng: random.Random) -> str:
    """Random Lark text using EBNF operators, priorities, terminals from terminals, templates.

    Most are valid; some are refused (zero-width terminals, alternatives that collide after
    EBNF expansion), which exercises the error paths.
    """
    rule_names = ["start", *(f"r{i}" for i in range(rng.randint(0, 3)))]
    terminal_names = [f"T{i}" for i in range(rng.randint(0, 3))]
    use_template = rng.random() < 0.3
    lines = ['wrap{x}: "<" x ">"'] if use_template else []
    for index, name in enumerate(terminal_names):
        body = rng.choice(LARK_TERMINAL_POOL)
        if index and rng.random() < 0.3:  # built from an earlier terminal: lark inlines it
            body = f"{terminal_names[rng.randrange(index)]} {body}"
        priority = f".{rng.randint(-1, 3)}" if rng.random() < 0.3 else ""
        lines.append(f"{name}{priority}: {body}")

    def atom() -> str:
        return rng.choice(rule_names + terminal_names) if rng.random() < 0.5 else rng.choice(LARK_ITEM_POOL)

    def item(depth: int) -> str:
        roll = rng.random()
        if depth < 2 and roll < 0.2:
            return "[" + " ".join(item(depth + 1) for _ in range(rng.randint(1, 2))) + "]"
        if depth < 2 and roll < 0.4:
            first = " ".join(item(depth + 1) for _ in range(rng.randint(1, 2)))
            grouped = f"({first} | {item(depth + 1)})"
        elif use_template and roll < 0.5:
            argument = rng.choice([*rule_names, *terminal_names, '"a"'])  # a value, not a group
            grouped = "wrap{" + argument + "}"
        else:
            grouped = atom()
        return grouped + rng.choice(["", "", "", "?", "*", "+", " ~ 2", " ~ 1..2"])

    for name in rule_names:
        alternatives = {" ".join(item(0) for _ in range(rng.randint(0, 3))) for _ in range(rng.randint(1, 3))}
        modifier = rng.choice(["", "", "?", "!"]) if name != "start" else ""
        priority = f".{rng.randint(1, 3)}" if rng.random() < 0.2 else ""
        lines.append(f"{modifier}{name}{priority}: " + "\n    | ".join(sorted(alternatives)))
    if rng.random() < 0.4:
        lines.append('%ignore " "')
    elif rng.random() < 0.15:
        lines.append("%ignore /x?/")  # zero-width: lark's Earley construction refuses it
    return "\n".join(lines) + "\n"


def outcome(front_end, text: str) -> tuple[object, ...]:
    """``("ok", ir)``, or the typed error's class, position and message, or ``("lark", ...)``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ("ok", front_end(text))
    except AutomaskError as error:
        return (type(error), getattr(error, "position", None), str(error))
    except (lark.exceptions.LarkError, re.error) as error:
        return ("lark", type(error).__name__, str(error))


@pytest.mark.parametrize("seed", range(60))
def test_lark_loader_agrees_with_lark_parser_on_random_grammars(seed):
    text = random_lark_grammar(random.Random(seed))
    loaded, reference = outcome(grammar_from_lark, text), outcome(grammar_via_lark_parser, text)
    if reference[0] == "lark":
        # lark.Lark refused the grammar: the loader path must refuse it too, typed and located.
        assert isinstance(loaded[0], type) and issubclass(loaded[0], GrammarSyntaxError), (text, loaded)
        assert loaded[1] is not None, (text, loaded)
    else:
        assert loaded == reference, text


def test_random_lark_grammars_cover_accepted_and_refused_texts():
    # The agreement test above is only meaningful if both branches happen.
    kinds = {
        outcome(grammar_via_lark_parser, random_lark_grammar(random.Random(seed)))[0] for seed in range(60)
    }
    assert "ok" in kinds and "lark" in kinds


# What lark's Earley construction refused, without the loader alone noticing: still refused.


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ("start: A\nA: /a*/\n", 2, 1),  # a named terminal matching the empty string
        ("start: A\nA: /a|/\n", 2, 1),
        ('start: /b?/ "c"\n', 1, 8),  # an anonymous one: located at its regex literal
        ('start: "a"\n%ignore /x?/\n', 2, 9),
    ],
)
def test_lark_zero_width_terminal_is_located(text, line, column):
    with pytest.raises(GrammarSyntaxError, match="empty string") as caught:
        grammar_from_lark(text)
    assert (caught.value.line, caught.value.column) == (line, column)


def test_lark_terminal_regex_python_cannot_compile_is_located():
    with pytest.raises(RegexSyntaxError) as caught:
        grammar_from_lark('start: "a" B\nB: /\\p{L}+/\n')
    assert caught.value.line == 2


def test_lark_undefined_start_symbol_is_typed():
    with pytest.raises(UndefinedSymbolError) as caught:
        grammar_from_lark('begin: "a"\n')
    assert caught.value.name == "start"
    with pytest.raises(UndefinedSymbolError):
        grammar_from_lark('start: "a"\n', start="missing")


# ------------------------------------------------------------------ GBNF front-end

GBNF_FEATURES = r"""
# a comment
root      ::= greeting-line tail? # trailing comment
greeting-line ::= ( "hi" | "yo" ) "\x21"{1,3} [^a-z\n] .
tail      ::= digit{2} | digit{3,} "\u00e9" | "[" digit{,2} "]" | "\"" [\]\\-] "\""
digit     ::= [0-9]
"""


@pytest.mark.parametrize(
    ("text", "accepted"),
    [
        ("hi!!A\n", True),
        ("yo!!!  ", True),
        ("hi!Z.12", True),
        ("hi!Z.123é", True),
        ("hi!Z.[]", True),
        ('hi!Z."\\"', True),
        ('hi!Z."-"', True),
        ("hi!!!!A.", False),
        ("hi!aA", False),
        ("hi!Z.1", False),
        ("hi!Z.123", False),
        ("hi!Z.[123]", False),
    ],
)
def test_gbnf_language(text, accepted):
    assert recognizer_for_gbnf(GBNF_FEATURES).accepts(text) is accepted


def test_gbnf_rule_may_continue_on_next_line():
    with pytest.warns(GrammarWarning, match="other"):
        recognizer = recognizer_for_gbnf('root ::= "a"\n   | "b"\nother ::= "c"\n')
    assert recognizer.accepts("b") and not recognizer.accepts("c")


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ('root ::= "abc\n', 1, 10),
        ('root ::= "a"\nx = "b"\n', 2, 3),
        ("root ::= [a-\n", 1, 10),
        ('root ::= "\\q"\n', 1, 11),
        ('root ::= "a"{2,1}\n', 1, 13),
        ('root ::= ( "a" \n', 1, 10),
        ('root ::= "a" @\n', 1, 14),
        ('root ::= "a"\nroot ::= "b"\n', 2, 1),
    ],
)
def test_gbnf_malformed_syntax_has_line_and_column(text, line, column):
    with pytest.raises(GrammarSyntaxError) as caught:
        grammar_from_gbnf(text)
    assert (caught.value.line, caught.value.column) == (line, column)


def test_gbnf_undefined_rule_is_located_at_its_use():
    with pytest.raises(UndefinedSymbolError) as caught:
        grammar_from_gbnf('root ::= item\nitem ::= "a" missing-rule\n')
    assert (caught.value.name, caught.value.line, caught.value.column) == ("missing-rule", 2, 14)


def test_gbnf_unproductive_rule():
    with pytest.raises(UnproductiveRuleError) as caught:
        grammar_from_gbnf('root ::= "a" | loop\nloop ::= "b" loop\n')
    assert (caught.value.name, caught.value.line) == ("loop", 2)


def test_gbnf_missing_root():
    with pytest.raises(UndefinedSymbolError, match="root"):
        grammar_from_gbnf('start ::= "a"\n')


def test_gbnf_unreachable_rule_warns_and_is_pruned():
    with pytest.warns(GrammarWarning, match="spare"):
        grammar = grammar_from_gbnf('root ::= "a"\nspare ::= "b"\n')
    assert grammar.nonterminals() == ("root",)


def test_gbnf_lookahead_extension_is_unsupported():
    with pytest.raises(UnsupportedFeature):
        grammar_from_gbnf('root ::= "a" (= "b")\n')


def test_gbnf_repeat_limit():
    with pytest.raises(CompileLimitExceeded):
        grammar_from_gbnf('root ::= "a"{1,100000}\n')


# ------------------------------------------------------------------ Earley reference


def test_earley_left_recursion_ambiguity_and_nullable_rules():
    grammar = grammar_from_lark('start: e\ne: e "+" e | e e | "a" | empty\nempty:\n')
    recognizer = EarleyRecognizer(grammar)
    assert recognizer.accepts("") and recognizer.accepts("a+aa+a") and recognizer.accepts("+")
    assert not recognizer.accepts("b")


def test_earley_viable_prefix():
    recognizer = recognizer_for_lark('start: "(" start ")" | "x"\n')
    assert recognizer.is_viable_prefix("((") and not recognizer.accepts("((")
    assert recognizer.is_viable_prefix("((x)")
    assert not recognizer.is_viable_prefix("((x)))")
    assert not recognizer.is_viable_prefix("y")


def test_earley_ignore_between_terminals_and_at_ends():
    recognizer = recognizer_for_lark('start: "a" "b"\n%ignore " "\n')
    assert recognizer.accepts(" a  b ") and not recognizer.accepts("a b c")


def test_earley_refuses_oversized_text():
    recognizer = EarleyRecognizer(grammar_from_lark('start: "a"*\n'), max_text_chars=100)
    with pytest.raises(CompileLimitExceeded):
        recognizer.accepts("a" * 101)


def test_earley_refuses_too_many_items():
    recognizer = EarleyRecognizer(grammar_from_lark('start: e\ne: e e | "a"\n'), max_items=1000)
    with pytest.raises(CompileLimitExceeded):
        recognizer.accepts("a" * 200)


# ------------------------------------------------------------------ builder and templates


def test_builder_grammar_is_accepted_by_reference():
    builder = GrammarBuilder("root")
    builder.rule("root", seq(lit("SELECT "), ref("cols"), opt(seq(" LIMIT ", ref("NUM")))))
    builder.rule("cols", seq(ref("col"), star(seq(", ", ref("col")))))
    builder.rule("col", choice(["id", "name"]))
    builder.rule("col", lit("email", ignore_case=True))
    builder.terminal("NUM", r"[1-9][0-9]*")
    recognizer = EarleyRecognizer(builder.build())
    assert recognizer.accepts("SELECT id, EMAIL LIMIT 10")
    assert recognizer.accepts("SELECT name")
    assert not recognizer.accepts("SELECT age")
    assert not recognizer.accepts("SELECT id LIMIT 0")


def test_builder_repetition_bounds_and_ignore():
    builder = GrammarBuilder("root").rule("root", seq(repeat("ab", 2, 3), plus(ref("D"))))
    builder.terminal("D", r"[0-9]").terminal("SP", r" +").ignore("SP")
    recognizer = EarleyRecognizer(builder.build())
    assert recognizer.accepts("abab1") and recognizer.accepts(" ab ab ab 1 2 ")
    assert not recognizer.accepts("ab1") and not recognizer.accepts("abababab1")


def test_choice_grammar():
    recognizer = EarleyRecognizer(choice_grammar(["yes", "no", "maybe"]))
    assert [recognizer.accepts(text) for text in ["yes", "maybe", "ye", "yesno"]] == [
        True,
        True,
        False,
        False,
    ]
    with pytest.raises(EmptyGrammarError):
        choice_grammar([])


SCHEMA = {"singer": ["singer_id", "name", "age"], "concert": ["concert_id", "singer_id", "year"]}


@pytest.mark.parametrize(
    ("query", "accepted"),
    [
        ("SELECT name, age FROM singer WHERE age > 20", True),
        ("SELECT T1.name FROM singer AS T1 JOIN concert AS T2 ON T1.singer_id = T2.singer_id", True),
        ("select count(*) from CONCERT where Year = 2014 order by year desc", True),
        ("SELECT salary FROM singer", False),
        ("SELECT name FROM employees", False),
        ("SELECT T1.salary FROM singer AS T1", False),
        ("SELECT FROM singer", False),
    ],
)
def test_sql_grammar_for_schema(query, accepted):
    recognizer = EarleyRecognizer(sql_grammar_for_schema(SCHEMA))
    assert recognizer.accepts(query) is accepted


def test_no_warnings_for_bundled_sql_specialisation():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sql_grammar_for_schema({"t": ["c"]})


def test_lark_meta_parser_is_built_once_without_its_collision_check(monkeypatch):
    """The first Lark grammar of a process fills lark's meta-parser memo with a parser built
    with ``skip_validation`` (no interegular check of lark's own terminals); grammars still
    load and lark's syntax errors still come back typed."""
    from lark import load_grammar as meta

    from automask.compiler.grammar.lark_frontend import _prepare_lark_meta_parser

    monkeypatch.delattr(meta._get_parser, "cache", raising=False)
    _prepare_lark_meta_parser()
    prepared = meta._get_parser.cache
    assert prepared.lexer_conf.skip_validation
    grammar = grammar_from_lark('start: WORD ("," WORD)*\nWORD: /[a-z]+/\n')
    assert meta._get_parser.cache is prepared and grammar.start == "start"
    with pytest.raises(GrammarSyntaxError):
        grammar_from_lark('start: "a" (\n')
