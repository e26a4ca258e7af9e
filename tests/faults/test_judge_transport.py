"""The http judge against hostile loopback servers: nothing escapes, nothing hangs, nothing leaks."""

from __future__ import annotations

import base64
import json

import pytest

from harness import cli
from harness.data import drivebench
from harness.eval.judges.http import HttpJudge, describe
from tests.eval.loopback import Loopback, completion

from .conftest import FIXTURES
from .injection import RawServer, bad_status_line, closed_port, huge_declared, huge_streamed, incomplete_read, trickle


@pytest.fixture(scope="module")
def items():
    return list(drivebench.load(FIXTURES / "drivebench-clean-sample.json", check_images=False))[:2]


def _judge(base_url, tmp_path, **options):
    defaults = dict(model="grader-1", cache=str(tmp_path / "verdicts.sqlite"), backoff=0.0, max_retries=1,
                    timeout=1.0, api_key_env="FAULTS_NO_SUCH_KEY")
    return HttpJudge(base_url=base_url, **{**defaults, **options})


@pytest.mark.parametrize("reply", [incomplete_read, bad_status_line], ids=["IncompleteRead", "BadStatusLine"])
def test_http_client_errors_are_retried_then_missing(tmp_path, items, reply):
    with RawServer(reply) as server:
        verdicts = _judge(server.base_url, tmp_path, max_retries=2).score_many(items[:1], ["an answer"])
    assert verdicts[0].total is None and "after 3 attempts" in verdicts[0].error
    assert server.connections == 3


def test_a_trickling_reply_is_cut_off_by_the_whole_request_deadline(tmp_path, items):
    with RawServer(trickle(every_s=0.05, total=2000)) as server:
        verdicts = _judge(server.base_url, tmp_path, timeout=1.0, max_retries=1).score_many(items[:1], ["x"])
    assert verdicts[0].total is None and "within timeout" in verdicts[0].error
    assert server.connections == 2
    assert server.sent < 1000  # two one-second attempts at 20 bytes/s, not the 100 s the reply would take


@pytest.mark.parametrize("reply", [huge_declared, huge_streamed], ids=["declared", "streamed"])
def test_oversized_replies_are_refused_not_stored(tmp_path, items, reply):
    judge = _judge("http://127.0.0.1:1/v1", tmp_path, max_reply_bytes=10_000, timeout=5.0)
    with RawServer(reply) as server:
        judge.base_url = server.base_url
        verdicts = judge.score_many(items[:1], ["x"])
    assert verdicts[0].total is None and "max_reply_bytes" in verdicts[0].error
    assert server.connections == 1  # asking again cannot make it smaller
    assert len(judge.cache) == 0


def test_the_cache_key_covers_url_path_temperature_and_max_tokens(tmp_path, items):
    with Loopback(lambda n, body: (200, completion("Total Score: 61"))) as server:
        first = _judge(server.base_url, tmp_path)
        assert first.score_many(items[:1], ["x"])[0].total == 61
        assert first.score_many(items[:1], ["x"])[0].total == 61 and first.requests == 1  # cached
        others = [_judge(server.base_url.replace("/v1", "/v2"), tmp_path),
                  _judge(server.base_url, tmp_path, temperature=0.7),
                  _judge(server.base_url, tmp_path, max_tokens=50),
                  _judge(server.base_url, tmp_path, model="grader-2")]
        for judge in others:
            judge.score_many(items[:1], ["x"])
            assert judge.requests == 1, "a different endpoint or setting reused another's verdict"


def test_url_credentials_are_sent_but_never_kept(tmp_path, items):
    with Loopback(lambda n, body: (200, completion("Total Score: 70"))) as server:
        url = server.base_url.replace("http://", "http://alice:s3cret-token@")
        judge = _judge(url, tmp_path)
        assert judge.score_many(items[:1], ["x"])[0].total == 70
        sent = server.headers[-1].get("Authorization")
    assert sent == "Basic " + base64.b64encode(b"alice:s3cret-token").decode()
    recorded = json.dumps(describe(judge)) + judge.judge_id + judge.base_url
    assert "s3cret" not in recorded and "alice" not in recorded


@pytest.mark.slow
def test_a_down_judge_exits_3_and_rejudge_fills_the_verdicts_in_place(env, capsys):
    results = env / "results"
    down = closed_port().replace("http://", "http://bob:s3cret-token@")
    base = ["eval", "--model", "internvl3:zoo/student", "--data", "synthetic", "--data-option", "train=0",
            "--data-option", "eval=8", "--max-items", "3", "--max-new-tokens", "4", "--results", str(results),
            "--quiet", "--judge", "http", "--judge-option", "model=grader", "--judge-option", "max_retries=0",
            "--judge-option", f"cache={env / 'v.sqlite'}"]
    code = cli.main([*base, "--judge-option", f"base_url={down}"])
    err = capsys.readouterr().err
    assert code == 3 and err.count("\n") == 1 and "--rejudge" in err and "Traceback" not in err, err
    (folder,) = [p.parent for p in results.glob("evals/*/*/run.json")]
    for path in folder.rglob("*"):
        if path.is_file():
            assert b"s3cret" not in path.read_bytes(), f"{path} holds the URL's credentials"
    with Loopback(lambda n, body: (200, completion("Total Score: 55"))) as server:
        code = cli.main(["eval", "--rejudge", str(folder), "--judge-option", f"base_url={server.base_url}"])
    out = capsys.readouterr().out
    assert code == 0 and "filled 3 missing verdict(s); 0 still missing" in out
    import pandas as pd

    scores = pd.read_parquet(folder / "eval" / "scores.parquet")
    assert scores["judge_total"].tolist() == [55.0, 55.0, 55.0]
    summary = json.loads((folder / "run.json").read_text())["summary"]["eval"]
    assert summary["n_missing"] == 0
