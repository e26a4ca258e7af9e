"""One schema for an ablation file's `table:` section: `harness sweep` and `harness report` refuse a bad
field with the same one-line error, naming the file and the field."""

import pytest

from harness import cli
from tests.sweep.conftest import CE_ABLATION, TINY_SFT

BAD_TABLES = [
    ("{kind: table4}", "table.kind: 'table4' is not one of table1, table2, table3, settings"),
    ("{kind: table3, metrics: [avgg]}", "table.metrics: 'avgg' is not a metric; did you mean 'avg'?"),
    ("{kind: table3, rwos: variant}", "table.rwos: unknown key 'rwos'; did you mean 'rows'?"),
    ("{kind: table3, columns: 3}", "table.columns: "),
    ("[1, 2]", "table: expected a mapping"),
]


@pytest.mark.parametrize("table, message", BAD_TABLES, ids=[m.split(":")[0] + str(i) for i, (_, m) in enumerate(BAD_TABLES)])
def test_sweep_and_report_give_the_same_one_line_error(tmp_path, capsys, table, message):
    text = CE_ABLATION.format(name="bad_table", base=TINY_SFT, lrs="[5.0e-4]", seeds="[0]", steps=1, epochs=1)
    text = text.replace("table: {kind: table3, rows: variant, baseline: lr_high}", f"table: {table}")
    path = tmp_path / "bad_table.yaml"
    path.write_text(text)
    lines = {}
    for command in ("sweep", "report"):
        code = cli.main([command, str(path), "--results", str(tmp_path / "results")])
        out, err = capsys.readouterr()
        assert code == 2 and out == ""
        assert err.count("\n") == 1 and "Traceback" not in err
        prefix = f"harness {command}: error: "
        assert err.startswith(prefix)
        lines[command] = err[len(prefix):]
    assert lines["sweep"] == lines["report"]
    assert lines["sweep"].startswith(f"{path}: {message}")
    assert not (tmp_path / "results").exists()  # nothing written
