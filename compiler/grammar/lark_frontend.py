"""Lark grammar text -> grammar IR, using lark's own grammar loader (no parser is built).

Lark's loader does the parsing and the EBNF expansion: ``?``/``[]``/``*``/``+``/``~ m..n``,
inline ``(...)`` groups, templates, ``%import common.*``, terminals built from other
terminals (lark inlines them into one regex) and removal of unused rules.  We call
``lark.load_grammar.load_grammar`` and ``Grammar.compile(start, terminals_to_keep=set())``,
exactly what ``lark.Lark(text, parser="earley")`` does before it builds its Earley parser
(most of ``Lark``'s construction time, and nothing we use), and convert the result:

- each lark ``Rule`` -> one IR `Rule` (priority from ``rule.options.priority``);
- each lark ``TerminalDef`` -> `TerminalDef` whose ``pattern`` is lark's ``to_regexp()``
  (string terminals escaped, flags such as ``i`` inlined as ``(?i:...)``) and whose
  ``regex`` is that pattern parsed to the regex AST;
- ``%ignore`` -> `Grammar.ignore`.

The checks lark's Earley construction would have made are repeated here: terminal regexes
must compile and must not match the empty string (lark's dynamic Earley lexer refuses
zero-width terminals); an undefined start symbol is left to `check_grammar`.

Lark errors are re-raised as typed `automask.errors` errors with line/column: syntax
errors as `GrammarSyntaxError`, undefined rules/terminals as `UndefinedSymbolError`, bad
terminal regexes as `RegexSyntaxError`; terminals with lookarounds, anchors or
backreferences (lark's ``common.ESCAPED_STRING`` among them) raise `UnsupportedFeature`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from lark.exceptions import GrammarError, LarkError, UnexpectedInput
from lark.grammar import Rule as LarkRule
from lark.lexer import TerminalDef as LarkTerminalDef
from lark.load_grammar import load_grammar
from lark.utils import get_regexp_width

from automask.compiler.grammar.errors import UndefinedSymbolError
from automask.compiler.grammar.ir import Grammar, NonTerminal, Rule, SourceLocation, Terminal, TerminalDef
from automask.compiler.grammar.pyregex import python_regex_to_ast
from automask.compiler.grammar.validate import check_grammar
from automask.errors import GrammarSyntaxError, RegexSyntaxError, UnsupportedFeature

_DEFINITION = re.compile(
    r"^[ \t]*[?!]?(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:\{[^}]*\})?(?:\.-?\d+)?[ \t]*:", re.MULTILINE
)
_REGEX_LITERAL = re.compile(r"/((?:\\.|[^/\\\n])+)/[imslux]*")
_UNDEFINED_RULE = re.compile(r"Rule '([^']+)' used but not defined \(in rule ([^)]+)\)")
_UNDEFINED_IGNORE = re.compile(r"Terminals \{'([^']+)'.*\} were marked to ignore")
_AT_LINE_COLUMN = re.compile(r"at line (\d+),? column (\d+)")
# lark names EBNF helper rules ``__<rule>_plus_3``, ``__<rule>_repeat_a1_b2_opt_4`` ...
_DUPLICATE_RULE = re.compile(
    r"Rules defined twice:\s*\*\s*<(?:__(?P<helper>\w+?)_(?:plus|star|repeat_a\d+_b\d+(?:_opt)?)_\d+|(?P<rule>\w+)) :"
)


def grammar_from_lark(text: str, *, start: str = "start", longest_match: bool = True) -> Grammar:
    """The IR of Lark grammar ``text`` (start symbol ``start``), validated by `check_grammar`.

    ``longest_match`` (default, as lark's own Earley lexer ``"dynamic"``): a terminal does not
    end where the next byte extends it (`Grammar.longest_match`); False allows every split
    (lark's ``"dynamic_complete"``)."""
    terminals, rules, ignore = _load(text, start)
    return replace(_lower(text, start, terminals, rules, ignore), longest_match=longest_match)


def _load(text: str, start: str) -> tuple[list[LarkTerminalDef], list[LarkRule], list[str]]:
    """Lark's compiled (BNF) terminals, rules and ``%ignore`` names for ``text``, checked."""
    _prepare_lark_meta_parser()
    try:
        loaded, _ = load_grammar(text, "<string>", None, False)
        terminals, rules, ignore = loaded.compile([start], set())
    except Exception as error:
        typed = _typed_lark_error(error, text)
        if typed is None:
            raise
        raise typed from None
    _check_terminals_like_earley(terminals, text)
    return terminals, rules, list(ignore)


def _prepare_lark_meta_parser() -> None:
    """Fill lark's memo of its own grammar-of-grammars parser (`lark.load_grammar._get_parser`)
    with the same parser built with ``skip_validation``.

    Why: when `interegular` is importable, lark builds that parser with a pairwise regex
    collision check of its own fixed meta-grammar terminals: about 0.25 s of the first Lark
    grammar compiled in a process, for nothing a user wrote.  If lark's internals differ from
    what this expects, nothing is filled and lark builds its parser itself.
    """
    import re

    from lark import load_grammar as meta

    getter = meta._get_parser
    if hasattr(getter, "cache"):
        return
    try:
        terminals = [meta.TerminalDef(name, meta.PatternRE(value)) for name, value in meta.TERMINALS.items()]
        options = [
            (name.lstrip("?"), expansions, meta.RuleOptions(expand1=name.startswith("?")))
            for name, expansions in meta.RULES.items()
        ]
        rules = [
            meta.Rule(meta.NonTerminal(origin), [meta.symbol_from_strcase(s) for s in x.split()], i, None, o)
            for origin, expansions, o in options
            for i, x in enumerate(expansions)
        ]
        callback = meta.ParseTreeBuilder(rules, meta.ST).create_callback()
        lexer_conf = meta.LexerConf(terminals, re, ["WS", "COMMENT", "BACKSLASH"], skip_validation=True)
        parser_conf = meta.ParserConf(rules, callback, ["start"])
        lexer_conf.lexer_type = "basic"
        parser_conf.parser_type = "lalr"
        getter.cache = meta.ParsingFrontend(lexer_conf, parser_conf, None)
    except Exception:  # noqa: BLE001 - lark's internals changed: its own path still works
        return


def _lower(
    text: str,
    start: str,
    terminals: Sequence[LarkTerminalDef],
    rules: Sequence[LarkRule],
    ignore: Sequence[str],
) -> Grammar:
    """The IR of lark's compiled grammar (its ``TerminalDef`` and ``Rule`` objects), checked."""
    definitions = _definition_offsets(text)

    def location(name: str) -> SourceLocation | None:
        offset = definitions.get(name)
        return None if offset is None else SourceLocation.at(text, offset)

    ir_terminals = []
    for terminal in terminals:
        pattern = terminal.pattern.to_regexp()
        try:
            regex = python_regex_to_ast(pattern)
        except (RegexSyntaxError, UnsupportedFeature) as error:
            raise UnsupportedFeature(
                f"terminal {terminal.name}: {getattr(error, 'feature', error)}",
                text,
                definitions.get(terminal.name),
                hint="write the terminal as a regular expression without anchors or lookarounds",
            ) from None
        ir_terminals.append(
            TerminalDef(terminal.name, regex, pattern, terminal.priority, location(terminal.name))
        )

    ir_rules = []
    for rule in rules:
        expansion = tuple(
            Terminal(symbol.name) if symbol.is_term else NonTerminal(str(symbol.name))
            for symbol in rule.expansion
        )
        origin = str(rule.origin.name)
        ir_rules.append(Rule(origin, expansion, rule.options.priority or 0, location(origin)))

    grammar = Grammar(start, tuple(ir_rules), tuple(ir_terminals), tuple(ignore), text)
    check_grammar(grammar)
    return grammar


def _check_terminals_like_earley(terminals: Sequence[LarkTerminalDef], text: str) -> None:
    """Refuse what ``lark.Lark(parser="earley")`` refuses when it builds its regex matcher.

    In lark's order: a regex whose width cannot be computed, a terminal that matches the
    empty string (the dynamic Earley lexer cannot use it: neither can a token mask), then a
    regex Python's ``re`` cannot compile.
    """
    for terminal in terminals:
        regexp = terminal.pattern.to_regexp()
        try:
            min_width = get_regexp_width(regexp)[0]
        except Exception as error:
            if _is_regex_error(error):  # from the `regex` module, which lark falls back on
                raise _bad_regex_error(error, text) from None
            if not isinstance(error, ValueError):
                raise
            message = f"invalid Lark grammar: bad regexp in terminal {terminal.name}: {regexp}"
            raise GrammarSyntaxError(message, text, _terminal_offset(terminal, text)) from None
        if min_width == 0:
            message = (
                f"invalid Lark grammar: terminal {terminal.name} ({regexp}) matches the empty string; "
                "lark's Earley lexer does not allow zero-width terminals"
            )
            raise GrammarSyntaxError(message, text, _terminal_offset(terminal, text))
        try:
            re.compile(regexp)
        except re.error as error:
            raise _bad_regex_error(error, text) from None


def _bad_regex_error(error: Exception, text: str) -> RegexSyntaxError:
    return RegexSyntaxError(f"bad terminal regex: {error}", text, _bad_regex_offset(text))


def _is_regex_error(error: Exception) -> bool:
    """``re.error``, or the third-party ``regex`` module's ``error`` (which lark may raise)."""
    return isinstance(error, re.error) or type(error).__name__ == "error"


def _terminal_offset(terminal: LarkTerminalDef, text: str) -> int | None:
    """Offset of ``terminal``'s definition, or of its ``/regex/`` literal for anonymous ones."""
    offset = _definition_offsets(text).get(terminal.name)
    if offset is None and terminal.pattern.type == "re":
        found = text.find(f"/{terminal.pattern.value}/")
        offset = found if found >= 0 else None
    return offset


def _typed_lark_error(error: Exception, text: str) -> GrammarSyntaxError | None:
    """The typed error for an exception lark raised while loading ``text`` (None: not lark's)."""
    if isinstance(error, UnexpectedInput):
        message = f"malformed Lark grammar: unexpected input {_describe(error)}"
        return GrammarSyntaxError(message, text, error.pos_in_stream)
    if isinstance(error, GrammarError):
        return _grammar_error(str(error), text)
    if isinstance(error, LarkError):
        return GrammarSyntaxError(f"malformed Lark grammar: {error}", text, None)
    if _is_regex_error(error):
        return _bad_regex_error(error, text)
    return None


def _bad_regex_offset(text: str) -> int | None:
    """Offset of the first ``/regex/flags`` literal in ``text`` that Python cannot compile."""
    for match in _REGEX_LITERAL.finditer(text):
        try:
            re.compile(match.group(1))
        except re.error:
            return match.start()
    return None


def _describe(error: UnexpectedInput) -> str:
    token = getattr(error, "token", None)
    if token is not None:
        return f"{str(token)!r}"
    char = getattr(error, "char", None)
    return f"{char!r}" if char is not None else ""


def _grammar_error(message: str, text: str) -> GrammarSyntaxError:
    """A typed error for lark's ``GrammarError`` message, located in ``text`` where possible."""
    undefined = _UNDEFINED_RULE.search(message)
    if undefined:
        name, used_in = undefined.group(1), undefined.group(2)
        return UndefinedSymbolError(name, text, _use_offset(text, name, used_in), used_in=used_in)
    ignored = _UNDEFINED_IGNORE.search(message)
    if ignored:
        name = ignored.group(1)
        match = re.search(rf"%ignore\s+{re.escape(name)}\b", text)
        return UndefinedSymbolError(name, text, match.start() if match else None, used_in="%ignore")
    duplicate = _DUPLICATE_RULE.search(message)
    quoted = re.search(r"'([A-Za-z_][A-Za-z0-9_]*)'", message)
    if duplicate:
        name = duplicate.group("helper") or duplicate.group("rule")
    else:
        name = quoted.group(1) if quoted else None
    offset = None if name is None else _definition_offsets(text).get(name.lstrip("?!"))
    at = _AT_LINE_COLUMN.search(message)
    if offset is None and at:
        offset = _offset_of_line_column(text, int(at.group(1)), int(at.group(2)))
    return GrammarSyntaxError(f"invalid Lark grammar: {message}", text, offset)


def _definition_offsets(text: str) -> dict[str, int]:
    """``name -> offset`` of the first definition of each rule or terminal in ``text``."""
    offsets: dict[str, int] = {}
    for match in _DEFINITION.finditer(text):
        offsets.setdefault(match.group("name"), match.start("name"))
    return offsets


def _use_offset(text: str, name: str, used_in: str) -> int | None:
    """Offset of the first use of ``name`` inside the definition of ``used_in``."""
    start = _definition_offsets(text).get(used_in.lstrip("_?!"), 0)
    body_start = text.find(":", start) + 1
    use = re.compile(rf"(?<![A-Za-z0-9_\"']){re.escape(name)}(?![A-Za-z0-9_])")
    match = use.search(text, body_start) or use.search(text)
    return match.start() if match else None


def _offset_of_line_column(text: str, line: int, column: int) -> int | None:
    """0-based offset of 1-based ``line``/``column`` in ``text`` (None when out of range)."""
    lines = text.splitlines(keepends=True)
    if not 1 <= line <= len(lines) + 1 or column < 1:
        return None
    offset = sum(len(previous) for previous in lines[: line - 1]) + column - 1
    return min(offset, len(text))
