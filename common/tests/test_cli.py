"""The tfzoo command: list, info, data check/convert, demo, export; one-line errors."""

import json

import numpy as np
from PIL import Image

from tfzoo.common.testing import run_cli


def _folder(root, *, corrupt=False):
    for c, name in enumerate(("a", "b")):
        (root / name).mkdir(parents=True)
        for i in range(10):
            Image.fromarray(np.full((8, 8), c * 100 + i, np.uint8), "L").save(root / name / f"{i}.png")
    if corrupt:
        (root / "b" / "bad.png").write_text("no pixels here")
    return root


def test_list_prints_one_task_a_line():
    code, out, _ = run_cli("list")
    assert code == 0
    assert {"toy.linreg", "toy.xor"} <= set(out.split())
    assert all(" " not in line for line in out.splitlines())


def test_info_prints_fields_with_defaults_and_specs():
    code, out, _ = run_cli("info", "toy.linreg")
    assert code == 0
    assert "train.steps = 400" in out and "optim.lr = 0.05" in out and "data specs:" in out


def test_info_run_lists_checkpoint_variables(tmp_path):
    run = tmp_path / "run"
    assert run_cli("train", "toy.linreg", "--tiny", "--run-dir", str(run))[0] == 0
    code, out, _ = run_cli("info", str(run))
    assert code == 0 and out.startswith("toy.linreg run") and "ckpt-20" in out
    code, out, _ = run_cli("info", str(run), "--vars")
    assert code == 0 and "step/.ATTRIBUTES/VARIABLE_VALUE" in out
    code, out, _ = run_cli("info", str(run), "--var", "step/.ATTRIBUTES/VARIABLE_VALUE")
    assert code == 0 and out.strip() == "20"


def test_data_check_reports_counts_and_every_corrupt_file(tmp_path):
    good = _folder(tmp_path / "good")
    code, out, _ = run_cli("data", "check", f"folder:{good}")
    summary = json.loads(out.strip().splitlines()[-1])
    assert code == 0 and sum(summary["counts"].values()) == 20 and summary["errors"] == 0
    bad = _folder(tmp_path / "bad", corrupt=True)
    code, out, _ = run_cli("data", "check", f"folder:{bad}")
    assert code == 3
    assert "bad.png" in out and json.loads(out.strip().splitlines()[-1])["errors"] == 1


def test_data_convert_writes_shards_that_read_back(tmp_path):
    src = _folder(tmp_path / "src")
    code, out, err = run_cli("data", "convert", f"folder:{src}", f"tfrecord:{tmp_path / 'out'}", "--shards", "2",
                             "--val", "4")
    assert code == 0, err
    assert len(list((tmp_path / "out").glob("*.tfrecord"))) == 4
    code, out, _ = run_cli("data", "check", f"tfrecord:{tmp_path / 'out'}/*.tfrecord")
    assert code == 0 and json.loads(out.strip().splitlines()[-1])["counts"]["val"] == 4


def test_data_convert_to_tfrecord_defaults_beside_the_folder(tmp_path):
    src = _folder(tmp_path / "flowers")
    code, _, err = run_cli("data", "convert", f"folder:{src}", "--to", "tfrecord")
    assert code == 0, err
    assert (tmp_path / "flowers-tfrecord" / "labels.txt").is_file()
    assert list((tmp_path / "flowers-tfrecord").glob("*.tfrecord"))


def test_data_make_unknown_generator_is_one_line(tmp_path):
    code, _, err = run_cli("data", "make", "no-such-generator", "--out", str(tmp_path / "x"))
    assert code != 0 and err.count("\n") == 1 and "no-such-generator" in err


def test_missing_dataset_names_what_to_put_where(tmp_path):
    code, _, err = run_cli("data", "check", f"idx:{tmp_path / 'nowhere'}")
    assert code == 3 and err.count("\n") == 1 and "idx" in err


def test_demo_trains_tiny_configs(tmp_path):
    code, out, err = run_cli("demo", "toy", "--root", str(tmp_path))
    assert code == 0, err
    results = [json.loads(line) for line in out.strip().splitlines()]
    assert {r["task"] for r in results} == {"toy.linreg", "toy.xor"}
    assert all(np.isfinite(r["val_loss"]) for r in results)


def test_usage_errors_are_one_line():
    code, _, err = run_cli("train", "toy.linreg", "--set", "steps")
    assert code == 2 and err.strip().startswith("error: --set expects key=value")
    code, _, err = run_cli("evaluate", "/nonexistent/run")
    assert code == 2 and "not a tfzoo run" in err
    code, _, err = run_cli("train", "toy.linreg", "--strategy", "multi-worker")
    assert code == 2 and "TF_CONFIG" in err


def test_tensorflow_start_up_lines_stay_quiet_unless_verbose(tmp_path):
    """A fresh `tfzoo train` prints no absl/oneDNN/cudart lines; `--verbose` lets them through."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}  # the setting: native ERROR lines still came through
    command = [sys.executable, "-m", "tfzoo.common.cli", "train", "toy.xor", "--tiny", "--run-dir"]
    quiet = subprocess.run([*command, str(tmp_path / "a")], env=env, capture_output=True, text=True, check=True)
    native = ("I0000", "W0000", "E0000", "absl::InitializeLog", "oneDNN", "retracing")
    assert not [line for line in quiet.stderr.splitlines() if any(m in line for m in native)], quiet.stderr
    assert str(tmp_path / "a") in quiet.stdout
    loud = subprocess.run([sys.executable, "-m", "tfzoo.common.cli", "--verbose", *command[3:], str(tmp_path / "b")],
                          env=env, capture_output=True, text=True, check=True)
    assert any(m in loud.stderr for m in native), loud.stderr


def test_info_list_and_help_do_not_import_tensorflow():
    """`tfzoo info TASK`, `list` and `--help` read config modules only; every installed package registers
    its config classes under `tfzoo.configs`, and none of them imports TensorFlow."""
    import subprocess
    import sys
    from importlib.metadata import entry_points

    from tfzoo.common.registry import CONFIG_GROUP, task_names

    configs = {ep.name: ep.value for ep in entry_points(group=CONFIG_GROUP)}
    assert {"toy.xor", "toy.linreg"} <= set(configs)
    probe = ("import sys\nfrom tfzoo.common.cli import main\n"
             "for argv in {argvs!r}:\n    main(argv)\n"
             "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, sorted(sys.modules)[:5]\n")
    argvs = [["list"], *(["info", name] for name in task_names() if name in configs)]
    done = subprocess.run([sys.executable, "-c", probe.format(argvs=argvs)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "toy.xor: 实例30" in done.stdout and "presets (--preset NAME): tiny" in done.stdout
