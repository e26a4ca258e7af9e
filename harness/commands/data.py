"""`harness data synth|check|convert`: build the synthetic benchmark, validate and convert files."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path



def _names(text: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in text.split(",") if n.strip())


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    synth = sub.add_parser("synth", help="generate the synthetic driving benchmark (deterministic per seed)")
    synth.add_argument("--out", required=True, help="output folder (becomes the data root)")
    synth.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    synth.add_argument("--train", type=int, default=400, help="training items (8 questions per scene; default 400)")
    synth.add_argument("--eval", type=int, default=160, help="evaluation items (8 questions per scene; default 160)")
    synth.add_argument("--image-size", type=int, default=96, help="square image side in pixels (default 96)")
    synth.add_argument("--cameras", type=int, choices=(1, 6), default=1, help="front camera only, or all six")
    synth.add_argument("--corruptions", default="fog,low_light,motion_blur,bit_error,frame_lost,zoom_blur",
                       help="comma-separated corruption settings to write ('' for none; `harness ls corruptions`)")
    synth.add_argument("--severity", type=int, default=3, choices=range(1, 6), metavar="1-5",
                       help="corruption severity (default 3)")
    synth.add_argument("--templates", default=None, metavar="T1,T2",
                       help="question templates each scene asks (default: DriveBench's eight; "
                            "object_colour adds the referential colour question, docs/data.md)")
    synth.add_argument("--force", action="store_true", help="replace an existing benchmark in --out")

    check = sub.add_parser("check", help="validate a DriveBench or training file and count its items")
    check.add_argument("file", help="a DriveBench JSON file or a training-format (messages) file")
    _common(check)

    convert = sub.add_parser("convert", help="convert DriveBench items with answers to the training format")
    convert.add_argument("input", help="DriveBench JSON file")
    convert.add_argument("output", help="training-format JSON file to write")
    _common(convert)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-root", help="folder image paths are relative to (default: the file's folder)")
    p.add_argument("--skip-invalid", action="store_true", help="drop bad items (and count them) instead of failing")
    p.add_argument("--keep-all-cameras", action="store_true",
                   help="keep every camera, not only those the question refers to (DriveBench files)")
    p.add_argument("--no-check-images", action="store_true", help="do not require the images to exist")
    p.add_argument("--text-only", action="store_true",
                   help="DriveBench files: the text-only setting (black images; nothing needs to exist)")


def main(args: argparse.Namespace) -> int:
    action = getattr(args, "action", None)
    if action == "synth":
        return _synth(args)
    if action == "check":
        return _check(args)
    if action == "convert":
        return _convert(args)
    from harness.errors import HarnessError

    raise HarnessError("give an action: synth, check or convert (see `harness data --help`)")


def _synth(args) -> int:
    import time

    from harness.components import load_plugins
    from harness.data.synthetic.writer import SynthConfig, generate

    load_plugins()  # a plugin may register more corruptions; the models need not be imported
    config = SynthConfig(seed=args.seed, train=args.train, eval=args.eval, image_size=args.image_size,
                         cameras=args.cameras, corruptions=_names(args.corruptions), severity=args.severity,
                         **({"templates": _names(args.templates)} if args.templates is not None else {}))
    start = time.perf_counter()
    manifest = generate(args.out, config, force=args.force)
    counts = manifest["counts"]
    print(f"synthetic benchmark in {args.out} ({time.perf_counter() - start:.1f} s): "
          f"{counts['train']} training items, {counts['eval']} eval items over {counts.get('eval_frames', '?')} "
          f"frames in {counts['eval_scenes']} scene(s)")
    print("settings: " + ", ".join(manifest["files"]["settings"]))
    return 0


def _is_training_file(path: Path) -> bool:
    from harness.data.jsonfile import read_items

    items = read_items(path)
    return isinstance(items, list) and bool(items) and isinstance(items[0], dict) and "messages" in items[0]


def _load_drivebench(path: str, args):
    from harness.data import drivebench

    return drivebench.load(path, args.data_root, setting="text_only" if args.text_only else None,
                           skip_invalid=args.skip_invalid, keep_all_cameras=args.keep_all_cameras,
                           check_images=not args.no_check_images)


def _print_counts(title: str, counts: Counter) -> None:
    print(f"  {title}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


def _check(args) -> int:
    from harness.data import conversations
    from harness.data.mapping import template_of

    path = Path(args.file)
    if _is_training_file(path):
        samples = conversations.load(path, args.data_root, skip_invalid=args.skip_invalid,
                                     check_images=not args.no_check_images)
        print(f"{path.name}: training format, {len(samples)} valid samples")
        _print_counts("capability", Counter(s.capability for s in samples))
        _print_counts("template", Counter(s.meta.get("template", "other") for s in samples))
        return 0
    items = _load_drivebench(args.file, args)
    print(f"{path.name}: DriveBench format, {len(items)} valid items"
          + (f", {len(items.skipped)} skipped" if items.skipped else ""))
    _print_counts("capability", Counter(i.capability for i in items))
    _print_counts("kind", Counter(i.kind for i in items))
    _print_counts("task", Counter(i.question_type for i in items))
    _print_counts("template", Counter(template_of(i.question) for i in items))
    _print_counts("setting", Counter(i.setting for i in items))
    for problem in items.skipped[:5]:
        print(f"  skipped: {problem}")
    return 0


def _convert(args) -> int:
    from harness.data.conversations import from_drivebench

    items = _load_drivebench(args.input, args)
    converted, without_answer = from_drivebench(items, args.output)
    print(f"{args.output}: {len(converted)} training items written"
          + (f"; {without_answer} items without an answer left out" if without_answer else "")
          + (f"; {len(items.skipped)} invalid items skipped" if items.skipped else ""))
    return 0
