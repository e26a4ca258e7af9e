"""`harness power`: the standard-error model against simulation, its inverse, pilots, and the command."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness import cli
from harness.report import stats
from harness.report.collect import collect
from harness.report.pilot import variability
from harness.report.power import Variability, cluster_sd, minimum_detectable_effect, z_sum
from tests.report.fakes import item_table, write_run

FRAMES, PER_FRAME = 150, 7


def simulate(n_sim, n_seeds, seed_sd, frame_sd, item_sd, effect, seed):
    """Two methods × n_seeds runs on FRAMES frames of PER_FRAME items; returns per-run item scores.

    A run = shared difficulty + method effect + its seed's shift (seed_sd) + its own per-frame luck
    (frame_sd) + per-item noise (item_sd)."""
    rng = np.random.default_rng(seed)
    n = FRAMES * PER_FRAME
    difficulty = rng.uniform(20, 80, (n_sim, 1, n))

    def method(shift):
        luck = np.repeat(rng.normal(0, frame_sd, (n_sim, n_seeds, FRAMES)), PER_FRAME, axis=2)
        runs = rng.normal(0, seed_sd, (n_sim, n_seeds, 1))
        return difficulty + shift + runs + luck + rng.normal(0, item_sd, (n_sim, n_seeds, n))

    return method(effect), method(0.0)


def true_variability(seed_sd, frame_sd, item_sd):
    """The components of the model for the simulation above (seed sd of a run mean on fixed items,
    cluster sd of two single runs' per-frame difference)."""
    n = FRAMES * PER_FRAME
    run_mean_sd = math.sqrt(seed_sd**2 + frame_sd**2 / FRAMES + item_sd**2 / n)
    pair_cluster_sd = math.sqrt(2 * (frame_sd**2 + item_sd**2 / PER_FRAME))
    return Variability(seed_sd=run_mean_sd, cluster_sd=pair_cluster_sd, items_per_cluster=PER_FRAME, n_items=n)


def test_the_z_multiplier_is_the_textbook_one():
    assert z_sum(0.05, 0.8) == pytest.approx(1.959964 + 0.841621, abs=1e-5)
    assert minimum_detectable_effect(1.0) == pytest.approx(2.8016, abs=1e-3)


@pytest.mark.parametrize("n_seeds", [2, 4])
def test_the_standard_error_is_the_hierarchical_bootstraps_and_covers_the_true_spread(n_seeds):
    """Simulated experiments of two methods with n seeds each: the model's standard error is the
    one the report's hierarchical bootstrap reads (within 15%), and it is not smaller than the true
    spread of the difference (the two-level bootstrap is conservative, and so is the model)."""
    a, b = simulate(200, n_seeds, seed_sd=0.8, frame_sd=5.0, item_sd=12.0, effect=0.0, seed=n_seeds)
    labels = np.repeat(np.arange(FRAMES), PER_FRAME)
    boot = [stats.hierarchical_bootstrap(a[i], b[i], n_resamples=400, seed=i, clusters=labels).standard_error
            for i in range(40)]
    diffs = a.mean(axis=(1, 2)) - b.mean(axis=(1, 2))
    v = true_variability(0.8, 5.0, 12.0)
    model = v.standard_error(n_seeds)
    assert 0.85 < model / float(np.mean(boot)) < 1.15, (model, np.mean(boot))
    assert model > 0.95 * float(np.std(diffs, ddof=1))


def test_at_its_minimum_detectable_effect_the_cluster_bootstrap_has_about_80_percent_power():
    """One run per method, no seed noise: the paired test over frames at the model's MDE."""
    v = true_variability(0.0, 5.0, 12.0)
    item_only = Variability(seed_sd=0.0, cluster_sd=v.cluster_sd, items_per_cluster=PER_FRAME, n_items=v.n_items)
    effect = item_only.mde(1)
    a, b = simulate(600, 1, seed_sd=0.0, frame_sd=5.0, item_sd=12.0, effect=effect, seed=7)
    labels = np.repeat(np.arange(FRAMES), PER_FRAME)
    result = stats.paired_bootstrap(a[:, 0], b[:, 0], clusters=labels, n_resamples=1000, seed=8)
    power = float(np.mean(result.p_value < 0.05))
    assert 0.72 < power < 0.88, power


@settings(max_examples=80, deadline=None)
@given(st.floats(0.0, 5.0), st.floats(0.1, 30.0), st.floats(0.05, 10.0), st.integers(50, 5000))
def test_seeds_needed_is_the_inverse_of_the_minimum_detectable_effect(seed_sd, cl_sd, effect, n_items):
    v = Variability(seed_sd=seed_sd, cluster_sd=cl_sd, items_per_cluster=7, n_items=n_items)
    n = v.seeds_needed(effect)
    assert v.mde(n) <= effect * (1 + 1e-9)
    if n > 1:
        assert v.mde(n - 1) > effect


def test_cluster_sd_of_equal_clusters_is_the_sd_of_cluster_means():
    rng = np.random.default_rng(3)
    d = rng.normal(0, 10, 70)
    labels = np.repeat(np.arange(10), 7)
    means = d.reshape(10, 7).mean(axis=1)
    assert cluster_sd(d, labels) == pytest.approx(np.std(means, ddof=1))
    assert cluster_sd(d, None) == pytest.approx(np.std(d, ddof=1))


def _pilot(tmp_path, seed_shifts, frame_sd=6.0, noise=4.0):
    items = item_table(70, per_frame=2)  # 6 questions per frame, 35 frames
    rng = np.random.default_rng(0)
    base = rng.uniform(20, 80, len(items))
    frames = items["frame_token"].to_numpy()
    names = np.unique(frames)
    for seed, shift in enumerate(seed_shifts):
        luck = dict(zip(names, rng.normal(0, frame_sd, names.size)))
        scores = base + shift + np.array([luck[f] for f in frames]) + rng.normal(0, noise, len(items))
        write_run(tmp_path, "pilot", scores, items, seed=seed)
    return tmp_path


def test_a_pilot_gives_seed_and_cluster_variability(tmp_path):
    pilot = _pilot(tmp_path, [-1.0, 0.0, 1.0, 0.5])
    v = variability(collect(pilot), metric="avg")
    assert v.n_items == 210 and v.items_per_cluster == pytest.approx(6.0)
    assert 0.3 < v.seed_sd < 3.0  # four seeds: a rough figure, as pilots are
    # two runs' per-frame difference of Avg.: frame luck (sd 6, twice) plus item noise averaged in a frame
    expected = math.sqrt(2 * (6.0**2 + 4.0**2 / 6))
    assert 0.6 * expected < v.cluster_sd < 1.5 * expected
    assert "4 pilot runs of 1 configuration(s)" in v.source and "35 frames" in v.source


def test_power_command_from_a_pilot_and_from_figures(tmp_path, capsys):
    pilot = _pilot(tmp_path, [-1.0, 0.0, 1.0])
    assert cli.main(["power", str(pilot), "--seeds", "1,4", "--effect", "50"]) == 0
    out = capsys.readouterr().out
    assert "minimum detectable effect" in out and "3 pilot runs" in out
    assert "seeds per method needed for an effect of 50: 1" in out
    assert cli.main(["power", "--seed-sd", "0.5", "--cluster-sd", "9", "--items", "1461", "--effect", "0.3"]) == 0
    out = capsys.readouterr().out
    v = Variability(seed_sd=0.5, cluster_sd=9, items_per_cluster=7, n_items=1461)
    assert f"{v.mde(1):.3f}" in out and f"{v.mde(10):.3f}" in out
    assert f"seeds per method needed for an effect of 0.3: {v.seeds_needed(0.3)}" in out


@pytest.mark.parametrize("argv, message", [
    (["power"], "give PILOT_RUNS, or both --seed-sd and --cluster-sd"),
    (["power", "--seed-sd", "1"], "give PILOT_RUNS, or both"),
    (["power", "--seed-sd", "1", "--cluster-sd", "2", "--seeds", "0"], "--seeds: every number of seeds must be"),
    (["power", "--seed-sd", "1", "--cluster-sd", "2", "--power", "1.5"], "--alpha and --power must lie in"),
])
def test_power_command_refuses_bad_input_in_one_line(capsys, argv, message):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_a_pilot_without_two_seeds_of_one_configuration_is_refused(tmp_path, capsys):
    pilot = _pilot(tmp_path, [0.0])
    assert cli.main(["power", str(pilot)]) == 2
    assert "none with two seeds" in capsys.readouterr().err
