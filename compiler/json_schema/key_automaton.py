"""The DFA of "a JSON string other than these names", built as a product of two automata.

Why: the regex of that language (`keys.encoded_key_not_in`) is exact but large -- every
character of every name comes with its escaped spellings, and the "any other string"
tail hangs off every trie node -- so the general Thompson + subset construction spent
20-500 ms on each object with ``additionalProperties`` (true by default) in MaskBench
schemas.  The same language is ``STRING \\ NAMES`` where

- ``STRING`` is the DFA of every JSON string literal (22 states, built once), and
- ``NAMES`` is the DFA of every spelling of the names: a trie over the names' characters
  in which each character edge is expanded into the byte paths of its spellings (raw UTF-8,
  short escape, ``\\uXXXX`` in either hex case, surrogate pairs for astral characters).
  The spellings of one character form a prefix code and so do those of different
  characters (JSON decoding is unambiguous), so the expanded trie is deterministic.

`automask.compiler.automata.product.product_dfa` takes the difference in one numba pass
and minimises it; tests check the result is the DFA of the regex, table for table.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable

import numpy as np

from automask.compiler.automata.byte_dfa import DEAD, ByteDFA
from automask.compiler.automata.product import product_dfa
from automask.compiler.json_schema import _kernels
from automask.compiler.json_schema.json_ast import (
    ANY_STRING_CONTENT,
    SHORT_ESCAPES,
    SURROGATES,
    UNESCAPED_FORBIDDEN,
    json_string,
)
from automask.compiler.limits import CompileLimits

_QUOTE = ord('"')


def key_not_in_dfa(names: Iterable[str], limits: CompileLimits) -> ByteDFA:
    """The minimal DFA of the JSON string literals whose decoded value is none of ``names``."""
    return product_dfa(any_json_string_dfa(), names_spelling_dfa(names), "difference", limits)


@functools.cache
def any_json_string_dfa() -> ByteDFA:
    """Every JSON string literal, quotes included (an immutable constant, built on first use)."""
    from automask.compiler.regex import ast_to_dfa

    return ast_to_dfa(json_string(ANY_STRING_CONTENT))


def spellings(code: int) -> list[bytes]:
    """Every JSON spelling of the one character ``code`` inside a string literal.

    The language of `json_ast.encode_char_set` for that character: the raw UTF-8 bytes
    (unless JSON forbids it raw), its short escape, and ``\\uXXXX`` (each hex digit in
    either case; astral characters as a surrogate pair).  A lone surrogate has none.
    """
    if SURROGATES[0] <= code <= SURROGATES[1]:
        return []
    found: list[bytes] = []
    if not any(low <= code <= high for low, high in UNESCAPED_FORBIDDEN):
        found.append(chr(code).encode("utf-8"))
    letter = SHORT_ESCAPES.get(code)
    if letter is not None:
        found.append(b"\\" + letter.encode("ascii"))
    units = (
        [code] if code <= 0xFFFF else [0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF)]
    )
    digit_choices = [_hex_cases(digit) for unit in units for digit in f"{unit:04x}"]
    for digits in itertools.product(*digit_choices):
        spelled = b"".join(b"\\u" + b"".join(digits[4 * i : 4 * i + 4]) for i in range(len(units)))
        found.append(spelled)
    return found


def _hex_cases(digit: str) -> list[bytes]:
    return [digit.encode()] if digit.isdigit() else [digit.encode(), digit.upper().encode()]


def names_spelling_dfa(names: Iterable[str]) -> ByteDFA:
    """The DFA (deterministic, not minimised) of every spelling of the string literals ``names``.

    State 0 is the start; ``"`` leads to the trie's root.  Each trie node is a state, each
    character edge a byte path per spelling (intermediate states shared by the spellings
    leaving one node); a name's node goes on ``"`` to the one accepting state.  One
    `_kernels.spelling_trie` call; `names_spelling_dfa_reference` is its specification.
    """
    ordered = sorted(set(names))
    name_offsets = np.cumsum([0] + [len(name) for name in ordered], dtype=np.int64)
    joined = "".join(ordered)
    if joined.isascii():  # the usual key: character index = code, spellings of all of ASCII
        name_chars = np.frombuffer(joined.encode("ascii"), dtype=np.uint8).astype(np.int32)
        spell_bytes, spell_offsets, char_spells = _ascii_spellings()
    else:
        chars = sorted(set(joined))
        index = {char: position for position, char in enumerate(chars)}
        name_chars = np.fromiter((index[char] for char in joined), dtype=np.int32, count=len(joined))
        spell_bytes, spell_offsets, char_spells = _spelling_arrays(tuple(ord(char) for char in chars))
    table, accepting = _kernels.spelling_trie(
        name_chars, name_offsets, spell_bytes, spell_offsets, char_spells, _QUOTE
    )
    return ByteDFA(table, accepting, 0)


@functools.cache
def _ascii_spellings() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`_spelling_arrays` of the 128 ASCII characters (an immutable constant, built on first use)."""
    return _spelling_arrays(tuple(range(128)))


def _spelling_arrays(codes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The spellings of ``codes`` as `_kernels.spelling_trie` takes them (read-only arrays)."""
    spelled = [_spellings_of(code) for code in codes]
    flat = [spelling for spellings_of_char in spelled for spelling in spellings_of_char]
    spell_bytes = np.frombuffer(b"".join(flat), dtype=np.uint8)
    spell_offsets = np.cumsum([0] + [len(spelling) for spelling in flat], dtype=np.int64)
    char_spells = np.cumsum([0] + [len(spellings_of_char) for spellings_of_char in spelled], dtype=np.int64)
    for array in (spell_offsets, char_spells):
        array.setflags(write=False)
    return spell_bytes, spell_offsets, char_spells


@functools.lru_cache(maxsize=4096)
def _spellings_of(code: int) -> tuple[bytes, ...]:
    """`spellings`, memoised: a pure function of one code point (keys reuse few characters)."""
    return tuple(spellings(code))


def names_spelling_dfa_reference(names: Iterable[str]) -> ByteDFA:
    """Pure-Python specification of `names_spelling_dfa` (intermediate states keyed by their
    source and the bytes read), kept for the tests."""
    edges: dict[int, dict[int, int]] = {0: {}}
    prefix_states: dict[tuple[int, bytes], int] = {}

    def new_state() -> int:
        edges[len(edges)] = {}
        return len(edges) - 1

    accept = new_state()
    root = new_state()
    edges[0][_QUOTE] = root
    node_state: dict[str, int] = {"": root}
    spelled_of: dict[str, list[bytes]] = {}
    for name in sorted(set(names)):
        for end in range(1, len(name) + 1):
            prefix = name[:end]
            if prefix in node_state:
                continue
            source = node_state[name[: end - 1]]
            target = new_state()
            node_state[prefix] = target
            char = name[end - 1]
            if char not in spelled_of:
                spelled_of[char] = spellings(ord(char))
            for spelled in spelled_of[char]:
                at = source
                for index in range(len(spelled) - 1):
                    key = (source, spelled[: index + 1])
                    step = prefix_states.get(key)
                    if step is None:
                        step = new_state()
                        prefix_states[key] = step
                        edges[at][spelled[index]] = step
                    at = step
                edges[at][spelled[-1]] = target
        edges[node_state[name]][_QUOTE] = accept
    table = np.full((len(edges), 256), DEAD, dtype=np.int32)
    for state, out in edges.items():
        if out:
            table[state, list(out)] = list(out.values())
    accepting = np.zeros(len(edges), dtype=bool)
    accepting[accept] = True
    return ByteDFA(table, accepting, 0)
