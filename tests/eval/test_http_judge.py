"""The http judge against a real HTTP server on loopback: verdicts, retries, missing, cache."""

from __future__ import annotations

import math
import re

import pytest

from harness.eval.judges.base import JudgeError
from harness.eval.judges.http import HttpJudge
from harness.eval.judges.prompts import parse_verdict
from harness.eval.judges.criteria import RUBRICS
from harness.registry import JUDGES
from tests.eval.loopback import Loopback, completion

SECRET = "sk-test-do-not-store-0123456789"


def _reply_for(body) -> str:
    """A verdict that depends on the prompt, so caching mistakes would show."""
    prompt = body["messages"][-1]["content"]
    points = 40 + len(prompt) % 50
    return completion(f"correctness: 30\nclarity: 5\nTotal Score: {points}")


def _judge(server, tmp_path, **options):
    defaults = dict(base_url=server.base_url, model="grader-1", api_key_env="EVAL_TEST_KEY",
                    cache=str(tmp_path / "verdicts.sqlite"), backoff=0.01, max_retries=2, timeout=5.0)
    return HttpJudge(**{**defaults, **options})


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv("EVAL_TEST_KEY", SECRET)


def test_verdicts_cache_and_no_key_anywhere(tmp_path, real_items, key):
    items, preds = real_items[:6], [it.answer for it in real_items[:6]]
    with Loopback(lambda n, body: (200, _reply_for(body))) as server:
        judge = _judge(server, tmp_path, concurrency=3)
        first = judge.score_many(items, preds)
        assert judge.requests == len(items) == len(server.requests)
        assert all(v.total is not None and 40 <= v.total < 90 for v in first)
        assert all(v.judge_id == f"http:grader-1@{server.base_url.split('/')[2]}" for v in first)
        assert server.headers[0]["Authorization"] == f"Bearer {SECRET}"
        assert server.requests[0]["model"] == "grader-1" and server.requests[0]["temperature"] == 0.0
        prompts = [r["messages"][-1]["content"] for r in server.requests]  # arrival order varies
        assert all("Total Score" in p for p in prompts)
        assert any(items[0].question in p and items[0].answer in p for p in prompts)

        again = _judge(server, tmp_path)  # a fresh judge on the same cache file
        second = again.score_many(items, preds)
        assert again.requests == 0 and len(server.requests) == len(items)
        assert [v.total for v in second] == [v.total for v in first]
        assert [v.criteria for v in second] == [v.criteria for v in first]
    assert SECRET.encode() not in (tmp_path / "verdicts.sqlite").read_bytes()
    assert SECRET not in repr(vars(judge))


def test_server_errors_are_retried_then_succeed(tmp_path, real_items):
    with Loopback(lambda n, body: (500, "oops") if n <= 2 else (200, completion("Total Score: 77"))) as server:
        judge = _judge(server, tmp_path, max_retries=3)
        verdict = judge.score(real_items[0], "A")
    assert verdict.total == 77.0 and judge.requests == 3


def test_a_verdict_that_cannot_be_had_is_missing_not_zero(tmp_path, real_items):
    with Loopback(lambda n, body: (503, "busy")) as server:
        judge = _judge(server, tmp_path, max_retries=2)
        verdicts = judge.score_many(real_items[:2], ["A", "B"])
    assert [v.total for v in verdicts] == [None, None]
    assert all(v.missing and "503" in v.error and "3 attempts" in v.error for v in verdicts)
    assert judge.requests == 6


def test_timeouts_are_retried_and_end_missing(tmp_path, real_items):
    with Loopback(lambda n, body: ("sleep", 1.0)) as server:
        judge = _judge(server, tmp_path, timeout=0.2, max_retries=1)
        verdict = judge.score(real_items[0], "A")
    assert verdict.missing and judge.requests == 2
    assert "timed out" in verdict.error.lower() or "timeout" in verdict.error.lower()


@pytest.mark.parametrize("reply", [
    "this is not json",
    '{"choices": []}',
    completion("I think it is a fine answer."),  # no Total Score line
    completion("Total Score: 250"),  # out of the rubric's range
])
def test_malformed_replies_are_retried_and_never_cached(tmp_path, real_items, reply):
    with Loopback(lambda n, body: (200, reply) if n == 1 else (200, completion("Total Score: 64"))) as server:
        judge = _judge(server, tmp_path)
        assert judge.score(real_items[0], "A").total == 64.0
        assert judge.requests == 2
    with Loopback(lambda n, body: (200, reply)) as server:
        judge = _judge(server, tmp_path, cache=str(tmp_path / "other.sqlite"), max_retries=1)
        verdict = judge.score(real_items[0], "A")
        assert verdict.missing and "malformed" in verdict.error
        assert len(judge.cache) == 0


def test_client_errors_are_not_retried(tmp_path, real_items):
    with Loopback(lambda n, body: (400, '{"error": "unknown model"}')) as server:
        judge = _judge(server, tmp_path, max_retries=4)
        verdict = judge.score(real_items[0], "A")
    assert verdict.missing and "400" in verdict.error and judge.requests == 1


def test_concurrency_is_bounded(tmp_path, real_items):
    with Loopback(lambda n, body: (200, _reply_for(body))) as server:
        judge = _judge(server, tmp_path, concurrency=2, use_cache=False)
        judge.score_many(real_items[:8], [it.answer for it in real_items[:8]])
    assert server.max_in_flight == 2


def test_a_user_template_changes_prompt_and_identity(tmp_path, real_items):
    template = tmp_path / "mine.txt"
    template.write_text("Grade $prediction against $reference for: $question ($total points)\n$criteria\n")
    with Loopback(lambda n, body: (200, completion("Total Score: 10"))) as server:
        judge = _judge(server, tmp_path, template=str(template))
        judge.score(real_items[0], "B")
        prompt = server.requests[0]["messages"][-1]["content"]
    assert prompt.startswith("Grade B against ") and re.search(r"#[0-9a-f]{8}$", judge.judge_id)


def test_bad_configuration_is_a_one_line_error(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("Grade $answer please")
    with pytest.raises(JudgeError, match=r"unknown placeholder \$answer"):
        HttpJudge(base_url="http://127.0.0.1:9/v1", model="m", template=str(bad), use_cache=False)
    with pytest.raises(JudgeError, match="not an http"):
        HttpJudge(base_url="127.0.0.1:9", model="m", use_cache=False)
    assert JUDGES.get("http") is HttpJudge


def test_verdict_parsing():
    rubric = RUBRICS["perception_mcq"]
    total, criteria = parse_verdict("Correctness: 50\n**Object recognition**: 5\nTotal Score: 55", rubric)
    assert total == 55.0 and criteria == {"correctness": 50.0, "object_recognition": 5.0}
    assert parse_verdict("total score: 12.5", rubric)[0] == 12.5
    assert parse_verdict("Total Score: 10\n... revised Total Score: 20", rubric)[0] == 20.0  # the last one counts
    assert parse_verdict("Score: 30", rubric) is None
    assert parse_verdict("Total Score: 101", rubric) is None
    assert not math.isnan(parse_verdict("Total Score: 0", rubric)[0])


def test_recipes_validate_judge_options_against_the_signature():
    from harness.errors import RecipeError
    from harness.recipe import recipe_from_dict
    from harness.registry import JUDGES

    base = {"name": "x", "student": {"family": "internvl3", "zoo": "student"}, "data": {"eval": {"name": "synthetic"}}}
    ok = recipe_from_dict({**base, "eval": {"judge": {"name": "http", "base_url": "http://127.0.0.1:9/v1",
                                                      "model": "m", "concurrency": "8", "use_cache": False}}})
    judge = JUDGES.build(ok.spec.eval.judge, field="eval.judge")
    assert judge.concurrency == 8 and judge.judge_id == "http:m@127.0.0.1:9"
    with pytest.raises(RecipeError, match="did you mean 'concurrency'"):
        recipe_from_dict({**base, "eval": {"judge": {"name": "http", "base_url": "u", "model": "m", "conurrency": 2}}})
    with pytest.raises(RecipeError, match="needs option 'base_url'"):
        recipe_from_dict({**base, "eval": {"judge": {"name": "http", "model": "m"}}})
