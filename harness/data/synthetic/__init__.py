"""The synthetic driving benchmark: scenes, rendering, questions, corruptions, writer.

Importing the package registers the image corruptions (``harness ls corruptions``).
"""

from harness.data.synthetic import corruptions  # noqa: F401  (registers CORRUPTIONS)
