"""docs/sweeps.md stays true: its example ablation file loads, and every CLI flag it names exists."""

import re

import yaml

from harness.commands import sweep as sweep_command
from harness.sweep.ablation import load_ablation

from .conftest import REPO

DOC = (REPO / "docs" / "sweeps.md").read_text()


def test_the_documented_ablation_file_loads(tmp_path):
    block = re.search(r"```yaml\n(name: table3_combiners.*?)```", DOC, re.S).group(1)
    data = yaml.safe_load(block)
    data["base"] = str(REPO / "recipes" / "agp_internvl1b.yaml")
    data["tiny"] = str(REPO / "ablations" / "tiny" / "table3_combiners.yaml")
    path = tmp_path / "doc.yaml"
    path.write_text(yaml.safe_dump(data))
    ablation = load_ablation(path)
    assert ablation.recipe("agp_stage1").spec.combiner.options == {"anchor": "ce", "stage1": True, "stage2": False, "anchor_once": False}
    assert ablation.recipe("sum").spec.combiner.options == {"weights": None}
    assert ablation.plan()[0].variant == "sum"  # the baseline first


def test_every_flag_in_the_doc_exists():
    import argparse

    parser = argparse.ArgumentParser()
    sweep_command.configure(parser)
    known = {opt for action in parser._actions for opt in action.option_strings}
    named = set(re.findall(r"harness sweep [^\n`]*", DOC))
    flags = {f for line in named for f in re.findall(r"(--[a-z-]+)", line)}
    assert flags and flags <= known, flags - known
