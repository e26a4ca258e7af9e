"""`harness eval --model M --data D`: evaluate any model on DriveBench-format data."""

from __future__ import annotations

import argparse
import json

import yaml
from tabulate import tabulate

from harness.errors import HarnessError



def _key_values(pairs: list[str], flag: str) -> dict:
    """``KEY=VALUE`` pairs with YAML-typed values (``concurrency=8`` is an int)."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise HarnessError(f"{flag} {pair!r}: expected KEY=VALUE")
        try:
            out[key.strip()] = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError:
            out[key.strip()] = value
    return out


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rejudge", metavar="DIR",
                        help="fill the missing verdicts of an existing evaluation or run folder in place "
                             "(its judge, data and predictions are reused; --judge-option overrides)")
    parser.add_argument("--model", metavar="PATH|FAMILY:SCALE|FAMILY:zoo/SIZE",
                        help="a saved HF folder (e.g. results/runs/<name>/<hash>-s0/student), a hub scale "
                             "(internvl3:1b) or a tiny-zoo model (internvl3:zoo/student)")
    parser.add_argument("--data", metavar="FILE|DATASET",
                        help="a DriveBench JSON file, or a registered dataset name such as 'synthetic'")
    parser.add_argument("--data-root", metavar="DIR", help="folder the file's image paths are relative to")
    parser.add_argument("--data-option", action="append", default=[], metavar="KEY=VALUE",
                        help="dataset option, e.g. --data-option eval=32 for synthetic (repeatable)")
    parser.add_argument("--setting", action="append", default=[], metavar="NAME",
                        help="clean (default), text_only, or a corruption setting of the data (repeatable)")
    parser.add_argument("--judge", default="rubric", help="rubric (offline, default) or http (an LLM endpoint)")
    parser.add_argument("--judge-option", action="append", default=[], metavar="KEY=VALUE",
                        help="judge option, e.g. base_url=http://127.0.0.1:8000/v1, model=NAME, "
                             "api_key_env=VAR, template=FILE, concurrency=8 (repeatable)")
    parser.add_argument("--batch-size", type=int, default=8, help="prompts per generate call (default 8)")
    parser.add_argument("--max-new-tokens", type=int, default=64, help="generation length limit (default 64)")
    parser.add_argument("--max-items", type=int, help="evaluate only the first N items of each setting")
    parser.add_argument("--system-prompt", default="none",
                        help="none (default: the bare question, as in training), drivebench (our brief), "
                             "or a text file with your own instructions")
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16", "auto"))
    parser.add_argument("--results", metavar="DIR", help="results root (default: $HARNESS_RESULTS or ./results)")
    parser.add_argument("--force", action="store_true", help="evaluate again into a new directory")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def main(args: argparse.Namespace) -> int:
    from harness.eval.api import evaluate

    if args.rejudge is not None:
        return _rejudge(args)
    if not args.model or not args.data:
        raise HarnessError("--model and --data are required (or --rejudge DIR)")
    run = evaluate(
        args.model, args.data, args.setting or ["clean"], args.judge, _key_values(args.judge_option, "--judge-option"),
        data_root=args.data_root, data_options=_key_values(args.data_option, "--data-option"),
        batch_size=args.batch_size, max_new_tokens=args.max_new_tokens, max_items=args.max_items,
        system_prompt=args.system_prompt, dtype=args.dtype, results_root=args.results, force=args.force,
        progress=not args.quiet,
    )
    summary = json.loads(run.summary_file.read_text())
    rows = []
    for setting, scores in summary["settings"].items():
        rows.append([setting, *(_fmt(scores.get(k)) for k in ("perception", "reasoning", "planning", "avg",
                                                              "mcq_acc_strict", "mcq_acc_official",
                                                              "closed_acc_parsed", "closed_acc_ranked")),
                     scores["n_items"], scores["n_missing"]])
    print(tabulate(rows, headers=["setting", "perception", "reasoning", "planning", "avg", "mcq strict",
                                  "mcq official", "closed parsed", "closed ranked", "items", "missing"]))
    eff = summary.get("efficiency", {})
    print(f"judge {summary['judge_id']}; {eff.get('device')} batch {eff.get('batch_size')}: "
          f"{_fmt(eff.get('tokens_per_second'))} tok/s, first token {_fmt(eff.get('first_token_latency_s'))} s, "
          f"peak {_fmt(eff.get('peak_memory_mb'))} MB")
    for key in ("text_only_gap", "corruption_mean"):
        if key in summary:
            print(f"{key.replace('_', ' ')}: {_fmt(summary[key])}")
    print(f"results: {run.path}")
    return 0


def _rejudge(args: argparse.Namespace) -> int:
    from harness.eval.rejudge import NoVerdicts, rejudge, verdicts_missing

    run, filled, still = rejudge(args.rejudge, _key_values(args.judge_option, "--judge-option"))
    print(f"{run.path}: filled {filled} missing verdict(s); {still} still missing")
    problem = verdicts_missing(run)
    if problem is not None:
        raise NoVerdicts(problem)
    return 0


def _fmt(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"
    return str(value)
