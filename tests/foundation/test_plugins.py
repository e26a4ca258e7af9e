"""Third-party components register through the `harness.plugins` entry-point group."""

import os
import subprocess
import sys
import textwrap


def make_plugin(root):
    (root / "harness_demo_plugin.py").write_text(textwrap.dedent('''
        import torch

        from harness.combine.base import Combiner
        from harness.registry import COMBINERS

        @COMBINERS.register("halve_all")
        class HalveAll(Combiner):
            """Every objective gets weight one half (a plugin example)."""

            def __init__(self, factor: float = 0.5):
                self.factor = factor

            def weights(self, gramian, names, generator):
                return torch.full((len(names),), self.factor, dtype=torch.float64)
    '''))
    dist = root / "harness_demo_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: harness-demo-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[harness.plugins]\ndemo = harness_demo_plugin\n")


def harness(root, *args):
    env = dict(os.environ, PYTHONPATH=str(root) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, env=env)


def test_plugin_components_are_listed(tmp_path):
    make_plugin(tmp_path)
    proc = harness(tmp_path, "ls", "combiners")
    assert proc.returncode == 0, proc.stderr
    assert "halve_all" in proc.stdout
    assert "Every objective gets weight one half (a plugin example)." in proc.stdout


def test_a_broken_plugin_is_named_in_one_line(tmp_path):
    make_plugin(tmp_path)
    (tmp_path / "harness_demo_plugin.py").write_text("raise RuntimeError('boom')\n")
    proc = harness(tmp_path, "ls")
    assert proc.returncode == 2
    assert "plugin 'demo'" in proc.stderr and "boom" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_plugin_component_that_is_not_of_its_kind_is_refused_naming_it(tmp_path):
    make_plugin(tmp_path)
    (tmp_path / "harness_demo_plugin.py").write_text(textwrap.dedent('''
        from harness.registry import COMBINERS

        @COMBINERS.register("not_a_combiner")
        class NotACombiner:
            """Has no weights method."""
    '''))
    proc = harness(tmp_path, "ls", "combiners")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "plugin 'demo'" in proc.stderr and "'not_a_combiner'" in proc.stderr
    assert "must be a subclass of harness.combine.base.Combiner" in proc.stderr


def test_a_plugin_is_seen_by_the_python_api_without_the_cli(tmp_path):
    """Registries load plugins on first lookup, so a notebook's aggregate() finds them too."""
    make_plugin(tmp_path)
    code = ("import torch; from harness.combine import aggregate; "
            "print(aggregate(torch.eye(2, dtype=torch.float64), ['a', 'b'], 'halve_all').tolist())")
    env = dict(os.environ, PYTHONPATH=str(tmp_path) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[0.5, 0.5]"
