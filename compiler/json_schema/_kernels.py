"""numba kernel of the JSON-Schema back-end: the spelling trie of a set of key names.

`spelling_trie` builds in one call the automaton `key_automaton.names_spelling_dfa_reference`
(the pure-Python specification, kept for the tests) builds with a dict per state: every
JSON spelling of every name, as a trie over the names' characters in which each character
edge is expanded into the byte paths of that character's spellings.  Every object schema
needs one for its declared keys (and each key one of its own), so its Python loops were the
largest single cost of compiling a typical MaskBench schema (0.5-2.5 ms per object).

Inputs (see `key_automaton.names_spelling_dfa`): the distinct names, sorted, as character
indices (``name_chars``, CSR by ``name_offsets``); per character index, its spellings as byte
strings (``spell_bytes`` CSR by ``spell_offsets``; character ``c``'s spellings are
``char_spells[c] .. char_spells[c + 1]``).  States and numbering are exactly the
reference's: 0 the start, 1 the accepting state after the closing quote, 2 the trie's root
(after the opening quote); then, per new trie node in the order of the sorted names, the node
and then the intermediate states of its spellings as first met.  Intermediate states are
shared by the spellings leaving one node (they form a prefix code, so following the table
from the node finds them).
"""

from __future__ import annotations

import numba as nb
import numpy as np

_SPELLING_SIGNATURE = nb.types.Tuple((nb.int32[:, ::1], nb.boolean[::1]))(
    nb.types.Array(nb.int32, 1, "C", readonly=True),  # name_chars
    nb.types.Array(nb.int64, 1, "C", readonly=True),  # name_offsets [names + 1]
    nb.types.Array(nb.uint8, 1, "C", readonly=True),  # spell_bytes
    nb.types.Array(nb.int64, 1, "C", readonly=True),  # spell_offsets [spellings + 1]
    nb.types.Array(nb.int64, 1, "C", readonly=True),  # char_spells [chars + 1]
    nb.int64,  # quote byte
)


@nb.njit(_SPELLING_SIGNATURE, cache=True, nogil=True)
def spelling_trie(
    name_chars, name_offsets, spell_bytes, spell_offsets, char_spells, quote
):  # pragma: no cover
    capacity = 64
    table = np.full((capacity, 256), -1, dtype=np.int32)
    accept, root = 1, 2
    table[0, quote] = root
    count = 3
    longest = 0
    for n in range(name_offsets.shape[0] - 1):
        longest = max(longest, name_offsets[n + 1] - name_offsets[n])
    path = np.empty(longest + 1, dtype=np.int32)  # trie node after each character of the name
    path[0] = root
    for n in range(name_offsets.shape[0] - 1):
        first, length = name_offsets[n], name_offsets[n + 1] - name_offsets[n]
        shared = 0  # characters in common with the previous name (sorted: its nodes are on `path`)
        if n > 0:
            previous, previous_length = name_offsets[n - 1], name_offsets[n] - name_offsets[n - 1]
            while (
                shared < length and shared < previous_length
                and name_chars[first + shared] == name_chars[previous + shared]
            ):  # fmt: skip
                shared += 1
        for i in range(shared, length):
            char = name_chars[first + i]
            needed = count + 1
            for s in range(char_spells[char], char_spells[char + 1]):
                needed += spell_offsets[s + 1] - spell_offsets[s] - 1
            if needed > capacity:
                while capacity < needed:
                    capacity *= 2
                grown = np.full((capacity, 256), -1, dtype=np.int32)
                grown[:count] = table[:count]
                table = grown
            source, target = path[i], count
            count += 1
            for s in range(char_spells[char], char_spells[char + 1]):
                at = source
                for j in range(spell_offsets[s], spell_offsets[s + 1] - 1):
                    step = table[at, spell_bytes[j]]
                    if step < 0:
                        step = count
                        count += 1
                        table[at, spell_bytes[j]] = step
                    at = step
                table[at, spell_bytes[spell_offsets[s + 1] - 1]] = target
            path[i + 1] = target
        table[path[length], quote] = accept
    accepting = np.zeros(count, dtype=np.bool_)
    accepting[accept] = True
    return table[:count].copy(), accepting
