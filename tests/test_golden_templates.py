"""Every shipped template renders exactly as its golden file; regenerate with PROMPTKIT_UPDATE_GOLDEN=1.

The goldens are reviewed by eye once; byte-exactness to published references is checked separately
(test_templates.py for Kojima et al., test_few_shot.py for lm-evaluation-harness).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from promptkit.stages.framework.templating import default_templates, templates_dir
from promptkit.stages.library.demo_pools import shipped_exemplars
from promptkit.tasks import read_definition

pytestmark = pytest.mark.reproduction

GOLDEN = Path(__file__).parent / "golden"
DEMOS = [d.variables() for d in shipped_exemplars("gsm8k")[:2]]
VARIABLES = {
    "question": 'Take the last letters of each words in "Ada Bob" and concatenate them.',
    "rationale": " First, a. Then, b.",
    "answer": "ab",
    "demos": DEMOS,
    "words": ["Ada", "Bob"],
    "solved": [{"question": "Ada", "answer": 'The last letter of "Ada" is "a". So, "Ada" outputs "a".'}],
    "current": "Ada Bob",
    **read_definition("gsm8k").prompts.words(),  # what a task gives every template: answer prefix and trigger
    **read_definition("agnews").prompts.classification.model_dump(),  # a classification task: Zhao et al.'s prefixes
    # What a prompt search gives its proposers (APE's pairs, OPRO's scored instructions and problems).
    "pairs": [{"input": "Ada Bob", "output": "ab"}, {"input": "Cy Di", "output": "yi"}],
    "scored": [{"text": "Let's think step by step.", "score": 40}, {"text": "Spell each last letter.", "score": 55}],
    "problems": [{"question": "Ada Bob", "answer": "ab"}],
    "starting": False,
    "lm_eval_prompt": "Question: Ada Bob\nAnswer: ab\n\nQuestion: Cy Di\nAnswer:",  # what lm-eval's own code wrote
}
TEMPLATES = sorted(str(p.relative_to(templates_dir()).with_suffix("")) for p in templates_dir().rglob("*.j2"))


def test_every_template_has_a_golden():
    assert TEMPLATES, "no templates found"
    missing = [t for t in TEMPLATES if not (GOLDEN / f"{t}.txt").is_file()]
    assert not missing or os.environ.get("PROMPTKIT_UPDATE_GOLDEN"), f"no golden render for {missing}"
    stale = [p for p in GOLDEN.rglob("*.txt") if str(p.relative_to(GOLDEN).with_suffix("")) not in TEMPLATES]
    assert not stale, f"golden renders of templates that no longer exist: {stale}"


@pytest.mark.parametrize("name", TEMPLATES)
def test_golden_render(name):
    rendered = default_templates().render(name, VARIABLES)
    path = GOLDEN / f"{name}.txt"
    if os.environ.get("PROMPTKIT_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rendered.encode("utf-8"))
    assert rendered == path.read_bytes().decode("utf-8")
