"""The report's reader of ablation files: the repository's own files and its mistakes."""

import pytest

from harness.errors import HarnessError
from harness.paths import REPO_ROOT
from harness.report.spec import StatsOptions, TableSpec, read_ablation

ABLATIONS = sorted((REPO_ROOT / "ablations").rglob("*.yaml"))


@pytest.mark.parametrize("path", ABLATIONS, ids=[p.relative_to(REPO_ROOT).as_posix() for p in ABLATIONS])
def test_every_ablation_file_in_the_repository_is_readable(path):
    ablation = read_ablation(path)
    assert ablation.name and ablation.table.kind in ("table1", "table2", "table3")
    assert ablation.table.metrics  # the kind's defaults when the file gives none


def test_table2_file_reads_teacher_rows_and_student_groups():
    table = read_ablation(REPO_ROOT / "ablations" / "table2_scaling.yaml").table
    assert table.rows == "teachers.perception_teacher.scale" and table.columns == ("student.scale",)
    assert table.baseline == "8b" and table.metrics == ("avg",)


@pytest.mark.parametrize("text, message", [
    ("name: [x]\ntable: {kind: table3}\n", "name: the study name must be a string"),
    ("name: x\ntable: {kind: table4}\n", "table.kind: 'table4' is not one of table1, table2, table3, settings; did you mean"),
    ("name: x\ntable: {metrics: [avgg]}\n", "table.metrics: 'avgg' is not a metric; did you mean 'avg'"),
    ("name: x\ntable: {baseline: sum, rwos: variant}\n", "table.rwos: unknown key 'rwos'; did you mean 'rows'"),
    ("name: x\ntable: [1, 2]\n", "table: expected a mapping"),
    ("name: [unclosed\n", "invalid YAML"),
    ("name: x\nname: y\n", "duplicate key"),
])
def test_mistakes_name_the_file_and_field(tmp_path, text, message):
    path = tmp_path / "a.yaml"
    path.write_text(text)
    with pytest.raises(HarnessError, match=message) as info:
        read_ablation(path)
    assert str(path) in str(info.value)


def test_a_study_without_a_name_is_named_after_its_file_as_the_sweep_names_it(tmp_path):
    path = tmp_path / "my_study.yaml"
    path.write_text("table: {kind: table3, metrics: avg}\n")
    ablation = read_ablation(path)
    assert ablation.name == "my_study" and ablation.table.metrics == ("avg",)


def test_options_are_checked():
    with pytest.raises(HarnessError, match="correction 'holmes'.*did you mean 'holm'"):
        StatsOptions(correction="holmes")
    with pytest.raises(HarnessError, match="alpha"):
        StatsOptions(alpha=1.5)
    assert TableSpec(name="t", kind="table1").metrics[-1] == "first_token_latency_s"
