"""An indentation-aware Python grammar, context free because the nesting depth is bounded.

Python's INDENT/DEDENT tokens are context sensitive (the lexer keeps a stack of column
widths), but with block depth at most ``D`` and one fixed indentation unit the language is
context free: the statement rules are indexed by their depth, ``stmt_k`` for ``k = 0..D``,
and the line break in front of a depth-``k`` statement is its own terminal ``_NL<k>``: a
line end (after an optional ``#`` comment), then any number of blank or comment-only lines,
then exactly ``k`` units.  A compound statement at depth ``k`` takes a suite that is either a
simple statement on the same line or ``_NL<k+1> stmt_{k+1} (_NL<k+1> stmt_{k+1})*``;
``elif``/``else``/``except``/``finally`` sit behind an ``_NL<k>``.  Dedenting to any enclosing
level is just the next ``_NL<j>``; a level that no block opened has no terminal, so it is
refused.  Only this skeleton is indexed by depth: clause heads (``if test :``), simple
statements and expressions exist once.

Shaped for the token-level CFG engine (docs/cfg-engine.md), whose mask cost grows with the
lexer/parser frontier carried down the token trie and whose compile cost grows with rules
and terminal DFA states:

- *Blanks are part of the token before them.*  There is no ``%ignore`` (an ignored blank may
  stand before any terminal, which would let ``_NL1`` plus a blank make 5 columns) and no
  separate optional-blank terminal: every terminal ends with its own blank run, ``IF`` is
  ``/if[ \\t]*/``.  So a blank run has exactly one owner (the line breaks do not start with
  blanks either), and the parser sees one terminal per token instead of two.
- *Between brackets* newlines and comments are free (implicit line joining): the expression
  rules exist a second time with suffix ``_b`` over the ``_B`` terminals, whose blank run
  also takes line ends and comments.  An opening bracket is always a ``_B`` terminal.
- *Operator classes are terminals.*  For a recognizer the precedence levels of Python's
  grammar are irrelevant: ``expr`` is ``factor (BINOP factor)*`` with every binary
  arithmetic/bitwise operator in ``BINOP`` (``**`` included: its operand may carry a unary
  sign as every operand here may), ``comparison`` is ``expr (COMPOP expr)*``, ``or_test`` is
  ``not_test (BOOLOP not_test)*`` and a factor's prefix (``-``, ``~``, ``await`` ...) is one
  ``PREFIX`` terminal.  Same language, far fewer rules and Earley items.
- *Regular pieces are their own rules* (``import_stmt``, ``dotted_name``, ``attr``, clause
  heads such as ``else_head``), so the engine's flattener turns each into one DFA terminal.
  Adjacent string literals are one unambiguous terminal, ``STRINGS`` (`_strings`).  That is
  the one change of language from the earlier layered grammar: three quotes are always a
  triple quote, never an empty literal then another one (``x = '''a'``, which Python refuses).

`python_grammar` renders Lark text; ``grammars/python.lark`` is its output for the defaults
(`write_bundled` regenerates it).  Coverage and dialect differences are listed in
``docs/grammar-ir.md`` ("Bundled grammars").
"""

from __future__ import annotations

import re

from automask.errors import UnsupportedFeature

DEFAULT_MAX_DEPTH = 6
DEFAULT_INDENT = "    "

# Blank runs that follow a token: on a logical line, and between brackets (line ends and
# comments too).
_LINE_BLANKS = r"[ \t]*"
_BRACKET_BLANKS = r"(?:[ \t\r\n]|#[^\n]*\n)*"
# One blank or comment-only physical line, and a line end after a token (whose blanks the
# token already took).
_BLANK_LINE = r"[ \t]*(?:#[^\n]*)?\r?\n"
_LINE_END = r"(?:#[^\n]*)?\r?\n"

_PREFIX_LETTERS = r"(?:[rRbBuUfF]|[rR][bBfF]|[bBfF][rR])"


def _strings(blanks: str, some_blanks: str) -> str:
    """Adjacent string literals (implicit concatenation) with their blanks, as one regex.

    Literals: ``'...'`` (no line end inside) and triple-quoted ones (no unescaped triple
    quote inside, no quote right before the closing one: Python's tokenizer would end the
    string one quote earlier).  An *empty* literal directly followed by its own quote
    character is excluded, as Python reads those three quotes as a triple quote; this also
    makes the regex unambiguous, so its DFA stays small.  So runs of empty literals with no
    blank between them alternate quote kinds unless prefixed (``''""''``, ``''b''``), and
    the literal after such a run does not start with the run's last quote.
    """
    single, double = "'", '"'

    def unprefixed(quote: str) -> str:  # a literal and its blanks, unless empty and unblanked
        short = rf"{quote}(?:[^{quote}\\\n]|\\[^\n])+{quote}"
        long = rf"{quote * 3}(?:{quote}{{0,2}}(?:[^{quote}\\]|\\[\s\S]))*{quote * 3}"
        return rf"(?:{short}|{long}){blanks}|{quote * 2}{some_blanks}"

    prefixed = rf"{_PREFIX_LETTERS}(?:{unprefixed(single)}|{unprefixed(double)})"
    item = rf"(?:{unprefixed(single)}|{unprefixed(double)}|{prefixed})"
    after = {
        single: rf"(?:{unprefixed(double)}|{prefixed})",
        double: rf"(?:{unprefixed(single)}|{prefixed})",
    }
    empties = {
        quote: rf"{_PREFIX_LETTERS}?{quote * 2}(?:{_PREFIX_LETTERS}{quote * 2})*"
        for quote in (single, double)
    }
    ending = {  # runs of unblanked empty literals, by their last quote
        single: rf"(?:{empties[double]})?(?:{empties[single]}{empties[double]})*{empties[single]}",
        double: rf"(?:{empties[single]})?(?:{empties[double]}{empties[single]})*{empties[double]}",
    }
    runs = rf"{ending[single]}|{ending[double]}"
    return rf"(?:{item}|{ending[single]}{after[single]}|{ending[double]}{after[double]})+(?:{runs})?|{runs}"


# Token classes: name -> regex of the token itself, ``{ws}`` standing for the blank run of
# the flavour (for tokens made of several words, like ``not in``).  Every terminal is this
# regex followed by the blank run.
_DIGITS = r"[0-9](?:_?[0-9])*"
_CLASSES = {
    "NAME": r"[A-Za-z_][A-Za-z0-9_]*",
    "NUMBER": (
        r"0[xX][0-9a-fA-F](?:_?[0-9a-fA-F])*|0[oO][0-7](?:_?[0-7])*|0[bB][01](?:_?[01])*"
        rf"|(?:{_DIGITS}(?:\.(?:{_DIGITS})?)?|\.{_DIGITS})(?:[eE][+-]?{_DIGITS})?[jJ]?"
    ),
    "AUGASSIGN": r"(?:\+|-|\*|/|//|%|\*\*|>>|<<|&|\^|\||@)=",
    "DOTS": r"\.+",
    "BINOP": r"\*\*|//|<<|>>|[|^&+\-*/%@]",
    "COMPOP": r"<=|>=|==|!=|<|>|not{ws}in|in|is{ws}not|is",  # longest first: lark's "dynamic" lexer keeps re's first match
    "BOOLOP": r"and|or",
    "NOTS": r"not(?:{ws}not)*",
    "PREFIX": r"[-+~](?:{ws}[-+~])*(?:{ws}await)?|await",
}
_PUNCTUATION = {
    "(": "LPAR", ")": "RPAR", "[": "LSQB", "]": "RSQB", "{": "LBRACE", "}": "RBRACE",
    ",": "COMMA", ":": "COLON", ";": "SEMI", "=": "EQUAL", ".": "DOT", "@": "AT",
    "->": "ARROW", ":=": "WALRUS", "*": "STAR", "**": "DSTAR", "/": "SLASH", "...": "ELLIPSIS",
}  # fmt: skip
_OPENING = frozenset({"(", "[", "{"})

# Statement-level rules, written once (outside brackets).  Tokens are string literals or
# the class names above; ``@name`` is the bracketed variant of a rule.
_STATEMENT_RULES = r"""
simple_line: small_stmt (";" small_stmt)* (";")?

?small_stmt: expr_stmt
           | yield_expr
           | "pass"          -> pass_stmt
           | "break"         -> break_stmt
           | "continue"      -> continue_stmt
           | "return" (testlist)?      -> return_stmt
           | "raise" (test ("from" test)?)? -> raise_stmt
           | "del" exprlist          -> del_stmt
           | "assert" test ("," test)? -> assert_stmt
           | global_stmt
           | import_stmt

expr_stmt: testlist_star (":" test ("=" yield_or_testlist)? | AUGASSIGN yield_or_testlist | ("=" yield_or_testlist)*)
?yield_or_testlist: testlist_star | yield_expr
yield_expr: "yield" ("from" test | testlist_star)?
?testlist_star: (test | star_expr) ("," (test | star_expr))* (",")?
global_stmt: ("global" | "nonlocal") NAME ("," NAME)*

import_stmt: "import" dotted_as_name ("," dotted_as_name)*
           | "from" ((DOTS)? dotted_name | DOTS) "import" ("*" | import_as_name ("," import_as_name)* | "(" @import_as_names ")")
dotted_as_name: dotted_name ("as" NAME)?
dotted_name: NAME ("." NAME)*

decorator: "@" test
if_head: "if" test ":"
elif_head: "elif" test ":"
else_head: "else" ":"
while_head: "while" test ":"
for_head: ("async")? "for" exprlist "in" testlist ":"
try_head: "try" ":"
except_head: "except" (test ("as" NAME)?)? ":"
finally_head: "finally" ":"
with_head: ("async")? "with" with_item ("," with_item)* ":"
with_item: test ("as" expr)?
func_head: ("async")? "def" NAME "(" (@parameters)? ")" ("->" test)? ":"
class_head: "class" NAME ("(" (@arguments)? ")")? ":"
"""

# Rules that exist twice: unsuffixed (outside brackets) and with ``_b`` (inside brackets,
# over the ``_B`` terminals).  ``@name`` always means the ``_b`` variant.
_SHARED_RULES = r"""
?testlist: test ("," test)* (",")?
?exprlist: (expr | star_expr) ("," (expr | star_expr))* (",")?

?test: or_test ("if" or_test "else" test)?
     | lambdef
     | NAME ":=" test -> named_expr
lambdef: "lambda" (lambda_params)? ":" test
lambda_params: lambda_param ("," lambda_param)* ("," (star_params)?)?
             | star_params
star_params: "*" (NAME)? ("," lambda_param)* ("," ("**" NAME)?)?
           | "**" NAME
lambda_param: NAME ("=" test)?

?or_test: not_test (BOOLOP not_test)*
?not_test: (NOTS)? comparison
?comparison: expr (COMPOP expr)*
star_expr: "*" expr
?expr: factor (BINOP factor)*
?factor: (PREFIX)? atom_expr
?atom_expr: atom_expr "(" (@arguments)? ")"  -> call
          | atom_expr "[" @subscripts "]"   -> getitem
          | atom_expr attr                  -> getattr
          | atom
attr: "." NAME

?atom: "(" (@yield_or_testlist_comp)? ")" -> tuple_or_paren
     | "[" (@testlist_comp)? "]"          -> list
     | "{" (@dict_or_set)? "}"            -> dict_or_set
     | NAME
     | NUMBER
     | STRINGS
     | "..."                              -> ellipsis

import_as_name: NAME ("as" NAME)?
"""

# Rules used only between brackets: they exist only as the ``_b`` variant.
_BRACKET_ONLY_RULES = r"""
?yield_or_testlist_comp: testlist_comp | yield_expr_in
yield_expr_in: "yield" ("from" test | testlist)?
testlist_comp: (test | star_expr) (comp_for | ("," (test | star_expr))* (",")?)
dict_or_set: dict_item (comp_for | ("," dict_item)* (",")?)
           | (test | star_expr) (comp_for | ("," (test | star_expr))* (",")?)
dict_item: test ":" test | "**" expr
comp_for: ("async")? "for" exprlist "in" or_test (comp_for | comp_if)?
comp_if: "if" or_test (comp_for | comp_if)?

subscripts: subscript ("," subscript)* (",")?
subscript: test | (test)? ":" (test)? (":" (test)?)?
arguments: argument ("," argument)* (",")?
argument: test (comp_for)?
        | NAME "=" test
        | "*" test
        | "**" test
import_as_names: import_as_name ("," import_as_name)* (",")?

parameters: typed_param ("," typed_param)* ("," "/")? ("," typed_param)* ("," (star_typed_params)?)?
          | star_typed_params
star_typed_params: "*" (typed_param)? ("," typed_param)* ("," ("**" typed_param (",")?)?)?
                 | "**" typed_param (",")?
typed_param: NAME (":" test)? ("=" test)?
"""

# The statement skeleton of one block level; ``{k}`` is the depth.
_BLOCK_RULES = r"""
stmt_{k}: simple_line | compound_{k}
?compound_{k}: if_{k} | while_{k} | for_{k} | try_{k} | with_{k} | funcdef_{k} | classdef_{k} | decorated_{k}
if_{k}: if_head suite_{k} (_NL{k} elif_head suite_{k})* (_NL{k} else_head suite_{k})?
while_{k}: while_head suite_{k} (_NL{k} else_head suite_{k})?
for_{k}: for_head suite_{k} (_NL{k} else_head suite_{k})?
try_{k}: try_head suite_{k} ((_NL{k} except_head suite_{k})+ (_NL{k} else_head suite_{k})? (_NL{k} finally_head suite_{k})? | _NL{k} finally_head suite_{k})
with_{k}: with_head suite_{k}
funcdef_{k}: func_head suite_{k}
classdef_{k}: class_head suite_{k}
decorated_{k}: (decorator _NL{k})+ (funcdef_{k} | classdef_{k})
"""

_LITERAL = re.compile(r'"((?:[^"\\]|\\.)*)"')
_CLASS_REF = re.compile(r"\b(" + "|".join([*_CLASSES, "STRINGS"]) + r")\b")
_BRACKET_REF = re.compile(r"@([a-z_]+)")
_RULE_NAME = re.compile(r"^\??([a-z_]+):", re.MULTILINE)
_RULE_WORD = re.compile(r'"(?:[^"\\]|\\.)*"|->\s*\w+|@[a-z_]+|\b[a-z_]+\b')


def _literal_terminal(literal: str) -> str:
    """``"if"`` -> ``IF``, ``"("`` -> ``LPAR``."""
    return literal.upper() if literal.isidentifier() else _PUNCTUATION[literal]


def _rule_names(rules: str) -> set[str]:
    return {match.group(1) for match in _RULE_NAME.finditer(rules)}


def _render_rules(
    rules: str, used: set[str], *, bracketed: bool, renamed: frozenset[str] = frozenset()
) -> str:
    """Replace tokens by terminal names of the flavour and record them in ``used``.

    A literal ``"if"`` becomes ``IF`` (``IF_B`` when ``bracketed``), a class ``NAME`` becomes
    ``NAME`` / ``NAME_B``; an opening bracket is always the ``_B`` terminal.  ``@name``
    becomes ``name_b``; with ``bracketed`` every rule named in ``renamed`` (definitions and
    references, not aliases) gets the ``_b`` suffix too.
    """
    suffix = "_B" if bracketed else ""

    def rename(match: re.Match[str]) -> str:
        word = match.group(0)
        return word + "_b" if bracketed and word in renamed else word

    def literal(match: re.Match[str]) -> str:
        text = match.group(1)
        name = _literal_terminal(text) + ("_B" if text in _OPENING else suffix)
        used.add(name)
        return name

    def token_class(match: re.Match[str]) -> str:
        name = match.group(1) + suffix
        used.add(name)
        return name

    out = _RULE_WORD.sub(rename, rules)
    out = _CLASS_REF.sub(token_class, out)
    out = _LITERAL.sub(literal, out)
    return _BRACKET_REF.sub(r"\1_b", out)


def _terminal_regex(name: str) -> str:
    """The regex of terminal ``name`` (``IF``, ``COMMA_B``, ``NAME`` ...): token then blanks."""
    bracketed = name.endswith("_B")
    base = name[:-2] if bracketed else name
    blanks = _BRACKET_BLANKS if bracketed else _LINE_BLANKS
    if base == "STRINGS":  # its literals carry their own blanks
        some_blanks = _BRACKET_BLANKS[:-1] + "+" if bracketed else r"[ \t]+"
        return _strings(blanks, some_blanks).replace("/", "\\/")
    if base in _CLASSES:
        token = _CLASSES[base].replace("{ws}", blanks)
    else:
        literal = next((text for text, term in _PUNCTUATION.items() if term == base), base.lower())
        token = re.sub(r"([.^$*+?{}\[\]\\|()])", r"\\\1", literal)
    return f"(?:{token}){blanks}".replace("/", "\\/")


def python_grammar(max_depth: int = DEFAULT_MAX_DEPTH, indent: str = DEFAULT_INDENT) -> str:
    """Lark text of the indentation-aware Python subset with blocks nested ``max_depth`` deep.

    ``indent`` is the one indentation unit (spaces or one tab); a statement at depth ``k``
    is indented by exactly ``k`` units.  Depth ``max_depth`` statements may still be
    compound, but only with a same-line suite (``if x: return y``).  The grammar is
    ``O(max_depth)`` in size.
    """
    if max_depth < 0 or max_depth > 64:
        raise UnsupportedFeature(f"max_depth must be in 0..64, got {max_depth}")
    if not indent or set(indent) - {" ", "\t"}:
        raise UnsupportedFeature(f"indent must be a non-empty run of spaces or tabs, got {indent!r}")
    unit = indent.replace("\t", "\\t")
    used: set[str] = set()
    parts = [
        f"// Generated by automask.compiler.grammar.indented.python_grammar(max_depth={max_depth},"
        f" indent={indent!r}).\n// Do not edit: regenerate with `python -m automask.compiler.grammar.indented`.\n"
        "// Python statements with indented blocks up to the depth above; see docs/grammar-ir.md.\n",
        "start: _LEAD? (stmt_0 (_NL0 stmt_0)* _TAIL?)?\n     | _LEAD? _LAST\n",
    ]
    for depth in range(max_depth + 1):
        block = _BLOCK_RULES.replace("{k}", str(depth))
        if depth < max_depth:
            nested = depth + 1
            block += f"suite_{depth}: simple_line | _NL{nested} stmt_{nested} (_NL{nested} stmt_{nested})*\n"
        else:
            block += f"suite_{depth}: simple_line\n"
        parts.append(_render_rules(block, used, bracketed=False))
    parts.append(_render_rules(_STATEMENT_RULES, used, bracketed=False))
    parts.append(_render_rules(_SHARED_RULES, used, bracketed=False))
    renamed = frozenset(_rule_names(_SHARED_RULES) | _rule_names(_BRACKET_ONLY_RULES))
    parts.append("// Between brackets: the same rules over the _B terminals, whose blanks take line ends.")
    parts.append(_render_rules(_SHARED_RULES + _BRACKET_ONLY_RULES, used, bracketed=True, renamed=renamed))
    parts.append("// Every token terminal ends with the blank run that follows it.")
    parts.extend(f"{name}: /{_terminal_regex(name)}/" for name in sorted(used))
    parts.append("")
    parts.append("// Line breaks: the previous token took the blanks before them.")
    for depth in range(max_depth + 1):
        parts.append(f"_NL{depth}: /{_LINE_END}(?:{_BLANK_LINE})*{unit * depth}/")
    parts.append(f"_LEAD: /(?:{_BLANK_LINE})+/")
    parts.append(f"_TAIL: /{_LINE_END}(?:{_BLANK_LINE})*[ \\t]*(?:#[^\\n]*)?|#[^\\n]*/")
    parts.append("_LAST: /[ \\t]*#[^\\n]*|[ \\t]+/")
    return "\n".join(parts) + "\n"


def write_bundled() -> str:
    """Regenerate ``grammars/python.lark`` (the defaults); returns the path written."""
    from importlib import resources

    target = resources.files("automask.grammars").joinpath("python.lark")
    text = python_grammar()
    with open(str(target), "w", encoding="utf-8") as handle:
        handle.write(text)
    return str(target)


if __name__ == "__main__":
    print(write_bundled())
