"""The context-free grammar suite: the bundled Lark and GBNF grammars with one realistic output each.

Grammars come from `automask.grammars.load_bundled` (the same text every engine compiles).
Lark workloads run on automask and llguidance, GBNF workloads on all three grammar engines
(automask, llguidance, xgrammar).  Each has a valid example (accepted, EOS allowed at its
end) and an invalid one (refused at some token or at EOS).  Note that llguidance lexes Lark
greedily (longest match) where automask follows the grammar IR's character-level semantics
(a terminal may end wherever its regex matches), so masks may differ at terminal
boundaries; the report lists such steps.
"""

from __future__ import annotations

import json

from benchmarks.workloads.base import Workload, WorkloadKind

JSON_DOCUMENT = {
    "id": 1047,
    "name": "Ada Lovelace",
    "email": "ada@example.org",
    "active": True,
    "score": -12.5e-3,
    "tags": ["math", "engines", "poetry", "caf\u00e9"],
    "address": {"street": "12 St James's Square", "city": "London", "zip": None},
    "history": [
        {"year": 1833, "event": "meets Charles Babbage", "ok": True},
        {"year": 1843, "event": "publishes the Notes (A to G)", "ok": False},
    ],
    "matrix": [[1, 2, 3], [4, 5, 6]],
    "note": 'line one\nline two "quoted" \\ done',
}

# ~600 characters: pretty-printed (newlines, indentation) so blanks between tokens occur.
JSON_TEXT = json.dumps(JSON_DOCUMENT, indent=2)
JSON_INVALID = JSON_TEXT.replace('"city": "London",', '"city": "London",,')

ARITHMETIC_LARK_TEXT = "max(a, b + 1) // 7 % 3 - (2 ** 3 ** 2 + -x * (y / 4.5)) + f(1, 2, 3) * 10"
ARITHMETIC_GBNF_TEXT = "(12.5 + 3) * (4 - 2) / 7 - -8 * ((1 + 2) * 3) + 100 / (5 - 1.25)"

SQL_TEXT = (
    "SELECT T2.name ,  count(*) FROM concert AS T1 JOIN stadium AS T2 ON T1.stadium_id  =  "
    "T2.stadium_id WHERE T1.year  >=  2014 GROUP BY T2.name HAVING count(*)  >  1 ORDER BY "
    "count(*) DESC LIMIT 3"
)

PYTHON_TEXT = (
    "def histogram(values, bins=10):\n"
    "    low, high = min(values), max(values)\n"
    "    width = (high - low) / bins or 1\n"
    "    counts = [0] * bins\n"
    "    for value in values:\n"
    "        index = min(int((value - low) / width), bins - 1)\n"
    "        counts[index] += 1\n"
    "    return counts\n"
)
PYTHON_INVALID = PYTHON_TEXT.replace("        counts[index] += 1", "      counts[index] += 1")


def _bundled(name: str) -> str:
    from automask.grammars import load_bundled

    return load_bundled(name)


def workloads() -> list[Workload]:
    """The cfg suite, in table order."""
    return [
        Workload(
            name="json.lark",
            kind=WorkloadKind.LARK,
            source=_bundled("json.lark"),
            valid_text=JSON_TEXT,
            invalid_text=JSON_INVALID,
            description="RFC 8259 JSON with %ignore WS; a 600-character pretty-printed document",
        ),
        Workload(
            name="json.gbnf",
            kind=WorkloadKind.GBNF,
            source=_bundled("json.gbnf"),
            valid_text=JSON_TEXT,
            invalid_text=JSON_INVALID,
            description="the same document under a character-level GBNF JSON grammar",
        ),
        Workload(
            name="arithmetic.lark",
            kind=WorkloadKind.LARK,
            source=_bundled("arithmetic.lark"),
            valid_text=ARITHMETIC_LARK_TEXT,
            invalid_text="max(a, b + 1) // 7 % * 3",
            description="precedence-climbing expressions with calls, CNAME variables, %ignore WS_INLINE",
        ),
        Workload(
            name="arithmetic.gbnf",
            kind=WorkloadKind.GBNF,
            source=_bundled("arithmetic.gbnf"),
            valid_text=ARITHMETIC_GBNF_TEXT,
            invalid_text="(12.5 + 3) * (4 - 2)) / 7",
        ),
        Workload(
            name="sql.lark",
            kind=WorkloadKind.LARK,
            source=_bundled("sql.lark"),
            valid_text=SQL_TEXT,
            invalid_text="SELECT T2.name ,  count(* FROM concert",
            description="SQLite SELECT dialect of the Spider benchmark (case-insensitive keywords)",
        ),
        Workload(
            name="python.lark",
            kind=WorkloadKind.LARK,
            source=_bundled("python.lark"),
            valid_text=PYTHON_TEXT,
            invalid_text=PYTHON_INVALID,
            description="indentation-aware Python statements (blocks indexed by depth, 4-space unit)",
        ),
    ]
