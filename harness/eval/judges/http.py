"""LLM judge over any OpenAI-compatible chat-completions endpoint (standard library only).

``POST {base_url}/chat/completions`` with the rubric prompt; the reply's last
``Total Score: N`` is the verdict. Requests run ``concurrency`` at a time, each
retried up to ``max_retries`` times with exponential backoff on server errors
(5xx), rate limits (429), timeouts, every transport failure (refused or reset
connections, ``http.client``'s broken status lines and short reads) and malformed
replies; a client error (other 4xx: a wrong model name, a bad key) or a reply over
``max_reply_bytes`` is not retried, since asking again cannot help. ``timeout``
bounds the whole request (a server trickling its reply byte by byte is cut off),
not one socket operation. A verdict that cannot be had is recorded as missing
(``total=None``, NaN in the scores, counted in ``n_missing``), never as 0.

The API key is read from the environment variable named by ``api_key_env`` at
request time; it is never stored in the judge, the cache, run files or messages.
Credentials written into ``base_url`` (``http://user:key@host``) are split off and
used as basic auth, and only the clean URL is kept. The verdict cache key covers the
full URL, the model, the temperature, ``max_tokens`` and the prompt.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import math
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Optional, Sequence
from urllib.parse import unquote, urlsplit, urlunsplit

from harness.data.types import EvalItem
from harness.eval.judges.base import Judge, JudgeError, JudgeScore
from harness.eval.judges.cache import VerdictCache, verdict_key
from harness.eval.judges.criteria import drivebench_rubric_for, rubric_for
from harness.eval.judges.descriptions import VisualDescriptions
from harness.eval.judges.prompts import (PROMPT_SETS, SYSTEM, build_prompt, drivebench_prompt, load_template,
                                         parse_verdict)
from harness.paths import cache_dir
from harness.registry import JUDGES


class _Retryable(Exception):
    """A failure worth another try (server error, timeout, broken or malformed reply)."""


class _Fatal(Exception):
    """A failure another try cannot fix (client error, oversized reply)."""


def split_credentials(url: str) -> tuple[str, str | None]:
    """``(url without user:password@, the user:password part or None)``.

    Why: a key written into ``base_url`` would otherwise travel into run.json,
    summary.json and every row of scores.parquet; the harness keeps the part for
    the request (as HTTP basic auth) and writes only the clean URL.
    """
    parsed = urlsplit(url)
    if "@" not in parsed.netloc:
        return url, None
    userinfo, _, hostport = parsed.netloc.rpartition("@")
    return urlunsplit(parsed._replace(netloc=hostport)), unquote(userinfo)


def _abort(connection: http.client.HTTPConnection, fired: threading.Event) -> None:
    """The deadline passed: shut the socket so a blocked read returns at once."""
    fired.set()
    sock = connection.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


@JUDGES.register("http")
class HttpJudge(Judge):
    """LLM judge on an OpenAI-compatible endpoint: rubric prompts, SQLite cache, retries."""

    #: Options that change how verdicts are fetched, never what they are (kept out of run identities).
    operational = ("api_key_env", "timeout", "max_retries", "backoff", "concurrency", "cache", "use_cache",
                   "max_reply_bytes")

    def __init__(self, base_url: str, model: str, api_key_env: str = "OPENAI_API_KEY",
                 template: Optional[str] = None, temperature: float = 0.0, max_tokens: int = 400,
                 timeout: float = 60.0, max_retries: int = 4, backoff: float = 1.0, concurrency: int = 4,
                 cache: Optional[str] = None, use_cache: bool = True, prompts: str = "harness",
                 descriptions: Optional[str] = None, max_reply_bytes: int = 1_000_000):
        clean_url, self._userinfo = split_credentials(str(base_url))
        parsed = urlsplit(clean_url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise JudgeError(f"judge 'http': base_url '{clean_url}' is not an http(s) URL (e.g. http://127.0.0.1:8000/v1)")
        numbers = {"temperature": temperature, "timeout": timeout, "backoff": backoff}
        for name, value in numbers.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise JudgeError(f"judge 'http': {name} must be a finite number, got {value!r}")
        if concurrency < 1 or max_retries < 0 or timeout <= 0 or max_tokens < 1 or max_reply_bytes < 1024:
            raise JudgeError("judge 'http': concurrency and max_tokens must be ≥ 1, max_retries ≥ 0, timeout > 0 "
                             "and max_reply_bytes ≥ 1024")
        if max_retries > 20 or concurrency > 256:
            raise JudgeError("judge 'http': max_retries must be ≤ 20 and concurrency ≤ 256")
        if prompts not in PROMPT_SETS:
            raise JudgeError(f"judge 'http': prompts '{prompts}' is not a prompt set ({', '.join(PROMPT_SETS)})")
        if prompts == "drivebench" and template is not None:
            raise JudgeError("judge 'http': a template replaces the harness prompt set; give either template or prompts: drivebench")
        self.prompts = prompts
        self.descriptions = VisualDescriptions(descriptions) if descriptions else None
        self.base_url = clean_url.rstrip("/")
        self.model = model
        self.api_key_env = api_key_env
        self.template = load_template(template)
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.timeout = timeout  # the whole request: connect, send, wait and read, not one socket operation
        self.max_retries = max_retries
        self.backoff = backoff
        self.concurrency = concurrency
        self.max_reply_bytes = max_reply_bytes
        self.custom_template = template is not None
        suffix = "#" + hashlib.sha256(self.template.encode()).hexdigest()[:8] if self.custom_template else ""
        suffix += "+drivebench" if prompts == "drivebench" else ""
        host = parsed.hostname + (f":{parsed.port}" if parsed.port else "")
        self.judge_id = f"http:{model}@{host}{suffix}"
        self.cache = None
        if use_cache:
            self.cache = VerdictCache(cache if cache is not None else cache_dir() / "judge" / "verdicts.sqlite")
        self.requests = 0  # HTTP requests sent (for reports and tests)
        self._count_lock = threading.Lock()

    def cache_key(self, prompt: str) -> str:
        """What a cached verdict depends on: the full URL, model, sampling settings and prompt."""
        return verdict_key(json.dumps({"url": self.base_url + "/chat/completions", "model": self.model,
                                       "temperature": self.temperature, "max_tokens": self.max_tokens,
                                       "judge_id": self.judge_id}, sort_keys=True), prompt)

    # -- one request -------------------------------------------------------------------
    def _post(self, prompt: str) -> str:
        body = json.dumps({
            "model": self.model,
            "messages": ([] if self.prompts == "drivebench" else [{"role": "system", "content": SYSTEM}])
            + [{"role": "user", "content": prompt}],
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        elif self._userinfo:
            headers["Authorization"] = "Basic " + base64.b64encode(self._userinfo.encode()).decode()
        url = urlsplit(self.base_url)
        path = (url.path or "") + "/chat/completions" + (f"?{url.query}" if url.query else "")
        kind = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
        connection = kind(url.hostname, url.port, timeout=self.timeout)
        fired = threading.Event()
        deadline = threading.Timer(self.timeout, _abort, args=(connection, fired))
        deadline.daemon = True
        with self._count_lock:
            self.requests += 1
        started = time.monotonic()
        try:
            deadline.start()
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            status, reason = response.status, response.reason
            payload = self._read_capped(response, started)
            if fired.is_set():  # the deadline shut the socket: what was read is a fragment
                raise _Retryable(f"no complete reply within timeout ({self.timeout:g} s)")
        except _Fatal:
            raise
        except _Retryable:
            raise
        except Exception as exc:  # every transport failure, http.client's included
            if fired.is_set():
                raise _Retryable(f"no complete reply within timeout ({self.timeout:g} s)") from None
            raise _Retryable(f"{type(exc).__name__}: {str(exc)[:200] or 'connection failed'}") from None
        finally:
            deadline.cancel()
            connection.close()
        if status == 429 or status >= 500:
            raise _Retryable(f"HTTP {status}")
        if status >= 400:
            raise _Fatal(f"HTTP {status} {reason}")
        try:
            return json.loads(payload)["choices"][0]["message"]["content"] or ""
        except (ValueError, KeyError, IndexError, TypeError):
            raise _Retryable("malformed reply (not a chat completion)") from None

    def _read_capped(self, response, started: float) -> bytes:
        """The reply body, refused beyond ``max_reply_bytes`` and cut off at the deadline."""
        declared = response.getheader("Content-Length")
        if declared and declared.isdigit() and int(declared) > self.max_reply_bytes:
            raise _Fatal(f"reply of {int(declared)} bytes is over max_reply_bytes ({self.max_reply_bytes})")
        chunks, size = [], 0
        while True:
            if time.monotonic() - started > self.timeout:
                raise _Retryable(f"no complete reply within timeout ({self.timeout:g} s)")
            chunk = response.read1(65536)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > self.max_reply_bytes:
                raise _Fatal(f"reply is over max_reply_bytes ({self.max_reply_bytes})")
            chunks.append(chunk)

    def _ask(self, item: EvalItem, prompt: str) -> JudgeScore:
        rubric = drivebench_rubric_for(item) if self.prompts == "drivebench" else rubric_for(item)
        last = "no attempt"
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(min(self.backoff * 2 ** (attempt - 1), 30.0))
            try:
                reply = self._post(prompt)
            except _Fatal as exc:
                return JudgeScore(None, {}, self.judge_id, error=str(exc))
            except _Retryable as exc:
                last = str(exc)
                continue
            verdict = parse_verdict(reply, rubric, pick="first" if self.prompts == "drivebench" else "last")
            if verdict is None:
                last = "malformed reply (no 'Total Score: N' within the rubric's range)"
                continue
            total, criteria = verdict
            if self.cache is not None:
                self.cache.put(self.cache_key(prompt), self.judge_id, total, criteria, reply)
            return JudgeScore(total, criteria, self.judge_id)
        return JudgeScore(None, {}, self.judge_id, error=f"{last} after {self.max_retries + 1} attempts")

    def prompt(self, item: EvalItem, prediction: str) -> str:
        """The prompt of ``item`` in this judge's prompt set, with the object's description if known."""
        desc = self.descriptions.for_item(item) if self.descriptions is not None else None
        if self.prompts == "drivebench":
            return drivebench_prompt(item, prediction, desc)
        return build_prompt(self.template, item, prediction, desc)

    # -- the judge interface ---------------------------------------------------------
    def score(self, item: EvalItem, prediction: str) -> JudgeScore:
        return self.score_many([item], [prediction])[0]

    def score_many(self, items: Sequence[EvalItem], predictions: Sequence[str]) -> list[JudgeScore]:
        if len(items) != len(predictions):
            raise ValueError("score_many: items and predictions differ in length")
        prompts = [self.prompt(item, pred) for item, pred in zip(items, predictions)]
        results: list[JudgeScore | None] = [None] * len(items)
        todo = []
        for i, prompt in enumerate(prompts):
            cached = self.cache.get(self.cache_key(prompt)) if self.cache is not None else None
            if cached is not None:
                results[i] = JudgeScore(cached[0], cached[1], self.judge_id)
            else:
                todo.append(i)
        if todo:
            with ThreadPoolExecutor(max_workers=min(self.concurrency, len(todo))) as pool:
                for i, verdict in zip(todo, pool.map(lambda j: self._ask(items[j], prompts[j]), todo)):
                    results[i] = verdict
        return [r for r in results if r is not None]


def describe(judge: HttpJudge) -> dict:
    """What a run records about the judge (never the key itself)."""
    return {"judge_id": judge.judge_id, "base_url": judge.base_url, "model": judge.model,
            "api_key_env": judge.api_key_env, "cache": str(judge.cache.path) if judge.cache else None,
            "template": "custom" if judge.custom_template else "default", "prompts": judge.prompts,
            "descriptions": str(judge.descriptions.path) if judge.descriptions else None}
