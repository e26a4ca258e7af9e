"""Data: DriveBench files, the Drive-KD training format, the synthetic benchmark.

Importing this package registers the datasets (``drivebench``,
``drivekd_conversations``, ``synthetic``) and the image corruptions.
"""

from harness.data import datasets  # noqa: F401  (registers DATASETS)
from harness.data import synthetic  # noqa: F401  (registers CORRUPTIONS)
