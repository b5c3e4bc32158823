"""The ``automask`` command line: exit codes, messages and the JSON report."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

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


PERSON = '{"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}, "required": ["name", "age"], "additionalProperties": false}'


def test_check_with_a_json_schema_accepts_valid_json_and_refuses_a_missing_property(capsys):
    assert (
        main(
            [
                "check",
                "--json-schema",
                PERSON,
                "--tokenizer",
                "smollm2",
                "--text",
                '{"name": "Ada", "age": 36}',
            ]
        )
        == 0
    )
    assert "accepted" in capsys.readouterr().out
    assert (
        main(["check", "--json-schema", PERSON, "--tokenizer", "smollm2", "--text", '{"name": "Ada"}']) == 1
    )
    out = capsys.readouterr().out
    # the token closing the string and the object is refused: "age" is still missing
    assert "refused at token" in out and 'after \'{"name": "Ada\'' in out


def test_json_schema_and_grammar_can_come_from_files(tmp_path, capsys):
    schema = tmp_path / "person.json"
    schema.write_text(PERSON, encoding="utf-8")
    assert (
        main(
            [
                "check",
                "--json-schema",
                str(schema),
                "--tokenizer",
                "smollm2",
                "--text",
                '{"name":"A","age":1}',
            ]
        )
        == 0
    )
    grammar = tmp_path / "yesno.txt"  # no suffix to go by: --syntax says GBNF
    grammar.write_text('root ::= "yes" | "no"\n', encoding="utf-8")
    args = ["check", "--grammar", str(grammar), "--syntax", "gbnf", "--tokenizer", "smollm2"]
    assert main([*args, "--text", "yes"]) == 0
    assert main([*args, "--text", "maybe"]) == 1
    capsys.readouterr()


def test_compile_a_bundled_grammar_reports_rules_and_a_lazy_index(capsys):
    assert main(["compile", "--grammar", "sql.lark", "--tokenizer", "smollm2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["constraint"] == "grammar sql.lark"
    assert report["grammar_rules"] > 50 and report["grammar_terminals"] > 20 and report["dfa_states"] > 0
    assert report["token_index_rows"] is None  # filled per lexer state while decoding
    assert main(["compile", "--grammar", "json.gbnf", "--tokenizer", "smollm2"]) == 0
    assert "built lazily" in capsys.readouterr().out


def test_bad_constraint_sources_are_clean_errors(capsys):
    cases = [
        ["--json-schema", '{"type": "object",}'],  # not JSON: where it breaks
        ["--json-schema", "no-such-schema.json"],
        ["--grammar", "no-such-grammar.lark"],
        ["--json-schema", '{"type": "object", "minProperties": "two"}'],  # malformed schema
    ]
    for constraint in cases:
        assert main(["check", *constraint, "--tokenizer", "smollm2", "--text", "{}"]) == 2, constraint
        err = capsys.readouterr().err
        assert err.startswith("automask: error:") and "Traceback" not in err, err
    assert (
        main(["check", "--json-schema", '{"type": "object",}', "--tokenizer", "smollm2", "--text", "{}"]) == 2
    )
    assert "line 1, column 19" in capsys.readouterr().err


def test_constraint_options_are_exclusive_and_required(capsys):
    with pytest.raises(SystemExit):
        main(["check", "--regex", "a", "--grammar", "json.lark", "--tokenizer", "smollm2", "--text", "a"])
    with pytest.raises(SystemExit):
        main(["check", "--tokenizer", "smollm2", "--text", "a"])
    capsys.readouterr()


def test_generate_with_a_json_schema_gives_valid_json(capsys):
    status = main(
        ["generate", "--json-schema", PERSON, "Describe a person as JSON.", "--max-new-tokens", "40"]
    )
    captured = capsys.readouterr()
    if status == 0:
        document = json.loads(captured.out)
        assert set(document) == {"name", "age"} and isinstance(document["age"], int)
    else:  # a tiny model may run out of tokens: then the output must still be a viable prefix
        assert status == 1 and "output incomplete" in captured.err
        assert captured.out.lstrip().startswith("{")
