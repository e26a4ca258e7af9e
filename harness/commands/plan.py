"""`harness plan RECIPE`: per-device memory from meta-device models, and a placement that fits."""

from __future__ import annotations

import argparse

from tabulate import tabulate

from harness.errors import HarnessError



def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", metavar="RECIPE", help="recipe YAML file")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a field, e.g. --set train.gradient_checkpointing=true (repeatable)")
    parser.add_argument("--gpus", type=int, default=1, metavar="N", help="GPUs on the node (default 1)")
    parser.add_argument("--gpu-memory", type=float, default=80.0, metavar="GB", help="memory per GPU in GiB (default 80)")
    parser.add_argument("--cameras", type=int, default=6, help="images per sample (default: DriveBench's six)")
    parser.add_argument("--seq-len", type=int, help="tokens per sample (default: cameras × image tokens + 391)")


def main(args: argparse.Namespace) -> int:
    from harness.plan import GiB, plan_recipe
    from harness.recipe import load_recipe

    if args.gpus < 1 or args.gpu_memory <= 0 or args.cameras < 0 or (args.seq_len is not None and args.seq_len < 1):
        raise HarnessError("--gpus and --seq-len must be ≥ 1, --gpu-memory > 0, --cameras ≥ 0")
    plan = plan_recipe(load_recipe(args.recipe, args.overrides), gpus=args.gpus, gpu_memory_gb=args.gpu_memory,
                       cameras=args.cameras, seq_len=args.seq_len)
    step = plan.step
    print(f"{args.recipe}: S = {plan.seq_len} tokens ({args.cameras} images), batch {step.batch}, "
          f"{'bf16/fp16' if step.activation_bytes == 2 else 'fp32'} activations, "
          f"{len(step.objective_depths) + 1} objectives{' (K backwards)' if step.per_objective else ''}, "
          f"teachers {'live' if step.live_teachers else 'cached, released before training'}")
    rows = [["student", part, f"{value / GiB:.2f}"] for part, value in plan.student.parts.items()]
    rows.append(["student", "total", f"{plan.student.total / GiB:.2f}"])
    for copy, est in plan.teachers.items():
        sharing = len(plan.shared[copy])
        who = f"teacher {copy}" + (f" (shared by {sharing} teachers)" if sharing > 1 else "")
        rows += [[who, part, f"{value / GiB:.2f}"] for part, value in est.parts.items()]
    print(tabulate(rows, headers=["model", "part", "GiB"], tablefmt="simple"))
    placement = plan.placement
    if not placement.fits:
        raise HarnessError(f"{args.recipe}: no placement fits on {args.gpus} × {args.gpu_memory:g} GiB: {placement.reason}")
    print(f"placement: {placement.name} on {args.gpus} × {args.gpu_memory:g} GiB")
    for index, load in enumerate(placement.devices):
        held = ", ".join(k for k in load if k != "total") or "-"
        print(f"  device {index}: {load['total'] / GiB:6.1f} GiB  ({held})")
    return 0
