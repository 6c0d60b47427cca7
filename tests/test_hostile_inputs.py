"""Hostile but realistic input: every case exits 2 with one line naming the culprit, no traceback,
before any work; legitimate oddities (CRLF, a BOM, duplicate questions) still run.

Cases are data: files to write, the command line, and the words the error line must contain.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sqlite3
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from promptkit.cli import main
from promptkit.engines.model_files import folder_digest

GOOD_GSM8K = json.dumps({"question": "Ann has 2 apples and buys 3. How many?", "answer": "2 + 3 = 5\n#### 5"}) + "\n"
GOOD_LL = json.dumps({"examples": [{"question": 'Take the last letters of each words in "Ada Bob" and concatenate them.',
                                    "answer": "ab"}]})  # fmt: skip
GOOD_REPLAY = json.dumps({"prompt": "x", "completions": [" 5"]}) + "\n"
GOOD_EXEMPLARS = json.dumps({"exemplars": [{"question": "q?", "rationale": "r.", "answer": "1"}]})
DEEP = "[" * 100_000 + "]" * 100_000


def gsm8k_line(**row) -> str:
    return json.dumps(row) + "\n"


def ll(examples) -> str:
    return json.dumps({"examples": examples})


EVAL_GSM8K = ["eval", "--task", "gsm8k", "--method", "direct", "--engine", "replay", "--replay", "{d}/r.jsonl"]
EVAL_LL = ["eval", "--task", "last_letters", "--method", "direct", "--engine", "replay", "--replay", "{d}/r.jsonl"]
BASE_SPEC = "task: {{name: gsm8k, data: g.jsonl}}\nengine: {{kind: replay, path: r.jsonl}}\n{rest}"

# (id, files {name: text or bytes}, argv, words the error line must contain)
CASES: list[tuple[str, dict, list[str], list[str]]] = []


def case(name, files, argv, *words):
    CASES.append((name, files, argv, list(words)))


# --- data files: GSM8K JSONL --------------------------------------------------------------------
for name, content, words in [
    ("gsm8k-not-utf8", b'{"question": "caf\xe9", "answer": "#### 1"}\n', ["bad.jsonl:1", "not UTF-8"]),
    ("gsm8k-not-utf8-line-3", GOOD_GSM8K.encode() * 2 + b"\xff\xfe\n", ["bad.jsonl:3", "not UTF-8"]),
    ("gsm8k-binary", b"\x00\x01\x02binary", ["bad.jsonl", "binary"]),
    ("gsm8k-deep-json", DEEP, ["bad.jsonl:1", "nested too deeply"]),
    ("gsm8k-malformed", '{"question": "q", "answer": \n', ["bad.jsonl:1", "malformed JSON"]),
    ("gsm8k-array-line", "[1, 2]\n", ["bad.jsonl:1", "expected a JSON object"]),
    ("gsm8k-string-line", '"just text"\n', ["bad.jsonl:1", "expected a JSON object"]),
    (
        "gsm8k-question-number",
        gsm8k_line(question=7, answer="#### 1"),
        ["bad.jsonl:1", "'question' must be a string", "int"],
    ),
    ("gsm8k-question-null", gsm8k_line(question=None, answer="#### 1"), ["bad.jsonl:1", "'question'", "null"]),
    ("gsm8k-question-object", gsm8k_line(question={"a": 1}, answer="#### 1"), ["bad.jsonl:1", "'question'", "dict"]),
    ("gsm8k-question-list", gsm8k_line(question=["q"], answer="#### 1"), ["bad.jsonl:1", "'question'", "list"]),
    ("gsm8k-question-empty", gsm8k_line(question="  ", answer="#### 1"), ["bad.jsonl:1", "'question' is empty"]),
    ("gsm8k-question-missing", gsm8k_line(answer="#### 1"), ["bad.jsonl:1", "'question'", "missing"]),
    ("gsm8k-answer-number", gsm8k_line(question="q", answer=5), ["bad.jsonl:1", "'answer' must be a string"]),
    ("gsm8k-answer-null", gsm8k_line(question="q", answer=None), ["bad.jsonl:1", "'answer'", "null"]),
    ("gsm8k-answer-missing", gsm8k_line(question="q"), ["bad.jsonl:1", "'answer'", "missing"]),
    (
        "gsm8k-no-hashes",
        gsm8k_line(question="q", answer="the answer is 5"),
        ["bad.jsonl:1", "'the answer is 5' is not a number"],
    ),
    ("gsm8k-empty-gold", gsm8k_line(question="q", answer="2 + 3\n#### "), ["bad.jsonl:1", "gold answer", "empty"]),
    ("gsm8k-blank-gold", gsm8k_line(question="q", answer="2 + 3\n####    \n"), ["bad.jsonl:1"]),
    ("gsm8k-second-line-bad", GOOD_GSM8K + gsm8k_line(question="q", answer=3), ["bad.jsonl:2", "'answer'"]),
    ("gsm8k-empty-file", "", ["--data", "bad.jsonl", "empty"]),
    ("gsm8k-blank-lines", "\n\n  \n", ["bad.jsonl", "no examples"]),
]:
    case(name, {"bad.jsonl": content, "r.jsonl": GOOD_REPLAY}, [*EVAL_GSM8K, "--data", "{d}/bad.jsonl"], *words)
case(
    "gsm8k-data-missing", {"r.jsonl": GOOD_REPLAY}, [*EVAL_GSM8K, "--data", "{d}/nope.jsonl"], "nope.jsonl", "not found"
)
# A CSV a million columns wide: one line, read in seconds, whether the header or a row is the wide one.
WIDE = 1_000_000
case("csv-million-columns", {"bad.csv": ",".join(f"c{i}" for i in range(WIDE)) + "\n" + "1," * (WIDE - 1) + "1\n",
                             "r.jsonl": GOOD_REPLAY}, [*EVAL_GSM8K, "--data", "{d}/bad.csv"], "bad.csv:2", "'answer'")  # fmt: skip
case("csv-million-cells", {"bad.csv": "question,answer\n" + "q," * (WIDE - 1) + "1\n", "r.jsonl": GOOD_REPLAY},
     [*EVAL_GSM8K, "--data", "{d}/bad.csv"], "bad.csv:2", "more cells than the header's 2")  # fmt: skip
case("gsm8k-data-is-folder", {"r.jsonl": GOOD_REPLAY, "sub/x": "x"}, [*EVAL_GSM8K, "--data", "{d}/sub/x/.."], "sub")

# --- data files: last letters JSON --------------------------------------------------------------
for name, content, words in [
    ("ll-not-utf8", b'{"examples": [{"question": "\xe9", "answer": "a"}]}', ["bad.json:1", "not UTF-8"]),
    ("ll-binary", b"\x00" * 10, ["bad.json", "binary"]),
    ("ll-deep", DEEP, ["bad.json", "nested too deeply"]),
    ("ll-malformed", '{"examples": [', ["bad.json", "malformed JSON"]),
    ("ll-list-top", "[]", ["bad.json", "'examples' list"]),
    ("ll-no-examples-key", "{}", ["bad.json", "'examples' list"]),
    ("ll-examples-not-list", '{"examples": {"a": 1}}', ["bad.json", "examples", "expected a list of records"]),
    ("ll-empty", ll([]), ["bad.json", "no examples"]),
    ("ll-row-string", ll(["q"]), ["bad.json", "examples[0]", "str"]),
    ("ll-question-number", ll([{"question": 3, "answer": "a"}]), ["examples[0]", "'question'", "int"]),
    ("ll-answer-number", ll([{"question": "q", "answer": 3}]), ["examples[0]", "'answer'", "int"]),
    ("ll-answer-null", ll([{"question": "q", "answer": None}]), ["examples[0]", "'answer'", "null"]),
    ("ll-answer-empty", ll([{"question": "q", "answer": ""}]), ["examples[0]", "'answer' is empty"]),
    ("ll-answer-object", ll([{"question": "q", "answer": {}}]), ["examples[0]", "'answer'", "dict"]),
    (
        "ll-second-bad",
        ll([{"question": "q", "answer": "a"}, {"question": None, "answer": "a"}]),
        ["examples[1]", "null"],
    ),
]:
    case(name, {"bad.json": content, "r.jsonl": GOOD_REPLAY}, [*EVAL_LL, "--data", "{d}/bad.json"], *words)

# --- replay recordings --------------------------------------------------------------------------
for name, content, words in [
    ("replay-prompt-number", json.dumps({"prompt": 3, "completions": ["a"]}), ["r.jsonl:1", "'prompt'"]),
    ("replay-prompt-null", json.dumps({"prompt": None, "completions": ["a"]}), ["r.jsonl:1", "'prompt'"]),
    ("replay-prompt-object", json.dumps({"prompt": {"a": 1}, "completions": ["a"]}), ["r.jsonl:1", "'prompt'"]),
    (
        "replay-prompt-bad-messages",
        json.dumps({"prompt": [{"role": 1}], "completions": ["a"]}),
        ["r.jsonl:1", "'prompt'"],
    ),
    ("replay-completions-string", json.dumps({"prompt": "p", "completions": "a"}), ["r.jsonl:1", "'completions'"]),
    ("replay-completions-numbers", json.dumps({"prompt": "p", "completions": [1, 2]}), ["r.jsonl:1", "'completions'"]),
    ("replay-completions-null", json.dumps({"prompt": "p", "completions": None}), ["r.jsonl:1", "'completions'"]),
    ("replay-completions-missing", json.dumps({"prompt": "p"}), ["r.jsonl:1", "'completions'"]),
    ("replay-binary", b"\x00\x00", ["r.jsonl", "binary"]),
    ("replay-not-utf8", b'{"prompt": "\xff", "completions": []}', ["r.jsonl:1", "not UTF-8"]),
    ("replay-deep", DEEP, ["r.jsonl:1", "nested too deeply"]),
    ("replay-malformed", "{", ["r.jsonl:1", "malformed JSON"]),
]:
    case(name, {"g.jsonl": GOOD_GSM8K, "r.jsonl": content}, [*EVAL_GSM8K, "--data", "{d}/g.jsonl"], *words)

# --- demonstration pools and exemplars ----------------------------------------------------------
FEW_SHOT = ["eval", "--task", "gsm8k", "--method", "few_shot", "--data", "{d}/g.jsonl", "--engine", "replay",
            "--replay", "{d}/r.jsonl", "--pool", "{d}/pool.json"]  # fmt: skip
for name, content, words in [
    ("exemplars-empty", json.dumps({"exemplars": []}), ["pool.json", "no exemplars"]),
    ("exemplars-row-string", json.dumps({"exemplars": ["q"]}), ["pool.json", "exemplars[0]"]),
    (
        "exemplars-question-number",
        json.dumps({"exemplars": [{"question": 1, "answer": "1"}]}),
        ["exemplars[0]", "'question'"],
    ),
    (
        "exemplars-answer-number",
        json.dumps({"exemplars": [{"question": "q", "answer": 1}]}),
        ["exemplars[0]", "'answer'"],
    ),
    (
        "exemplars-rationale-list",
        json.dumps({"exemplars": [{"question": "q", "rationale": [], "answer": "1"}]}),
        ["'rationale'"],
    ),
    ("exemplars-not-utf8", b'{"exemplars": [{"question": "\xff"}]}', ["pool.json:1", "not UTF-8"]),
    ("pool-shots-too-many", GOOD_EXEMPLARS, ["k=8", "pool holds 1"]),
]:
    argv = [*FEW_SHOT, "--shots", "8"] if name == "pool-shots-too-many" else FEW_SHOT
    case(name, {"g.jsonl": GOOD_GSM8K, "r.jsonl": GOOD_REPLAY, "pool.json": content}, argv, *words)

# --- spec files ---------------------------------------------------------------------------------
SPEC_FILES = {"g.jsonl": GOOD_GSM8K, "r.jsonl": GOOD_REPLAY}
for name, text, words in [
    ("spec-duplicate-top-key", "task: {name: gsm8k}\ntask: {name: gsm8k}\n", ["spec.yaml:2", "duplicate key 'task'"]),
    (
        "spec-duplicate-nested-key",
        BASE_SPEC.format(rest="method: {name: direct, name: few_shot}\n"),
        ["duplicate key 'name'"],
    ),
    ("spec-yaml-syntax", "task: [\n", ["spec.yaml", "YAML syntax error"]),
    ("spec-a-list", "- 1\n- 2\n", ["spec.yaml", "a YAML mapping"]),
    ("spec-a-scalar", "hello\n", ["spec.yaml", "a YAML mapping"]),
    ("spec-empty", "", ["spec.yaml", "empty"]),
    ("spec-binary", b"\x00\x01task", ["spec.yaml", "binary"]),
    ("spec-not-utf8", b"task: {name: caf\xe9}\n", ["spec.yaml:1", "not UTF-8"]),
    ("spec-deep", "a: " + DEEP, ["spec.yaml", "nested too deeply"]),
    ("spec-unknown-field", BASE_SPEC.format(rest="method: {name: direct}\ncolour: red\n"), ["colour", "unknown field"]),
    ("spec-unknown-method-field", BASE_SPEC.format(rest="method: {name: direct, shotz: 2}\n"), ["method.shotz"]),
    ("spec-method-and-pipeline", BASE_SPEC.format(rest="method: {name: direct}\npipeline: []\n"), ["exactly one of"]),
    ("spec-neither", BASE_SPEC.format(rest=""), ["exactly one of"]),
    ("spec-unknown-method", BASE_SPEC.format(rest="method: {name: telepathy}\n"), ["unknown method 'telepathy'"]),
    (
        "spec-unknown-engine",
        "task: {name: gsm8k}\nengine: {kind: gpt5}\nmethod: {name: direct}\n",
        ["unknown engine 'gpt5'"],
    ),
    (
        "spec-unknown-stage",
        BASE_SPEC.format(rest="pipeline:\n  - {kind: think}\n"),
        ["pipeline.0", "unknown kind 'think'"],
    ),
    ("spec-empty-pipeline", BASE_SPEC.format(rest="pipeline: []\n"), ["calls no model"]),
    (
        "spec-no-model-call",
        BASE_SPEC.format(rest="pipeline:\n  - {kind: extract, source: question}\n"),
        ["calls no model"],
    ),
    (
        "spec-no-scoring",
        BASE_SPEC.format(rest="pipeline:\n  - {kind: generate, template: direct}\n"),
        ["'prediction'"],
    ),
    (
        "spec-source-typo",
        BASE_SPEC.format(
            rest="pipeline:\n  - {kind: generate, template: direct}\n  - {kind: extract, source: answr}\n"
        ),
        ["pipeline.1", "'answr'", "answer"],
    ),
    (
        "spec-output-typo",
        BASE_SPEC.format(
            rest="pipeline:\n  - {kind: generate, template: direct, output: answr}\n  - {kind: extract}\n"
        ),
        ["pipeline.1", "'answer'", "answr"],
    ),
    (
        "spec-duplicate-stage-names",
        BASE_SPEC.format(
            rest="pipeline:\n  - {kind: generate, template: direct}\n"
            "  - {kind: generate, template: direct}\n"
            "  - {kind: extract}\n"
        ),
        ["stage name 'answer'"],
    ),
    (
        "spec-two-splits",
        BASE_SPEC.format(
            rest="pipeline:\n  - {kind: generate, template: direct, n: 2, name: a, output: a}\n"
            "  - {kind: generate, template: direct, n: 2}\n  - {kind: extract}\n"
        ),
        ["only one stage may draw"],
    ),
    (
        "spec-max-tokens-zero",
        BASE_SPEC.format(rest="method: {name: direct, max_tokens: {answer: 0}}\n"),
        ["method.max_tokens.answer"],
    ),
    (
        "spec-max-tokens-stage-typo",
        BASE_SPEC.format(rest="method: {name: zero_shot_cot, max_tokens: {reasoning: 9}}\n"),
        ["no stage 'reasoning'", "reason, answer"],
    ),
    (
        "spec-templates-stage-typo",
        BASE_SPEC.format(rest="method: {name: direct, templates: {anser: x}}\n"),
        ["no stage 'anser'"],
    ),
    ("spec-shots-negative", BASE_SPEC.format(rest="method: {name: few_shot, shots: -1}\n"), ["method.shots"]),
    ("spec-shots-too-many", BASE_SPEC.format(rest="method: {name: few_shot, shots: 99}\n"), ["k=99", "pool holds 8"]),
    (
        "spec-k-too-many",
        BASE_SPEC.format(
            rest="pipeline:\n  - {kind: select_demos, k: 50}\n  - {kind: generate, template: few_shot}\n"
            "  - {kind: extract}\n"
        ),
        ["k=50", "pool holds 8"],
    ),
    (
        "spec-limit-string",
        "task: {name: gsm8k, data: g.jsonl, limit: lots}\nengine: {kind: replay, path: r.jsonl}\n"
        "method: {name: direct}\n",
        ["task.limit"],
    ),
    (
        "spec-limit-zero",
        "task: {name: gsm8k, data: g.jsonl, limit: 0}\nengine: {kind: replay, path: r.jsonl}\nmethod: {name: direct}\n",
        ["task.limit"],
    ),
    (
        "spec-temperature-negative",
        BASE_SPEC.format(rest="method: {name: direct, temperature: -1}\n"),
        ["method.temperature"],
    ),
    (
        "spec-temperature-nan",
        BASE_SPEC.format(rest="method: {name: direct, temperature: .nan}\n"),
        ["method.temperature", "finite"],
    ),
    (
        "spec-temperature-inf",
        BASE_SPEC.format(rest="method: {name: direct, temperature: .inf}\n"),
        ["method.temperature", "finite"],
    ),
    (
        "spec-top-p",
        BASE_SPEC.format(rest="pipeline:\n  - {kind: generate, template: direct, top_p: 2}\n  - {kind: extract}\n"),
        ["pipeline.0.top_p"],
    ),
    (
        "spec-n-zero",
        BASE_SPEC.format(rest="pipeline:\n  - {kind: generate, template: direct, n: 0}\n  - {kind: extract}\n"),
        ["pipeline.0.n"],
    ),
    (
        "spec-seed-huge",
        BASE_SPEC.format(rest="method: {name: direct, seed: 99999999999999999999999}\n"),
        ["method.seed"],
    ),
    ("spec-seed-negative", BASE_SPEC.format(rest="method: {name: direct, seed: -5}\n"), ["method.seed"]),
    (
        "spec-device",
        "task: {name: gsm8k, data: g.jsonl}\nengine: {kind: hf, device: tpu}\nmethod: {name: direct}\n",
        ["engine.device"],
    ),
    ("spec-samples-zero", BASE_SPEC.format(rest="method: {name: direct, samples: 0}\n"), ["method.samples"]),
    # Calibration options: no content-free input, a class scored by no word, a calibration that does not exist.
    (
        "spec-content-free-empty",
        BASE_SPEC.format(
            rest="pipeline:\n  - {kind: score_classes, template: classification/zhao, content_free: []}\n"
        ),
        ["pipeline.0.content_free", "at least 1 item"],
    ),
    (
        "spec-class-without-words",
        BASE_SPEC.format(
            rest="pipeline:\n  - {kind: score_classes, template: classification/zhao, words: {Positive: []}}\n"
        ),
        ["pipeline.0.words", "'Positive' needs at least one non-empty word"],
    ),
    (
        "spec-calibrate-unknown",
        BASE_SPEC.format(
            rest="pipeline:\n  - {kind: score_classes, template: classification/zhao, calibrate: sometimes}\n"
        ),
        ["pipeline.0.calibrate"],
    ),
    (
        "spec-unknown-extractor",
        BASE_SPEC.format(rest="method: {name: direct}\nextractor: psychic\n"),
        ["unknown extractor 'psychic'"],
    ),
    (
        "spec-unknown-parser",
        BASE_SPEC.format(
            rest="pipeline:\n  - {kind: decompose, template: gsm8k/l2m_decompose, parser: x}\n"
            "  - {kind: solve, template: gsm8k/l2m_solve}\n  - {kind: extract}\n"
        ),
        ["unknown decomposition parser 'x'"],
    ),
    (
        "spec-undefined-variable",
        BASE_SPEC.format(rest="pipeline:\n  - {kind: generate, template: t.j2}\n  - {kind: extract}\n"),
        ["t.j2", "reads 'questoin'"],
    ),
]:
    files = {**SPEC_FILES, "spec.yaml": text, "t.j2": "Q: {{ questoin }}"}
    case(name, files, ["run", "{d}/spec.yaml", "--quiet"], *words)

# --- specs are untrusted: what they may read and send ---------------------------------------------
OUTSIDE = {"outside/g.jsonl": GOOD_GSM8K, "outside/r.jsonl": GOOD_REPLAY, "outside/t.j2": "{{ question }}",
           "outside/secret.txt": "secret", "outside/pool.json": GOOD_EXEMPLARS}  # fmt: skip
for name, text, words in [
    (
        "sandbox-template-dirs-root",
        BASE_SPEC.format(rest="method: {name: direct}\ntemplate_dirs: ['/']\n"),
        ["template_dirs.0", "outside"],
    ),
    (
        "sandbox-template-dirs-up",
        BASE_SPEC.format(rest="method: {name: direct}\ntemplate_dirs: ['..']\n"),
        ["template_dirs.0", "outside"],
    ),
    (
        "sandbox-data-absolute",
        "task: {name: gsm8k, data: /etc/hostname}\nengine: {kind: replay, path: r.jsonl}\nmethod: {name: direct}\n",
        ["task.data", "/etc/hostname", "outside"],
    ),
    (
        "sandbox-data-dotdot",
        "task: {name: gsm8k, data: ../outside/g.jsonl}\nengine: {kind: replay, path: r.jsonl}\n"
        "method: {name: direct}\n",
        ["task.data", "outside"],
    ),
    (
        "sandbox-replay-outside",
        "task: {name: gsm8k, data: g.jsonl}\nengine: {kind: replay, path: /etc/hostname}\nmethod: {name: direct}\n",
        ["engine.path", "outside"],
    ),
    (
        "sandbox-template-file-outside",
        BASE_SPEC.format(rest="method: {name: direct, templates: {answer: ../outside/t.j2}}\n"),
        ["pipeline.0.template", "outside"],
    ),
    (
        "sandbox-template-absolute",
        BASE_SPEC.format(rest="pipeline:\n  - {kind: generate, template: /etc/hostname.j2}\n  - {kind: extract}\n"),
        ["pipeline.0.template", "outside"],
    ),
    (
        "sandbox-pool-outside",
        BASE_SPEC.format(rest="method: {name: few_shot, pool: ../outside/pool.json}\n"),
        ["pipeline.0.pool", "outside"],
    ),
    (
        "sandbox-include-escape",
        BASE_SPEC.format(rest="pipeline:\n  - {kind: generate, template: inc.j2}\n  - {kind: extract}\n"),
        ["inc.j2", "not found"],
    ),
    (
        "sandbox-api-key-env",
        "task: {name: gsm8k, data: g.jsonl}\nengine: {kind: openai, model: m, api_key_env: HOME}\n"
        "method: {name: direct}\n",
        ["engine.api_key_env", "'HOME'", "_API_KEY"],
    ),
    (
        "sandbox-render-too-big",
        BASE_SPEC.format(rest="pipeline:\n  - {kind: generate, template: big.j2}\n  - {kind: extract}\n"),
        ["big.j2", "1,000,000 characters"],
    ),
]:
    files = {**SPEC_FILES, **{f"../{k}": v for k, v in OUTSIDE.items()}, "spec.yaml": text,
             "inc.j2": '{% include "../outside/secret.txt" %}', "big.j2": "{% for i in range(99999) %}{{ question }}{% endfor %}"}  # fmt: skip
    case(name, files, ["run", "{d}/spec.yaml", "--quiet", "--no-cache"], *words)

# --- flags --------------------------------------------------------------------------------------
GOOD = {"g.jsonl": GOOD_GSM8K, "r.jsonl": GOOD_REPLAY, "t.j2": "{{ question }}"}
G = [*EVAL_GSM8K, "--data", "{d}/g.jsonl"]
for name, argv, words in [
    ("flag-limit-zero", [*G, "--limit", "0"], ["--limit"]),
    ("flag-limit-text", [*G, "--limit", "abc"], ["--limit", "not a whole number"]),
    ("flag-seed-huge", [*G, "--seed", str(2**64)], ["--seed", "2**64 - 1"]),
    ("flag-seed-negative", [*G, "--seed", "-1"], ["--seed"]),
    ("flag-temperature-nan", [*G, "--temperature", "nan"], ["method.temperature", "finite"]),
    ("flag-temperature-inf", [*G, "--temperature", "inf"], ["method.temperature", "finite"]),
    ("flag-temperature-negative", [*G, "--temperature", "-0.5"], ["method.temperature"]),
    (
        "flag-device",
        ["eval", "--task", "gsm8k", "--method", "direct", "--data", "{d}/g.jsonl", "--device", "tpu"],
        ["engine.device"],
    ),
    ("flag-samples-zero", [*G, "--samples", "0"], ["method.samples"]),
    (
        "flag-shots-negative",
        [
            "eval",
            "--task",
            "gsm8k",
            "--method",
            "few_shot",
            "--data",
            "{d}/g.jsonl",
            "--engine",
            "replay",
            "--replay",
            "{d}/r.jsonl",
            "--shots",
            "-2",
        ],
        ["--shots"],
    ),
    ("flag-template-missing", [*G, "--template", "{d}/nope.j2"], ["--template", "nope.j2"]),
    ("flag-template-stage-typo", [*G, "--template", "anwser={d}/t.j2"], ["no stage 'anwser'", "answer"]),
    (
        "flag-orders-one",
        [
            "eval",
            "--task",
            "gsm8k",
            "--method",
            "few_shot",
            "--data",
            "{d}/g.jsonl",
            "--engine",
            "replay",
            "--replay",
            "{d}/r.jsonl",
            "--orders",
            "1",
        ],
        ["--orders"],
    ),
    ("flag-seeds-zero", [*G, "--seeds", "0"], ["--seeds must be >= 2, got 0"]),
    (
        "flag-orders-past-permutations",
        [*G, "--method", "few_shot", "--shots", "2", "--orders", "3"],
        ["--orders 3", "2 demonstrations", "only 2 orders"],
    ),
    ("flag-unknown-engine", [*G, "--engine", "magic"], ["unknown engine 'magic'"]),
    ("flag-unknown-task", ["eval", "--task", "chess", "--method", "direct"], ["unknown task 'chess'"]),
    (
        "flag-unknown-method",
        ["eval", "--task", "gsm8k", "--method", "magic", "--data", "{d}/g.jsonl"],
        ["unknown method 'magic'"],
    ),
    ("flag-selector", [*G, "--selector", "psychic"], ["method.selector"]),
    ("flag-order", [*G, "--order", "backwards"], ["method.order"]),
    ("flag-demo-answers", [*G, "--demo-answers", "wrong"], ["method.demo_answers"]),
    ("flag-unknown-extractor", [*G, "--extractor", "psychic"], ["unknown extractor 'psychic'"]),
    (
        "flag-max-batch-tokens",
        ["eval", "--task", "gsm8k", "--method", "direct", "--data", "{d}/g.jsonl", "--max-batch-tokens", "0"],
        ["engine.max_batch_tokens"],
    ),
    ("flag-unknown-flag", [*G, "--colour", "red"], ["unrecognized arguments", "--colour"]),
    ("make-words-zero", ["make-last-letters", "--words", "0", "--out", "{d}/x.json"], ["--words"]),
    ("make-words-huge", ["make-last-letters", "--words", "1000000", "--out", "{d}/x.json"], ["--words"]),
    ("make-count-zero", ["make-last-letters", "--count", "0", "--out", "{d}/x.json"], ["--count"]),
    ("make-count-huge", ["make-last-letters", "--count", "1000000000", "--out", "{d}/x.json"], ["--count"]),
    ("make-seed-negative", ["make-last-letters", "--seed", "-1", "--out", "{d}/x.json"], ["--seed"]),
    ("compare-empty-methods", ["compare", "--task", "gsm8k", "--methods", ",", "--data", "{d}/g.jsonl"], ["--methods"]),
    ("sweep-one-value", ["sweep", "{d}/s.yaml", "--set", "method.shots=2"], ["two or more values"]),
    ("sweep-bad-value", ["sweep", "{d}/s.yaml", "--set", "method.shots=1,lots"], ["method.shots"]),
    (
        "auto-cot-clusters-zero",
        ["auto-cot", "--task", "gsm8k", "--pool", "{d}/g.jsonl", "--clusters", "0", "--out", "{d}/a.json"],
        ["--clusters"],
    ),
    (
        "auto-cot-too-many-clusters",
        [
            "auto-cot",
            "--task",
            "gsm8k",
            "--pool",
            "{d}/g.jsonl",
            "--clusters",
            "5",
            "--out",
            "{d}/a.json",
            "--engine",
            "replay",
            "--replay",
            "{d}/r.jsonl",
        ],
        ["5 clusters", "holds 1"],
    ),
]:
    spec = BASE_SPEC.format(rest="method: {name: few_shot}\n")
    case(name, {**GOOD, "s.yaml": spec}, argv, *words)

# --- absurd sizes: past anything a run could mean (and past a machine integer) ---------------------
HUGE = str(10**30)
TASK_FILE = (
    "name: mine\ndata: {{in_folder: test.txt, format: lines, {data}expects: 'a folder'}}\n"
    "example: {{question: '{{{{ line[2:] }}}}', answer: \"{{{{ {{'0': 'No', '1': 'Yes'}}[line[0]] }}}}\"}}\n"
    "answer: {{type: choice, labels: ['No', 'Yes']}}\n"
)
for name, files, argv, words in [
    ("huge-limit", GOOD, [*G, "--limit", HUGE], ["--limit", "1,000,000,000"]),
    ("huge-limit-just-past", GOOD, [*G, "--limit", "1000000001"], ["--limit"]),
    ("huge-shots", GOOD, [*G, "--method", "few_shot", "--shots", HUGE], ["--shots"]),
    ("huge-seeds", GOOD, [*G, "--seeds", HUGE], ["--seeds"]),
    ("huge-orders", GOOD, [*G, "--method", "few_shot", "--orders", HUGE], ["--orders"]),
    ("huge-samples", GOOD, [*G, "--samples", HUGE], ["--samples"]),
    ("huge-selection-seed", GOOD, [*G, "--selection-seed", str(2**70)], ["--selection-seed"]),
    ("huge-max-batch-tokens", GOOD, [*G, "--max-batch-tokens", HUGE], ["--max-batch-tokens"]),
    ("huge-demo-limit", GOOD, ["demo", "--limit", HUGE], ["--limit"]),
    ("huge-demo-seeds", GOOD, ["demo", "--seeds", HUGE], ["--seeds"]),
    ("huge-render-limit", GOOD, ["render", "{d}/s.yaml", "--limit", HUGE], ["--limit"]),
    (
        "huge-tune-budget",
        GOOD,
        ["tune", "--task", "sst2", "--method", "bbt", "--out", "{d}/p.safetensors", "--budget", HUGE],
        ["--budget"],
    ),
    (
        "huge-tune-steps",
        GOOD,
        ["tune", "--task", "sst2", "--method", "prompt_tuning", "--out", "{d}/p.safetensors", "--steps", HUGE],
        ["--steps"],
    ),
    (
        "huge-tune-k",
        GOOD,
        ["tune", "--task", "sst2", "--method", "bdpl", "--out", "{d}/p.safetensors", "--k", "1000000001"],
        ["--k"],
    ),
    (
        "huge-auto-cot-tokens",
        GOOD,
        ["auto-cot", "--task", "gsm8k", "--pool", "{d}/g.jsonl", "--max-tokens", HUGE, "--out", "{d}/a.json"],
        ["--max-tokens"],
    ),
    ("huge-make-count", GOOD, ["make-last-letters", "--count", HUGE, "--out", "{d}/x.json"], ["--count"]),
    (
        "huge-spec-limit",
        {
            **GOOD,
            "s.yaml": "task: {name: gsm8k, data: g.jsonl, limit: " + HUGE + "}\nengine: {kind: replay, path: r.jsonl}\n"
            "method: {name: direct}\n",
        },
        ["run", "{d}/s.yaml"],
        ["task.limit", "1000000000"],
    ),
    (
        "huge-spec-max-tokens",
        {**GOOD, "s.yaml": BASE_SPEC.format(rest="method: {name: direct, max_tokens: {answer: " + HUGE + "}}\n")},
        ["run", "{d}/s.yaml"],
        ["method.max_tokens.answer"],
    ),
    (
        "huge-spec-pipeline-n",
        {
            **GOOD,
            "s.yaml": BASE_SPEC.format(
                rest="pipeline:\n  - {kind: generate, template: t.j2, n: " + HUGE + "}\n  - {kind: extract}\n"
            ),
        },
        ["run", "{d}/s.yaml"],
        ["pipeline.0.n"],
    ),
    (
        "huge-spec-engine-replicas",
        {
            **GOOD,
            "s.yaml": "task: {name: gsm8k, data: g.jsonl}\nengine: {kind: ray, replicas: " + HUGE + "}\n"
            "method: {name: direct}\n",
        },
        ["run", "{d}/s.yaml"],
        ["engine.replicas"],
    ),
    (
        "huge-task-file-size",
        {**GOOD, "t.yaml": TASK_FILE.format(data="size: " + HUGE + ", "), "data/test.txt": "1 yes\n"},
        ["eval", "--task", "{d}/t.yaml", "--method", "direct", "--data", "{d}/data"],
        ["data.size"],
    ),
    (
        "huge-task-file-subsample",
        {**GOOD, "t.yaml": TASK_FILE.format(data="subsample: {size: " + HUGE + "}, "), "data/test.txt": "1 yes\n"},
        ["eval", "--task", "{d}/t.yaml", "--method", "direct", "--data", "{d}/data"],
        ["data.subsample.size"],
    ),
]:
    case(name, {**files, "s.yaml": files.get("s.yaml", BASE_SPEC.format(rest="method: {name: few_shot}\n"))}, argv,
         *words)  # fmt: skip

# --- output folders and caches ------------------------------------------------------------------
for name, files, extra, words in [
    ("out-is-file", {"taken": "x"}, ["--out", "{d}/taken"], ["--out", "a file"]),
    (
        "out-foreign-folder",
        {"mine/notes.txt": "x"},
        ["--out", "{d}/mine"],
        ["--out", "not a promptkit run", "notes.txt"],
    ),
    ("out-unwritable", {}, ["--out", "/proc/promptkit-run"], ["--out", "cannot write"]),
    ("cache-is-folder", {"c/x": "x"}, ["--cache", "{d}/c"], ["cache", "a folder"]),
    (
        "cache-is-text",
        {"c.sqlite": "hello, not a database\n" * 100},
        ["--cache", "{d}/c.sqlite"],
        ["cache", "c.sqlite", "not a promptkit cache"],
    ),
    (
        "cache-damaged",
        {"c.sqlite": b"SQLite format 3\x00" + b"\xff" * 4000},
        ["--cache", "{d}/c.sqlite"],
        ["cache", "c.sqlite"],
    ),
    ("cache-foreign", {"foreign": True}, ["--cache", "{d}/foreign.sqlite"], ["cache", "foreign.sqlite"]),
    ("cache-unwritable", {}, ["--cache", "/proc/promptkit.sqlite"], ["cache", "/proc/promptkit.sqlite"]),
]:
    argv = ["eval", "--task", "gsm8k", "--method", "direct", "--data", "{d}/g.jsonl", "--model", "{tiny}", *extra]
    case(name, {**GOOD, **files}, argv, *words)


# --- learned-prompt artifacts (--soft-prompt, engine.soft_prompt) ----------------------------------
def artifact(method: str = "prompt_tuning", model: str = "m@sha256:0", tensor=None, **metadata) -> bytes:
    """A learned-prompt file as bytes, as `promptkit tune` writes one unless told otherwise."""
    from safetensors.numpy import save

    tensors = {"embeddings": np.zeros((2, 8), np.float32) if tensor is None else tensor} if method != "bdpl" else {}
    meta = {"format": "promptkit-learned-prompt", "version": "1", "method": method, "model": model, "text": "",
            "info": "{}", **metadata}  # fmt: skip
    return save(tensors, metadata=meta)


SOFT = ["eval", "--task", "gsm8k", "--method", "direct", "--data", "{d}/g.jsonl", "--model", "{tiny}"]
for name, content, extra, words in [
    ("soft-not-safetensors", b"hello, not a tensor file", [], ["p.safetensors", "not a"]),
    ("soft-empty", b"", [], ["p.safetensors", "not a safetensors file"]),
    ("soft-header-gigabytes", struct.pack("<Q", 5 << 30) + b"{}", [], ["p.safetensors", "header claims"]),
    ("soft-not-ours", artifact(format="other"), [], ["p.safetensors", "not a promptkit learned prompt"]),
    ("soft-wrong-dtype", artifact(tensor=np.zeros((2, 8), np.float16)), [], ["p.safetensors", "float32"]),
    ("soft-wrong-rank", artifact(tensor=np.zeros((2, 8, 1), np.float32)), [], ["p.safetensors", "(tokens, hidden)"]),
    ("soft-nan", artifact(tensor=np.full((2, 8), np.nan, np.float32)), [], ["p.safetensors", "NaN"]),
    ("soft-unknown-method", artifact(method="telepathy"), [], ["p.safetensors", "unknown method"]),
    ("soft-another-model", artifact(), [], ["p.safetensors", "learned on m@sha256:0"]),
    (
        "soft-another-width",
        lambda tiny: artifact(model=f"tiny@sha256:{folder_digest(tiny)}", tensor=np.zeros((2, 33), np.float32)),
        [],
        ["p.safetensors", "another shape (hidden 33)", "hidden 32"],
    ),
    ("soft-missing", None, [], ["p.safetensors", "cannot read"]),
    ("soft-tensor-on-vllm", artifact(), ["--engine", "vllm"], ["p.safetensors", "only the hf engine takes"]),
]:
    case(name, {**GOOD, **({"p.safetensors": content} if content is not None else {})},
         [*SOFT, "--soft-prompt", "{d}/p.safetensors", *extra], *words)  # fmt: skip
case(
    "soft-spec-outside-folder",
    {**GOOD, "spec/g.jsonl": GOOD_GSM8K, "spec/s.yaml": "task: {name: gsm8k, data: g.jsonl}\nengine: {kind: hf, soft_prompt: ../p.safetensors}\n"
     "method: {name: direct}\n", "p.safetensors": artifact()},
    ["run", "{d}/spec/s.yaml"],
    "engine.soft_prompt", "outside the spec's folder",
)  # fmt: skip


def _write(folder: Path, files: dict, tiny_model: Path) -> None:
    for name, content in files.items():
        path = (folder / name).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        if callable(content):  # made for the tiny model, which exists only once the tests run
            content = content(tiny_model)
        if content is True:  # an SQLite file of some other program
            db = sqlite3.connect(path.with_suffix(".sqlite"))
            db.execute("CREATE TABLE generations (a, b)")
            db.commit()
            db.close()
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def test_the_corpus_is_large_and_spans_every_class():
    classes = {name.split("-")[0] for name, *_ in CASES}
    assert len(CASES) >= 100, len(CASES)
    assert {"gsm8k", "ll", "replay", "exemplars", "spec", "sandbox", "flag", "out", "cache", "soft", "huge"} <= classes


@pytest.mark.parametrize("name, files, argv, words", CASES, ids=[c[0] for c in CASES])
def test_hostile_input_is_one_line_and_exit_2(name, files, argv, words, tmp_path, tiny_model):
    folder = tmp_path / "work"
    folder.mkdir()
    _write(folder, files, tiny_model)
    args = [a.replace("{d}", str(folder)).replace("{tiny}", str(tiny_model)) for a in argv]
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(args)
        except SystemExit as exc:  # argparse's own errors
            code = exc.code
    lines = [line for line in err.getvalue().splitlines() if line.strip()]
    assert code == 2, err.getvalue()
    assert "Traceback" not in err.getvalue()
    assert len(lines) == 1 and lines[0].startswith("promptkit: error:"), lines
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert not any(p.name.startswith("runs") for p in tmp_path.iterdir()), "no run folder was made"


# --- legitimate oddities still run --------------------------------------------------------------


@pytest.mark.parametrize(
    "name, content",
    [
        ("crlf", GOOD_GSM8K.replace("\n", "\r\n") * 2),
        ("bom", "\ufeff" + GOOD_GSM8K),
        ("duplicate-questions", GOOD_GSM8K * 3),
        ("blank-lines-between", GOOD_GSM8K + "\n\n" + GOOD_GSM8K),
        (
            "unicode",
            json.dumps({"question": "Zoë has 2 €. − How many?", "answer": "#### 2"}, ensure_ascii=False) + "\n",
        ),
    ],
)
def test_legitimate_oddities_still_run(name, content, tmp_path):
    data = tmp_path / "g.jsonl"
    data.write_text(content, encoding="utf-8", newline="")
    replay = tmp_path / "r.jsonl"
    out = tmp_path / "run"
    from promptkit.tasks import load_task

    task = load_task("gsm8k", str(data))
    prompts = {f"Q: {e.inputs['question']}\nA: The answer (arabic numerals) is" for e in task.examples}
    replay.write_text("".join(json.dumps({"prompt": p, "completions": [" 5"]}) + "\n" for p in prompts))
    assert main(["eval", "--task", "gsm8k", "--method", "direct", "--data", str(data), "--engine", "replay", "--replay",
                 str(replay), "--out", str(out), "--quiet"]) == 0  # fmt: skip
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n"] == len(task.examples) >= 1


def test_a_bug_is_one_line_with_the_traceback_saved(monkeypatch, tmp_path, capsys):
    import promptkit.cli.app as cli
    import promptkit.cli.commands as commands

    monkeypatch.setenv("PROMPTKIT_HOME", str(tmp_path))
    monkeypatch.setitem(commands.COMMANDS, "schema", lambda args: {}["missing"])
    assert cli.main(["schema"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("promptkit: internal error: KeyError")
    saved = Path(err[0].split("traceback: ")[1].split(";")[0])
    assert saved.is_file() and "Traceback" in saved.read_text()
    with pytest.raises(KeyError):
        cli.main(["schema", "--debug"])


def test_a_hub_source_with_no_network_is_one_line_and_writes_nothing(tmp_path):
    """A task whose data is on the hub (GSM8K without --data), offline and with nothing cached: one line, exit 2."""
    (tmp_path / "r.jsonl").write_text(GOOD_REPLAY)
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", HF_HOME=str(tmp_path / "hf"))
    argv = ["eval", "--task", "gsm8k", "--method", "direct", "--engine", "replay", "--replay", "r.jsonl", "--out", "o"]
    done = subprocess.run([sys.executable, "-m", "promptkit", *argv], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot load 'openai/gsm8k'" in lines[0], lines
    assert not (tmp_path / "o").exists()
