"""The command line: ``shapes`` predicts each stage's output for an input size, ``bench`` measures
the feature-extraction methods. Each command imports torch only when it runs, so ``--help`` is fast."""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
from typing import TYPE_CHECKING

from backbones_tutorial.extractors.freeze_modes import FREEZE_MODES
from backbones_tutorial.registry import DEPLOY_MODELS, DEPLOY_TOOLS, PREDICTABLE, SEGMENTATION_BACKBONES, SHAPES_CHOICES

if TYPE_CHECKING:
    from backbones_tutorial.display import Table

PROG = "python -m backbones_tutorial"

DESCRIPTION = 'The command line of the book "CNN backbones in PyTorch".'

SHAPES_HELP = """\
Predict each stage's output shape, stride and parameter count of an
architecture for an input size, from the convolution and pooling arithmetic
(the model is built on the meta device; nothing is run). Then state the
input-size contract of its feature pyramid: each level's shape and stride,
the divisor (the largest stride), the nearest padded size at which every
level is exactly H/stride x W/stride, and whether the size is refused
(a fixed-size ViT, a size too small)."""

SHAPES_EXAMPLE = f"""\
examples:
  {PROG} shapes resnet50 --size 225 300
  {PROG} shapes swin_t --size 225 300"""

BENCH_HELP = """\
Time each feature-extraction method against a bare forward pass (interleaved
rounds, in blocks that each run in a fresh process) and measure its peak memory
in fresh subprocesses; print a table per device and write the results as JSON."""

BENCH_EXAMPLE = f"""\
examples:
  a smoke run (64x64 input, 2 blocks of 3 rounds):
    {PROG} bench --quick --device cpu
  the run that chapter 6 shows:
    {PROG} bench --out book/data/bench.json --plot bench.png"""

DEPLOY_HELP = """\
Can I deploy this pyramid? For the smallest model of each family of backbone(),
apply each deployment tool (torch.compile with inductor, default and
fullgraph; torch.export and ONNX with dynamic H and W, the ONNX run in ONNX
Runtime; deepcopy + EMA; channels_last + bf16 autocast) at one odd input size
and compare with eager at a second odd size: the outcome, the largest
difference and the tolerance of each cell, with the versions and the machine,
written as JSON (the file chapter 7 reads). On the CPU; the compiles take
minutes."""

DEPLOY_EXAMPLE = f"""\
examples:
  {PROG} deploy --out book/data/deploy.json
  {PROG} deploy --family ResNet --family VGG --out deploy-results/deploy.json"""

MAIN_EXAMPLE = f"""\
examples:
  {PROG} shapes resnet50 --size 225 300
  {PROG} bench --quick --device cpu
  {PROG} deploy --family ResNet --out deploy-results/deploy.json
  {PROG} segment --freeze eval --seed 1

Each command describes its options: {PROG} shapes --help."""


def shapes_table(arch: str, size: tuple[int, int]) -> Table:
    """Each stage of ``arch`` for a 3 x H x W input: output shape, stride, parameters."""
    from backbones_tutorial.display import Table, fmt_int, fmt_shape
    from backbones_tutorial.shapes.predict import checked_prediction

    rows = tuple(
        (r.name, fmt_shape(r.shape), f"/{r.reduction}" if r.reduction else "-", fmt_int(r.params))
        for r in checked_prediction(arch, size)
    )
    caption = f"{arch}, input 3 x {size[0]} x {size[1]} (predicted from the conv and pool arithmetic)"
    return Table(("module", "output (C x H x W)", "stride", "parameters"), rows, caption)


def parser() -> argparse.ArgumentParser:
    """The argument parser; building it imports nothing but the standard library."""
    raw = argparse.RawDescriptionHelpFormatter
    main_parser = argparse.ArgumentParser(
        prog=PROG, description=DESCRIPTION, epilog=MAIN_EXAMPLE, formatter_class=raw
    )
    commands = main_parser.add_subparsers(dest="command", required=True,
                                          metavar="{shapes,bench,deploy,segment,pretrain,freezing}")
    shapes = commands.add_parser(
        "shapes", help="print each stage's output shape, stride and parameters", formatter_class=raw,
        description=SHAPES_HELP,
        epilog=SHAPES_EXAMPLE,
    )
    shapes.add_argument("arch", choices=SHAPES_CHOICES, metavar="ARCH", help="one of: " + ", ".join(SHAPES_CHOICES))
    shapes.add_argument("--size", nargs=2, type=int, default=(224, 224), metavar=("H", "W"),
                        help="input height and width (default: 224 224)")
    bench = commands.add_parser(
        "bench", help="measure what each feature-extraction method costs", formatter_class=raw,
        description=BENCH_HELP,
        epilog=BENCH_EXAMPLE,
    )
    bench.add_argument("--quick", action="store_true",
                       help="a smoke run: 64x64 input, 2 blocks of 3 rounds in this process, one memory process, "
                            "a small matrix without the compiles; its verdicts are not meaningful")
    bench.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                       help="auto (default): the CPU, and CUDA too when it is available")
    bench.add_argument("--rounds", type=int, default=None,
                       help="interleaved rounds in each block (default 20; 3 with --quick)")
    bench.add_argument("--blocks", type=int, default=None,
                       help="the least number of blocks, each a fresh process (default 5; 2 with --quick); more "
                            "are added until every interval is narrow enough or the budget is spent")
    bench.add_argument("--budget", type=float, default=None,
                       help="seconds for all the blocks of one device (default 900)")
    bench.add_argument("--threads", type=int, default=None, help="torch threads for every timed call (default 1)")
    bench.add_argument("--no-matrix", action="store_true",
                       help="skip the compatibility matrix (ResNet50; its compiles take minutes)")
    bench.add_argument("--size", type=int, default=None, help="input side (default 224; 64 with --quick)")
    bench.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    bench.add_argument("--out", type=pathlib.Path, default=pathlib.Path("bench-results/bench.json"),
                       help="JSON file to write (default: bench-results/bench.json)")
    bench.add_argument("--plot", type=pathlib.Path, default=None, help="also draw the ratios to this PNG file")
    deploy = commands.add_parser(
        "deploy", help="check which families' pyramids compile, export and run in ONNX Runtime",
        formatter_class=raw, description=DEPLOY_HELP, epilog=DEPLOY_EXAMPLE,
    )
    deploy.add_argument("--family", action="append", choices=tuple(DEPLOY_MODELS), metavar="FAMILY",
                        help="a family to check (repeat for more; default: all): " + ", ".join(DEPLOY_MODELS))
    deploy.add_argument("--tool", action="append", choices=DEPLOY_TOOLS, metavar="TOOL",
                        help="a tool to check (repeat for more; default: all): " + ", ".join(DEPLOY_TOOLS))
    deploy.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    deploy.add_argument("--out", type=pathlib.Path, default=pathlib.Path("deploy-results/deploy.json"),
                        help="JSON file to write (default: deploy-results/deploy.json)")
    add_segment_commands(commands, raw)  # issue 13: segment, pretrain, freezing
    return main_parser


def _size_values(argv: list[str]) -> list[int]:
    """The ints that follow the last ``--size`` in ``argv`` (however many were typed)."""
    if "--size" not in argv:
        return []
    start = len(argv) - argv[::-1].index("--size")
    values = []
    for token in argv[start:]:
        try:
            values.append(int(token))
        except ValueError:
            break
    return values


def _extra_arguments(command: str, argv: list[str], extra: list[str]) -> str:
    """The error for arguments the parser left over: a channel count given with --size is named."""
    values = _size_values(argv)
    if values and extra == [str(v) for v in values[len(values) - len(extra):]] and command in ("shapes", "bench"):
        want = 2 if command == "shapes" else 1
        typed = " ".join(map(str, values))
        sides = values[1:] if values[0] <= 4 else values[:-1] if values[-1] <= 4 else values[-want:]
        example = " ".join(map(str, sides[-want:]))
        what = "H W, the input's height and width" if want == 2 else "the side of the square input"
        return (f"argument --size: expected {want} argument{'s' if want == 2 else ''} ({what}, without the channel "
                f"count or the batch), got {len(values)}: {typed}; e.g. --size {example}")
    return f"unrecognized arguments: {' '.join(extra)}"


def main(argv: list[str] | None = None) -> int:
    cli = parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args, extra = cli.parse_known_args(argv)
    if extra:
        cli.error(_extra_arguments(args.command, argv, extra))
    if args.command == "shapes":
        from backbones_tutorial.pyramids.contract import contract_report
        from backbones_tutorial.shapes.predict import SizeTooSmall

        try:
            size = (args.size[0], args.size[1])
            report = contract_report(args.arch, size, levels=args.arch not in PREDICTABLE)
            if args.arch in PREDICTABLE:
                print(repr(shapes_table(args.arch, size)))
            print(report)
        except (SizeTooSmall, ValueError) as e:
            cli.exit(2, f"error: {e}\n")
    elif args.command == "bench":
        return run_bench(args, cli)
    elif args.command == "deploy":
        return run_deploy(args, cli)
    elif args.command in SEGMENT_COMMANDS:
        return run_segment(args, cli)
    return 0


def _writable(path: pathlib.Path, option: str, cli: argparse.ArgumentParser) -> None:
    """Refuse, before anything runs, a path whose file cannot be created or overwritten."""
    parent = next((p for p in path.absolute().parents if p.exists()), None)
    if path.is_dir() or (path.exists() and not os.access(path, os.W_OK)) or (
            not path.exists() and (parent is None or not parent.is_dir() or not os.access(parent, os.W_OK))):
        cli.exit(2, f"error: {option} {path}: cannot write that file (a directory, or no write permission); "
                    "give a writable file path\n")


def run_bench(args: argparse.Namespace, cli: argparse.ArgumentParser) -> int:
    from backbones_tutorial.bench.verdicts import MAX_BLOCKS

    rounds = args.rounds if args.rounds is not None else (3 if args.quick else 20)
    blocks = args.blocks if args.blocks is not None else (2 if args.quick else 5)
    size = args.size if args.size is not None else (64 if args.quick else 224)
    if rounds < 3 or size < 32:
        cli.exit(2, f"error: need --rounds >= 3 and --size >= 32, got --rounds {rounds} and --size {size}\n")
    if not 2 <= blocks <= MAX_BLOCKS:
        cli.exit(2, f"error: need 2 <= --blocks <= {MAX_BLOCKS}, got --blocks {blocks}\n")
    if args.budget is not None and args.budget <= 0:
        cli.exit(2, f"error: --budget must be a positive number of seconds, got {args.budget}\n")
    if args.threads is not None and args.threads < 1:
        cli.exit(2, f"error: --threads must be at least 1, got {args.threads}\n")
    _writable(args.out, "--out", cli)
    if args.plot:
        _writable(args.plot, "--plot", cli)

    import torch

    from backbones_tutorial.bench import report, runner
    from backbones_tutorial.bench.results import BenchSettings, load_runs, to_json

    if args.device == "cuda" and not torch.cuda.is_available():
        cli.exit(2, "error: --device cuda, but torch.cuda.is_available() is False on this machine\n")
    if args.device == "auto":
        devices = ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]
    else:
        devices = [args.device]
    default = BenchSettings()
    runs = []
    for k, device in enumerate(devices):
        settings = BenchSettings(
            device=device, size=size, rounds=rounds, blocks=blocks, max_blocks=blocks if args.quick else MAX_BLOCKS,
            budget_s=args.budget or default.budget_s, warmup=1 if args.quick else default.warmup,
            threads=args.threads or default.threads, memory=not args.no_memory, quick=args.quick)

        def progress(step: str, device: str = device) -> None:
            print(f"[bench {device}] {step}", file=sys.stderr, flush=True)

        results = runner.run_benchmark(settings, progress=progress, matrix=k == 0 and not args.no_matrix)  # matrix: CPU
        runs.append(results)
        print(repr(report.results_table(results)))
        if args.quick:
            print("  a quick smoke run: every code path once; its verdicts are not meaningful")
        for line in report.format_targets(results):
            print(f"  {line}")
        if results.compatibility:
            from backbones_tutorial.bench.compat import matrix_table

            print(repr(matrix_table(results.compatibility)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(to_json(runs))
    print(f"wrote {args.out}")
    if args.plot:
        from backbones_tutorial.viz import plot_bench

        plot_bench(load_runs(args.out)).savefig(args.plot, dpi=120, bbox_inches="tight")
        print(f"wrote {args.plot}")
    return 0


def run_deploy(args: argparse.Namespace, cli: argparse.ArgumentParser) -> int:
    if args.threads < 1:
        cli.exit(2, f"error: --threads must be at least 1, got {args.threads}\n")
    _writable(args.out, "--out", cli)

    import json

    import torch

    from backbones_tutorial.bench.deploy import deploy_matrix, deploy_table

    torch.set_num_threads(args.threads)
    families = [f for f in DEPLOY_MODELS if f in (args.family or DEPLOY_MODELS)]  # the table's order
    tools = [t for t in DEPLOY_TOOLS if t in (args.tool or DEPLOY_TOOLS)]

    def progress(step: str) -> None:
        print(f"[deploy] {step}", file=sys.stderr, flush=True)

    record = deploy_matrix(families, tools, progress=progress)
    record["machine"]["threads"] = str(args.threads)
    print(repr(deploy_table(record)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {args.out} ({record['wall_s']:.0f} s)")
    return 0


# --- issue 13: the segmentation commands (segment, pretrain, freezing) --------------------------

SEGMENT_COMMANDS = ("segment", "pretrain", "freezing")

SEGMENT_HELP = """\
Train a U-Net on the backbone's pyramid for the synthetic segmentation task
(offline, on the CPU), evaluate it on the fixed held-out set, show progress
on stderr, and print one JSON object as the last line: miou (mean IoU over
the object classes), train_seconds, trainable_params, bn_drift (how far the
backbone's BatchNorm running means moved, in initial standard deviations)."""

SEGMENT_EXAMPLE = f"""\
examples:
  {PROG} segment
  {PROG} segment --freeze eval --pretrained segment-results/resnet18.pt --seed 1"""

PRETRAIN_HELP = """\
Pretrain a backbone on a related synthetic task (the share of the image each
class covers, no masks) and save it as a checkpoint that segment --pretrained
and freezing load with torch.load(weights_only=True)."""

PRETRAIN_EXAMPLE = f"""\
example:
  {PROG} pretrain --out segment-results/resnet18.pt"""

FREEZING_HELP = """\
Compare the freeze modes (none, train, frozen, eval) over
several seeds from one pretrained backbone, with a small batch, and write
the results as JSON (the file chapter 8 reads)."""

FREEZING_EXAMPLE = f"""\
example:
  {PROG} freezing --pretrained segment-results/resnet18.pt --out book/data/segment.json"""


def _add_training_options(command: argparse.ArgumentParser, seconds: float, steps: int, batch: int) -> None:
    command.add_argument("--backbone", default="resnet18", choices=tuple(SEGMENTATION_BACKBONES),
                         help="the pyramid under the decoder (default: resnet18)")
    command.add_argument("--seconds", type=float, default=seconds,
                         help=f"wall-clock budget of the training loop (default: {seconds:g})")
    command.add_argument("--max-steps", type=int, default=steps, help=f"and a cap on the steps (default: {steps})")
    command.add_argument("--batch-size", type=int, default=batch, help=f"images per step (default: {batch})")
    command.add_argument("--threads", type=int, default=1,
                         help="torch threads (default: 1, robust on a shared machine)")


def add_segment_commands(commands: argparse._SubParsersAction, raw: type[argparse.HelpFormatter]) -> None:
    segment = commands.add_parser("segment", help="train and evaluate a U-Net on the synthetic task",
                                  formatter_class=raw, description=SEGMENT_HELP, epilog=SEGMENT_EXAMPLE)
    _add_training_options(segment, seconds=90, steps=100, batch=8)
    segment.add_argument("--freeze", default="none", choices=FREEZE_MODES,
                         help="how the backbone is frozen: none (full fine-tuning, the default), or freeze() with "
                              "that BatchNorm mode: frozen (FrozenBatchNorm2d), eval (held in eval mode), train "
                              "(left alone: requires_grad only, the pitfall)")
    segment.add_argument("--seed", type=int, default=0, help="seed of the model and the training stream")
    segment.add_argument("--pretrained", default=None, help="a checkpoint written by the pretrain command")
    pretrain = commands.add_parser("pretrain", help="pretrain a backbone on a related synthetic task",
                                   formatter_class=raw, description=PRETRAIN_HELP, epilog=PRETRAIN_EXAMPLE)
    _add_training_options(pretrain, seconds=600, steps=300, batch=16)
    pretrain.add_argument("--seed", type=int, default=0, help="seed of the model and the pretraining stream")
    pretrain.add_argument("--out", default="segment-results/resnet18.pt", help="checkpoint to write")
    freezing = commands.add_parser("freezing", help="compare the freeze modes over several seeds",
                                   formatter_class=raw, description=FREEZING_HELP, epilog=FREEZING_EXAMPLE)
    _add_training_options(freezing, seconds=600, steps=60, batch=4)
    freezing.add_argument("--pretrained", default=None, help="a checkpoint written by the pretrain command")
    freezing.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds (default: 0 1 2)")
    freezing.add_argument("--out", default="book/data/segment.json", help="JSON file to write")
    for command in (segment, freezing):  # pretrain has its own loss (the shares of pixels)
        command.add_argument("--loss", default="weighted-ce+dice", choices=("weighted-ce+dice", "ce+dice"),
                             help="training loss (default: weighted-ce+dice, cross-entropy weighted by share^-1/2)")


def run_segment(args: argparse.Namespace, cli: argparse.ArgumentParser) -> int:
    import json

    import torch

    from backbones_tutorial.segmentation import freeze_study as freezing
    from backbones_tutorial.segmentation import training as segment

    if args.threads < 1:
        cli.exit(2, f"error: --threads must be >= 1, got {args.threads}\n")
    common = {"backbone": args.backbone, "seconds": args.seconds, "max_steps": args.max_steps,
              "batch_size": args.batch_size}
    if args.command != "pretrain":
        common["loss"] = args.loss
    try:  # every argument is checked before anything is built or trained
        if args.command == "segment":
            settings = segment.TrainSettings(**common, freeze=args.freeze, seed=args.seed, pretrained=args.pretrained)
        elif args.command == "pretrain":
            settings = segment.TrainSettings(**common, seed=args.seed)
        else:
            settings = segment.TrainSettings(**common, pretrained=args.pretrained)
            for seed in args.seeds:
                segment.TrainSettings(**common, seed=seed)
    except ValueError as e:
        cli.exit(2, f"error: {e}\n")
    torch.set_num_threads(args.threads)

    def progress(line: str) -> None:
        print(f"[{args.command}] {line}", file=sys.stderr, flush=True)

    if args.command == "segment":
        print(json.dumps(segment.train(settings, progress).summary()))
    elif args.command == "pretrain":
        print(json.dumps(segment.pretrain(settings, args.out, progress)))
    else:
        record = freezing.run_study(settings, args.seeds, progress=progress)
        freezing.save_study(record, args.out)
        print(repr(freezing.study_table(record)))
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
