"""An indentation-aware Python grammar, context free because the nesting depth is bounded.

Python's INDENT/DEDENT tokens are context sensitive (the lexer keeps a stack of column
widths), but with block depth at most ``D`` and one fixed indentation unit the language is
context free: every statement rule is indexed by its depth, ``stmt_k`` for ``k = 0..D``,
and the line break in front of a depth-``k`` statement is its own terminal ``_NL<k>``:
one or more line ends (each allowing trailing blanks and a ``#`` comment, so blank and
comment-only lines are free, whatever their indentation) followed by exactly ``k`` units.
A compound statement at depth ``k`` takes a suite that is either a simple statement on the
same line or ``_NL<k+1> stmt_{k+1} (_NL<k+1> stmt_{k+1})*``; ``elif``/``else``/``except``/
``finally`` sit behind an ``_NL<k>``.  Dedenting to any enclosing level is just the next
``_NL<j>``; a level that no block opened has no terminal, so it is refused.

Why whitespace is explicit (no ``%ignore``): our semantics (and lark's ``dynamic_complete``)
let an ignored terminal sit before *any* terminal, so an ignored ``[ \\t]+`` after ``_NL1``
would turn 4 columns of indentation into 5.  Instead every token of the statement and
expression rules is followed by ``_ws`` (an optional ``[ \\t]+``); nothing may precede the
first token of a line.  Inside brackets newlines are free (implicit line joining): the
expression rules exist a second time with the suffix ``_b`` whose separator ``_wsb`` also
takes line ends and comments.

`python_grammar` renders Lark text; ``grammars/python.lark`` is its output for the defaults
(`write_bundled` regenerates it).  Coverage and dialect differences are listed in
``docs/grammar-ir.md`` ("Bundled grammars").
"""

from __future__ import annotations

import re

from automask.errors import UnsupportedFeature

DEFAULT_MAX_DEPTH = 6
DEFAULT_INDENT = "    "

# Terminal references that get the trailing optional separator, like string literals do.
_TOKEN_TERMINALS = ("NAME", "NUMBER", "STRING", "LONG_STRING", "AUGASSIGN", "DOTS")

# One physical line end: trailing blanks, an optional comment, the newline.
_STRING_PREFIX = r"(?:[rRbBuUfF]|[rR][bBfF]|[bBfF][rR])?"
_LINE_END = r"[ \t]*(?:#[^\n]*)?\r?\n"

# Expression and simple-statement rules, in the spirit of python_expr.lark.  Tokens (string
# literals and the terminals above) are written bare; `_render_rules` appends the separator.
# ``@name`` refers to the bracketed variant of a rule (newlines allowed), used between
# brackets; an opening bracket is followed by the bracketed separator.
_EXPRESSION_RULES = r"""
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
           | "global" NAME ("," NAME)* -> global_stmt
           | "nonlocal" NAME ("," NAME)* -> nonlocal_stmt
           | import_stmt

expr_stmt: testlist_star (":" test ("=" yield_or_testlist)? | AUGASSIGN yield_or_testlist | ("=" yield_or_testlist)*)
?yield_or_testlist: testlist_star | yield_expr
yield_expr: "yield" ("from" test | testlist_star)?
?testlist_star: (test | star_expr) ("," (test | star_expr))* (",")?

import_stmt: "import" dotted_as_name ("," dotted_as_name)*
           | "from" ((DOTS)? dotted_name | DOTS) "import" ("*" | import_as_name ("," import_as_name)* | "(" @import_as_names ")")
dotted_as_name: dotted_name ("as" NAME)?
dotted_name: NAME ("." NAME)*

with_item: test ("as" expr)?
except_clause: "except" (test ("as" NAME)?)?
decorator: "@" test
"""

# Rules that exist twice: unsuffixed (outside brackets, separator ``_W``) and with ``_b``
# (inside brackets, separator ``_WB``).  ``@name`` always means the ``_b`` variant.
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

?or_test: and_test ("or" and_test)*
?and_test: not_test ("and" not_test)*
?not_test: "not" not_test | comparison
?comparison: expr (comp_op expr)*
comp_op: "<" | ">" | "==" | ">=" | "<=" | "!=" | "in" | "not" "in" | "is" | "is" "not"

star_expr: "*" expr
?expr: xor_expr ("|" xor_expr)*
?xor_expr: and_expr ("^" and_expr)*
?and_expr: shift_expr ("&" shift_expr)*
?shift_expr: arith_expr (("<<" | ">>") arith_expr)*
?arith_expr: term (("+" | "-") term)*
?term: factor (("*" | "/" | "//" | "%" | "@") factor)*
?factor: ("+" | "-" | "~") factor | power
?power: await_expr ("**" factor)?
?await_expr: ("await")? atom_expr
?atom_expr: atom_expr "(" (@arguments)? ")"  -> call
          | atom_expr "[" @subscripts "]"   -> getitem
          | atom_expr "." NAME             -> getattr
          | atom

?atom: "(" (@yield_or_testlist_comp)? ")" -> tuple_or_paren
     | "[" (@testlist_comp)? "]"          -> list
     | "{" (@dict_or_set)? "}"            -> dict_or_set
     | NAME
     | NUMBER
     | (STRING | LONG_STRING)+            -> strings
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

# One block level; ``{k}`` is the depth, ``{next}`` the depth of its suites' statements.
_BLOCK_RULES = r"""
stmt_{k}: simple_line | compound_{k}
?compound_{k}: if_{k} | while_{k} | for_{k} | try_{k} | with_{k} | funcdef_{k} | classdef_{k} | decorated_{k}
if_{k}: "if" test ":" suite_{k} (_NL{k} "elif" test ":" suite_{k})* (_NL{k} "else" ":" suite_{k})?
while_{k}: "while" test ":" suite_{k} (_NL{k} "else" ":" suite_{k})?
for_{k}: ("async")? "for" exprlist "in" testlist ":" suite_{k} (_NL{k} "else" ":" suite_{k})?
try_{k}: "try" ":" suite_{k} ((_NL{k} except_clause ":" suite_{k})+ (_NL{k} "else" ":" suite_{k})? (_NL{k} "finally" ":" suite_{k})? | _NL{k} "finally" ":" suite_{k})
with_{k}: ("async")? "with" with_item ("," with_item)* ":" suite_{k}
funcdef_{k}: ("async")? "def" NAME "(" (@parameters)? ")" ("->" test)? ":" suite_{k}
classdef_{k}: "class" NAME ("(" (@arguments)? ")")? ":" suite_{k}
decorated_{k}: (decorator _NL{k})+ (funcdef_{k} | classdef_{k})
"""

_TERMINALS = r"""
NAME: /[A-Za-z_][A-Za-z0-9_]*/
NUMBER: /0[xX][0-9a-fA-F](?:_?[0-9a-fA-F])*|0[oO][0-7](?:_?[0-7])*|0[bB][01](?:_?[01])*/
      | /(?:[0-9](?:_?[0-9])*(?:\.(?:[0-9](?:_?[0-9])*)?)?|\.[0-9](?:_?[0-9])*)(?:[eE][+-]?[0-9](?:_?[0-9])*)?[jJ]?/
STRING: /(?:[rRbBuUfF]|[rR][bBfF]|[bBfF][rR])?'(?:[^'\\\n]|\\[^\n])*'/
      | /(?:[rRbBuUfF]|[rR][bBfF]|[bBfF][rR])?"(?:[^"\\\n]|\\[^\n])*"/
LONG_STRING: {long_single}
           | {long_double}
AUGASSIGN: "+=" | "-=" | "*=" | "/=" | "//=" | "%=" | "**=" | ">>=" | "<<=" | "&=" | "^=" | "|=" | "@="
DOTS: /\.+/
_ws: _W?
_wsb: _WB?
_W: /[ \t]+/
_WB: /(?:[ \t\r\n]|#[^\n]*\n)+/
"""


def _long_string(quote: str) -> str:
    """A triple-quoted string: no unescaped triple quote inside, and no quote right before
    the closing one (Python's tokenizer would end the string one quote earlier)."""
    body = rf"[^{quote}\\]|\\[\s\S]|{quote}[^{quote}\\]|{quote * 2}[^{quote}\\]|{quote}\\[\s\S]|{quote * 2}\\[\s\S]"
    return rf"/{_STRING_PREFIX}{quote * 3}(?:{body})*{quote * 3}/"


_TOKEN = re.compile(r'("(?:[^"\\]|\\.)*"|\b(?:' + "|".join(_TOKEN_TERMINALS) + r")\b)")
_BRACKET_REF = re.compile(r"@([a-z_]+)")
_RULE_NAME = re.compile(r"^\??([a-z_]+):", re.MULTILINE)
_QUOTED_OR_WORD = re.compile(r'"(?:[^"\\]|\\.)*"|->\s*\w+|@[a-z_]+|\b[a-z_]+\b')
_OPENING = ('"("', '"["', '"{"')


def _rule_names(rules: str) -> set[str]:
    return {match.group(1) for match in _RULE_NAME.finditer(rules)}


def _render_rules(rules: str, *, bracketed: bool, renamed: frozenset[str] = frozenset()) -> str:
    """Append the separator after every token; in the bracketed copy rename the rules.

    A token becomes ``(TOKEN _ws)`` (``_ws: _W?``, a rule so that Lark does not expand each
    optional blank into two alternatives) and a following ``?``/``*``/``+`` stays valid Lark.
    After an opening bracket the separator is always ``_wsb`` (the bracket's contents may
    start on the next line).  ``@name`` becomes ``name_b``; with ``bracketed`` every rule
    named in ``renamed`` (definitions and references, not aliases) gets the ``_b`` suffix too.
    """
    separator = "_wsb" if bracketed else "_ws"

    def rename(match: re.Match[str]) -> str:
        word = match.group(0)
        return word + "_b" if bracketed and word in renamed else word

    def token(match: re.Match[str]) -> str:
        text = match.group(1)
        return f"({text} {'_wsb' if text in _OPENING else separator})"

    out = _QUOTED_OR_WORD.sub(rename, rules)
    out = _TOKEN.sub(token, out)
    return _BRACKET_REF.sub(r"\1_b", out)


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
    unit = re.escape(indent).replace("\\ ", " ")
    parts = [
        f"// Generated by automask.compiler.grammar.indented.python_grammar(max_depth={max_depth},"
        f" indent={indent!r}).\n// Do not edit: regenerate with `python -m automask.compiler.grammar.indented`.\n"
        "// Python statements with indented blocks up to the depth above; see docs/grammar-ir.md.\n",
        "start: _NL0? (stmt_0 (_NL0 stmt_0)*)? _TAIL?\n",
    ]
    for depth in range(max_depth + 1):
        block = _BLOCK_RULES.replace("{k}", str(depth))
        if depth < max_depth:
            nested = depth + 1
            block += f"suite_{depth}: simple_line | _NL{nested} stmt_{nested} (_NL{nested} stmt_{nested})*\n"
        else:
            block += f"suite_{depth}: simple_line\n"
        parts.append(_render_rules(block, bracketed=False))
    parts.append(_render_rules(_EXPRESSION_RULES, bracketed=False))
    parts.append(_render_rules(_SHARED_RULES, bracketed=False))
    renamed = frozenset(_rule_names(_SHARED_RULES) | _rule_names(_BRACKET_ONLY_RULES))
    parts.append("// Between brackets: the same rules, where line breaks and comments may separate tokens.")
    parts.append(_render_rules(_SHARED_RULES + _BRACKET_ONLY_RULES, bracketed=True, renamed=renamed))
    parts.append(
        _TERMINALS.replace("{long_single}", _long_string("'")).replace("{long_double}", _long_string('"'))
    )
    for depth in range(max_depth + 1):
        parts.append(f"_NL{depth}: /(?:{_LINE_END})+{unit * depth}/\n")
    parts.append(f"_TAIL: /(?:{_LINE_END})+[ \\t]*(?:#[^\\n]*)?|[ \\t]*#[^\\n]*|[ \\t]+/\n")
    return "\n".join(parts)


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
