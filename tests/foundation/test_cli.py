"""The CLI shell: help for every command, one-line user errors with exit 2, --debug."""

import subprocess
import sys

import pytest

from harness import cli
from harness.commands import COMMANDS
from harness.errors import HarnessError


def run_cli(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for name in ("run", "sweep", "report", "eval", "ls", "validate", "zoo", "data"):
        assert name in out


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help(capsys, name):
    with pytest.raises(SystemExit) as info:
        cli.main([name, "--help"])
    assert info.value.code == 0
    assert "usage: harness " + name in capsys.readouterr().out


def test_no_command_prints_help_and_exits_2(capsys):
    code, out, _ = run_cli(capsys)
    assert code == 2 and "COMMAND" in out


def test_unknown_command_exits_2(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["frobnicate"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_user_error_is_one_line_without_traceback(capsys, tmp_path):
    code, _, err = run_cli(capsys, "validate", str(tmp_path / "missing.yaml"))
    assert code == 2
    assert "Traceback" not in err
    assert "missing.yaml: no such file" in err


def test_debug_shows_the_traceback(capsys, monkeypatch):
    import harness.commands.ls as ls_command

    def explode(_args):
        raise HarnessError("a user mistake")

    monkeypatch.setattr(ls_command, "main", explode)
    code, _, err = run_cli(capsys, "--debug", "ls")
    assert code == 2 and "Traceback" in err and "a user mistake" in err
    code, _, err = run_cli(capsys, "ls")
    assert code == 2 and "Traceback" not in err


def test_ls_unknown_kind_suggests(capsys):
    code, _, err = run_cli(capsys, "ls", "combinerz")
    assert code == 2
    assert "did you mean 'combiners'" in err


def test_ls_lists_every_kind(capsys):
    code, out, _ = run_cli(capsys, "ls")
    assert code == 0
    for kind in ("families:", "combiners:", "losses:", "signals:", "datasets:", "judges:"):
        assert kind in out


def test_console_script_runs_in_a_fresh_process():
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "ls", "nope"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_python_api_mirrors_the_cli():
    import harness
    import harness.report.api  # noqa: F401  (binds harness.report to the package …)
    import harness.sweep.study  # noqa: F401  (… and harness.sweep: the verbs have other names)

    for name in ("run", "validate", "ls", "evaluate", "run_sweep", "write_report", "build_zoo", "synth"):
        assert callable(getattr(harness, name))
    assert set(harness.ls("combiners")) == {"combiners"}
