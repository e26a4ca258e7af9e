"""The demo: the mini Drive-KD paper on the embedded default (`harness demo`, `make demo`).

plan.py (what runs: the demo ablation file, and its quick form), models.py (the
zoo, the data, fine-tuned teachers and pretrained students, evaluated alone),
pipeline.py (the four timed stages), report.py (which runs make which table, and
the summary of what was significant).
"""
