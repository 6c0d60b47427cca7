"""The openai engine over several servers (stubs on loopback): model check, load spread, fail-over, identity."""

from __future__ import annotations

import pytest
from stub_openai import start_stub

from promptkit.engines import CachedEngine
from promptkit.engines.engine_kinds import OpenAIEngineSpec
from promptkit.engines.openai import OpenAIEngine
from promptkit.errors import EngineUnavailable
from promptkit.types import GenRequest, Sampling, ScoreRequest


@pytest.fixture
def stubs():
    """Start stub servers on demand; all stopped at the end."""
    started = []

    def start(models=("m",)):
        url, handler, httpd = start_stub(models)
        started.append(httpd)
        return url, handler

    yield start
    for httpd in started:
        httpd.shutdown()


def _posts(handler) -> int:
    return len(handler.seen)


def test_requests_spread_over_the_servers_by_their_load(stubs):
    (a, ha), (b, hb) = stubs(), stubs()
    engine = OpenAIEngine("m", base_url=[a, b], concurrency=2, progress=False)
    results = engine.generate([GenRequest(f"Q: {i}") for i in range(20)])
    assert [c.text for c in results] == [" sample 0"] * 20
    assert _posts(ha) + _posts(hb) == 20
    assert _posts(ha) >= 5 and _posts(hb) >= 5, (_posts(ha), _posts(hb))


def test_a_server_serving_another_model_is_named_before_any_work(stubs):
    (a, ha), (b, hb) = stubs(("m",)), stubs(("other",))
    engine = OpenAIEngine("m", base_url=[a, b], progress=False)
    with pytest.raises(EngineUnavailable) as raised:
        engine.generate([GenRequest("Q: 1")])
    message = str(raised.value)
    assert b in message and "'other'" in message and "same model" in message and "\n" not in message
    assert _posts(ha) == _posts(hb) == 0, "nothing was sent before the check"


def test_a_failing_server_leaves_the_rotation_and_its_requests_go_to_the_other(stubs):
    (a, ha), (b, hb) = stubs(), stubs()
    ha.script += [500] * 100
    engine = OpenAIEngine("m", base_url=[a, b], concurrency=1, max_retries=0, progress=False)
    results = engine.generate([GenRequest(f"Q: {i}") for i in range(12)])
    assert [c.text for c in results] == [" sample 0"] * 12, "every request answered"
    assert _posts(ha) == 1, "one failure takes the server out of rotation"
    assert sorted(s["body"]["prompt"] for s in hb.seen) == sorted(f"Q: {i}" for i in range(12))


def test_a_request_held_by_a_server_that_dies_is_made_again_on_the_other(stubs):
    """The server reads the request and closes the connection unanswered: the request is finished elsewhere,
    and the engine counts it as moved from that server."""
    (a, ha), (b, hb) = stubs(), stubs()
    ha.script += ["drop"] * 100
    engine = OpenAIEngine("m", base_url=[a, b], concurrency=1, max_retries=0, progress=False)
    results = engine.generate([GenRequest(f"Q: {i}") for i in range(6)])
    assert [c.text for c in results] == [" sample 0"] * 6
    held = [s["body"]["prompt"] for s in ha.seen]
    assert len(held) == 1 and held[0] in [s["body"]["prompt"] for s in hb.seen], "the held request, answered by b"
    assert engine.moved_from == {a: 1, b: 0}


def test_when_every_server_fails_the_run_stops_with_one_line_naming_each(stubs):
    (a, ha), (b, hb) = stubs(), stubs()
    ha.script += [500] * 100
    hb.script += [503] * 100
    engine = OpenAIEngine("m", base_url=[a, b], max_retries=0, progress=False)
    with pytest.raises(EngineUnavailable) as raised:
        engine.generate([GenRequest(f"Q: {i}") for i in range(6)])
    message = str(raised.value)
    assert message.startswith("all 2 servers failed") and a in message and b in message and "\n" not in message


def test_a_bad_request_is_not_retried_on_another_server(stubs):
    (a, ha), (b, hb) = stubs(), stubs()
    ha.script += [400]
    hb.script += [400]
    engine = OpenAIEngine("m", base_url=[a, b], concurrency=1, max_retries=0, progress=False)
    with pytest.raises(EngineUnavailable, match="answered 400"):
        engine.generate([GenRequest("Q: 1")])
    assert _posts(ha) + _posts(hb) == 1


def test_the_cache_identity_is_the_model_whatever_the_servers(stubs, tmp_path):
    (a, ha), (b, hb) = stubs(), stubs()
    cache = tmp_path / "cache.sqlite"
    requests = [GenRequest(f"Q: {i}", Sampling(max_tokens=4)) for i in range(5)]
    with CachedEngine(OpenAIEngine("m", base_url=a, progress=False), cache) as one:
        first = one.generate(requests)
    with CachedEngine(OpenAIEngine("m", base_url=[a, b], progress=False), cache) as two:
        again = two.generate(requests)
        assert two.stats().hits == 5 and two.stats().misses == 0
    assert again == first
    assert _posts(ha) == 5 and _posts(hb) == 0


def test_scoring_goes_through_the_fleet_too(stubs):
    """The stub has no prompt log-probabilities: the error names the server that answered."""
    (a, ha), (b, hb) = stubs(), stubs()
    engine = OpenAIEngine("m", base_url=[a, b], progress=False)
    with pytest.raises(EngineUnavailable, match="returns no prompt log-probabilities"):
        engine.score([ScoreRequest("Q:", f" {x}") for x in "ABCD"])
    assert _posts(ha) + _posts(hb) == 1, "the first request alone found it out"


def test_the_spec_takes_one_address_or_a_list():
    assert OpenAIEngineSpec(model="m", base_url="http://h:1/v1").base_url == ["http://h:1/v1"]
    assert OpenAIEngineSpec(model="m", base_url=["http://h:1/v1", "http://h:2/v1"]).base_url == [
        "http://h:1/v1",
        "http://h:2/v1",
    ]
    with pytest.raises(EngineUnavailable, match="distinct"):
        OpenAIEngine("m", base_url=["http://h:1/v1", "http://h:1/v1/"])


def test_base_url_repeats_on_the_command_line():
    from promptkit.cli.parser import build_parser
    from promptkit.cli.specs import engine_data

    argv = ["eval", "--task", "gsm8k", "--method", "direct", "--engine", "openai", "--model", "m"]
    args = build_parser().parse_args([*argv, "--base-url", "http://a:1/v1", "--base-url", "http://b:1/v1"])
    assert engine_data(args)["base_url"] == ["http://a:1/v1", "http://b:1/v1"]
