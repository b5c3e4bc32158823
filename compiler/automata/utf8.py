"""Code-point ranges -> UTF-8 byte-range sequences.

A set of code points is matched at byte level by an alternation of *byte-range sequences*:
each sequence is a tuple of 1-4 inclusive ``(low_byte, high_byte)`` ranges, and a byte
string of that length matches it iff every byte lies in its range.  The classic splitting
(as in RE2 and Rust's regex-syntax ``utf8`` module) cuts a code-point range until the first
and last code points of each piece encode to the same length and differ only in a suffix of
"full" continuation bytes, so the piece is exactly the cartesian product of its byte ranges.

Surrogates (U+D800..U+DFFF) are removed first: they have no valid UTF-8 encoding, so the
sequences never admit overlong forms, surrogates or bytes above U+10FFFF.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

ByteRangeSequence = tuple[tuple[int, int], ...]

_SURROGATE_FIRST = 0xD800
_SURROGATE_LAST = 0xDFFF
_LENGTH_LIMITS = (0x7F, 0x7FF, 0xFFFF)


def utf8_sequences(first: int, last: int) -> Iterator[ByteRangeSequence]:
    """Byte-range sequences matching exactly the UTF-8 encodings of code points first..last.

    Yields disjoint sequences in increasing code-point order.
    """
    stack = [(first, last)]
    while stack:
        low, high = stack.pop()
        if low > high:
            continue
        if low <= _SURROGATE_LAST and high >= _SURROGATE_FIRST:
            stack.append((_SURROGATE_LAST + 1, high))
            stack.append((low, _SURROGATE_FIRST - 1))
            continue
        split = _split(low, high)
        if split is not None:
            stack.append(split[1])
            stack.append(split[0])
            continue
        low_bytes = chr(low).encode("utf-8")
        high_bytes = chr(high).encode("utf-8")
        yield tuple(zip(low_bytes, high_bytes, strict=True))


def _split(low: int, high: int) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """Cut ``low..high`` into two pieces if it is not yet a single byte-range sequence."""
    for limit in _LENGTH_LIMITS:  # different encoded lengths
        if low <= limit < high:
            return (low, limit), (limit + 1, high)
    if high <= 0x7F:
        return None
    for continuation_count in (1, 2, 3):
        mask = (1 << (6 * continuation_count)) - 1
        if low & ~mask != high & ~mask:
            if low & mask != 0:
                return (low, low | mask), ((low | mask) + 1, high)
            if high & mask != mask:
                return (low, (high & ~mask) - 1), (high & ~mask, high)
    return None


def utf8_sequences_for_ranges(ranges: Iterable[tuple[int, int]]) -> list[ByteRangeSequence]:
    """All byte-range sequences for a set of code-point ranges, merging neighbours.

    Adjacent sequences that differ only in their first byte range and whose first ranges
    touch are merged (e.g. one sequence per lead byte of a wide range becomes one), which
    keeps NFAs for large classes small.
    """
    merged: list[ByteRangeSequence] = []
    for first, last in ranges:
        for sequence in utf8_sequences(first, last):
            if merged:
                previous = merged[-1]
                if (
                    len(previous) == len(sequence)
                    and previous[1:] == sequence[1:]
                    and previous[0][1] + 1 == sequence[0][0]
                ):
                    merged[-1] = ((previous[0][0], sequence[0][1]),) + sequence[1:]
                    continue
            merged.append(sequence)
    return merged
