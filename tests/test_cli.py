"""The ``automask`` command line: exit codes, messages and the JSON report."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from automask.cli import main


def test_check_accepts_a_matching_text(capsys):
    assert main(["check", "--regex", r"\d+(\.\d+)?", "--tokenizer", "smollm2", "--text", "3.14"]) == 0
    assert "accepted" in capsys.readouterr().out


def test_check_refuses_a_token_and_says_where(capsys):
    assert main(["check", "--regex", r"\d+", "--tokenizer", "smollm2", "--text", "12a"]) == 1
    out = capsys.readouterr().out
    assert "refused at token" in out and "token not allowed" in out
    assert "'12'" in out  # the text so far
    assert "allowed continuations:" in out and "EOS" in out  # "12" is complete: EOS is a continuation


def test_check_refuses_eos_on_an_incomplete_text(capsys):
    assert main(["check", "--regex", r"\d{4}-\d{2}", "--tokenizer", "smollm2", "--text", "2024-1"]) == 1
    out = capsys.readouterr().out
    assert "EOS not allowed because the output is incomplete" in out and "'2024-1'" in out


def test_compile_json_reports_sizes_and_costs(capsys):
    assert main(["compile", "--regex", r"\d{4}-\d{2}-\d{2}", "--tokenizer", "smollm2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["vocab_size"] == 49152
    assert report["dfa_states"] >= 11  # at least one state per character of a date
    assert report["token_index_rows"] >= 1 and report["token_index_bytes"] > 0
    assert report["compile_ms"] > 0 and report["peak_memory_bytes"] > 0


def test_compile_human_output(capsys):
    assert main(["compile", "--regex", "(yes|no)", "--tokenizer", "smollm2"]) == 0
    out = capsys.readouterr().out
    assert "DFA states" in out and "token index" in out and "peak memory" in out


def test_automask_errors_exit_2_without_traceback(capsys):
    assert main(["check", "--regex", "(ab", "--tokenizer", "smollm2", "--text", "ab"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("automask: error:") and "Traceback" not in err


def test_unknown_tokenizer_is_a_clean_error(capsys):
    assert main(["compile", "--regex", "a", "--tokenizer", "no-such-vocabulary"]) == 2
    assert "automask: error:" in capsys.readouterr().err


def test_generate_streams_a_matching_answer_and_reports_speed(capsys):
    status = main(
        ["generate", "--regex", "(yes|no)", "Is water wet? Answer yes or no.", "--max-new-tokens", "4"]
    )
    captured = capsys.readouterr()
    assert status == 0
    assert re.fullmatch("(yes|no)", captured.out.strip())
    assert "tokens/s" in captured.err and "us/token" in captured.err


def test_python_dash_m_automask_runs_the_cli():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "automask",
            "check",
            "--regex",
            "[a-z]+",
            "--tokenizer",
            "smollm2",
            "--text",
            "Hi",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 1, result.stderr
    assert "refused at token 0" in result.stdout
