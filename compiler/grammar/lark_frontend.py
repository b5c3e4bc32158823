"""Lark grammar text -> grammar IR, using lark's own grammar loader.

Lark does the parsing and the EBNF expansion: ``?``/``[]``/``*``/``+``/``~ m..n``, inline
``(...)`` groups, templates, ``%import common.*``, terminals built from other terminals
(lark inlines them into one regex) and removal of unused rules.  We read the result
(``Lark.rules``, ``Lark.terminals``, ``Lark.ignore_tokens``) and convert:

- each lark ``Rule`` -> one IR `Rule` (priority from ``rule.options.priority``);
- each lark ``TerminalDef`` -> `TerminalDef` whose ``pattern`` is lark's ``to_regexp()``
  (string terminals escaped, flags such as ``i`` inlined as ``(?i:...)``) and whose
  ``regex`` is that pattern parsed to the regex AST;
- ``%ignore`` -> `Grammar.ignore`.

Lark errors are re-raised as typed `automask.errors` errors with line/column: syntax
errors as `GrammarSyntaxError`, undefined rules/terminals as `UndefinedSymbolError`, bad
terminal regexes as `RegexSyntaxError`; terminals with lookarounds, anchors or
backreferences (lark's ``common.ESCAPED_STRING`` among them) raise `UnsupportedFeature`.
"""

from __future__ import annotations

import re

import lark
from lark.exceptions import GrammarError, LarkError, UnexpectedInput

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


def grammar_from_lark(text: str, *, start: str = "start") -> Grammar:
    """The IR of Lark grammar ``text`` (start symbol ``start``), validated by `check_grammar`."""
    parser = _load(text, start)
    definitions = _definition_offsets(text)

    def location(name: str) -> SourceLocation | None:
        offset = definitions.get(name)
        return None if offset is None else SourceLocation.at(text, offset)

    terminals = []
    for terminal in parser.terminals:
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
        terminals.append(
            TerminalDef(terminal.name, regex, pattern, terminal.priority, location(terminal.name))
        )

    rules = []
    for rule in parser.rules:
        expansion = tuple(
            Terminal(symbol.name) if symbol.is_term else NonTerminal(str(symbol.name))
            for symbol in rule.expansion
        )
        origin = str(rule.origin.name)
        rules.append(Rule(origin, expansion, rule.options.priority or 0, location(origin)))

    grammar = Grammar(start, tuple(rules), tuple(terminals), tuple(parser.ignore_tokens), text)
    check_grammar(grammar)
    return grammar


def _load(text: str, start: str) -> lark.Lark:
    try:
        return lark.Lark(text, parser="earley", lexer="dynamic", start=start)
    except UnexpectedInput as error:
        message = f"malformed Lark grammar: unexpected input {_describe(error)}"
        raise GrammarSyntaxError(message, text, error.pos_in_stream) from None
    except GrammarError as error:
        raise _grammar_error(str(error), text) from None
    except LarkError as error:
        raise GrammarSyntaxError(f"malformed Lark grammar: {error}", text, None) from None
    except Exception as error:  # re.error, or the third-party `regex` module's error
        if type(error).__name__ == "error":
            raise RegexSyntaxError(f"bad terminal regex: {error}", text, _bad_regex_offset(text)) from None
        raise


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
    quoted = re.search(r"'([A-Za-z_][A-Za-z0-9_]*)'", message)
    offset = _definition_offsets(text).get(quoted.group(1)) if quoted else None
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
