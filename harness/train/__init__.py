"""Training: the distillation loop, objectives, teacher-target cache, checkpoints.

Importing this package registers the online reweightings.
"""

from harness.train import drivekd_online, reweighting  # noqa: F401  (register REWEIGHTINGS)
