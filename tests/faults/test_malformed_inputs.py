"""A corpus of malformed inputs: each is one line naming what is wrong, exit 2, and nothing written.

The cases are what a hostile or careless environment hands the harness: non-finite
and out-of-range numbers, files that are not UTF-8 or nest without end, a 2 MB
question, repeated items, image paths that walk out of the data folder, results
and cache folders that are files, read-only or full, and symlinked run folders.
"""

from __future__ import annotations

import json
import os

import pytest

from harness import cli
from harness.recipe import load_recipe
from harness.rundir import run_path

from .conftest import write_items
from .injection import tiny_disk

NESTED_40 = "[" * 40 + "]" * 40

SET_CASES = {  # --set VALUE: the message must name the field and say why
    "lr_inf": ("train.lr=.inf", "train.lr: inf is not a finite number"),
    "lr_minus_inf": ("train.lr=-.inf", "train.lr: -inf is not a finite number"),
    "lr_nan": ("train.lr=.nan", "train.lr: nan is not a finite number"),
    "lr_overflow": ("train.lr=1e400", "train.lr: inf is not a finite number"),
    "weight_decay_inf": ("train.weight_decay=.inf", "train.weight_decay: inf is not a finite number"),
    "grad_norm_nan": ("train.max_grad_norm=.nan", "train.max_grad_norm: nan is not a finite number"),
    "warmup_nan": ("train.warmup_ratio=.nan", "train.warmup_ratio: nan is not a finite number"),
    "weight_inf": ("objectives.ce.weight=.inf", "objectives.ce.weight: inf is not a finite number"),
    "seed_huge": ("seed=999999999999999999999999999999", "seed: 999999999999999999999999999999 is out of range"),
    "seed_negative": ("seed=-3", "seed: input should be greater than or equal to 0"),
    "seed_beyond_32_bits": ("seed=4294967296", "seed: input should be less than 4294967296"),
    "deep_value": (f"description={NESTED_40}", "nested deeper than 32 levels"),
    "judge_credentials": ("eval.judge={name: http, base_url: 'http://u:sk-1@judge.example/v1', model: m}",
                          "eval.judge.base_url: holds credentials"),
    "judge_timeout_inf": ("eval.judge={name: http, base_url: 'http://judge.example/v1', model: m, timeout: .inf}",
                          "timeout: inf is not a finite number"),
}


def _run(args, capsys):
    code = cli.main(["run", *map(str, args), "--quiet"])
    err = capsys.readouterr().err
    return code, err


def _assert_one_line(code, err, phrase):
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert phrase in err, err


@pytest.mark.parametrize("case", SET_CASES, ids=list(SET_CASES))
def test_bad_numbers_and_values_in_set(case, ce_recipe, env, capsys):
    value, phrase = SET_CASES[case]
    code, err = _run([ce_recipe(), "--results", env / "results", "--set", value], capsys)
    _assert_one_line(code, err, phrase)
    assert not (env / "results").exists()


def test_a_recipe_file_that_is_not_utf8(env, capsys):
    path = env / "latin1.yaml"
    path.write_bytes("name: café\n".encode("latin-1"))
    _assert_one_line(*_run([path, "--results", env / "results"], capsys), "is not UTF-8 text")


def test_a_recipe_file_nested_without_end(ce_recipe, env, capsys):
    path = ce_recipe()
    path.write_text(path.read_text() + f"description: {NESTED_40}\n")
    _assert_one_line(*_run([path, "--results", env / "results"], capsys), "nested deeper than 32 levels")


def _item_cases(items):
    """(name, file name, items or raw bytes, phrase) of malformed DriveBench data."""
    first = items[0]
    long = dict(first, question="What is ahead? " + "x" * 2_000_000)
    outside = dict(first, image_path={**first["image_path"], "CAM_FRONT": "../../etc/passwd"})
    absolute = dict(first, image_path={**first["image_path"], "CAM_BACK": "/etc/passwd"})
    nested = dict(first, extra=json.loads(NESTED_40))
    return {
        "not_utf8": (b'[{"question": "caf\xe9"}]', "is not UTF-8 text"),
        "deeply_nested": (json.dumps([nested]).encode(), "nested deeper than 32 levels"),
        "nested_without_end": (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        "two_megabyte_question": ([long], "field 'question': is 2000015 characters long (at most 100000)"),
        "duplicate_items": ([first, items[1], dict(first)], "item 2: field 'question': repeats item 0"),
        "duplicate_ids": ([dict(first, id="a"), dict(items[1], id="a")], "item 1: field 'id': repeats item 0"),
        "image_outside_root": ([outside], "'../../etc/passwd' leaves the data root"),
        "absolute_image_path": ([absolute], "'/etc/passwd' leaves the data root"),
    }


ITEM_CASES = ["not_utf8", "deeply_nested", "nested_without_end", "two_megabyte_question", "duplicate_items",
              "duplicate_ids", "image_outside_root", "absolute_image_path"]


@pytest.mark.parametrize("split", ["train", "eval"])
@pytest.mark.parametrize("case", ITEM_CASES)
def test_malformed_drivebench_data(case, split, ce_recipe, drivebench_folder, env, capsys):
    root, items = drivebench_folder
    content, phrase = _item_cases(items)[case]
    bad = root / "bad.json"
    if isinstance(content, bytes):
        bad.write_bytes(content)
    else:
        write_items(root, "bad.json", content)
    good = write_items(root, "good.json", items[:8])
    spec = "{{name: drivebench, path: '{}', check_images: false}}"
    train, evaluation = (bad, good) if split == "train" else (good, bad)
    recipe = ce_recipe(train=spec.format(train), eval_data=spec.format(evaluation), evaluate="true")
    code, err = _run([recipe, "--results", env / "results"], capsys)
    _assert_one_line(code, err, phrase)
    assert "bad.json" in err  # the message names the file
    assert not (env / "results").exists()  # refused before the run folder, even for eval data


def test_images_outside_the_root_are_allowed_when_asked(drivebench_folder):
    from harness.data import drivebench

    root, items = drivebench_folder
    outside = dict(items[0], image_path={**items[0]["image_path"], "CAM_BACK": str(root.parent / "elsewhere.png")})
    path = write_items(root, "outside.json", [outside])
    loaded = drivebench.load(path, check_images=False, keep_all_cameras=True, allow_outside_root=True)
    assert loaded[0].cameras["CAM_BACK"] == str(root.parent / "elsewhere.png")


def test_conversation_images_outside_the_root(env, capsys, ce_recipe):
    data = env / "conv"
    data.mkdir()
    (data / "train.json").write_text(json.dumps([{
        "id": "a", "image": ["../../../etc/passwd"],
        "conversations": [{"from": "human", "value": "<image>\nWhat is ahead?"}, {"from": "gpt", "value": "A car."}],
        "question_type": "perception"}]))
    recipe = ce_recipe(train=f"{{name: drivekd_conversations, path: '{data / 'train.json'}', check_images: false}}")
    code, err = _run([recipe, "--results", env / "results"], capsys)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert "leaves the data root" in err or "field" in err, err
    assert not (env / "results").exists()


def test_results_path_that_is_a_file(ce_recipe, env, capsys):
    target = env / "results.txt"
    target.write_text("not a folder")
    _assert_one_line(*_run([ce_recipe(), "--results", target], capsys), "the results folder is a file, not a folder")
    assert target.read_text() == "not a folder"


def test_cache_path_that_is_a_file(ce_recipe, env, capsys, monkeypatch):
    cache = env / "cache.txt"
    cache.write_text("not a folder")
    monkeypatch.setenv("HARNESS_CACHE", str(cache))
    _assert_one_line(*_run([ce_recipe(), "--results", env / "results"], capsys), "is a file, not a folder")
    assert not (env / "results" / "runs").exists()


def test_read_only_results_folder(ce_recipe, env, capsys):
    with tiny_disk(env / "ro", read_only=True) as folder:
        _assert_one_line(*_run([ce_recipe(), "--results", folder], capsys), "cannot write to the results folder")


def test_full_results_folder(ce_recipe, env, capsys):
    with tiny_disk(env / "full", fill=True) as folder:
        _assert_one_line(*_run([ce_recipe(), "--results", folder], capsys), "the results folder is full")
        assert not (folder / "runs").exists()


def test_read_only_cache_folder(ce_recipe, env, capsys, monkeypatch):
    with tiny_disk(env / "rocache", read_only=True) as folder:
        monkeypatch.setenv("HARNESS_CACHE", str(folder))
        _assert_one_line(*_run([ce_recipe(), "--results", env / "results"], capsys), "cannot write to the cache folder")


@pytest.mark.parametrize("linked", ["folder", "metrics"])
def test_symlinked_run_folders_are_not_written_through(linked, ce_recipe, env, capsys):
    recipe = ce_recipe(name=f"link-{linked}")
    loaded = load_recipe(recipe)
    results = env / "results"
    folder = run_path(results, loaded.name, loaded.hash, loaded.seed)
    elsewhere = env / "elsewhere"
    elsewhere.mkdir()
    folder.parent.mkdir(parents=True)
    if linked == "folder":
        os.symlink(elsewhere, folder)
    else:
        folder.mkdir()
        (folder / "run.json").write_text(json.dumps({"status": "interrupted"}))
        os.symlink(elsewhere / "metrics.jsonl", folder / "metrics.jsonl")
    extra = ["--resume"] if linked == "metrics" else []
    _assert_one_line(*_run([recipe, "--results", results, *extra], capsys), "is a symbolic link")
    assert list(elsewhere.iterdir()) == []


def test_eval_judge_options_are_checked_before_any_folder(env, capsys):
    code = cli.main(["eval", "--model", "internvl3:zoo/student", "--data", "synthetic", "--judge", "http",
                     "--judge-option", "base_url=http://127.0.0.1:9/v1", "--judge-option", "model=m",
                     "--judge-option", "timeout=.inf", "--results", str(env / "results")])
    err = capsys.readouterr().err
    _assert_one_line(code, err, "timeout must be a finite number")
    assert not (env / "results").exists()


def test_the_corpus_is_big_enough():
    assert len(SET_CASES) + 2 * len(ITEM_CASES) + 12 >= 30
