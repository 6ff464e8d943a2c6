"""The throughput harness and the report: a quick cell gives a valid result file and a report row."""

import ast
import json
import sys
from pathlib import Path

import pytest

from jaxrl import bench
from jaxrl.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import report


def test_cell_parsing_names_the_bad_part():
    assert bench.Cell.parse("sac:device:64") == bench.Cell("sac", "device", 64)
    for text, message in [("ppo", "must be ALGORITHM:BACKEND:NUM_ENVS"), ("a2c:sync:8", r"algorithm must be one of \['ddpg', .*got 'a2c'"),
                          ("ppo-mlp:gpu:8", "backend must be one of"), ("ppo-mlp:sync:0", "num_envs must be")]:
        with pytest.raises(ValueError, match=message):
            bench.Cell.parse(text)
    with pytest.raises(SystemExit) as exit_:
        main(["bench", "--cells", "ppo-mlp:sync:x"])
    assert exit_.value.code == 2


def test_atari_cells_time_the_presets_on_a_shorter_schedule_and_only_on_host_backends(monkeypatch):
    from jaxrl.bench.cells import _config

    with pytest.raises(ValueError, match=r"the backend of dqn-atari must be one of \['async', 'envpool', 'sync'\]"):
        bench.Cell.parse("dqn-atari:device:1")
    algorithm, config = _config(bench.Cell.parse("ppo-atari:envpool:8"), quick=True)
    # PPO's Atari preset as it trains (conv torso, 128-step rollouts), for 3 updates
    assert (algorithm, config.env, config.vectorization) == ("ppo", "ALE/Breakout-v5", "envpool")
    assert (config.conv_channels, config.hidden_sizes, config.reward_clip) == ((32, 64, 64), (512,), 1.0)
    assert config.total_timesteps == 3 * config.num_steps * 8 == 3 * 128 * 8
    algorithm, config = _config(bench.Cell.parse("dqn-atari:sync:1"), quick=False)
    assert (algorithm, config.conv_channels, config.reward_clip) == ("dqn", (32, 64, 64), 1.0)
    assert (config.buffer_size, config.learning_starts, config.log_every, config.total_timesteps) == (
        10_000, 500, 500, 8 * 500)
    # the full matrix's Atari cells, as installed packages allow
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None if name == "envpool" else object())
    atari = [str(cell) for cell in bench.full_matrix() if cell.algorithm in bench.ATARI_ALGORITHMS]
    assert atari == ["ppo-atari:sync:8", "ppo-atari:async:8", "dqn-atari:sync:1"]
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    assert not [cell for cell in bench.full_matrix() if cell.algorithm in bench.ATARI_ALGORITHMS]


def test_quick_cell_writes_a_valid_result_file_and_a_report_row(tmp_path, capsys):
    assert main(["bench", "--quick", "--cells", "ppo-mlp:sync:2", "--results-dir", str(tmp_path)]) == 0
    (path,) = tmp_path.glob("throughput__*.json")
    data = json.loads(path.read_text())
    for key in ("date", "machine", "cpu_model", "cpu_cores", "device_kind", "versions"):
        assert data[key], key
    assert data["versions"]["jax"] and data["versions"]["gymnasium"]
    (row,) = data["rows"]
    assert data["complete"] is True
    assert (row["algorithm"], row["backend"], row["num_envs"]) == ("ppo-mlp", "sync", 2)
    assert row["env_sps"] > row["act_sps"] > 0 and row["train_sps"] > 0 and row["peak_rss_mb"] > 100
    assert row["act_over_env"] == pytest.approx(row["act_sps"] / row["env_sps"])
    # The parts measured alone, and the serial bounds they give: 1 / (1/a + 1/b) is below both parts.
    assert row["policy_sps"] > 0 and row["update_sps"] > 0
    assert row["act_bound_sps"] == pytest.approx(1 / (1 / row["env_sps"] + 1 / row["policy_sps"]))
    assert row["act_bound_sps"] < min(row["env_sps"], row["policy_sps"])
    assert row["train_bound_sps"] == pytest.approx(1 / (1 / row["act_sps"] + 1 / row["update_sps"]))
    assert row["act_over_bound"] == pytest.approx(row["act_sps"] / row["act_bound_sps"])
    assert "ppo-mlp   sync" in capsys.readouterr().out  # the printed table

    markdown = report.write_report([path], tmp_path / "report").read_text()
    assert "| cpu | ppo-mlp | sync | 2 |" in markdown
    assert (tmp_path / "report" / "throughput_ppo-mlp.png").stat().st_size > 1000


def test_an_interrupted_matrix_keeps_the_cells_it_measured(tmp_path, monkeypatch):
    measured = []

    def fake_cell(cell, quick):
        if measured:
            raise KeyboardInterrupt  # Ctrl-C during the second cell
        measured.append(cell)
        return {**cell._asdict(), "env_sps": 10.0, "act_sps": 5.0, "train_sps": 4.0}

    monkeypatch.setattr(bench, "run_cell_subprocess", fake_cell)
    with pytest.raises(KeyboardInterrupt):
        bench.main(["--cells", "ppo-mlp:sync:2", "sac:sync:1", "--results-dir", str(tmp_path)])
    (path,) = tmp_path.glob("throughput__*.json")  # no temporary file left beside it
    data = json.loads(path.read_text())
    assert data["complete"] is False and data["cells"] == ["ppo-mlp:sync:2", "sac:sync:1"]
    assert [(row["algorithm"], row["env_sps"]) for row in data["rows"]] == [("ppo-mlp", 10.0)]


def test_report_learning_row_and_plot_from_a_learning_file(tmp_path):
    runs = [{"seed": seed, "eval": {"mean_return": 480.0 + seed}, "wall_clock_s": wall,
             "curve": [(1000, 20.0), (2000, 100.0 * seed)], "eval_curve": [(1000, 30.0), (2000, 400.0 + seed)]}
            for seed, wall in ((1, 10.0), (2, 30.0), (3, 20.0))]
    task = {"date": "2026-11-22T00:00:00+00:00", "device_kind": "cpu", "task": "toy", "algorithm": "ppo",
            "env": "CartPole-v1", "env_steps": 2000, "threshold": 475.0, "config": {}, "seeds_passed": 3,
            "seeds": 3, "mean_eval_return": 482.0, "runs": runs}
    path = tmp_path / "learning__toy__cpu__20261122T000000.json"
    path.write_text(json.dumps(task))
    markdown = report.write_report([path], tmp_path / "report").read_text()
    assert "| toy | cpu | 2,000 | 3/3 | 482.0 | 475.0 | 20 (median; 10-30) | 2026-11-22 |" in markdown
    assert (tmp_path / "report" / "learning_curves.png").stat().st_size > 1000


def test_report_row_for_seeds_trained_together_in_the_device_loop(tmp_path):
    result = {"date": "2026-11-26T00:00:00+00:00", "device_kind": "cpu", "task": "vm", "algorithm": "ppo",
              "env": "playground/CartpoleBalance", "env_steps_per_seed": 2048, "seeds": [1, 2], "bar": 800.0,
              "eval_returns": [990.0, 500.0], "mean_eval_return": 745.0, "seeds_passed": 1,
              "curve_first_reaches_bar": [1024, None], "wall_s": 41.2, "compile_s": 25.0, "train_sps": 116459.0,
              "env_only_sps": 336605.0, "curve_env_steps": [1024, 2048],
              "curves": [[850.0, 990.0], [float("nan"), 400.0]]}
    path = tmp_path / "device_learning__vm__cpu__20261126T000000.json"
    path.write_text(json.dumps(result))
    markdown = report.write_report([path], tmp_path / "report").read_text()
    assert ("| vm | cpu | playground/CartpoleBalance | 2,048 | 1/2 | 990.0, 500.0 | 800.0 | 1,024, - | 41 (25) "
            "| 116,459 | 336,605 | 2026-11-26 |") in markdown
    assert "| vm | cpu | 2,048 |" not in markdown  # not in the per-seed table as well
    assert (tmp_path / "report" / "learning_curves.png").stat().st_size > 1000


OLDER, NEWER = "2026-11-25T00:00:00+00:00", "2026-11-26T00:00:00+00:00"


def report_of_an_older_and_a_newer_run(tmp_path, benchmark: str, older: dict, newer: dict) -> str:
    """REPORT.md from two result files of ``benchmark`` on one device."""
    paths = [tmp_path / f"{benchmark}__cpu__{i}.json" for i in (1, 2)]
    for path, run in zip(paths, (older, newer)):
        path.write_text(json.dumps(run))
    return report.write_report(paths, tmp_path / "report").read_text()


def test_report_shows_the_newest_peer_run_per_device_with_its_ratios(tmp_path):
    def run(date, jaxrl_sps):
        row = {"row": "mlp 8x128", "jaxrl": {"aggregate_sps": jaxrl_sps, "compile_s": 3.25},
               "peer": {"aggregate_sps": 200_000.0, "compile_s": 2.5}, "sps_ratio": jaxrl_sps / 200_000.0,
               "sb3": {"aggregate_sps": 4_000.0}, "sb3_sps_ratio": jaxrl_sps / 4_000.0, "env_only_sps": 2_000_000.0}
        recurrent = {"row": "lstm 256x64", "jaxrl": {"aggregate_sps": 30_000.0, "compile_s": 5.0},
                     "env_only_sps": 1.0e7}
        return {"date": date, "device_kind": "cpu", "rows": [row, recurrent]}

    markdown = report_of_an_older_and_a_newer_run(tmp_path, "device_loop", run(OLDER, 100_000.0),
                                                  run(NEWER, 300_000.0))
    assert "| cpu | mlp 8x128 | 300,000 | 200,000 | 1.50 | 3.2 / 2.5 | 4,000 | 75.0 | 2,000,000 | 2026-11-26 |" in markdown
    assert "| cpu | lstm 256x64 | 30,000 | - | - | 5.0 | - | - | 10,000,000 | 2026-11-26 |" in markdown
    assert "100,000" not in markdown
    # a newer run of some rows (--rows) replaces those and leaves the others' older figures, dated
    partial = {**run(NEWER, 300_000.0), "date": "2026-11-27T00:00:00+00:00"}
    partial["rows"] = partial["rows"][:1]
    markdown = report_of_an_older_and_a_newer_run(tmp_path, "device_loop", run(NEWER, 300_000.0), partial)
    assert "| cpu | mlp 8x128 | 300,000 | 200,000 | 1.50 | 3.2 / 2.5 | 4,000 | 75.0 | 2,000,000 | 2026-11-27 |" in markdown
    assert "| cpu | lstm 256x64 | 30,000 | - | - | 5.0 | - | - | 10,000,000 | 2026-11-26 |" in markdown
    lines = markdown.splitlines()
    assert lines.index(next(line for line in lines if "mlp 8x128" in line)) < lines.index(
        next(line for line in lines if "lstm 256x64" in line))


def test_report_shows_the_newest_recurrent_speed_run_per_device(tmp_path):
    def run(date: str, gru_sps: float) -> dict:
        rows = [{"architecture": "mlp", "num_envs": 256, "num_steps": 64, "aggregate_sps": 400_000.0,
                 "compile_s": 3.0},
                {"architecture": "gru-64", "num_envs": 256, "num_steps": 64, "aggregate_sps": gru_sps,
                 "compile_s": 4.5, "fraction_of_mlp": gru_sps / 400_000.0}]
        return {"date": date, "device_kind": "cpu", "rows": rows}

    markdown = report_of_an_older_and_a_newer_run(tmp_path, "recurrent_speed", run(OLDER, 50_000.0),
                                                  run(NEWER, 100_000.0))
    assert "| cpu | mlp | 256x64 | 400,000 | - | 3.0 | 2026-11-26 |" in markdown
    assert "| cpu | gru-64 | 256x64 | 100,000 | 25.0% | 4.5 | 2026-11-26 |" in markdown
    assert "50,000" not in markdown


def test_report_prefers_full_runs_over_newer_quick_ones():
    row = {"device": "cpu", "algorithm": "sac", "backend": "sync", "num_envs": 1}
    full = {**row, "date": "2026-11-22T10:00", "quick": False, "train_sps": 1.0}
    quick = {**row, "date": "2026-11-22T11:00", "quick": True, "train_sps": 2.0}
    newer_full = {**row, "date": "2026-11-22T09:00", "quick": False, "train_sps": 3.0}
    assert report.newest_per_cell([quick, full]) == [full]
    assert report.newest_per_cell([full, newer_full]) == [full]  # the newest date wins among full runs
    assert report.newest_per_cell([quick]) == [quick]


def test_results_go_to_the_checkouts_results_folder_or_else_the_current_directory(tmp_path, monkeypatch):
    from jaxrl.bench import default_results_dir

    monkeypatch.chdir(tmp_path)
    assert default_results_dir() == Path(".")  # outside a checkout: no benchmarks/results/ created here
    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    assert default_results_dir() == Path("benchmarks/results")


def test_report_shows_the_newest_playground_side_by_side_per_device(tmp_path):
    def run(date: str, jaxrl_return: float) -> dict:
        jaxrl = {"eval_sampled": jaxrl_return, "eval_greedy": 990.0, "wall_s": 40.4, "compile_s": 30.2,
                 "train_sps": 1_750_000.0, "env_only_sps": 1.0e7, "curve_env_steps": [1, 2],
                 "curve_training_return": [None, 500.0]}
        brax = {"eval_sampled": 998.7, "wall_s": 103.0, "compile_s": 24.6, "train_sps": 1_290_000.0,
                "evals": [{"env_steps": 0, "eval_return": 280.0}, {"env_steps": 2, "eval_return": 998.7}]}
        return {"date": date, "device_kind": "cpu", "total_timesteps": 2, "rows": {"CartpoleBalance": {
            "jaxrl": jaxrl, "brax": brax}}}

    markdown = report_of_an_older_and_a_newer_run(tmp_path, "peer_playground", run(OLDER, 111.0), run(NEWER, 995.0))
    assert ("| cpu | CartpoleBalance | jaxrl PPO | 2 | 995.0 | 990.0 | 40 (30) | 1,750,000 | 10,000,000 "
            "| 2026-11-26 |") in markdown
    assert "| cpu | CartpoleBalance | brax PPO | 2 | 998.7 | - | 103 (25) | 1,290,000 | - | 2026-11-26 |" in markdown
    assert "111.0" not in markdown
    assert (tmp_path / "report" / "playground_curves.png").stat().st_size > 1000


def test_a_playground_run_of_one_trainer_and_task_keeps_the_other_figures(tmp_path):
    def side(final: float) -> dict:
        return {"eval_sampled": final, "wall_s": 10.0, "train_sps": 1000.0, "curve_env_steps": [1, 2],
                "curve_training_return": [0.0, final], "evals": [{"env_steps": 2, "eval_return": final}]}

    older = {"date": OLDER, "device_kind": "cpu", "total_timesteps": 2,
             "rows": {"CartpoleBalance": {"jaxrl": side(900.0), "brax": side(950.0)}}}
    newer = {"date": NEWER, "device_kind": "cpu", "total_timesteps": 4, "rows": {"brax/ant": {"brax": side(30.9)}}}
    markdown = report_of_an_older_and_a_newer_run(tmp_path, "peer_playground", older, newer)
    assert "| cpu | CartpoleBalance | jaxrl PPO | 2 | 900.0 |" in markdown
    assert "| cpu | CartpoleBalance | brax PPO | 2 | 950.0 |" in markdown
    assert "| cpu | brax/ant | brax PPO | 4 | 30.9 |" in markdown


def test_brax_rates_come_from_its_training_wall_time_not_its_per_epoch_sps():
    import peer_playground

    evals = [{"env_steps": 0, "training_sps": float("nan"), "training_walltime_s": float("nan")},
             {"env_steps": 1000, "training_sps": 9e9, "training_walltime_s": 12.0},
             {"env_steps": 3000, "training_sps": 9e9, "training_walltime_s": 16.0}]
    rates = peer_playground.brax_rates(evals)
    assert rates["train_sps"] == 500.0  # 2000 steps in 4 s
    assert rates["compile_s"] == 10.0  # the first 1000 steps took 12 s, 2 s of them at that rate
    assert rates["brax_reported_sps"] == 9e9


def test_tasks_are_named_as_playground_names_or_brax_ids():
    import peer_playground

    assert peer_playground.jaxrl_env_id("brax/ant") == "brax/ant"
    assert peer_playground.jaxrl_env_id("CartpoleBalance") == "playground/CartpoleBalance"


def test_jaxrl_evaluates_at_brax_evaluation_points_after_step_0():
    import peer_playground

    import jaxrl
    from jaxrl.agents.published import brax_ppo_fields, published_config

    overrides = brax_ppo_fields(published_config("playground/CartpoleBalance", "ppo"))
    config = jaxrl.config_for("ppo", "playground/CartpoleBalance", total_timesteps=19_660_800, **overrides)
    assert config.batch_size == 983_040  # 20 updates: brax's 3 evaluations are at 0, 9,830,400 and 19,660,800
    assert peer_playground.eval_schedule("ppo", config, 3) == {"eval_every": 10, "eval_episodes": 128}
    assert peer_playground.eval_schedule("ppo", config, 1) == {}


def test_report_shows_the_newest_minatar_peer_run_in_both_file_layouts(tmp_path):
    def run(date, jaxrl_returns):
        return {"date": date, "device_kind": "cpu", "env": "Breakout-MinAtar", "config": {"total_timesteps": 2_000_000},
                "rows": {"jaxrl": {"eval_returns": jaxrl_returns, "sps": 16_371.9, "compile_s": 5.64},
                         "purejaxql": {"error": "KeyError: 'x'"}}}

    markdown = report_of_an_older_and_a_newer_run(tmp_path, "peer_purejaxql_pqn", run(OLDER, [1.0, 2.0]),
                                                  run(NEWER, [40.5, 24.0, 21.5]))
    assert ("| PQN, purejaxql's published config | Breakout-MinAtar, 2,000,000 | cpu | jaxrl | 40.5 / 24.0 / 21.5 "
            "| 16,372 | 5.6 | 2026-11-26 |") in markdown
    assert "1.0 / 2.0" not in markdown and "| purejaxql |" not in markdown  # older file; a side that failed
    per_seed = {"date": NEWER, "device_kind": "cpu", "env": "Breakout-MinAtar", "config": {"total_timesteps": 10},
                "rows": {"rejax": [{"eval_return": 16.1, "sps": 239_341.4, "compile_s": 3.4},
                                   {"eval_return": 20.5, "sps": 256_525.6, "compile_s": 3.6}]}}
    path = tmp_path / "peer_rejax_pqn__cpu__3.json"
    path.write_text(json.dumps(per_seed))
    markdown = report.write_report([path], tmp_path / "report").read_text()
    assert "| rejax | 16.1 / 20.5 | 239,341-256,526 | 3.4-3.6 | 2026-11-26 |" in markdown


def test_report_keeps_a_minatar_comparison_of_each_run_length(tmp_path):
    def run(date, steps, returns):
        return {"date": date, "device_kind": "cpu", "env": "Breakout-MinAtar", "config": {"total_timesteps": steps},
                "rows": {"jaxrl": {"eval_returns": returns, "sps": 1.0, "compile_s": 1.0}}}

    markdown = report_of_an_older_and_a_newer_run(tmp_path, "peer_purejaxql_pqn", run(OLDER, 2_000_000, [40.5]),
                                                  run(NEWER, 10_000_000, [93.5]))
    assert "Breakout-MinAtar, 2,000,000 | cpu | jaxrl | 40.5 |" in markdown
    assert "Breakout-MinAtar, 10,000,000 | cpu | jaxrl | 93.5 |" in markdown


@pytest.mark.parametrize("per_rollout", [False, True])
def test_env_alone_restarts_envs_as_the_run_does(per_rollout):
    import dataclasses

    from jaxrl.agents.ppo import PPOConfig
    from jaxrl.agents.sac import SACConfig
    from jaxrl.bench.cells import device_env_sps, steps_per_start
    from jaxrl.envs.device import make_device_env

    config = PPOConfig(env="phys2d/CartPole-v1", num_steps=16, fresh_starts="rollout" if per_rollout else "step")
    assert steps_per_start(config) == (16 if per_rollout else None)
    assert steps_per_start(SACConfig(env="phys2d/Pendulum-v0")) is None
    assert steps_per_start(SACConfig(env="phys2d/Pendulum-v0", num_envs=16, log_every=160, fresh_starts="rollout")) == 10
    env = make_device_env(config.env)
    traced = {"step": 0, "step_in_episode": 0}

    def counted(name):
        def call(*args):
            traced[name] += 1
            return getattr(env, name)(*args)
        return call

    counting_env = dataclasses.replace(env, step=counted("step"), step_in_episode=counted("step_in_episode"))
    rate = device_env_sps(counting_env, num_envs=4, steps=40, min_seconds=0.0, steps_per_start=steps_per_start(config))
    assert rate > 0
    # One trace of the scanned step: the auto-resetting step, or the step without reset plus the drawn starts.
    assert traced == ({"step": 0, "step_in_episode": 1} if per_rollout else {"step": 1, "step_in_episode": 0})


def test_every_benchmark_flag_says_what_it_does():
    """Users run the benchmark scripts: each flag's ``--help`` line must explain it."""
    undocumented = []
    for path in sorted((Path(__file__).resolve().parents[1] / "benchmarks").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument"
                    and not any(keyword.arg == "help" for keyword in node.keywords)):
                undocumented.append(f"{path.name}:{node.lineno}")
    assert not undocumented, f"add_argument without help=: {undocumented}"


def test_time_to_solve_table_gives_each_row_its_speed_up_on_the_peers_of_its_own_run():
    from report_solve import time_to_solve_table

    def seeds(name, walls, key="row"):
        return [{key: name, "seed": seed, "wall_s": wall, "solved": "1/1"} for seed, wall in enumerate(walls)]

    cartpole = {"benchmark": "time_to_solve", "device_kind": "cpu", "date": "2026-11-28T09:00:00", "task": "cartpole",
                "bar": 475.0, "rows": [*seeds("jaxrl device preset", [9.0, 11.0, 10.0]), *seeds("rejax PPO", [15.0]),
                                       *seeds("Stable-Baselines3 PPO defaults", [20.0, 40.0, 30.0])]}
    older = {**cartpole, "date": "2026-11-27T09:00:00", "rows": seeds("jaxrl device preset", [1.0])}
    pendulum = {"benchmark": "time_to_solve", "device_kind": "cpu", "date": "2026-11-28T08:00:00", "bar": -200.0,
                "rows": [{"algorithm": "td3", "wall_s": 5.0, "solved": True},
                         {"algorithm": "td3", "wall_s": 7.0, "solved": False},
                         {"algorithm": "sb3-sac", "wall_s": 60.0, "solved": False}],
                "other_rows": [{"algorithm": "td3 (16 seeds vmapped)", "wall_s": 40.0, "solved": "13/16"}]}
    # a later run of one agent replaces that agent's rows only, with the peer of its own run
    sac_only = {**pendulum, "date": "2026-11-28T19:00:00", "rows": [{"algorithm": "sac", "wall_s": 10.0, "solved": True},
                                                                   {"algorithm": "sb3-sac", "wall_s": 90.0, "solved": True}],
                "other_rows": []}
    table = time_to_solve_table([(Path(f"time_to_solve__cpu__{i}.json"), data)
                                 for i, data in enumerate([older, cartpole, sac_only, pendulum])])
    lines = {line.split(" | ")[2]: line for line in table.splitlines()[2:]}
    assert lines["jaxrl device preset"].startswith("| cartpole (>= 475) | cpu |")
    assert "| 3 | 9.0-11.0 | 10.0 | 3/3 | 3.0x | 1.5x | 2026-11-28 |" in lines["jaxrl device preset"]  # the older run is gone
    assert "| 1 | 15.0 | 15.0 | 1/1 | 2.0x | 1.0x |" in lines["rejax PPO"]
    assert "| 2 | 5.0-7.0 | 6.0 | 1/2 | 10.0x | - |" in lines["td3"]
    assert "| 1 | 40.0 | 40.0 | 13/16 | - | - |" in lines["td3 (16 seeds vmapped)"]  # all 16 seeds' time
    assert lines["td3"].startswith("| pendulum (>= -200) |")
    assert "| 1 | 10.0 | 10.0 | 1/1 | 9.0x | - | 2026-11-28 |" in lines["sac"]
    assert "| 1 | 90.0 | 90.0 | 1/1 | 1.0x | - |" in lines["sb3-sac"]  # the newest run's SB3 row


def test_compile_profile_reads_only_the_train_modules_timings_from_xlas_log():
    from compile_profile import parse_compile_log

    log = "\n".join([
        "I1128 cpu_compiler.cc:2091] Compiling: jit__normal",
        "I1128 ir_compiler.cc:293] Compiled LLVM module: __compute_module_init time: 5 ms (5000 us)",
        "I1128 cpu_compiler.cc:1269] Running HLO passes on [jit_train] for CPU time: 1.1 s (1100000 us)",
        "I1128 cpu_compiler.cc:2091] Compiling: jit_train",
        "I1128 ir_compiler.cc:293] Compiled LLVM module: __compute_module_a time: 523 ms (523000 us) (cumulative: 1 s)",
        "I1128 ir_compiler.cc:293] Compiled LLVM module: __compute_module_b time: 900 us (900 us)",
        "I1128 cpu_compiler.cc:2094] Compiling [jit_train] for CPU using JIT time: 5.24 s (5238517 us)",
    ])
    parsed = parse_compile_log(log)
    assert parsed["hlo_passes_s"] == pytest.approx(1.1)
    assert parsed["codegen_s"] == pytest.approx(5.24)
    assert parsed["llvm_module_s"] == pytest.approx({"__compute_module_a": 0.523, "__compute_module_b": 0.0009})
