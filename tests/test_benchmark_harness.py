"""Smoke tests of the benchmark harness plumbing (benchmarks/): walks, isolation, reports.

Behaviour only: no timing is asserted.  The end-to-end test runs automask alone on one tiny
regex workload with a small byte-level BPE tokenizer trained here, in a child process, exactly
as ``python -m benchmarks.run`` does.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

# `benchmarks` is a top-level folder of the repository, not part of the installed package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.engines import Engine, TokenizerSource, engine_class
from benchmarks.isolation import run_isolated
from benchmarks.report import aggregate, render_markdown
from benchmarks.run import main
from benchmarks.walk import WalkResult, bit_is_set, count_allowed, walk
from benchmarks.workloads import SUITES, Workload, WorkloadKind, suite_workloads
from benchmarks.workloads.regex import alternation_words

# -- a pure-Python engine for the regex (ab)+ over the vocabulary {0: "a", 1: "b", 2: "ab", 3: EOS}


class _AbEngine(Engine):
    """Accepts one or more "ab"; ``lying`` makes consume refuse what the mask allowed."""

    name = "ab"
    supported_kinds = frozenset({WorkloadKind.REGEX})
    token_text = {0: "a", 1: "b", 2: "ab"}
    eos = 3

    def __init__(self, lying: bool = False) -> None:
        self.lying = lying

    def version(self) -> str:
        return "0"

    def prepare(self, source: TokenizerSource, hf_tokenizer: Any | None) -> None:
        pass

    @property
    def vocab_size(self) -> int:
        return 4

    def compile(self, workload: Workload) -> Any:
        return "(ab)+"

    def new_matcher(self, handle: Any) -> list[str]:
        return [""]

    def _viable(self, text: str) -> bool:
        return re.fullmatch(r"(ab)*a?", text) is not None

    def fill_mask(self, matcher: list[str], bitmask: np.ndarray) -> None:
        bitmask[:] = 0
        for token, piece in self.token_text.items():
            if self._viable(matcher[0] + piece):
                bitmask[0, 0] |= 1 << token
        if re.fullmatch(r"(ab)+", matcher[0]):
            bitmask[0, 0] |= 1 << self.eos

    def consume(self, matcher: list[str], token_id: int) -> bool:
        if self.lying:
            return False
        matcher[0] += self.token_text[token_id]
        return True

    def is_accepting(self, matcher: list[str]) -> bool:
        return re.fullmatch(r"(ab)+", matcher[0]) is not None


def test_walk_accepts_valid_example_and_times_every_mask_including_eos():
    result = walk(_AbEngine(), None, [2, 0, 1], eos_id=3, special_ids=[])
    assert result.accepted and result.refused_at is None
    assert result.accepting_at_end is True
    assert len(result.mask_ns) == 4 and len(result.consume_ns) == 3
    assert result.allowed_counts == [2, 3, 1, 3]  # EOS is not in special_ids here, so it counts


def test_walk_reports_the_refused_token_of_an_invalid_example():
    result = walk(_AbEngine(), None, [2, 1, 0], eos_id=3)
    assert not result.accepted and result.refused_at == 1
    assert result.summary()["refused_eos_only"] is False


def test_walk_reports_eos_refused_at_the_end():
    result = walk(_AbEngine(), None, [2, 0], eos_id=3)
    assert result.refused_at == 2 and result.summary()["refused_eos_only"] is True


def test_walk_flags_a_consume_that_contradicts_the_mask():
    result = walk(_AbEngine(lying=True), None, [2], eos_id=3)
    assert result.consume_disagreed and result.refused_at == 0


def test_count_allowed_separates_special_tokens():
    bitmask = np.zeros((1, 2), dtype=np.int32)
    for token in (0, 5, 33, 40):
        bitmask[0, token >> 5] |= np.int32(1 << (token & 31))
    no_stops = np.array([], dtype=np.int64)
    assert count_allowed(bitmask, 41, np.array([33, 34]), no_stops) == (3, 1)
    assert count_allowed(bitmask, 41, np.array([33, 34]), np.array([33])) == (3, 0)  # 33 is a stop token
    assert count_allowed(bitmask, 40, np.array([33]), no_stops) == (2, 1)  # bit 40 is past the vocabulary
    assert bit_is_set(bitmask, 33) and not bit_is_set(bitmask, 34) and not bit_is_set(bitmask, 9999)


def test_regex_suite_examples_match_their_patterns():
    workloads = suite_workloads("regex")
    assert len({w.name for w in workloads}) == len(workloads) >= 8
    for w in workloads:
        assert w.kind is WorkloadKind.REGEX
        assert re.fullmatch(w.source, w.valid_text), w.name
        assert not re.fullmatch(w.source, w.invalid_text), w.name
    assert alternation_words() == alternation_words()  # fixed seed
    assert len(set(alternation_words())) == 200
    assert "regex" in SUITES
    with pytest.raises(ValueError, match="known suites"):
        suite_workloads("no-such-suite")


def test_cfg_suite_examples_are_in_and_out_of_their_languages():
    """Each grammar workload's valid text is accepted and its invalid one refused (lark's Earley
    with character-level terminals, the IR's semantics)."""
    import lark

    workloads = suite_workloads("cfg")
    assert {"json.lark", "sql.lark", "python.lark"} <= {w.name for w in workloads}
    for w in workloads:
        if w.kind is not WorkloadKind.LARK:
            continue
        parser = lark.Lark(w.source, parser="earley", lexer="dynamic_complete")
        parser.parse(w.valid_text)
        with pytest.raises(lark.exceptions.LarkError):
            parser.parse(w.invalid_text)


def test_missing_peer_package_is_reported_not_raised():
    class _Missing(_AbEngine):
        requires = ("automask_benchmark_no_such_module",)

    assert _Missing.missing_requirements() == ["automask_benchmark_no_such_module"]
    assert engine_class("automask").missing_requirements() == []
    with pytest.raises(ValueError, match="known engines"):
        engine_class("no-such-engine")


def _summary(**overrides: Any) -> dict[str, Any]:
    run = {
        "status": "ok",
        "version": "1",
        "compile_ms": 10.0,
        "compile_again_ms": 5.0,
        "first_mask_us": 50.0,
        "mask_us": {"p50": 4.0, "p99": 40.0, "max": 60.0},
        "consume_us": {"p50": 1.0},
        "peak_rss_mb": 500.0,
        "prepare_s": 0.5,
        "allowed_counts": [10, 3],
        "valid_refused": False,
        "invalid_accepted": False,
    }
    return aggregate([run | overrides])


def test_markdown_has_side_by_side_cells_flags_ratios_and_failures():
    workload = suite_workloads("regex")[0]
    summaries = {
        workload.name: {
            "automask": _summary(compile_ms=5.0, mask_us={"p50": 2.0, "p99": 20.0, "max": 30.0}),
            "xgrammar": _summary(invalid_accepted=True, allowed_counts=[11, 3]),
            "llguidance": aggregate([{"status": "not installed"}]),
            "outlines-core": aggregate([{"status": "timeout", "error": "no result after 1 s"}]),
        }
    }
    text = render_markdown(
        title="t",
        meta={"k": "v"},
        workloads=[workload],
        engines=list(summaries[workload.name]),
        summaries=summaries,
    )
    assert "| regex: email | 5.0·2.0·20 | 10·4.0·40 I! | not installed | timeout |" in text
    assert "0.5×·0.5×·0.5×" in text
    assert "first difference at step 0: automask 10, xgrammar 11" in text
    assert "outlines-core: timeout: no result after 1 s" in text


def test_a_worker_past_its_time_limit_is_killed_and_reported():
    spec = {"engine": "automask", "workload": "ISO date", "suite": "regex"}
    result = run_isolated(spec, timeout_s=0.01, memory_limit_mb=1e6)
    assert result["status"] == "timeout"


@pytest.fixture(scope="module")
def tiny_tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A byte-level BPE tokenizer (~300 ids) trained on dates, saved as a Hugging Face folder."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=320, special_tokens=["<eos>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator(["2024-02-29 2023-11-05 1999-12-31 2024-13-01"] * 20, trainer)
    folder = tmp_path_factory.mktemp("tiny-tokenizer")
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<eos>").save_pretrained(folder)
    return folder


def test_end_to_end_run_of_automask_on_a_tiny_workload(tiny_tokenizer_dir: Path, tmp_path: Path, capsys):
    argv = ["--suite", "regex", "--tokenizer", "tiny", "--tokenizer-path", str(tiny_tokenizer_dir)]
    argv += ["--engines", "automask", "--workloads", "ISO date", "--reps", "2", "--output-dir", str(tmp_path)]
    assert main(argv) == 0
    assert "| regex: ISO date |" in capsys.readouterr().out
    document = json.loads((tmp_path / "regex-tiny.json").read_text())
    (result,) = document["raw"]
    assert result["status"] == "ok", result.get("error")
    assert result["valid"]["accepted"] and not result["valid_refused"]
    assert not result["invalid"]["accepted"] and not result["invalid_accepted"]
    steps = result["valid"]["tokens"] + 1  # every token's mask plus the EOS mask
    assert result["mask_us"]["n"] == len(result["mask_samples_us"]) == 2 * steps
    assert len(result["allowed_counts"]) == steps and result["special_allowed"] == 0
    assert (tmp_path / "regex-tiny.md").read_text().startswith("# regex suite, tiny tokenizer")


def test_walk_result_summary_is_json_serialisable():
    assert json.loads(json.dumps(WalkResult(num_tokens=0).summary()))["accepted"] is True


# -- MaskBench (benchmarks/maskbench.py): the side-by-side JSON-Schema harness


def test_maskbench_sample_is_deterministic_and_unfiltered():
    from benchmarks.maskbench import select_rows, serialise_instance

    rows = [{"id": str(i)} for i in range(10)]
    assert [r["id"] for r in select_rows(rows, count=3, every=None)] == ["0", "3", "6"]
    assert [r["id"] for r in select_rows(rows, count=None, every=4, offset=1)] == ["1", "5", "9"]
    assert len(select_rows(rows, count=None, every=None)) == 10
    assert serialise_instance({"a": [1, "é"]}) == '{"a": [1, "é"]}'  # MaskBench's separators, non-ASCII kept


def test_maskbench_judges_validation_and_invalidation_errors():
    from benchmarks.maskbench_report import judge

    def record(*tests: tuple[bool, bool]) -> dict[str, Any]:
        return {"status": "ok", "tests": [{"valid": v, "accepted": a} for v, a in tests]}

    assert judge(record((True, True), (False, False)))["passing"]
    refused = judge(record((True, False), (False, False)))
    assert not refused["passing"] and refused["validation_errors"] == 1
    accepted = judge(record((True, True), (False, True)))
    assert not accepted["passing"] and accepted["invalidation_errors"] == 1
    assert judge({"status": "timeout"})["compile_error"] == "timeout"
    assert (
        judge({"status": "compile error", "error_kind": "UnsupportedFeature"})["compile_error"]
        == "UnsupportedFeature"
    )


def test_persistent_worker_kills_a_request_past_its_limit_and_restarts(tmp_path: Path):
    from benchmarks.isolation import PersistentWorker

    script = (
        "import json, sys, time\n"
        "print(json.dumps({'status': 'ready'}), flush=True)\n"
        "for line in sys.stdin:\n"
        "    request = json.loads(line)\n"
        "    time.sleep(request['sleep'])\n"
        "    print(json.dumps({'status': 'ok', 'echo': request['n']}), flush=True)\n"
    )
    worker = PersistentWorker([sys.executable, "-c", script], memory_limit_mb=1e6, log_path=tmp_path / "log")
    try:
        assert worker.request({"n": 1, "sleep": 0}, timeout_s=60, start_timeout_s=60)["echo"] == 1
        assert worker.request({"n": 2, "sleep": 60}, timeout_s=0.2, start_timeout_s=60)["status"] == "timeout"
        assert worker.request({"n": 3, "sleep": 0}, timeout_s=60, start_timeout_s=60)["echo"] == 3
        assert worker.restarts == 1
    finally:
        worker.close()


def test_maskbench_end_to_end_automask_and_llguidance(tiny_tokenizer_dir: Path, tmp_path: Path, capsys):
    pytest.importorskip("llguidance", reason="the peer llguidance is an optional benchmark dependency")
    from benchmarks.maskbench import main as maskbench_main

    schemas = [
        (
            {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
            [({"a": 12}, True), ({"a": "x"}, False), ({}, False)],
        ),
        ({"type": "string", "maxLength": 3}, [("ab", True), ("abcd", False)]),
        ({"enum": ["red", "green"]}, [("green", True), ("blue", False)]),
    ]
    data = tmp_path / "maskbench.jsonl"
    data.write_text(
        "\n".join(
            json.dumps(
                {
                    "id": f"s{i}",
                    "subset": "tiny",
                    "schema": schema,
                    "tests": [{"description": "", "data": d, "valid": v} for d, v in tests],
                }
            )
            for i, (schema, tests) in enumerate(schemas)
        )
    )
    argv = ["--data", str(data), "--tokenizer", "tiny", "--tokenizer-path", str(tiny_tokenizer_dir)]
    argv += ["--engines", "automask,llguidance", "--output-dir", str(tmp_path), "--timeout", "120"]
    assert maskbench_main(argv) == 0
    assert "| schemas passing (of 3) | 3 | 3 |" in capsys.readouterr().out
    document = json.loads((tmp_path / "maskbench-tiny.json").read_text())
    assert document["sample"]["schemas"] == 3 and document["sample"]["instances"] == 7
    for engine in ("automask", "llguidance"):
        summary = document["summaries"][engine]
        assert summary["schemas"] == 3 and summary["passing"] == 3, document["errors"]
        assert summary["compile_errors"] == 0
        assert summary["validation_errors"] == summary["invalidation_errors"] == 0
        assert summary["masks"] >= 3 + 1  # at least the valid instances' tokens plus their EOS masks
        assert summary["ttfm_us"]["p50"] > 0 and summary["mask_us"]["p50"] > 0
        tests = [t for r in document["records"][engine] for t in r["tests"]]
        assert [(valid, accepted) for valid, accepted, *_ in tests] == [
            (True, True),
            (False, False),
            (False, False),
            (True, True),
            (False, False),
            (True, True),
            (False, False),
        ]
        assert summary["common"]["schemas"] == 3 and summary["common"]["masks"] == summary["masks"]
    assert document["ratios"]["llguidance"]["mask_p50"] == 1.0
    assert document["by_subset"] == {"tiny": {"schemas": 3, "automask": 3, "llguidance": 3}}
    assert (tmp_path / "maskbench-tiny.md").read_text().startswith("# MaskBench side by side, tiny tokenizer")
