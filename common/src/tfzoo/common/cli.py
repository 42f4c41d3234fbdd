"""The `tfzoo` command: list, info, train, evaluate, predict, export, visualise, data, demo.

User errors print one line on stderr and exit non-zero (2 usage, 3 data,
4 interrupted); `--debug` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from tfzoo.common.errors import UserError, op_error_line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tfzoo", description="Classic deep-learning tasks on TensorFlow 2.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's own log lines")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("list", help="print every installed task, one a line")

    info = sub.add_parser("info", help="config fields of a task, or the variables of a run")
    info.add_argument("target", help="TASK or RUN_DIR")
    info.add_argument("--vars", action="store_true", help="list checkpoint variables of a run")
    info.add_argument("--var", help="print one checkpoint tensor")

    train = sub.add_parser("train", help="train a task; resumes when --run-dir holds checkpoints")
    train.add_argument("task")
    train.add_argument("--data", help="dataset spec, e.g. mnist-5k, idx:DIR, folder:DIR")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config field")
    train.add_argument("--config", help="TOML file of overrides")
    train.add_argument("--run-dir", help="default runs/<task>/<time>")
    train.add_argument("--preset", help="a named configuration the task offers (tfzoo info TASK lists them)")
    train.add_argument("--tiny", action="store_true", help="the few-second test configuration (--preset tiny)")
    train.add_argument("--seed", type=int)
    train.add_argument("--strategy", default="default", help="default|mirrored|multi-worker|parameter-server")
    train.add_argument("--virtual-cpus", type=int, default=0, help="split the CPU into N devices (mirrored tests)")
    train.add_argument("--local-cluster", metavar="workers=N[,ps=M]", help="spawn a loopback cluster")
    train.add_argument("--threads", type=int, default=0, help="TensorFlow thread pool size; 0 = TF's choice")
    train.add_argument("--force", action="store_true", help="resume even if the config changed")

    evaluate = sub.add_parser("evaluate", help="metrics of a run on a split, as JSON")
    evaluate.add_argument("run_dir")
    evaluate.add_argument("--data")
    evaluate.add_argument("--split", default="test")

    predict = sub.add_parser("predict", help="one JSON line per input")
    predict.add_argument("run_dir")
    predict.add_argument("inputs", nargs="*", help="input files; forecasting and sampling tasks also run without")
    predict.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    predict.add_argument("--interactive", action="store_true",
                         help="a task that converses (nlp generators) reads prompts from standard input; same as the input -")

    export = sub.add_parser("export", help="write export/ (keras, savedmodel or tflite)")
    export.add_argument("run_dir")
    export.add_argument("--format", default="savedmodel")
    export.add_argument("--model", action="append", default=[], metavar="NAME",
                        help="a named model to export (repeat for a pair); default: the task's export_models")

    visualise = sub.add_parser("visualise", help="write the task's figures into the run's plots/")
    visualise.add_argument("run_dir")

    data = sub.add_parser("data", help="inspect or convert datasets")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    check = data_sub.add_parser("check", help="read every record; counts, classes, corrupt files")
    check.add_argument("spec")
    convert = data_sub.add_parser("convert", help="folder:DIR to tfrecord shards plus labels.txt")
    convert.add_argument("src", help="folder:DIR")
    convert.add_argument("dst", nargs="?", help="tfrecord:OUT (default: DIR-tfrecord beside DIR)")
    convert.add_argument("--to", default="tfrecord", choices=["tfrecord"], help="output format")
    convert.add_argument("--shards", type=int, default=1)
    convert.add_argument("--val", type=int, default=0, help="examples held out for validation")

    make = data_sub.add_parser("make", help="write a generated dataset (e.g. shapes) as files")
    make.add_argument("name", help="a generator an installed domain provides, e.g. shapes (tfzoo-vision)")
    make.add_argument("--out", required=True, help="output folder")
    make.add_argument("--n", type=int, default=500, help="number of examples")
    make.add_argument("--size", type=int, default=128, help="image size in pixels")
    make.add_argument("--seed", type=int, default=0)

    demo = sub.add_parser("demo", help="train every installed task's tiny config and write its plots")
    demo.add_argument("domains", nargs="*", help="e.g. vision; default: every installed domain")
    demo.add_argument("--root", default="runs/demo")
    return parser


def _configure_tensorflow(args: argparse.Namespace) -> None:
    """Settings that must precede TensorFlow's initialisation."""
    import tensorflow as tf

    if getattr(args, "threads", 0):
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    if getattr(args, "virtual_cpus", 0):
        from tfzoo.common.distribute import configure_virtual_cpus

        configure_virtual_cpus(args.virtual_cpus)


def _resolve_config(task: Any, args: argparse.Namespace) -> Any:
    from tfzoo.common import config as cfg

    config = task.default_config(tiny=args.tiny, preset=args.preset)
    if args.config:
        config = cfg.override(config, cfg.load_toml(args.config))
    updates = cfg.parse_sets(args.set)
    if args.data:
        updates["data"] = args.data
    if args.seed is not None:
        updates["train.seed"] = args.seed
    return cfg.override(config, updates)


def cmd_list(args: argparse.Namespace) -> None:
    from tfzoo.common.registry import task_names

    for name in task_names():
        print(name)


def cmd_info(args: argparse.Namespace) -> None:
    from tfzoo.common import config as cfg
    from tfzoo.common.registry import get_config_class

    if Path(args.target, "config.json").exists():
        from tfzoo.common.checkpoint import latest, list_variables

        path = latest(Path(args.target, "checkpoints"))
        if path is None:
            raise UserError(f"{args.target}: no checkpoint yet")
        if args.var:
            import tensorflow as tf

            print(tf.train.load_variable(path, args.var))
            return
        if args.vars:
            for name, shape in list_variables(path):
                print(f"{name}\t{shape}")
            return
        task_name = Path(args.target, "task.txt").read_text().strip()
        print(f"{task_name} run {args.target}")
        print(f"checkpoint {path}")
        print(f"config {Path(args.target, 'config.json')} (--vars lists the checkpoint's variables)")
        return
    config_class = get_config_class(args.target)
    print(f"{args.target}: {getattr(config_class, 'DESCRIPTION', '')}")
    print("data specs: " + ", ".join(getattr(config_class, "DATA_SPECS", ())))
    print("presets (--preset NAME): " + (", ".join(cfg.presets(config_class)) or "none"))
    print("config (--set key=value):")
    allowed = cfg.choices(config_class)
    for key, value in cfg.leaf_keys(cfg.validate(config_class())).items():
        choice = f"  # one of {', '.join(json.dumps(c) for c in allowed[key])}" if key in allowed else ""
        print(f"  {key} = {json.dumps(value, default=str)}{choice}")


def _strategy(args: argparse.Namespace):
    from tfzoo.common.distribute import make_strategy

    return make_strategy(args.strategy)


def cmd_train(args: argparse.Namespace) -> None:
    from tfzoo.common.registry import get_task

    task = get_task(args.task)
    config = _resolve_config(task, args)
    run_dir = args.run_dir or str(Path("runs", task.name, time.strftime("%Y%m%d-%H%M%S")))
    if args.local_cluster:
        from tfzoo.common.launch import parse_cluster, run_local_cluster

        sizes = parse_cluster(args.local_cluster)
        argv = _without_option(sys.argv[1:], "--local-cluster")
        argv = _without_option(argv, "--run-dir") + ["--run-dir", run_dir]
        code = run_local_cluster(argv, workers=sizes["workers"], ps=sizes["ps"])
        if code:
            raise UserError(f"the local cluster ended with exit code {code}")
        print(run_dir)
        return
    _configure_tensorflow(args)
    from tfzoo.common.train import Trainer

    trainer = Trainer(task=task, config=config, run_dir=run_dir, strategy=_strategy(args), force=args.force)
    result = trainer.fit()
    if trainer.chief:
        print(result["run_dir"])


def _without_option(argv: list[str], name: str) -> list[str]:
    out, skip = [], False
    for item in argv:
        if skip:
            skip = False
            continue
        if item == name:
            skip = True
            continue
        if item.startswith(name + "="):
            continue
        out.append(item)
    return out


def open_run(run_dir: str, *, data: str | None = None, sets: list[str] = ()) -> Any:
    """The `Run` of a finished run with its models rebuilt and newest checkpoint loaded."""
    from tfzoo.common.run import Run

    return Run.open(run_dir, data=data, sets=sets)


def cmd_evaluate(args: argparse.Namespace) -> None:
    import numpy as np

    run = open_run(args.run_dir, data=args.data)
    data = run.task.data(run.config, args.split)
    if data is None:
        raise UserError(f"{args.run_dir}: this run has no {args.split} split; try --split test")
    values = {k: np.asarray(v).tolist() for k, v in run.evaluate(data).items()}
    values = run.task.after_evaluate(run, args.split, values)
    record = run.log.write(step=run.step, split=args.split, values=values, stage="evaluate")
    print(json.dumps(record, ensure_ascii=False))


def cmd_predict(args: argparse.Namespace) -> None:
    for item in args.inputs:
        if Path(item).is_dir():
            raise UserError(f"{item}: a directory; predict expects input files (name each one)")
    if args.interactive and "-" not in args.inputs:
        args.inputs = [*args.inputs, "-"]
    run = open_run(args.run_dir, sets=args.set)
    results = run.task.predict(run, args.inputs)
    if not args.inputs and not results:
        raise UserError(f"{run.task.name}: predict needs at least one input file")
    for result in results:
        print(json.dumps(result, ensure_ascii=False))


def cmd_export(args: argparse.Namespace) -> None:
    from tfzoo.common.export import export

    run = open_run(args.run_dir)
    print(export(run, fmt=args.format, models=tuple(args.model) or None))


def cmd_visualise(args: argparse.Namespace) -> None:
    run = open_run(args.run_dir)
    for path in run.task.visualise(run, run.config):
        print(path)


def cmd_data(args: argparse.Namespace) -> int:
    from tfzoo.common import data

    if args.data_command == "check":
        report = data.check(args.spec)
        for split, facts in report["splits"].items():
            print(f"{split}: {facts['count']} examples, shapes {facts.get('shapes')}")
            if facts.get("classes"):
                print("  classes: " + ", ".join(f"{k} {v}" for k, v in facts["classes"].items()))
            if facts.get("meta"):
                print("  " + ", ".join(f"{k} {v}" for k, v in facts["meta"].items()))
            if facts.get("report"):
                print("  " + ", ".join(f"{k} {v}" for k, v in facts["report"].items() if v not in ([], {})))
        for error in report["errors"]:
            print(f"corrupt: {error}")
        print(json.dumps({"spec": args.spec, "errors": len(report["errors"]),
                          "counts": {k: v["count"] for k, v in report["splits"].items()}}))
        return 3 if report["errors"] else 0
    if args.data_command == "make":
        paths = data.make(args.name, args.out, n=args.n, size=args.size, seed=args.seed)
        print(f"wrote {len(paths)} files under {args.out}; last: {paths[-1] if paths else '-'}")
        return 0
    src = args.src.removeprefix("folder:")
    dst = args.dst.removeprefix("tfrecord:") if args.dst else src.rstrip("/") + "-tfrecord"
    for path in data.convert_folder(src, dst, shards=args.shards, val=args.val):
        print(path)
    return 0


def cmd_demo(args: argparse.Namespace) -> None:
    from tfzoo.common.registry import get_task, task_names
    from tfzoo.common.train import Trainer

    names = [n for n in task_names() if not args.domains or n.split(".")[0] in args.domains]
    if not names:
        raise UserError(f"no installed task in {', '.join(args.domains)}")
    for name in names:
        task = get_task(name)
        run_dir = Path(args.root, name)
        result = Trainer(task=task, config=task.default_config(tiny=True), run_dir=run_dir).fit()
        print(json.dumps({"task": name, "run_dir": str(run_dir), "step": result["step"],
                          **{f"val_{k}": float(v) for k, v in result["val"].items() if getattr(v, "ndim", 0) == 0}}))


COMMANDS = {
    "list": cmd_list, "info": cmd_info, "train": cmd_train, "evaluate": cmd_evaluate,
    "predict": cmd_predict, "export": cmd_export, "visualise": cmd_visualise,
    "data": cmd_data, "demo": cmd_demo,
}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `tfzoo` command; returns the exit code."""
    args = _parser().parse_args(argv)
    # list and info TASK read entry points and config modules only: no TensorFlow to load
    light = args.command == "list" or (args.command == "info" and not Path(args.target, "config.json").exists())
    if not args.verbose and not light:
        from tfzoo.common.quiet import import_tensorflow_quietly

        import_tensorflow_quietly()
    try:
        code = COMMANDS[args.command](args) or 0
    except UserError as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 4
    except BrokenPipeError:  # `tfzoo info X | head`: the reader left; not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as err:  # noqa: BLE001 - a data pipeline failing deep inside TensorFlow
        import tensorflow as tf

        if args.debug or not isinstance(err, tf.errors.OpError):
            raise
        print(f"error: {op_error_line(err.message)}", file=sys.stderr)
        return 3
    return code



if __name__ == "__main__":
    sys.exit(main())
