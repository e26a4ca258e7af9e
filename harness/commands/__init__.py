"""One module per CLI subcommand.

Each module exposes ``HELP`` (one line), ``configure(parser)`` which adds its
arguments, and ``main(args) -> int``. The CLI imports a command module only when
that command runs, so ``harness --help`` stays fast. A command whose issue has
not landed has no module yet; the CLI says so and exits 2.
"""

# name → (module, one-line help, issue that brings it when the module is absent)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "run": ("harness.commands.run", "distil a student from a recipe, then evaluate it", "the run issue"),
    "sweep": ("harness.commands.sweep", "run an Optuna ablation study from an ablation file", "the sweep issue"),
    "report": ("harness.commands.report", "write paper tables and plots from runs or an ablation", "the report issue"),
    "power": ("harness.commands.power", "plan seeds and items: minimum detectable effect, or the seeds an effect needs",
              "the statistics issue"),
    "eval": ("harness.commands.eval", "evaluate a model on DriveBench-format data", "the evaluation issue"),
    "ls": ("harness.commands.ls", "list registered components with one-line descriptions", "the foundation issue"),
    "validate": ("harness.commands.validate", "check recipes without running them", "the foundation issue"),
    "plan": ("harness.commands.plan", "estimate a recipe's memory per device (no weights, no GPU) and find a placement",
             "the real-scale issue"),
    "zoo": ("harness.commands.zoo", "build or list the tiny offline model zoo", "the models issue"),
    "data": ("harness.commands.data", "build synthetic data, convert and inspect DriveBench files", "the data issue"),
    "convert": ("harness.commands.convert", "convert an original remote-code InternVL3 checkpoint to the -hf layout", "the fidelity issue"),
    "demo": ("harness.commands.demo", "the mini Drive-KD paper on the tiny zoo and synthetic data (what `make demo` runs)", "the demo issue"),
}
