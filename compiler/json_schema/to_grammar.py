"""The context-free back-end: a JSON Schema walked into grammar IR instead of one regex.

The keyword modules (`objects`, `arrays`, `strings`, `numbers`, `combinators`, ...) build
regex ASTs; this back-end reuses them unchanged and only changes what a *sub-schema* is:

- `GrammarSchemaCompiler.compile` memoises every sub-schema by its canonical JSON text.
  The first visit allocates a nonterminal and walks the schema; a visit while (or after) it
  is being walked returns a *reference* to that nonterminal, so ``$ref`` recursion becomes
  grammar recursion (no ``max_nesting`` unrolling) and a schema used twice is compiled once.
  ``true`` (and annotation-only schemas) is one recursive generic-JSON nonterminal.
- A reference is a two-character placeholder in the regex AST: U+DFFF (a lone surrogate,
  never produced for real text: schemas containing it are refused) followed by the
  nonterminal's number as a private-use code point (U+F0000 + n).  `concat`/`alternation`
  keep it intact, so the keyword modules need not know about it.
- `GrammarLowering` turns such an AST into BNF: the maximal parts without placeholders and
  without whitespace become *terminals* (string contents with pattern/format/length,
  numbers with bounds, literals -- the same regex AST for the same leaf, so terminal tables
  are shared across schemas); whitespace next to a punctuation mark (``{`` ``[`` ``,`` ``:``
  ``]`` ``}``) joins it, so blanks, comma, blanks is one terminal, as is a colon with its
  blanks (half the parser steps per object member, and the mask's first-visit work with them);
  other whitespace is its own small terminal ``WS``; each run bounded by ``max_whitespace``.
  Alternations/repetitions around them become helper rules.  The lowering preserves the language exactly; it only
  chooses where terminals end.  (Joining keys and values to their punctuation as well was
  measured: no fewer slow masks, and compile p50 twice as long, as every key's automaton
  grows.)

A sub-schema whose walk contains no placeholder and no whitespace is inlined as a plain
regex (a leaf), so a scalar schema costs no nonterminal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from automask.compiler.grammar.ir import Grammar, NonTerminal, Rule, Symbol, Terminal, TerminalDef
from automask.compiler.json_schema.compile import ANNOTATIONS, SchemaCompiler
from automask.compiler.json_schema.internal_keywords import INTERNAL_KEYWORDS, refuse_internal_keywords
from automask.compiler.json_schema.json_ast import (
    ANY_CHAR,
    ANY_STRING_CONTENT,
    any_number,
    array_of,
    encode_content,
    json_string,
    object_of,
    whitespace,
)
from automask.compiler.json_schema.options import DEFAULT_OPTIONS, JsonSchemaOptions
from automask.compiler.limits import DEFAULT_LIMITS, CompileLimits
from automask.compiler.regex.ast import (
    EMPTY,
    NOTHING,
    Alternation,
    CharSet,
    Concat,
    Empty,
    Product,
    RegexNode,
    Repeat,
    alternation,
    concat,
    literal,
    repeat,
)
from automask.errors import CompileLimitExceeded, UnsupportedFeature

MARKER_CODE = 0xDFFF
"""First character of a nonterminal placeholder (a lone surrogate: never real JSON text)."""
MARKER = CharSet(((MARKER_CODE, MARKER_CODE),))
REFERENCE_BASE = 0xF0000
"""The placeholder's second character is U+F0000 + the nonterminal's number."""
MAX_NONTERMINALS = 0xFFFFD - REFERENCE_BASE
START = "json"
WS = "WS"


STRING_CHUNK = 256
"""Characters per chunk of a long string (`GrammarSchemaCompiler._string_run`)."""
LONG_STRING = 2 * STRING_CHUNK
"""A plain string whose minLength or maxLength reaches this is built from chunks; shorter
bounds stay one counting terminal."""
MAX_STRING_CHUNKS = 4096
"""Most chunks (nonterminals) one length bound may take: about a million characters."""


def _length(schema: dict, keyword: str) -> int | None:
    value = schema.get(keyword)
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _long_plain_string(schema: dict) -> bool:
    """A string schema constrained only by well-formed length bounds, one of them long."""
    if "pattern" in schema or "format" in schema or any(keyword in schema for keyword in INTERNAL_KEYWORDS):
        return False
    bounds = [_length(schema, keyword) for keyword in ("minLength", "maxLength")]
    for keyword, bound in zip(("minLength", "maxLength"), bounds, strict=True):
        value = schema.get(keyword)
        if value is not None and (bound is None or bound != value or bound < 0):
            return False  # malformed: the regular path reports it
    return any(bound is not None and bound >= LONG_STRING for bound in bounds)


def reference(index: int) -> RegexNode:
    """The placeholder node standing for nonterminal number ``index``."""
    code = REFERENCE_BASE + index
    return Concat((MARKER, CharSet(((code, code),))))


def _reference_index(item: RegexNode) -> int:
    assert isinstance(item, CharSet) and len(item.ranges) == 1 and item.ranges[0][0] == item.ranges[0][1]
    return item.ranges[0][0] - REFERENCE_BASE


def nonterminal_name(index: int) -> str:
    return f"s{index}"


@dataclass
class GrammarSchemaCompiler(SchemaCompiler):
    """A `SchemaCompiler` whose sub-schemas become (memoised, possibly recursive) nonterminals.

    ``bodies[n]``: the regex AST (with placeholders) of nonterminal ``n``, or None when it was
    inlined as a leaf.  ``memo``: canonical schema text -> placeholder or inlined leaf.
    """

    bounds_recursion: bool = False  # recursion is memoised into grammar recursion instead
    bodies: list[RegexNode | None] = field(default_factory=list)
    memo: dict[str, RegexNode] = field(default_factory=dict)
    structure: _Structure | None = None  # one per walk: sub-schemas share subtrees

    def regular(self) -> SchemaCompiler:
        """A regex-only walker sharing this walk's state, for decisions made on automata."""
        return SchemaCompiler(self.root, self.options, self.limits, self.ignored)

    def compile(self, schema: Any, pointer: str = "", depth: int | None = None) -> RegexNode:
        if schema is False:
            return NOTHING
        if schema is True or (isinstance(schema, dict) and all(key in ANNOTATIONS for key in schema)):
            return self._generic_value()
        if not isinstance(schema, dict):
            return super().compile(schema, pointer, depth)
        key = json.dumps(schema, sort_keys=True)
        known = self.memo.get(key)
        if known is not None:
            return known
        index = self._allocate(key)
        body = super().compile(schema, pointer, self.options.max_nesting)
        if not self.lowering_needed(body):
            self.memo[key] = body
            return body
        self.bodies[index] = body
        return reference(index)

    def _compile_type(self, kind: str, schema: dict, pointer: str, depth: int) -> RegexNode:
        if kind == "string" and _long_plain_string(schema):
            return self._long_string(schema, pointer)
        return super()._compile_type(kind, schema, pointer, depth)

    def _long_string(self, schema: dict, pointer: str) -> RegexNode:
        """A string with only ``minLength``/``maxLength``, one of them at least `LONG_STRING`:
        a chain of nonterminals over chunks of `STRING_CHUNK` characters (`_string_run`)."""
        low, high = _length(schema, "minLength") or 0, _length(schema, "maxLength")
        if high is not None and low > high:
            return NOTHING
        chunks = max(low, high or 0) // STRING_CHUNK
        if chunks > MAX_STRING_CHUNKS:
            keyword = "maxLength" if high is not None and high >= low else "minLength"
            raise CompileLimitExceeded(
                "string length chunks",
                chunks,
                MAX_STRING_CHUNKS,
                hint=f"{keyword} at #{pointer}/{keyword}",
            )
        return concat([literal('"'), self._string_run(low, high)])

    def _string_run(self, low: int, high: int | None) -> RegexNode:
        """Encoded string content of ``low`` to ``high`` decoded characters, exactly, then ``"``:

            run(l, h) = C{l,h} "                        if h < B (or h is None and l < B)
                      = F run(l - B, h - B)             if l >= B
                      = C{l,B-1} " | F run(0, h - B)    otherwise

        with ``C`` one encoded character and ``F = C{B}`` (``B`` = `STRING_CHUNK`).  Unambiguous
        (a run of at least ``B`` characters starts with exactly one ``F``), so no counting DFA
        of ``h`` copies is built: ``F`` and ``C{l,B-1} "`` are terminals shared by every schema.
        The closing quote belongs to the last terminal, so that terminal ends only there (a
        bare ``C{0,B-1}`` would end at every trie node: the mask walk would follow them all).
        """
        chunk = STRING_CHUNK
        key = f"\0string run {low} {high}"
        known = self.memo.get(key)
        if known is not None:
            return known
        index = self._allocate(key)  # a nonterminal even for the last, short run: the one
        # before is `F run`, which must stay a rule, or `C{l,B-1} " | F C{0,r} "` becomes one DFA
        quote = literal('"')
        if (high is not None and high < chunk) or (high is None and low < chunk):
            body = concat([encode_content(repeat(ANY_CHAR, low, high)), quote])
        else:
            full = encode_content(repeat(ANY_CHAR, chunk, chunk))
            rest_high = None if high is None else high - chunk
            if low >= chunk:
                body = concat([full, self._string_run(low - chunk, rest_high)])
            else:
                short = concat([encode_content(repeat(ANY_CHAR, low, chunk - 1)), quote])
                body = alternation([short, concat([full, self._string_run(0, rest_high)])])
        self.bodies[index] = body
        return reference(index)

    def _allocate(self, key: str) -> int:
        index = len(self.bodies)
        if index >= MAX_NONTERMINALS:
            raise CompileLimitExceeded("json schema nonterminals", index + 1, MAX_NONTERMINALS)
        self.bodies.append(None)
        self.memo[key] = reference(index)
        return index

    def _generic_value(self) -> RegexNode:
        """Any JSON value: one recursive nonterminal shared by every ``true`` schema."""
        known = self.memo.get("true")
        if known is not None:
            return known
        index = self._allocate("true")
        value = reference(index)
        self.bodies[index] = alternation(
            [
                literal("null"),
                literal("true"),
                literal("false"),
                any_number(),
                json_string(ANY_STRING_CONTENT),
                array_of(value, self.options),
                object_of(json_string(ANY_STRING_CONTENT), value, self.options),
            ]
        )
        return value

    def values_accepted(self, schema: dict, pointer: str, depth: int, values: list[Any]) -> list[Any]:
        """The ``values`` whose JSON text ``schema`` accepts, decided on the schema's grammar by
        the character-level Earley recognizer.

        Why not its automaton (the regular walker's way): an ``enum`` of objects next to an
        object schema made that a DFA of generic nested values, 0.3-1.5 s to build, for a few
        short texts.  Falls back to the automaton where the recognizer has no rule form (a
        product of automata) or the texts are too long for it.
        """
        from automask.compiler.grammar.earley_reference import EarleyRecognizer

        walk = GrammarSchemaCompiler(self.root, self.options, self.limits, self.ignored)
        grammar = lowered_grammar(walk, walk.compile(schema, pointer))
        try:
            recognizer = EarleyRecognizer(grammar, max_items=200_000, max_grammar_symbols=200_000)
            return [value for value in values if recognizer.accepts(json.dumps(value, ensure_ascii=False))]
        except (NotImplementedError, CompileLimitExceeded):
            return super().values_accepted(schema, pointer, depth, values)

    def lowering_needed(self, node: RegexNode) -> bool:
        """Whether ``node`` holds a placeholder or whitespace (then it becomes rules)."""
        if self.structure is None:
            self.structure = _Structure(whitespace(self.options))
        return self.structure.of(node)


class _Structure:
    """Memoised test "holds a placeholder or the whitespace node" over a regex AST.

    Dispatches on the exact type (a `TaggedStrings` is a `Concat` subclass, and a leaf) and
    compares with the marker and the shared whitespace node by identity before equality:
    this runs on every node of every schema."""

    def __init__(self, space: RegexNode):
        self.space = space if space != EMPTY else None
        self.seen: dict[int, tuple[RegexNode, bool]] = {}  # id -> (node kept alive, answer)

    def of(self, node: RegexNode) -> bool:
        known = self.seen.get(id(node))
        if known is not None:
            return known[1]
        kind = type(node)
        found = False
        if kind is CharSet:
            found = node.ranges == MARKER.ranges
        elif kind is Concat:
            for item in node.items:
                if self.of(item):
                    found = True
                    break
        elif kind is Alternation:
            for option in node.options:
                if self.of(option):
                    found = True
                    break
        elif kind is Repeat:
            space = self.space
            found = node is space or (space is not None and node == space) or self.of(node.item)
        self.seen[id(node)] = (node, found)
        return found


_PUNCTUATION = frozenset(((ord(mark), ord(mark)),) for mark in "{}[],:")


def _is_nothing(node: RegexNode) -> bool:
    """Whether ``node`` is the empty language `NOTHING` (by type: a dataclass ``==`` against
    a node of another type goes through two failed comparisons, on every item lowered)."""
    return type(node) is CharSet and not node.ranges


def _is_punctuation(node: RegexNode) -> bool:
    """Whether ``node`` is one of JSON's structural characters (a one-character set)."""
    return type(node) is CharSet and node.ranges in _PUNCTUATION


class GrammarLowering:
    """Regex AST with placeholders -> BNF rules and shared terminals (see the module docstring)."""

    def __init__(
        self, options: JsonSchemaOptions, limits: CompileLimits, structure: _Structure | None = None
    ):
        self.limits = limits
        self.space = whitespace(options)
        self.structure = structure if structure is not None else _Structure(self.space)
        self.rules: list[Rule] = []
        self.terminals: dict[int, TerminalDef] = {}  # interned regex -> definition
        self.symbols: dict[int, Terminal] = {}  # interned regex -> its (immutable) symbol
        self.shapes: dict[tuple, int] = {}
        self.numbers: dict[int, tuple[RegexNode, int]] = {}  # id -> (node kept alive, number)
        self.helpers: dict[int, list[Symbol] | None] = {}  # id(node) -> its symbols
        self.alive: list[RegexNode] = []  # keeps the nodes behind ``helpers``' ids alive

    def define(self, name: str, body: RegexNode) -> None:
        """Rules ``name -> alternative`` for each alternative of ``body``."""
        options = body.options if isinstance(body, Alternation) else (body,)
        for option in self._grouped(options):
            symbols = self.sequence(option)
            if symbols is not None:
                self.rules.append(Rule(name, tuple(symbols)))

    def sequence(self, node: RegexNode) -> list[Symbol] | None:
        """Symbols spelling ``node``; None when its language is empty."""
        if isinstance(node, Empty):
            return []
        if not self.structure.of(node):
            return None if _is_nothing(node) else [self.terminal(node)]
        if self._is_space(node):
            return [self.terminal(node)]
        if isinstance(node, Concat):
            return self._concat(node.items)
        if isinstance(node, (Alternation, Repeat)):
            return self._helper(node)
        raise AssertionError(f"unexpected structural node {node!r}")

    def _concat(self, items: tuple[RegexNode, ...]) -> list[Symbol] | None:
        symbols: list[Symbol] = []
        run: list[RegexNode] = []

        def flush() -> bool:
            if run:
                node = concat(run)
                run.clear()
                items = node.items if type(node) is Concat else ()
                if _is_nothing(node) or any(_is_nothing(item) for item in items):
                    return False
                symbols.append(self.terminal(node))
            return True

        index = 0
        marker = MARKER.ranges
        while index < len(items):
            item = items[index]
            if type(item) is CharSet and item.ranges == marker:
                if not flush():
                    return None
                symbols.append(NonTerminal(nonterminal_name(_reference_index(items[index + 1]))))
                index += 2
                continue
            if self._is_space(item) and run and _is_punctuation(run[-1]):
                run.append(item)  # blanks after a punctuation mark: part of its terminal
                if not flush():
                    return None
            elif self._is_space(item) and index + 1 < len(items) and _is_punctuation(items[index + 1]):
                if not flush():  # blanks before a punctuation mark: its terminal starts here
                    return None
                run.append(item)
            elif self.structure.of(item):
                if not flush():
                    return None
                inner = self.sequence(item)
                if inner is None:
                    return None
                symbols.extend(inner)
            else:
                run.append(item)
            index += 1
        return symbols if flush() else None

    def _is_space(self, node: RegexNode) -> bool:
        """Whether ``node`` is the whitespace node (the shared object, or an equal repetition;
        checked by type first: this runs on every item of every sequence, and dataclass
        equality of a large node against the space compares nothing useful slowly)."""
        space = self.space
        return node is space or (type(node) is Repeat and type(space) is Repeat and node == space)

    def _helper(self, node: Alternation | Repeat) -> list[Symbol] | None:
        """Symbols of a structural alternation or repetition, one helper rule set per node
        object (keyed by identity: structural hashing of big ASTs is quadratic)."""
        key = id(node)
        if key in self.helpers:
            return self.helpers[key]
        self.alive.append(node)
        name = f"h{len(self.helpers)}"
        self.helpers[key] = [NonTerminal(name)]
        if isinstance(node, Alternation):
            self.define(name, node)
            if not any(rule.origin == name for rule in self.rules):
                self.helpers[key] = None
            return self.helpers[key]
        self.limits.check("max_repeat", node.max if node.max is not None else node.min)
        body = self.sequence(node.item)
        if body is None:
            self.helpers[key] = [] if node.min == 0 else None
            return self.helpers[key]
        if node.max is None:
            loop = f"{name}_loop"
            self.rules.append(Rule(loop, ()))
            self.rules.append(Rule(loop, (NonTerminal(loop), *body)))
            self.rules.append(Rule(name, tuple(body * node.min) + (NonTerminal(loop),)))
            return self.helpers[key]
        tail: list[Symbol] = []
        for step in range(node.max - node.min):
            optional = f"{name}_opt{step}"
            self.rules.append(Rule(optional, ()))
            self.rules.append(Rule(optional, (*body, *tail)))
            tail = [NonTerminal(optional)]
        self.rules.append(Rule(name, tuple(body * node.min) + tuple(tail)))
        return self.helpers[key]

    def _grouped(self, options: tuple[RegexNode, ...]) -> list[RegexNode]:
        """Alternatives with the leaf ones merged into one terminal alternative."""
        leaves = [option for option in options if not self.structure.of(option)]
        rest = [option for option in options if self.structure.of(option)]
        merged = alternation(leaves)
        return ([merged] if leaves and not _is_nothing(merged) else []) + rest

    def terminal(self, node: RegexNode) -> Terminal:
        """The terminal for leaf ``node``; structurally equal regexes share one."""
        key = self.interned(node)
        known = self.symbols.get(key)
        if known is None:
            name = WS if self._is_space(node) else f"t{len(self.terminals)}"
            self.terminals[key] = TerminalDef(name, node, None)  # display source built if asked for
            known = self.symbols[key] = Terminal(name)
        return known

    def interned(self, node: RegexNode) -> int:
        """A number equal for structurally equal nodes (hash-consing, linear in the AST: equal
        subtrees built apart are different objects, and a dict keyed by nodes would compare
        them field by field on every hit)."""
        known = self.numbers.get(id(node))
        if known is not None:
            return known[1]
        kind = type(node)
        if kind is CharSet:
            shape: tuple = ("c", node.ranges)
        elif kind is Concat:
            shape = ("s", *[self.interned(item) for item in node.items])
        elif kind is Alternation:
            shape = ("a", *[self.interned(option) for option in node.options])
        elif kind is Repeat:
            shape = ("r", self.interned(node.item), node.min, node.max)
        elif isinstance(node, Concat):  # a tagged node (`TaggedStrings`, `Multiples`)
            shape = (kind.__name__, node.tag)
        elif kind is Product:
            shape = ("p", node.mode, self.interned(node.left), self.interned(node.right))
        else:
            shape = ("e",)
        number = self.shapes.setdefault(shape, len(self.shapes))
        self.numbers[id(node)] = (node, number)
        return number


def schema_to_grammar(
    schema: dict | bool,
    options: JsonSchemaOptions = DEFAULT_OPTIONS,
    limits: CompileLimits = DEFAULT_LIMITS,
) -> tuple[Grammar, GrammarSchemaCompiler]:
    """The grammar IR of the JSON texts valid under ``schema``, and the walk state.

    Start symbol ``json``; no ``%ignore`` (whitespace is explicit, terminal ``WS``).
    Raises like `schema_to_regex_ast`; warns (``lenient``) listing ignored keywords.
    """
    import warnings

    text = json.dumps(schema, ensure_ascii=False)
    if "\udfff" in text:
        raise UnsupportedFeature("a schema containing the lone surrogate U+DFFF", "#")
    refuse_internal_keywords(text)
    walk = GrammarSchemaCompiler(schema, options, limits)
    grammar = lowered_grammar(walk, walk.compile(schema, ""))
    if walk.ignored:
        warnings.warn(
            "JSON Schema keywords ignored (lenient=True), the constraint accepts more than the schema: "
            + "; ".join(walk.ignored),
            stacklevel=3,
        )
    return grammar, walk


def lowered_grammar(walk: GrammarSchemaCompiler, root: RegexNode) -> Grammar:
    """The grammar of a finished walk: ``START`` for ``root``, a rule set per nonterminal body."""
    lowering = GrammarLowering(walk.options, walk.limits, walk.structure)
    lowering.define(START, root)
    for index, body in enumerate(walk.bodies):
        if body is not None:
            lowering.define(nonterminal_name(index), body)
    return Grammar(START, tuple(lowering.rules), tuple(lowering.terminals.values()))
