"""A corpus of malformed recipes and CLI calls: each names its field and exits 2.

Every file in malformed/ starts with `# expect: FIELD` (the dotted path, or file
name, the message must name) and `# message: TEXT` (a phrase it must contain).
The recipes use the real built-in components, so a renamed option or a lost
suggestion shows up here.
"""

from pathlib import Path

import pytest

from harness import cli

CORPUS = sorted((Path(__file__).parent / "malformed").glob("*.yaml"))
GOOD = """\
name: good
student: {family: internvl3, zoo: student}
teachers:
  t: {family: internvl3, zoo: teacher_s}
objectives:
  ce: {}
  planning:
    teacher: t
    signal: {attention: text_to_vision, layers: penultimate}
    loss: mse
combiner: {name: agp, anchor: ce}
"""


def header(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        key, _, value = line[1:].partition(":")
        out[key.strip()] = value.strip()
    return out


def test_corpus_is_big_enough():
    assert len(CORPUS) >= 15


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_malformed_recipe_names_its_field(path, capsys):
    expected = header(path)
    code = cli.main(["validate", str(path)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    assert f"{path.name}: " in err
    field = expected["expect"]
    assert f": {field}: " in err or err.rstrip().endswith(f": {field}") or f"{field}:" in err, err
    assert expected["message"] in err, err


@pytest.fixture
def good(tmp_path):
    path = tmp_path / "good.yaml"
    path.write_text(GOOD)
    return path


def test_the_good_recipe_validates(good, capsys):
    assert cli.main(["validate", str(good)]) == 0
    assert "ok  " in capsys.readouterr().out


CALLS = [
    (["--set", "train.lr"], "train.lr", "expected KEY=VALUE"),
    (["--set", "train.lrr=1"], "train.lrr", "did you mean 'lr'?"),
    (["--set", "student=3"], "student", "expected a mapping"),
    (["--set", "seed=abc"], "seed", "valid integer"),
    (["--set", "combiner.anchor=planing"], "combiner.anchor", "did you mean 'planning'?"),
    (["--set", "objectives.planning.signal.layers=[first, secnd]"], "objectives.planning.signal.layers", "is not a layer spec"),
    (["--set", "train.schedule=cosin"], "train.schedule", "did you mean 'cosine'?"),
]


@pytest.mark.parametrize("extra,field,message", CALLS, ids=[c[1] for c in CALLS])
def test_bad_overrides_name_their_field(good, capsys, extra, field, message):
    code = cli.main(["validate", str(good), *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert field in err
    if message:
        assert message in err, err


@pytest.mark.parametrize("argv", [["validate"], ["ls", "a", "b"], ["validate", "--set"]])
def test_bad_command_lines_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("harness")


def test_several_recipes_report_each_and_exit_2(good, capsys):
    bad = CORPUS[0]
    code = cli.main(["validate", str(good), str(bad)])
    captured = capsys.readouterr()
    assert code == 2
    assert "ok  " in captured.out
    assert bad.name in captured.err and "1 of 2 recipe(s) invalid" in captured.err
