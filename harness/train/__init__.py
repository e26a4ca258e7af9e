"""Training: the distillation loop, objectives, teacher-target cache, checkpoints.

Importing this package registers the online reweightings.
"""

from harness.train import reweighting  # noqa: F401  (registers REWEIGHTINGS)
