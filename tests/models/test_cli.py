"""`harness ls families|signals|losses` and `harness zoo build|ls` through the real CLI entry point."""

from harness.cli import main


def test_ls_lists_families_signals_losses(capsys):
    assert main(["ls", "families"]) == 0
    out = capsys.readouterr().out
    assert "internvl3" in out and "qwen2_5_vl" in out
    assert main(["ls", "signals"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("text_to_vision", "full", "hidden", "logits"))
    assert main(["ls", "losses"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("mse", "cosine", "kl", "hidden"))
    assert main(["ls", "matchings"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("group", "uniform", "pairs", "none"))


def test_zoo_build_and_ls(zoo_cache, capsys):
    from harness.models.zoo import zoo_families

    models = 3 * len(zoo_families())  # student, teacher_s and teacher_l of every family
    assert main(["zoo", "build"]) == 0
    assert f"{models} models ready" in capsys.readouterr().out
    assert main(["zoo", "ls"]) == 0
    out = capsys.readouterr().out
    assert out.count("true") == models and "teacher_l" in out


def test_zoo_build_unknown_family_is_one_line_error(zoo_cache, capsys):
    assert main(["zoo", "build", "--family", "internvl"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did you mean 'internvl3'" in err
