"""A library call changes nothing process-wide: transformers' progress bars, signal handlers, and
other programs' vLLM processes are left as they were."""

from __future__ import annotations

import json
import signal
import threading

import pytest

from promptkit.errors import PromptkitError


def test_a_quiet_engine_leaves_transformers_bars_as_they_were(tiny_model):
    from transformers.utils import logging as hf_logging

    from promptkit.engines.hf import HFEngine
    from promptkit.types import GenRequest, Sampling

    hf_logging.enable_progress_bar()
    engine = HFEngine(str(tiny_model), device="cpu", progress=False)
    engine.generate([GenRequest("Q: Janet", Sampling(max_tokens=2))])  # the model loads here
    assert engine.loaded
    assert hf_logging.is_progress_bar_enabled(), "building and loading a quiet engine must not switch them off"


SLOW = "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}x"


def _render_slow(tmp_path, monkeypatch):
    import promptkit.stages.framework.templating as templating
    from promptkit import jinja_env

    monkeypatch.setattr(jinja_env, "RENDER_SECONDS", 0.3)
    path = tmp_path / "slow.j2"
    path.write_text(SLOW)
    return templating.Templates().render(str(path), {})


def test_the_render_bound_installs_no_signal_handler(tmp_path, monkeypatch):
    before = signal.getsignal(signal.SIGALRM)
    with pytest.raises(PromptkitError, match=r"rendering took over 0\.3 s"):
        _render_slow(tmp_path, monkeypatch)
    assert signal.getsignal(signal.SIGALRM) is before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_the_render_bound_holds_in_any_thread(tmp_path, monkeypatch):
    """A signal can only interrupt the main thread; a worker thread's slow render is stopped too."""
    caught: list[BaseException] = []

    def work() -> None:
        try:
            _render_slow(tmp_path, monkeypatch)
        except PromptkitError as exc:
            caught.append(exc)

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(timeout=120)
    assert not worker.is_alive() and len(caught) == 1 and "rendering took over" in str(caught[0])


def test_a_fast_render_is_not_interrupted_later(tmp_path, monkeypatch):
    import time

    import promptkit.stages.framework.templating as templating
    from promptkit import jinja_env

    monkeypatch.setattr(jinja_env, "RENDER_SECONDS", 0.05)
    engine = templating.Templates()
    for _ in range(50):
        assert engine.render("zero_shot_cot/reason", {"question": "q"}).startswith("Q: q")
    time.sleep(0.2)  # any timer that outlived its render would strike here


def test_a_task_records_share_one_watchdog_that_still_stops_a_slow_one(tmp_path, monkeypatch):
    """Many records, one watchdog thread: fast renders pass (none interrupted later), and the slow record is
    stopped and named; the watchdog's thread is gone afterwards."""
    import time

    from promptkit import jinja_env, load_task

    monkeypatch.setattr(jinja_env, "RENDER_SECONDS", 0.3)
    (tmp_path / "t.yaml").write_text(
        'name: t\nexample:\n  question: "{% if slow %}' + SLOW.replace('"', '\\"') + '{% endif %}{{ q }}"\n'
        "  answer: a\nanswer: {type: text}\nprompts: {answer_prefix: 'A:'}\n"
    )
    rows = [{"q": f"question {i}", "a": "x", "slow": False} for i in range(300)]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    before = threading.active_count()
    assert len(load_task(str(tmp_path / "t.yaml"), tmp_path / "d.jsonl").examples) == 300
    time.sleep(0.5)  # a deadline that outlived its render would strike here
    (tmp_path / "d.jsonl").write_text("".join(json.dumps({**r, "slow": i == 7}) + "\n" for i, r in enumerate(rows)))
    with pytest.raises(PromptkitError, match=r"d\.jsonl:8: .*rendering took over 0\.3 s"):
        load_task(str(tmp_path / "t.yaml"), tmp_path / "d.jsonl")
    assert threading.active_count() == before


def test_the_vllm_plugin_acts_only_in_processes_promptkit_started(monkeypatch):
    import promptkit.engines.lifetime as lifetime

    asked: list[object] = []
    monkeypatch.setattr(lifetime, "ask_to_die_with_parent", lambda pid=None: asked.append(pid))
    monkeypatch.setattr(lifetime.multiprocessing, "parent_process", lambda: type("P", (), {"pid": 7})())
    monkeypatch.delenv(lifetime.MARKER, raising=False)
    lifetime.die_with_parent()
    assert asked == [], "a vLLM process someone else started is left alone"
    with lifetime.marked_children():
        lifetime.die_with_parent()
    assert asked == [7]
    import os

    assert lifetime.MARKER not in os.environ, "the marker is set only while promptkit starts vLLM"


def test_the_render_bound_counts_the_renders_own_cpu_not_the_wall_clock(monkeypatch):
    """A render kept off the CPU (a loaded machine: here a callable that sleeps) is not refused; a bound on the
    wall clock would refuse it, as it refused a record template on a busy CI machine."""
    import time

    from promptkit import jinja_env

    monkeypatch.setattr(jinja_env, "RENDER_SECONDS", 0.2)
    template = jinja_env.environment().from_string("{{ wait() }}done")

    def wait() -> str:
        time.sleep(0.6)
        return ""

    assert jinja_env.render(template, {"wait": wait}, "stalled") == "done"
    with jinja_env.Watchdog() as watchdog:
        assert jinja_env.render(template, {"wait": wait}, "stalled", watchdog) == "done"


def test_a_refused_render_names_its_template_once(tmp_path, monkeypatch):
    with pytest.raises(PromptkitError) as caught:
        _render_slow(tmp_path, monkeypatch)
    assert str(caught.value).count("template ") == 1, str(caught.value)
