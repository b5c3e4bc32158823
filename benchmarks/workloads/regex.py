"""The regex suite: common real-world patterns plus a few that stress one compiler feature each.

Every pattern is matched in full (as all engines do for a constrained output).  Each workload
has a valid example (accepted, EOS allowed at its end) and an invalid one (refused at some token
or at EOS).  The inputs are deterministic, so every engine and every run sees the same bytes.
"""

from __future__ import annotations

import random

from benchmarks.workloads.base import Workload, WorkloadKind

ALTERNATION_WORD_COUNT = 200
ALTERNATION_SEED = 20261126

LONG_TEXT_LIMIT = 500

# ~400 characters: ASCII words, spaces, punctuation, accented Latin (2-byte UTF-8) and CJK
# (3-byte UTF-8), and no double quote.
LONG_VALID_TEXT = (
    "Le café du coin sert un thé vert très parfumé, et le patron répète à qui veut l'entendre que "
    "la recette vient de Hangzhou (杭州), où l'on cultive le Longjing 龙井茶 depuis des siècles. "
    "Numbers like 3.14159 and 2,718 sit beside symbols: #, %, &, *, +, /, <, =, >, @, [, ], ^, _, {, |, }, ~. "
    "Naïve façade, coöperate, résumé; 中文字符与标点混排：你好，世界！ Then plain ASCII again, "
    "with tabs\tand a few more words to reach the target length of roughly four hundred."
)

# Longer than the 500-character bound (and still free of double quotes): refused near the end.
LONG_INVALID_TEXT = LONG_VALID_TEXT + " " + "overflow " * 16


def alternation_words(count: int = ALTERNATION_WORD_COUNT, seed: int = ALTERNATION_SEED) -> list[str]:
    """``count`` distinct lowercase words (3-10 letters) drawn with a fixed seed, in draw order.

    Deterministic across Python versions: `random.Random` with an int seed and `choice`/`randint`
    are stable.
    """
    rng = random.Random(seed)
    alphabet = "abcdefghijklmnopqrstuvwxyz"
    words: list[str] = []
    seen: set[str] = set()
    while len(words) < count:
        word = "".join(rng.choice(alphabet) for _ in range(rng.randint(3, 10)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def _alternation_workload() -> Workload:
    words = alternation_words()
    # Invalid: a listed word with one more letter that keeps it out of the language and is not
    # a prefix of any listed word, so the refusal comes at a token, not only at EOS.
    valid = words[137]
    invalid = next(
        valid + letter
        for letter in "zqxjkvwyabcdefghilmnoprstu"
        if not any(w.startswith(valid + letter) for w in words)
    )
    return Workload(
        name="200-word alternation",
        kind=WorkloadKind.REGEX,
        source="(" + "|".join(words) + ")",
        valid_text=valid,
        invalid_text=invalid,
        description=f"{ALTERNATION_WORD_COUNT} random lowercase words, seed {ALTERNATION_SEED}",
    )


def workloads() -> list[Workload]:
    """The regex suite, in table order."""
    octet = r"(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
    return [
        Workload(
            name="email",
            kind=WorkloadKind.REGEX,
            source=r"[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}",
            valid_text="john.doe+news@mail.example-domain.co.uk",
            invalid_text="john.doe@example@domain.com",
        ),
        Workload(
            name="ISO date",
            kind=WorkloadKind.REGEX,
            source=r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])",
            valid_text="2024-02-29",
            invalid_text="2024-13-01",
        ),
        Workload(
            name="IPv4",
            kind=WorkloadKind.REGEX,
            source=rf"({octet}\.){{3}}{octet}",
            valid_text="192.168.10.254",
            invalid_text="192.168.300.1",
        ),
        Workload(
            name="float",
            kind=WorkloadKind.REGEX,
            source=r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?",
            valid_text="-12.375e+10",
            invalid_text="1.2.3",
        ),
        Workload(
            name="phone",
            kind=WorkloadKind.REGEX,
            source=r"\(\d{3}\) \d{3}-\d{4}",
            valid_text="(555) 123-4567",
            invalid_text="(555) 1234-567",
        ),
        Workload(
            name="(a|b)*c{3,10}",
            kind=WorkloadKind.REGEX,
            source=r"(a|b)*c{3,10}",
            valid_text="abbabaabccccc",
            invalid_text="abacccccccccccc",
            description="invalid example has 12 c's, over the bound of 10",
        ),
        _alternation_workload(),
        Workload(
            name='[^"]{0,500}',
            kind=WorkloadKind.REGEX,
            source=f'[^"]{{0,{LONG_TEXT_LIMIT}}}',
            valid_text=LONG_VALID_TEXT,
            invalid_text=LONG_INVALID_TEXT,
            description="~400-character text with non-ASCII; invalid example exceeds 500 characters",
        ),
    ]
