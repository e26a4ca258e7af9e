"""One module per CLI subcommand.

Each module exposes ``configure(parser)``, which adds its arguments, and
``main(args) -> int``; its one-line help is here. The CLI imports a command
module only when that command runs, so ``harness --help`` stays fast.
"""

# name → (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("harness.commands.run", "distil a student from a recipe, then evaluate it"),
    "sweep": ("harness.commands.sweep", "run an Optuna ablation study from an ablation file"),
    "report": ("harness.commands.report", "write paper tables and plots from runs or an ablation"),
    "power": ("harness.commands.power", "plan seeds and items: minimum detectable effect, or the seeds an effect needs"),
    "eval": ("harness.commands.eval", "evaluate a model on DriveBench-format data"),
    "ls": ("harness.commands.ls", "list registered components with one-line descriptions"),
    "validate": ("harness.commands.validate", "check recipes without running them"),
    "plan": ("harness.commands.plan", "estimate a recipe's memory per device (no weights, no GPU) and find a placement"),
    "zoo": ("harness.commands.zoo", "build or list the tiny offline model zoo"),
    "data": ("harness.commands.data", "build synthetic data, convert and inspect DriveBench files"),
    "convert": ("harness.commands.convert", "convert an original remote-code InternVL3 checkpoint to the -hf layout"),
    "demo": ("harness.commands.demo", "the mini Drive-KD paper on the tiny zoo and synthetic data (what `make demo` runs)"),
}
