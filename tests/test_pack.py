"""Packing never exceeds the window: a tiny model whose window is small."""

from __future__ import annotations

import re

import pytest
from helpers import run_method

from promptkit.engines.hf import HFEngine
from promptkit.stages import PackDemos, SelectDemos
from promptkit.stages.framework.prompts import ChatPrompt, TextPrompt
from promptkit.stages.library.demo_pools import shipped_exemplars
from promptkit.tasks.base import Task
from promptkit.testing.tiny_model import build_tiny_model
from promptkit.types import Example, State


@pytest.fixture(scope="module")
def small_window(tmp_path_factory):
    path = build_tiny_model(tmp_path_factory.mktemp("small") / "m", context=400)
    return HFEngine(str(path), device="cpu", progress=False)


QUESTION = "Janet has 3 apples and buys 4 more. How many apples does she have?"


def _selected(k=8):
    return SelectDemos(shipped_exemplars("gsm8k"), k)([State(Example("0", {"question": QUESTION}))], None)


def test_packing_fits_the_window_dropping_the_least_relevant(small_window):
    prompt = TextPrompt("few_shot_cot")
    full = prompt.build(_selected()[0].context())
    assert small_window.count_tokens(full) > small_window.context_window, "the test needs a prompt that does not fit"
    packed = PackDemos(prompt, max_tokens=32)(_selected(), small_window)[0]
    kept = packed.fields["demos_packed"]
    assert 0 < kept < 8
    assert [d["rank"] for d in packed.fields["demos"]] == list(range(kept)), "the most relevant are kept"
    used = small_window.count_tokens(prompt.build(packed.context()))
    assert used + 32 <= small_window.context_window
    assert packed.fields["prompt_tokens"] == used


def test_chat_packing_counts_the_chat_template(small_window):
    prompt = ChatPrompt("chat/user", "chat/assistant_cot")
    packed = PackDemos(prompt, max_tokens=32)(_selected(), small_window)[0]
    messages = prompt.build(packed.context())
    used = small_window.count_tokens(messages)
    assert used + 32 <= small_window.context_window
    plain = sum(small_window.count_tokens(m["content"]) for m in messages)
    assert used > plain, "the chat template's role markers are counted"


def test_a_question_that_cannot_fit_is_a_clear_error(small_window):
    state = State(Example("7", {"question": "apples " * 500}), {"demos": []})
    [packed] = PackDemos(TextPrompt("few_shot_cot"), max_tokens=32)([state], small_window)
    assert re.search(r"^pack: example 7: the prompt needs \d+ tokens without demonstrations", packed.error)


def test_few_shot_cot_runs_in_a_small_window_for_real(small_window):
    task = Task("gsm8k", (Example("0", {"question": QUESTION}, "7"),), "number", "inline")
    result = run_method(task, "few_shot_cot", small_window, max_tokens={"answer": 16})
    state = result.states[0]
    assert 0 < state.fields["demos_packed"] < 8
    assert small_window.count_tokens(state.trace[0].prompt) + 16 <= small_window.context_window
