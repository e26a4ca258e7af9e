"""Studies in real Optuna storages (SQLite, journal file): one plan, claimed once, retried when stale."""

import time

import optuna
import pytest
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from harness.errors import HarnessError
from harness.files import atomic_write_json
from harness.rundir import RunDir
from harness.sweep.ablation import load_ablation
from harness.sweep.execute import objective_value
from harness.sweep.heartbeat import HEARTBEAT_ATTR, fail_stale_trials
from harness.sweep.storage import _redact, journal_path, normalise_url, open_storage, open_study
from harness.sweep.study import parse_seeds, rerun_top
from harness.sweep.worker import claim, counts

optuna.logging.set_verbosity(optuna.logging.WARNING)
pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")


def test_storage_arguments():
    assert journal_path("journal:/shared/s.log").as_posix() == "/shared/s.log"
    assert journal_path("/shared/study.journal").as_posix() == "/shared/study.journal"
    assert journal_path("postgresql://u:p@h/db") is None
    assert normalise_url("x.db").startswith("sqlite:////")
    assert normalise_url("mysql+pymysql://u@h/db") == "mysql+pymysql://u@h/db"
    assert _redact("postgresql://alice:secret@db.lab:5432/optuna") == "postgresql://alice:***@db.lab:5432/optuna"


def test_a_missing_driver_is_one_line(write_ablation):
    retry = load_ablation(write_ablation()).spec.retry
    with pytest.raises(HarnessError) as info:
        open_storage("postgresql://alice:secret@nowhere.invalid/optuna", retry)
    assert "secret" not in str(info.value) and "\n" not in str(info.value)


@pytest.fixture(params=["sqlite", "journal"])
def url(request, tmp_path):
    return f"sqlite:///{tmp_path}/s.db" if request.param == "sqlite" else f"journal:{tmp_path}/s.journal"


def test_the_creator_enqueues_the_plan_once_and_joiners_only_claim(write_ablation, url):
    ablation = load_ablation(write_ablation(seeds="[0, 1]"))
    first = open_study(ablation, open_storage(url, ablation.spec.retry), study_name="s", n_trials=None)
    second_store = open_storage(url, ablation.spec.retry)  # as another process would
    second = open_study(ablation, second_store, study_name="s", n_trials=None)
    assert counts(first) == {"waiting": 6}
    claimed = []
    store_one = first._storage
    while True:
        a = claim(first, store_one)
        b = claim(second, second_store)
        claimed += [t.number for t in (a, b) if t is not None]
        if a is None and b is None:
            break
    assert sorted(claimed) == list(range(6))  # every trial once, none twice
    assert counts(second) == {"running": 6}


def test_growing_a_study_enqueues_only_the_new_tail(write_ablation, url):
    ablation = load_ablation(write_ablation(seeds="[0, 1]"))
    study = open_study(ablation, open_storage(url, ablation.spec.retry), study_name="s", n_trials=2)
    assert counts(study) == {"waiting": 2}
    joined = open_study(ablation, open_storage(url, ablation.spec.retry), study_name="s", n_trials=None)
    assert counts(joined) == {"waiting": 2}  # joining without --n-trials never changes the plan
    study = open_study(ablation, open_storage(url, ablation.spec.retry), study_name="s", n_trials=5)
    assert counts(study) == {"waiting": 5}
    seeds_and_variants = [(t.user_attrs["harness.variant"], t.user_attrs["harness.seed"], tuple(t.system_attrs["fixed_params"].values()))
                          for t in study.get_trials()]
    assert len(set(seeds_and_variants)) == 5


def test_a_changed_file_cannot_join_the_old_study(write_ablation, url):
    ablation = load_ablation(write_ablation())
    open_study(ablation, open_storage(url, ablation.spec.retry), study_name="s", n_trials=None)
    changed = load_ablation(write_ablation(lrs="[1.0e-4, 2.0e-4]"))
    with pytest.raises(HarnessError, match="different version"):
        open_study(changed, open_storage(url, changed.spec.retry), study_name="s", n_trials=None)


def test_journal_trials_whose_heartbeat_stopped_are_retried_with_the_same_config(write_ablation, tmp_path):
    ablation = load_ablation(write_ablation())
    url = f"journal:{tmp_path}/s.journal"
    store = open_storage(url, ablation.spec.retry)
    study = open_study(ablation, store, study_name="s", n_trials=None)
    trial = claim(study, store)
    store.set_trial_system_attr(trial._trial_id, HEARTBEAT_ATTR, time.time() - 60)
    fresh = claim(study, store)
    store.set_trial_system_attr(fresh._trial_id, HEARTBEAT_ATTR, time.time())
    retry = RetryHeartbeatStaleTrialCallback(max_retry=2)
    assert fail_stale_trials(study, store, grace_period=4, retry_callback=retry) == [trial.number]
    assert fail_stale_trials(study, store, grace_period=4, retry_callback=retry) == []  # only once
    states = {t.number: t.state for t in study.get_trials()}
    assert states[trial.number] == TrialState.FAIL and states[fresh.number] == TrialState.RUNNING
    copy = study.get_trials()[-1]
    assert copy.state == TrialState.WAITING and copy.system_attrs["failed_trial"] == trial.number
    assert copy.user_attrs == study.get_trials()[trial.number].user_attrs


def test_rerun_top_enqueues_the_best_configurations_with_fresh_seeds(write_ablation, tmp_path):
    ablation = load_ablation(write_ablation(seeds="[0, 1]"))
    store = open_storage(f"sqlite:///{tmp_path}/s.db", ablation.spec.retry)
    study = open_study(ablation, store, study_name="s", n_trials=None)
    values = {"lr_high": 3.0, 1e-4: 1.0, 5e-4: 2.0}  # minimize: 1e-4 best, then 5e-4
    while (trial := claim(study, store)) is not None:
        variant = trial.user_attrs["harness.variant"]
        key = variant or trial.suggest_categorical("train.lr", [1e-4, 5e-4])
        study.tell(trial, values[key] + trial.user_attrs["harness.seed"] * 0.01)
    assert rerun_top(study, ablation, 2, "2", on_event=lambda _: None) == 4
    assert rerun_top(study, ablation, 2, "2,3", on_event=lambda _: None) == 0  # 2 and 3 are taken now
    reruns = [t for t in study.get_trials() if t.user_attrs.get("harness.rerun")]
    assert sorted((t.system_attrs["fixed_params"]["train.lr"], t.user_attrs["harness.seed"]) for t in reruns) == [
        (1e-4, 2), (1e-4, 3), (5e-4, 2), (5e-4, 3)]


def test_seed_arguments():
    assert parse_seeds("3", {0, 1}) == [2, 3, 4]
    assert parse_seeds("100,101", {0}) == [100, 101]
    with pytest.raises(HarnessError, match="--seeds"):
        parse_seeds("three", set())
    with pytest.raises(HarnessError, match="needs --seeds"):
        parse_seeds(None, set())


def test_a_missing_objective_metric_is_one_clear_line(tmp_path):
    run = RunDir(tmp_path / "run")
    atomic_write_json(run.info_file, {"status": "finished", "summary": {"final_losses": {"ce": 6.5}, "eval": {"status": "skipped"}}})
    assert objective_value(run, "final_losses.ce", ablation_file="a.yaml") == 6.5
    with pytest.raises(HarnessError) as info:
        objective_value(run, "eval.avg", ablation_file="a.yaml")
    message = str(info.value)
    assert "summary has no 'eval.avg'" in message and "a.yaml" in message and "final_losses.ce" in message
    assert "\n" not in message


def test_a_sampled_point_runs_every_seed_with_the_same_values(write_ablation, tmp_path):
    from harness.sweep.worker import Context, prepare

    text = (write_ablation().read_text().replace("train.lr: [1.0e-4, 5.0e-4]", "train.lr: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}")
            .replace("seeds: [0]", "seeds: [0, 1]") + "sampler: {name: tpe, seed: 7}\nn_trials: 6\n")
    path = tmp_path / "tpe.yaml"
    path.write_text(text)
    ablation = load_ablation(path)
    store = open_storage(f"sqlite:///{tmp_path}/s.db", ablation.spec.retry)
    study = open_study(ablation, store, study_name="tpe", n_trials=None)
    ctx = Context(ablation, store, study, tmp_path, tmp_path, None, on_event=lambda _: None)
    drawn = {}
    while (trial := claim(study, store)) is not None:
        seed, variant, params = prepare(ctx, trial)
        if variant is None:
            assert 1e-4 <= params["train.lr"] <= 1e-2
            drawn.setdefault(params["train.lr"], []).append(seed)
        study.tell(trial, 1.0)
    assert len(drawn) == 2 and all(sorted(seeds) == [0, 1] for seeds in drawn.values())
    assert counts(study) == {"complete": 6}


def test_one_run_directory_is_run_by_one_trial_at_a_time(tmp_path):
    import threading

    from harness.sweep.execute import trial_lock

    run_dir = tmp_path / "runs" / "r" / "abcd1234-s0"
    order = []
    held = threading.Event()

    def first():
        with trial_lock(run_dir):
            held.set()
            time.sleep(0.5)
            order.append("first done")

    thread = threading.Thread(target=first)
    thread.start()
    held.wait()
    with trial_lock(run_dir):
        order.append("second in")
    thread.join()
    assert order == ["first done", "second in"]


@pytest.mark.slow
def test_processes_opening_a_new_database_at_once_all_succeed(write_ablation, tmp_path):
    """Optuna's table creation races on a fresh database; every opener must still get it."""
    import subprocess
    import sys

    path = write_ablation()
    code = ("import sys; from harness.sweep.ablation import load_ablation; from harness.sweep.storage import open_storage; "
            "open_storage(sys.argv[1], load_ablation(sys.argv[2]).spec.retry); print('ok')")
    for i in range(2):
        url = f"sqlite:///{tmp_path}/race{i}.db"
        procs = [subprocess.Popen([sys.executable, "-c", code, url, str(path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                 for _ in range(3)]
        outs = [p.communicate(timeout=120)[0].decode() for p in procs]
        assert all(p.returncode == 0 for p in procs), outs
