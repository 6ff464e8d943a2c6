import argparse
import dataclasses
import json
import math
import os
import re
import subprocess
import sys

import pytest

import jaxrl
from jaxrl.cli import main
from jaxrl.io.checkpoint import list_checkpoints


def last_json_line(text):
    return json.loads(text.strip().splitlines()[-1])


def curve_columns(line):
    """Characters of the learning curve in `jaxrl train`'s "episodic return A <curve> B over ..." line."""
    return len(re.fullmatch(r"episodic return \S+ (.+) \S+ over .*", line).group(1))


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("cli") / "run"
    code = main(["train", "ppo", "--env", "CartPole-v1", "--total-timesteps", "4096", "--num-envs", "4",
                 "--num-steps", "64", "--seed", "1", "--run-dir", str(run_dir), "--no-progress",
                 "--hidden-sizes", "32", "32", "--checkpoint-every", "4"])
    assert code == 0
    return run_dir


def test_train_writes_config_metrics_tensorboard_and_checkpoints(trained_run):
    config = json.loads((trained_run / "config.json").read_text())
    assert config["algorithm"] == "ppo"
    assert config["config"]["hidden_sizes"] == [32, 32] and config["config"]["num_steps"] == 64
    records = [json.loads(line) for line in (trained_run / "metrics.jsonl").read_text().splitlines()]
    assert len(records) == 16
    timing = [json.loads(line) for line in (trained_run / "timing.jsonl").read_text().splitlines()]
    assert [t["update"] for t in timing] == [r["update"] for r in records] and timing[-1]["sps"] > 0
    for key in ("env_steps", "episodic_return", "episodic_length", "policy_loss", "value_loss",
                "entropy", "approx_kl", "clip_fraction", "explained_variance"):
        assert key in records[-1], key
    assert records[-1]["env_steps"] == 4096
    assert any((trained_run / "tensorboard").iterdir())
    assert [p.name for p in list_checkpoints(trained_run)][-1] == "ckpt_000000004096.msgpack"


def test_eval_prints_a_json_summary_and_writes_a_gif(trained_run, capsys, tmp_path):
    code = main(["eval", str(trained_run), "--episodes", "3", "--deterministic", "--video", str(tmp_path / "ep.gif")])
    assert code == 0
    summary = last_json_line(capsys.readouterr().out)
    assert summary["episodes"] == 3 and summary["mean_return"] > 0 and "std_return" in summary
    assert (tmp_path / "ep.gif").stat().st_size > 1000


def test_plot_writes_a_png(trained_run, tmp_path):
    assert main(["plot", str(trained_run), "--out", str(tmp_path / "curve.png")]) == 0
    assert (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"


def test_console_script_runs_end_to_end(tmp_path):
    run = subprocess.run([sys.executable, "-m", "jaxrl.cli", "train", "ppo", "--total-timesteps", "512",
                          "--num-steps", "64", "--run-dir", str(tmp_path / "r"), "--no-progress"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert last_json_line(run.stdout)["env_steps"] == 512


def test_the_cli_stores_compiled_programs_in_the_persistent_cache(tmp_path):
    """A device-loop run through the CLI leaves its compiled programs in $JAXRL_COMPILATION_CACHE
    (what makes a second identical run skip most of its compilation: 7.3 -> 1.4 s on a 2-core CPU)."""
    cache = tmp_path / "cache"
    run = subprocess.run([sys.executable, "-m", "jaxrl.cli", "train", "ppo", "--env", "phys2d/CartPole-v1",
                          "--loop", "device", "--total-timesteps", "1024", "--run-dir", str(tmp_path / "r"),
                          "--no-progress"], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "JAXRL_COMPILATION_CACHE": str(cache)})
    assert run.returncode == 0, run.stderr
    assert any(entry.name.startswith("jit_") for entry in cache.iterdir())


@pytest.mark.parametrize("where, problem", [
    ("cache", "{folder} is a file, not a folder"),  # the folder named is a file
    ("file/cache", "cannot make the folder {folder}: Not a directory"),  # a file where a parent folder goes
])
def test_an_unusable_cache_folder_is_one_line_and_the_run_goes_on(tmp_path, where, problem):
    folder = tmp_path / where
    (tmp_path / where.split("/")[0]).write_text("")
    run = subprocess.run([sys.executable, "-c", "from jaxrl.core.compile_cache import use_compilation_cache as use; "
                          "print(use())"], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "JAXRL_COMPILATION_CACHE": str(folder)})
    assert run.returncode == 0 and run.stdout.strip() == "None", run.stderr  # off, and nothing raised
    assert run.stderr.strip().splitlines() == [f"jaxrl: compilation cache off: {problem.format(folder=folder)} "
                                               "(set JAXRL_COMPILATION_CACHE to another folder, or to 'off')"]


def test_the_cli_stores_the_small_programs_too(tmp_path):
    """A host-loop run compiles small programs (key splits, the rollout's stacking, the policy);
    JAX stores only programs that compiled in a second or more unless told otherwise, which left
    them to compile again in every repeated run."""
    cache = tmp_path / "cache"
    env = {key: value for key, value in os.environ.items() if key != "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"}
    run = subprocess.run([sys.executable, "-m", "jaxrl.cli", "train", "ppo", "--env", "CartPole-v1",
                          "--total-timesteps", "512", "--run-dir", str(tmp_path / "r"), "--no-progress"],
                         capture_output=True, text=True, timeout=300,
                         env={**env, "JAXRL_COMPILATION_CACHE": str(cache)})
    assert run.returncode == 0, run.stderr
    assert len(list(cache.iterdir())) >= 8  # 11 here; with JAX's one-second rule 2 (the init and the update)


@pytest.mark.parametrize("argv, message", [
    (["train", "ppo", "--env", "NoSuchEnv-v0"], "unknown environment id 'NoSuchEnv-v0'"),
    (["train", "ppo", "--env", "jaxrl_test/TextObs-v0"], "unsupported observation space"),
    (["train", "dqn", "--env", "jaxrl_test/CopyMultiDiscrete-v0"], "DQN needs a Discrete action space, but this env's"
     " actions have 3 components (MultiDiscrete/MultiBinary [3, 2, 4]); use `jaxrl train ppo` for them"),
    (["train", "sac", "--env", "jaxrl_test/CopyMultiBinary-v0"], "SAC needs a Box (continuous) action space, but "
     "this env's actions have 4 discrete components"),
    (["train", "ppo", "--env", "jaxrl_test/GridMultiDiscreteAction-v0"], "unsupported action space"),
    (["train", "ppo", "--num-minibatches", "3"], "must be divisible by num_minibatches (3)"),
    (["train", "ppo", "--learning-rate", "-0.1"], "learning_rate must be a positive finite number"),
    (["train", "ppo", "--gamma", "1.5"], "gamma must be in (0, 1]"),
    (["train", "ppo", "--loop", "device"], "'CartPole-v1' is not a JAX environment"),
    (["train", "ppo", "--num-seeds", "2"], "--num-seeds > 1 needs --loop device"),
    (["train", "sac", "--fresh-starts", "rollout"], "--fresh-starts rollout needs --loop device"),
    (["train", "ppo", "--devices", "1", "--num-envs", "8", "--coordinator", "localhost"],
     "num_processes must be >= 1"),
    (["train", "ppo", "--env", "phys2d/CartPole-v1", "--loop", "device", "--devices", "1000"],
     "devices must be in [1, "),
])
def test_bad_training_input_is_one_line_and_non_zero(argv, message, capsys, tmp_path):
    code = main(argv + ["--run-dir", str(tmp_path / "r"), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert message in err and len(err.splitlines()) == 1, err
    assert not list_checkpoints(tmp_path / "r")


def test_bad_flag_value_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "ppo", "--num-envs", "eight"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--num-envs expects int, got 'eight'" in err and "see: jaxrl train ppo --help" in err
    assert len(err.splitlines()) == 1, err  # no usage block in front of the problem


def test_step_counts_in_scientific_notation_and_comma_lists_are_understood_or_explained(capsys):
    from jaxrl.cli import build_parser, config_and_run_dir

    args = build_parser().parse_args(["train", "ppo", "--total-timesteps", "1e6", "--num-envs", "1_024"])
    config, _ = config_and_run_dir(args)
    assert (config.total_timesteps, config.num_envs) == (1_000_000, 1024)
    for value in ("2.5", "1e400", "nan"):  # not whole numbers
        with pytest.raises(SystemExit):
            build_parser().parse_args(["train", "ppo", "--total-timesteps", value])
        assert f"--total-timesteps expects int, got '{value}'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "ppo", "--hidden-sizes", "64,64"])
    assert "expects int, got '64,64' (separate values with spaces: 64 64)" in capsys.readouterr().err


def test_config_reruns_a_run_with_another_seed_and_takes_partial_files_under_flags(tmp_path, capsys):
    from jaxrl.cli import build_parser, config_and_run_dir

    first = tmp_path / "first"
    assert main(["train", "ppo", "--env", "CartPole-v1", "--num-envs", "2", "--num-steps", "32", "--total-timesteps",
                 "64", "--learning-rate", "0.002", "--hidden-sizes", "8", "--no-progress", "--run-dir", str(first)]) == 0
    capsys.readouterr()
    for source in (first, first / "config.json"):  # the run's directory or its config.json
        args = build_parser().parse_args(["train", "ppo", "--config", str(source), "--seed", "5"])
        config, _ = config_and_run_dir(args)
        saved = json.loads((first / "config.json").read_text())["config"]
        assert {**saved, "seed": 5} == json.loads(json.dumps(dataclasses.asdict(config)))
    partial = tmp_path / "partial.json"
    partial.write_text('{"learning_rate": 0.01, "hidden_sizes": [16, 16], "gamma": 0.9}')
    args = build_parser().parse_args(["train", "ppo", "--env", "Pendulum-v1", "--config", str(partial), "--gamma",
                                      "0.95"])
    config = config_and_run_dir(args)[0]
    preset = jaxrl.config_for("ppo", "Pendulum-v1")
    assert (config.learning_rate, config.hidden_sizes, config.gamma) == (0.01, (16, 16), 0.95)  # file, then flags
    assert (config.num_envs, config.norm_obs) == (preset.num_envs, preset.norm_obs)  # the --env preset under both
    bad = tmp_path / "bad.json"
    for text, message in (('{"learning_rate": 0.01, "bogus": 1}', f"--config {bad}: unknown PPOConfig fields: bogus"),
                          ("[1]", f"--config {bad} must hold a JSON object of config fields, got list"),
                          ("{", f"--config {bad} is not a JSON file of config fields: JSONDecodeError")):
        bad.write_text(text)
        assert main(["train", "ppo", "--config", str(bad), "--no-progress"]) == 1
        err = capsys.readouterr().err
        assert message in err and len(err.splitlines()) == 1, err
    for argv, message in ((["train", "dqn", "--config", str(first)], "is a ppo run's config; use it with jaxrl "
                                                                      "train ppo"),
                          (["train", "ppo", "--config", str(tmp_path / "none.json")], "none.json: no such file"),
                          (["train", "ppo", "--resume", str(first), "--config", str(partial)],
                           "--resume continues with the run's saved config; drop --config")):
        assert main([*argv, "--no-progress"]) == 1
        err = capsys.readouterr().err
        assert message in err and len(err.splitlines()) == 1, err


@pytest.mark.parametrize("value, expected", [("-1e4", -1e4), ("-.5E1", -5.0), ("-200", -200.0), ("-inf", -math.inf)])
def test_a_negative_number_in_any_float_spelling_is_a_value_not_a_flag(value, expected):
    from jaxrl.cli import build_parser

    args = build_parser().parse_args(["train", "ppo", "--target-return", value, "--seed", "3"])
    assert (args.target_return, args.seed) == (expected, 3)  # argparse alone: "expected one argument"


@pytest.mark.parametrize("argv, names", [(["train", "ppo", "--bogus"],
                                          "jaxrl train ppo: error: unrecognized arguments: --bogus (see: jaxrl train ppo --help)"),
                                         (["train", "a2c"], "invalid choice: 'a2c'"),
                                         (["eval"], "required: run_dir"),
                                         (["bench", "--bogus"], "unrecognized arguments: --bogus"),
                                         (["eval", "runs/x", "--bogus"], "jaxrl eval: error: unrecognized"),
                                         (["--bogus"], "unrecognized arguments: --bogus (a command comes first"),
                                         (["train", "--env", "CartPole-v1"],
                                          "jaxrl train: error: name the algorithm before --env: jaxrl train {ppo,")])
def test_every_usage_error_is_one_line_naming_the_problem(argv, names, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and names in err and len(err.splitlines()) == 1, err


def test_eval_plays_atari_stochastically_unless_told_and_other_envs_as_the_algorithm_says():
    from jaxrl.cli.runs import eval_is_deterministic

    assert eval_is_deterministic(True, "CartPole-v1", None) is True  # DQN, PQN, SAC, ...: greedy
    assert eval_is_deterministic(False, "CartPole-v1", None) is False  # PPO: sampled
    assert eval_is_deterministic(True, "ALE/Breakout-v5", None) is False  # DQN on Atari: its final epsilon
    assert eval_is_deterministic(True, "ALE/Breakout-v5", True) is True  # --deterministic wins
    assert eval_is_deterministic(False, "CartPole-v1", True) is True


def test_several_seeds_of_a_host_only_env_name_its_jax_ports(capsys):
    assert main(["train", "ppo", "--env", "CartPole-v1", "--num-seeds", "2", "--no-progress"]) != 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("jaxrl: error: --num-seeds > 1 needs --loop device (the host loop trains one seed per ")
    assert "for the device loop: phys2d/CartPole-v1" in err


def test_eval_of_missing_run_dir(capsys, tmp_path):
    assert main(["eval", str(tmp_path / "nope")]) != 0
    assert "does not exist" in capsys.readouterr().err


def test_eval_skips_a_damaged_newest_checkpoint_and_names_it(trained_run, capsys, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(trained_run, broken)
    older, latest = list_checkpoints(broken)[-2:]
    latest.write_bytes(latest.read_bytes()[:100])  # truncated, as by a crash mid-copy
    assert main(["eval", str(broken), "--episodes", "1"]) == 0
    err = capsys.readouterr().err
    assert "corrupt or truncated" in err and latest.name in err and "trying the previous checkpoint" in err
    payload = bytearray(older.read_bytes())
    payload[len(payload) // 2] ^= 0xFF  # one flipped byte inside the weights
    older.write_bytes(bytes(payload))
    for path in list_checkpoints(broken)[:-2]:
        path.unlink()
    assert main(["eval", str(broken)]) != 0
    err = capsys.readouterr().err
    assert f"{older.name} is damaged: its contents do not match their SHA-256 checksum" in err
    assert "has no checkpoint that reads back whole" in err


def test_eval_of_a_dir_without_checkpoints(capsys, tmp_path, trained_run):
    import shutil

    empty = tmp_path / "empty"
    shutil.copytree(trained_run, empty)
    shutil.rmtree(empty / "checkpoints")
    assert main(["eval", str(empty)]) != 0
    assert "has no checkpoint" in capsys.readouterr().err


def test_mismatched_checkpoint_names_the_mismatch(capsys, tmp_path, trained_run):
    import shutil

    other = tmp_path / "other"
    shutil.copytree(trained_run, other)
    config = json.loads((other / "config.json").read_text())
    config["config"]["hidden_sizes"] = [16]
    (other / "config.json").write_text(json.dumps(config))
    assert main(["eval", str(other)]) != 0
    assert "does not match this config's network" in capsys.readouterr().err


def test_off_policy_train_eval_and_plot_through_the_cli(tmp_path, capsys):
    run_dir = tmp_path / "td3"
    code = main(["train", "td3", "--env", "Pendulum-v1", "--num-envs", "1", "--total-timesteps", "600",
                 "--learning-starts", "300",
                 "--hidden-sizes", "32", "32", "--batch-size", "32", "--log-every", "200", "--run-dir", str(run_dir),
                 "--no-progress"])
    assert code == 0
    config = json.loads((run_dir / "config.json").read_text())
    assert config["algorithm"] == "td3" and config["config"]["hidden_sizes"] == [32, 32]
    assert config["config"]["gamma"] == 0.98  # the Pendulum preset
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["env_steps"] for r in records] == [200, 400, 600]
    assert records[-1]["critic_loss"] is not None and records[-1]["actor_loss"] is not None
    curve = capsys.readouterr().err.strip().splitlines()[-1]  # the run's learning curve in one line
    start, end = records[0]["episodic_return"], records[-1]["episodic_return"]
    assert curve_columns(curve) == 3 and curve.startswith(f"episodic return {start:.1f} ") and curve.endswith(
        f" {end:.1f} over 600 env steps (chart: jaxrl plot {run_dir})")
    assert main(["eval", str(run_dir), "--episodes", "2"]) == 0
    assert last_json_line(capsys.readouterr().out)["episodes"] == 2
    assert main(["plot", str(run_dir)]) == 0
    assert (run_dir / "learning_curve.png").is_file()


def test_a_warning_is_one_plain_line_while_a_command_runs():
    import warnings

    from jaxrl.cli import one_line_warning, one_line_warnings

    coloured = UserWarning("\x1b[33mWARN: The environment Taxi-v3 is out of date.\n Upgrade to `v4`.\x1b[0m")
    assert one_line_warning(coloured, DeprecationWarning, "/site/gymnasium/registration.py", 513) == \
        "jaxrl: warning: WARN: The environment Taxi-v3 is out of date. Upgrade to `v4`. " \
        "(DeprecationWarning, registration.py:513)\n"
    before = warnings.formatwarning
    with one_line_warnings():
        assert warnings.formatwarning is one_line_warning
    assert warnings.formatwarning is before


def test_off_policy_agent_on_discrete_actions_is_one_line(capsys, tmp_path):
    assert main(["train", "sac", "--env", "CartPole-v1", "--run-dir", str(tmp_path / "r"), "--no-progress"]) != 0
    err = capsys.readouterr().err.strip()
    assert "SAC needs a Box (continuous) action space" in err and len(err.splitlines()) == 1


def test_recurrent_ppo_through_the_cli_with_eval_and_video(tmp_path, capsys):
    run_dir = tmp_path / "lstm"
    code = main(["train", "ppo", "--policy", "lstm", "--env", "jaxrl/CartPole-NoVel-v1", "--total-timesteps", "1024",
                 "--num-envs", "4", "--num-steps", "32", "--seq-len", "8", "--num-minibatches", "2",
                 "--lstm-hidden-size", "16", "--hidden-sizes", "16", "--run-dir", str(run_dir), "--no-progress"])
    assert code == 0
    assert json.loads((run_dir / "config.json").read_text())["config"]["policy"] == "lstm"
    capsys.readouterr()
    assert main(["eval", str(run_dir), "--episodes", "2", "--video", str(tmp_path / "lstm.gif")]) == 0
    assert last_json_line(capsys.readouterr().out)["episodes"] == 2
    assert (tmp_path / "lstm.gif").stat().st_size > 1000


def test_recurrent_bad_seq_len_is_one_line(capsys, tmp_path):
    code = main(["train", "ppo", "--policy", "lstm", "--num-steps", "32", "--seq-len", "5",
                 "--run-dir", str(tmp_path / "r"), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code != 0 and "seq_len (5) must divide num_steps (32)" in err and len(err.splitlines()) == 1


def test_missing_renderer_is_one_line(trained_run, capsys, monkeypatch, tmp_path):
    import gymnasium as gym

    from jaxrl.envs.host import HostVectorEnv

    def no_pygame(self):
        raise gym.error.DependencyNotInstalled("pygame is not installed")

    monkeypatch.setattr(HostVectorEnv, "render", no_pygame)
    assert main(["eval", str(trained_run), "--episodes", "1", "--video", str(tmp_path / "x.gif")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "jaxrl: error: pygame is not installed"


def test_device_loop_through_the_cli_with_seeds_and_eval(tmp_path, capsys):
    run_dir = tmp_path / "device"
    code = main(["train", "ppo", "--env", "phys2d/CartPole-v1", "--loop", "device", "--num-seeds", "2",
                 "--total-timesteps", "1024", "--num-steps", "32", "--num-envs", "8", "--run-dir", str(run_dir)])
    assert code == 0
    captured = capsys.readouterr()
    printed = last_json_line(captured.out)
    assert printed["env_steps_per_seed"] == 1024 and len(printed["final_episodic_return"]) == 2
    curve = captured.err.strip().splitlines()[-1]
    assert "over 1,024 env steps (chart: jaxrl plot" in curve and curve_columns(curve) == 4  # a column per update
    assert (run_dir / "results.json").is_file() and (run_dir / "seed_2" / "config.json").is_file()
    assert main(["eval", str(run_dir / "seed_2"), "--episodes", "2"]) == 0
    seed_2 = last_json_line(capsys.readouterr().out)["mean_return"]
    # the run's dir: every seed's agent on the same episodes, then their summary (jaxrl eval took one seed)
    assert main(["eval", str(run_dir), "--episodes", "2"]) == 0
    captured = capsys.readouterr()
    both = last_json_line(captured.out)
    assert both["seeds"] == [1, 2] and both["mean_return_per_seed"][1] == seed_2 and both["episodes_per_seed"] == 2
    assert both["mean_return"] == pytest.approx(sum(both["mean_return_per_seed"]) / 2) == both["iqm_return"]
    assert captured.err.startswith("seed 1: {")
    assert main(["eval", str(run_dir), "--video", str(tmp_path / "x.gif")]) == 1  # one agent is filmed: which
    assert "name one seed's sub-run, e.g." in capsys.readouterr().err


@pytest.mark.parametrize("env_id, loop", [("phys2d/CartPole-v1", "device"), ("gymnax/Breakout-MinAtar", "device"),
                                          ("brax/ant", "device"), ("playground/CartpoleBalance", "device"),
                                          ("CartPole-v1", "host"), ("jaxrl/CartPole-NoVel-v1", "host")])
def test_a_jax_suites_id_trains_in_the_device_loop_unless_told(env_id, loop):
    from jaxrl.envs.suites import is_jax_suite_id

    assert is_jax_suite_id(env_id) == (loop == "device")


def test_a_one_seed_device_run_evaluates_its_seed_from_the_run_dir(tmp_path, capsys):
    run_dir = tmp_path / "one"
    # no --loop: a phys2d id runs in the device loop (its run dir has a seed_1 sub-run)
    assert main(["train", "ppo", "--env", "phys2d/CartPole-v1", "--total-timesteps", "512",
                 "--num-steps", "32", "--num-envs", "8", "--run-dir", str(run_dir)]) == 0
    assert json.loads((run_dir / "config.json").read_text())["loop"] == "device"
    capsys.readouterr()
    assert main(["eval", str(run_dir), "--episodes", "3", "--seed", "5"]) == 0
    from_run_dir = last_json_line(capsys.readouterr().out)
    assert main(["eval", str(run_dir / "seed_1"), "--episodes", "3", "--seed", "5"]) == 0
    assert last_json_line(capsys.readouterr().out) == from_run_dir


def test_version_and_help_that_explains_each_flag_and_the_preset_that_runs(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == f"jaxrl {jaxrl.__version__}"
    with pytest.raises(SystemExit):
        main(["train", "ddpg", "--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    assert "--gamma GAMMA discount (Pendulum-v1 preset: 0.98; without it 0.99)" in text
    assert "--tau TAU target-network Polyak rate, in (0, 1] (default: 0.005)" in text
    with pytest.raises(SystemExit):
        main(["train", "ppo", "--env", "Pendulum-v1", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(Pendulum-v1 preset: 256; without it 32)" in text
    assert "orthogonal init gain of hidden layers (default: 1.41421)" in text
    with pytest.raises(SystemExit):  # an empty tuple is named, not left blank
        main(["train", "ppo", "--env", "ALE/Breakout-v5", "--help"])
    assert "(ALE/Breakout-v5 preset: 8 4 3; without it empty)" in " ".join(capsys.readouterr().out.split())


def test_every_argument_of_every_command_has_help():
    """`--help` explains every flag and positional (eval's run dir, episodes and seed had none)."""
    from jaxrl.cli import build_parser

    def parsers(parser: argparse.ArgumentParser):
        yield parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    yield from parsers(sub)

    missing = [(parser.prog, action.dest) for parser in parsers(build_parser()) for action in parser._actions
               if not action.help and not isinstance(action, argparse._SubParsersAction)]
    assert not missing


def test_every_config_field_has_a_comment_for_help():
    from jaxrl.agents.registry import ALGORITHMS
    from jaxrl.config import field_docs

    for name, algorithm in ALGORITHMS.items():
        docs = field_docs(algorithm.config_cls)
        missing = [f.name for f in dataclasses.fields(algorithm.config_cls) if not docs.get(f.name)]
        assert not missing, (name, missing)


def test_a_video_that_cannot_be_written_is_refused_before_any_episode(trained_run, capsys, monkeypatch, tmp_path):
    import builtins

    from jaxrl.envs.host import HostVectorEnv

    real_import = builtins.__import__

    def without_ffmpeg(name, *args, **kwargs):
        if name == "imageio_ffmpeg":
            raise ImportError("No module named 'imageio_ffmpeg'")
        return real_import(name, *args, **kwargs)

    def must_not_render(self):
        raise AssertionError("rendered before the writer was checked")

    monkeypatch.setattr(builtins, "__import__", without_ffmpeg)
    monkeypatch.setattr(HostVectorEnv, "render", must_not_render)
    for video, message in ((tmp_path / "x.mp4", "writing MP4 needs imageio-ffmpeg: pip install 'jaxrl[video]' "
                                                "(or write a .gif)"),
                           (tmp_path / "x.avi", "--video must end in .gif or .mp4, got 'x.avi'"),
                           (tmp_path / "no" / "x.gif", f"--video {tmp_path}/no/x.gif: the folder {tmp_path}/no "
                                                       "does not exist")):
        assert main(["eval", str(trained_run), "--episodes", "1", "--video", str(video)]) == 1
        assert capsys.readouterr().err.strip() == f"jaxrl: error: {message}"


def test_render_without_a_display_is_one_line(trained_run, capsys, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    assert main(["eval", str(trained_run), "--episodes", "1", "--render"]) == 1
    assert capsys.readouterr().err.strip() == (
        "jaxrl: error: --render opens a window, but this machine has no display (DISPLAY and WAYLAND_DISPLAY are "
        "unset); write the episode with --video out.gif instead")


def test_a_gif_has_no_sdl_or_alsa_noise(trained_run, tmp_path):
    out = subprocess.run([sys.executable, "-m", "jaxrl.cli", "eval", str(trained_run), "--episodes", "1",
                          "--video", str(tmp_path / "x.gif")], capture_output=True, text=True, timeout=300,
                         env={k: v for k, v in __import__("os").environ.items() if k != "XDG_RUNTIME_DIR"})
    assert out.returncode == 0
    assert "XDG_RUNTIME_DIR" not in out.stderr and "ALSA" not in out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith("wrote ")


def test_a_run_shorter_than_an_episode_says_why_its_return_is_null(tmp_path, capsys):
    # Pendulum episodes are 200 steps; 4 envs x 32 steps end none of them
    assert main(["train", "ppo", "--env", "Pendulum-v1", "--total-timesteps", "128", "--num-envs", "4",
                 "--num-steps", "32", "--run-dir", str(tmp_path / "run"), "--no-progress"]) == 0
    out, err = capsys.readouterr()
    assert last_json_line(out)["episodic_return"] is None
    assert "no episode finished in 128 env steps (the episodes are longer than the run), so episodic_return " \
           "is null" in err


def test_a_run_on_an_env_without_a_preset_ends_saying_whose_defaults_it_used(capsys, tmp_path):
    env_id = "MountainCarContinuous-v0"
    assert main(["train", "ppo", "--env", env_id, "--total-timesteps", "64", "--num-envs", "2", "--num-steps", "32",
                 "--no-progress", "--run-dir", str(tmp_path / "run")]) == 0
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"note: ppo has no preset for {env_id}; this run used the defaults, which are tuned for CartPole-v1 "
        f"(`jaxrl train ppo --env {env_id} --help` lists them)")


def test_only_envs_without_a_preset_get_the_note():
    from jaxrl.io.run_summary import missing_preset_note

    assert missing_preset_note("sac", "MountainCarContinuous-v0").startswith("note: sac has no preset for Mount")
    for algorithm, env in [("ppo", "CartPole-v1"), ("ppo", "phys2d/Pendulum-v0"), ("ppo", "brax/ant"),
                           ("sac", "Pendulum-v1"), ("dqn", "phys2d/CartPole-v1"), ("td3", "Pendulum-v1"),
                           ("ppo", "Acrobot-v1"), ("dqn", "gymnax/MountainCar-v0"), ("ppo", "LunarLander-v3")]:
        assert missing_preset_note(algorithm, env) is None, (algorithm, env)


def test_a_renderer_that_fails_is_one_line_naming_the_env(trained_run, capsys, monkeypatch, tmp_path):
    from jaxrl.envs.host import HostVectorEnv

    def broken_renderer(self):
        raise RuntimeError("an OpenGL platform library has not been loaded\ninto this process")

    monkeypatch.setattr(HostVectorEnv, "render", broken_renderer)
    assert main(["eval", str(trained_run), "--episodes", "1", "--video", str(tmp_path / "x.gif")]) == 1
    assert capsys.readouterr().err.strip() == (
        "jaxrl: error: 'CartPole-v1' could not render a frame: RuntimeError: an OpenGL platform library has not "
        "been loaded into this process (MuJoCo envs: MUJOCO_GL=egl or osmesa picks an off-screen OpenGL)")
    assert not (tmp_path / "x.gif").exists()


def test_prepare_rendering_picks_mujocos_off_screen_backend_without_a_display(monkeypatch):
    """gymnasium's MuJoCo envs (Hopper-v5) render on GLFW by default, which needs a window: without a
    display, rgb_array frames take EGL (the variable is read when mujoco is imported); a value the user
    set stays."""
    from jaxrl.io.video import prepare_rendering

    for name in ("DISPLAY", "WAYLAND_DISPLAY", "MUJOCO_GL"):
        monkeypatch.delenv(name, raising=False)
    prepare_rendering("rgb_array")
    assert os.environ["MUJOCO_GL"] == "egl"
    monkeypatch.setenv("MUJOCO_GL", "osmesa")
    prepare_rendering("rgb_array")
    assert os.environ["MUJOCO_GL"] == "osmesa"


def test_a_gymnasium_mujoco_env_trains_with_its_preset_and_writes_a_video(tmp_path, capsys):
    pytest.importorskip("mujoco")
    run_dir = tmp_path / "hopper"
    assert main(["train", "ppo", "--env", "Hopper-v5", "--total-timesteps", "128", "--num-envs", "2", "--num-steps",
                 "64", "--num-minibatches", "2", "--update-epochs", "1", "--run-dir", str(run_dir),
                 "--no-progress"]) == 0
    config = json.loads((run_dir / "config.json").read_text())["config"]
    assert config["norm_obs"] and config["norm_reward"] and config["gae_lambda"] == 0.95  # the MuJoCo preset
    video = tmp_path / "hopper.gif"
    assert main(["eval", str(run_dir), "--episodes", "1", "--video", str(video)]) == 0
    assert video.stat().st_size > 10_000


def test_lunar_lander_trains_with_its_ppo_and_dqn_presets_and_writes_a_video(tmp_path):
    pytest.importorskip("Box2D")
    ppo_dir, dqn_dir = tmp_path / "ppo", tmp_path / "dqn"
    assert main(["train", "ppo", "--env", "LunarLander-v3", "--total-timesteps", "128", "--num-envs", "2",
                 "--num-steps", "64", "--num-minibatches", "2", "--update-epochs", "1", "--run-dir", str(ppo_dir),
                 "--no-progress"]) == 0
    config = json.loads((ppo_dir / "config.json").read_text())["config"]
    assert (config["gamma"], config["gae_lambda"], config["ent_coef"], config["anneal_lr"]) == (0.999, 0.98, 0.01, False)
    assert main(["train", "dqn", "--env", "LunarLander-v3", "--total-timesteps", "200", "--buffer-size", "1000",
                 "--run-dir", str(dqn_dir), "--no-progress"]) == 0
    config = json.loads((dqn_dir / "config.json").read_text())["config"]
    assert (config["loss"], config["updates_per_step"], config["target_network_frequency"]) == ("huber", 4, 250)
    sac = jaxrl.config_for("sac", "LunarLanderContinuous-v3")  # the Pendulum recipe at 200k steps
    assert (sac.num_envs, sac.updates_per_step, sac.n_step, sac.total_timesteps) == (8, 8, 3, 200_000)
    video = tmp_path / "lander.gif"
    assert main(["eval", str(ppo_dir), "--episodes", "1", "--video", str(video)]) == 0  # sampled: a short crash
    assert video.stat().st_size > 10_000


def test_an_atari_game_trains_with_its_preset_and_writes_a_video(tmp_path):
    pytest.importorskip("ale_py")
    pytest.importorskip("cv2")
    run_dir = tmp_path / "breakout"
    assert main(["train", "ppo", "--env", "ALE/Breakout-v5", "--total-timesteps", "64", "--num-envs", "2",
                 "--num-steps", "32", "--num-minibatches", "1", "--update-epochs", "1", "--run-dir", str(run_dir),
                 "--no-progress"]) == 0
    config = json.loads((run_dir / "config.json").read_text())["config"]
    assert config["conv_kernels"] == [8, 4, 3] and config["reward_clip"] == 1.0  # the Atari preset
    video = tmp_path / "breakout.gif"
    assert main(["eval", str(run_dir), "--episodes", "1", "--video", str(video)]) == 0
    assert video.stat().st_size > 10_000


@dataclasses.dataclass(frozen=True)
class _PercentConfig:
    share: float = 0.5  # at most 2% of the run


def test_a_percent_sign_in_a_field_comment_is_help_text_not_a_format():
    import argparse

    from jaxrl.cli.flags import add_config_flags

    parser = argparse.ArgumentParser()
    add_config_flags(parser, _PercentConfig)
    assert "at most 2% of the run (default: 0.5)" in " ".join(parser.format_help().split())
