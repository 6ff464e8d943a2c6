"""Evaluations during training (eval_every / eval_episodes / target_eval_return), both loops."""

import dataclasses
import json
import subprocess
import sys

import jax
import numpy as np
import pytest

from jaxrl.agents.ppo import PPOConfig
from jaxrl.agents.registry import get_algorithm
from jaxrl.api import load, train
from jaxrl.envs.device import make_device_env
from jaxrl.io.checkpoint import latest_checkpoint, read_checkpoint
from jaxrl.io.config_file import check_resumable
from jaxrl.io.metrics import read_metrics
from jaxrl.loops.device_run import piece_every, run_device
from jaxrl.loops.sweep import run_sweep
from jaxrl.loops.training_eval import (
    EVAL_SEED,
    device_evaluator,
    evaluation_due,
    evaluation_fields,
    host_evaluator,
    last_evaluation,
    play_host_episodes,
    target_eval_reason,
)

DEVICE = PPOConfig(env="phys2d/CartPole-v1", total_timesteps=6 * 4 * 32, num_envs=4, num_steps=32, update_epochs=2,
                   num_minibatches=2, hidden_sizes=(16, 16), progress=False, eval_every=2, eval_episodes=3)
HOST = dataclasses.replace(DEVICE, env="CartPole-v1")


def test_evaluation_fields_by_hand():
    fields = evaluation_fields(np.array([[10.0, 20.0, 30.0], [1.0, 1.0, 4.0]]))
    assert fields["eval_return_per_seed"] == [20.0, 2.0]
    assert fields["eval_return"] == pytest.approx(11.0)
    # each seed's population std over its episodes (8.165 and 1.414), then their mean
    assert fields["eval_return_std"] == pytest.approx((np.sqrt(200 / 3) + np.sqrt(2)) / 2)


def test_the_target_needs_every_seed_and_an_evaluation():
    assert target_eval_reason(475.0, {"eval_return_per_seed": [500.0, 474.9]}) is None
    assert "every seed's evaluation mean >= 475.0" in target_eval_reason(475.0, {"eval_return_per_seed": [500.0,
                                                                                                             475.0]})
    assert target_eval_reason(475.0, {"episodic_return": 500.0}) is None  # a record without an evaluation
    assert target_eval_reason(None, {"eval_return_per_seed": [500.0]}) is None


def test_schedule_and_pieces():
    assert [i for i in range(1, 11) if evaluation_due(DEVICE, i)] == [2, 4, 6, 8, 10]
    assert not any(evaluation_due(dataclasses.replace(DEVICE, eval_every=0), i) for i in range(1, 11))
    # a piece ends wherever a checkpoint (or stopping check) or an evaluation is due
    assert piece_every(dataclasses.replace(DEVICE, checkpoint_every=50, eval_every=5), checkpointing=True) == 5
    assert piece_every(dataclasses.replace(DEVICE, checkpoint_every=4, eval_every=6), checkpointing=True) == 2
    assert piece_every(dataclasses.replace(DEVICE, checkpoint_every=4, eval_every=6), checkpointing=False) == 6
    assert piece_every(dataclasses.replace(DEVICE, checkpoint_every=4, eval_every=0), checkpointing=False) == 0


@pytest.mark.parametrize("fields, message", [
    ({"target_eval_return": 475.0, "eval_every": 0}, "target_eval_return .* set eval_every > 0"),
    ({"eval_episodes": 0}, "eval_episodes >= 1"),
    ({"eval_every": -1}, "eval_every must be >= 0"),
])
def test_bad_settings_get_one_line(fields, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(DEVICE, **fields).validate()


def test_device_run_evaluates_on_schedule_the_states_it_reached(tmp_path):
    result = run_device("ppo", DEVICE, 2, tmp_path / "run")
    records = read_metrics(tmp_path / "run")
    assert [r["update"] for r in records if "eval_return" in r] == [2, 4, 6]
    agent = get_algorithm("ppo").agent_for(DEVICE)
    evaluate = device_evaluator(agent, make_device_env(DEVICE.env), DEVICE, num_seeds=2)
    # the last evaluation is of the final states, with evaluation 6's episodes
    assert records[-1]["eval_return_per_seed"] == evaluation_fields(evaluate(result.states, 6))["eval_return_per_seed"]
    assert result.summary["last_evaluation"]["eval_return_per_seed"] == records[-1]["eval_return_per_seed"]
    assert result.summary["eval_s"] > 0
    assert [(e["env_steps"], e["eval_return_per_seed"]) for e in result.summary["evaluations"]] == \
        [(r["env_steps"], r["eval_return_per_seed"]) for r in records if "eval_return" in r]  # results.json's curve
    # seed 2's states alone, evaluated as a one-seed run's are, give seed 2's numbers
    one = device_evaluator(agent, make_device_env(DEVICE.env), DEVICE, num_seeds=1)
    seed_2 = jax.tree.map(lambda leaf: leaf[1:], result.states)
    assert evaluation_fields(one(seed_2, 6))["eval_return_per_seed"] == [records[-1]["eval_return_per_seed"][1]]
    # each seed's best evaluated agent is kept as an evaluable run, from the first record that reached its best
    for index, seed in enumerate((1, 2)):
        values = [r["eval_return_per_seed"][index] for r in records if "eval_return" in r]
        best_update = 2 * (1 + values.index(max(values)))
        meta, _ = read_checkpoint(latest_checkpoint(tmp_path / "run" / f"seed_{seed}" / "best"))
        assert (meta["eval_return"], meta["update"], meta["env_steps"]) == (max(values), best_update, best_update * 128)
        best = load(tmp_path / "run" / f"seed_{seed}" / "best")
        assert best.config.seed == seed
        assert evaluation_fields(one(jax.tree.map(lambda leaf: leaf[None], best.state), best_update))[
            "eval_return_per_seed"] == [max(values)]
    # evaluating changes nothing that is learned: the same run without evaluations, record for record
    plain = run_device("ppo", dataclasses.replace(DEVICE, eval_every=0), 2, tmp_path / "plain")
    np.testing.assert_array_equal(plain.metrics["value_loss"], result.metrics["value_loss"])
    without = [{k: v for k, v in r.items() if not k.startswith("eval_")} for r in records]
    assert without == read_metrics(tmp_path / "plain")


def test_device_run_stops_at_the_target_with_the_evaluated_agent_saved(tmp_path):
    config = dataclasses.replace(DEVICE, target_eval_return=-1.0)  # any evaluation reaches it
    result = run_device("ppo", config, 1, tmp_path / "run")
    assert result.summary["env_steps_per_seed"] == 2 * 4 * 32  # stopped at the first evaluation
    assert result.summary["stop_reason"].startswith("target evaluation return -1.0 reached")
    saved = load(tmp_path / "run")
    evaluate = device_evaluator(get_algorithm("ppo").agent_for(config), make_device_env(config.env), config, 1)
    again = evaluate(jax.tree.map(lambda leaf: leaf[None], saved.state), 2)
    assert evaluation_fields(again)["eval_return_per_seed"] == result.summary["last_evaluation"]["eval_return_per_seed"]


def test_host_run_evaluates_on_schedule_and_stops_at_the_target(tmp_path):
    result = train("ppo", HOST, tmp_path / "run")
    assert [r["update"] for r in result.history if "eval_return" in r] == [2, 4, 6]
    agent = get_algorithm("ppo").agent_for(HOST)
    final = host_evaluator(agent, HOST)(result.state, 6)
    assert final.shape == (1, HOST.eval_episodes) and np.all((final >= 8) & (final <= 500))  # whole CartPole episodes
    assert result.history[-1]["eval_return_per_seed"] == [float(np.mean(final))]

    values = [r["eval_return"] for r in result.history if "eval_return" in r]
    meta, _ = read_checkpoint(latest_checkpoint(tmp_path / "run" / "best"))  # the best evaluated agent, kept
    assert (meta["eval_return"], meta["update"]) == (max(values), 2 * (1 + values.index(max(values))))

    stopped = train("ppo", dataclasses.replace(HOST, target_eval_return=-1.0), tmp_path / "stopped")
    assert stopped.history[-1]["update"] == 2 and "target evaluation return" in stopped.history[-1]["stop_reason"]
    saved = load(tmp_path / "stopped")  # the final checkpoint holds the agent that was evaluated
    again = play_host_episodes(jax.jit(agent.act), agent, saved.state, HOST.env, HOST.eval_episodes, EVAL_SEED + 2)
    assert [float(np.mean(again))] == stopped.history[-1]["eval_return_per_seed"]
    assert last_evaluation(stopped.history)["env_steps"] == 2 * 4 * 32


def test_runs_saved_before_these_fields_existed_still_resume(tmp_path):
    old = dataclasses.replace(HOST, eval_every=0, eval_episodes=10, total_timesteps=4 * 32)  # the defaults
    train("ppo", old, tmp_path / "run")
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    for name in ("eval_every", "eval_episodes", "target_eval_return"):
        del saved["config"][name]
    (tmp_path / "run" / "config.json").write_text(json.dumps(saved))
    check_resumable(tmp_path / "run", "ppo", old)
    with pytest.raises(ValueError, match="eval_every: saved 0, now 2"):
        check_resumable(tmp_path / "run", "ppo", dataclasses.replace(old, eval_every=2))


def test_a_sweep_refuses_what_it_cannot_do_part_way():
    with pytest.raises(ValueError, match="one compiled call, so eval_every cannot act part way"):
        run_sweep("ppo", DEVICE, {"learning_rate": [1e-3, 3e-4]}, 1)
    with pytest.raises(ValueError, match="so target_return cannot act"):
        run_sweep("ppo", dataclasses.replace(DEVICE, eval_every=0, target_return=400.0), {"learning_rate": [1e-3]}, 1)


def test_asking_whether_a_gymnasium_id_has_a_device_env_imports_no_suite():
    """The host loop's evaluator (and `jaxrl eval`) asks this of every gymnasium id; the refusal's
    message lists the suites' ids, which imported brax and Playground (~3 s) before it was lazy."""
    probe = ("import sys; from jaxrl.loops.evaluate import device_env_or_none; "
             "assert device_env_or_none('CartPole-v1') is None; "
             "print(sorted(m for m in ('brax', 'mujoco', 'mujoco_playground', 'gymnax') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_plot_draws_the_evaluations_beside_the_training_return(tmp_path, monkeypatch):
    import matplotlib.figure

    from jaxrl.io.plot import plot_run

    records = [{"update": i, "env_steps": 100 * i, "episodic_return": float(i)} for i in range(1, 5)]
    records[1].update(eval_return=9.0)
    records[3].update(eval_return=11.0)
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    figures = []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda figure, *args, **kwargs: figures.append(figure))
    plot_run(tmp_path)
    lines = figures[0].axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["training (exploring)", "evaluation (deterministic)"]
    assert lines[1].get_xydata().tolist() == [[200.0, 9.0], [400.0, 11.0]]


def test_plot_of_several_seeds_draws_each_seed_beside_their_mean(tmp_path, monkeypatch, capsys):
    """A device run of several seeds was drawn as the mean alone; a seed's sub-run, which has no
    records of its own, is refused with a line that names the run that has them."""
    import matplotlib.figure

    from jaxrl.cli import main
    from jaxrl.io.plot import plot_run

    per_seed = [[None, 1.0], [2.0, 3.0], [4.0, None]]  # seed 0 finishes no episode in the first record
    records = [{"update": i + 1, "env_steps": 100 * (i + 1), "episodic_return": float(np.mean([v for v in r if v])),
                "episodic_return_per_seed": r} for i, r in enumerate(per_seed)]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    figures = []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda figure, *args, **kwargs: figures.append(figure))
    plot_run(tmp_path)
    lines = figures[0].axes[0].get_lines()
    assert len(lines) == 3  # matplotlib keeps a label starting with "_" out of the legend
    assert [line.get_label() for line in lines if not line.get_label().startswith("_")] == \
        ["2 seeds, each", "mean of 2 seeds"]
    assert lines[0].get_xydata().tolist() == [[200.0, 2.0], [300.0, 4.0]]
    assert lines[1].get_xydata().tolist() == [[100.0, 1.0], [200.0, 3.0]]
    assert lines[2].get_xydata().tolist() == [[100.0, 1.0], [200.0, 2.5], [300.0, 4.0]]
    (tmp_path / "seed_3").mkdir()
    assert main(["plot", str(tmp_path / "seed_3")]) == 1
    assert capsys.readouterr().err.strip().endswith(
        f"is one seed of the device run {tmp_path}, whose records hold every seed's: jaxrl plot {tmp_path} "
        "draws each seed's return")


def test_an_evaluator_compiled_ahead_evaluates_as_one_compiled_at_its_first_call():
    agent, env = get_algorithm("ppo").agent_for(DEVICE), make_device_env(DEVICE.env)
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    states = jax.vmap(lambda key: agent.init(key, env.spec, DEVICE))(keys)
    lazy, ahead = device_evaluator(agent, env, DEVICE, 2), device_evaluator(agent, env, DEVICE, 2)
    ahead.compile_for(states)  # run_device does this in a thread beside its training program's compile
    assert ahead._compiled is not None and lazy._compiled is None
    np.testing.assert_array_equal(ahead(states, 3), lazy(states, 3))
    assert not np.array_equal(ahead(states, 3), ahead(states, 4))  # the record index seeds the episodes


def test_atari_is_evaluated_during_training_as_the_agent_explores(monkeypatch):
    """Greedy on CartPole; on an ALE id the evaluator samples the agent's actions (a greedy Breakout
    agent can idle to the 108k-frame cap), and those sampled episodes are reproducible."""
    import jaxrl.loops.training_eval as training_eval
    from jaxrl.loops.acting import jitted_exploring_step

    agent = get_algorithm("ppo").agent_for(HOST)
    state = agent.init(jax.random.PRNGKey(0), make_device_env("phys2d/CartPole-v1").spec, HOST)
    act = jax.jit(agent.act)
    greedy = play_host_episodes(act, agent, state, "CartPole-v1", 4, EVAL_SEED)
    explore = jitted_exploring_step(agent)
    sampled = [play_host_episodes(act, agent, state, "CartPole-v1", 4, EVAL_SEED, None, explore) for _ in range(2)]
    np.testing.assert_array_equal(sampled[0], sampled[1])
    assert not np.array_equal(greedy, sampled[0])  # an untrained policy's argmax is not its samples

    chosen = []
    monkeypatch.setattr(training_eval, "play_host_episodes",
                        lambda *args: chosen.append(args[-1]) or np.zeros(args[4]))
    for env_id in ("CartPole-v1", "ALE/Pong-v5"):
        host_evaluator(agent, dataclasses.replace(HOST, env=env_id))(state, 1)
    assert chosen[0] is None and chosen[1] is not None


def test_plot_of_several_runs_draws_each_runs_returns_in_one_chart(tmp_path, monkeypatch, capsys):
    """jaxrl plot took one run; comparing configs or algorithms meant reading PNGs side by side."""
    import matplotlib.figure

    from jaxrl.cli import main

    for name, scale, evaluated in (("a", 1.0, False), ("b", 2.0, True)):
        records = [{"update": i, "env_steps": 100 * i, "episodic_return": scale * i if i > 1 else None}
                   for i in range(1, 4)]
        if evaluated:
            records[2]["eval_return"] = 7.0
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    figures = []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda figure, *args, **kwargs: figures.append(figure))
    assert main(["plot", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    assert capsys.readouterr().out == f"wrote {tmp_path / 'comparison.png'}\n"
    training, evaluations = figures[0].axes  # a second panel: run b has evaluations
    assert [(line.get_label(), line.get_xydata().tolist()) for line in training.get_lines()] == [
        ("a", [[200.0, 2.0], [300.0, 3.0]]), ("b", [[200.0, 4.0], [300.0, 6.0]])]  # no return yet: no point
    assert [line.get_xydata().tolist() for line in evaluations.get_lines()] == [[], [[300.0, 7.0]]]
    assert main(["plot", str(tmp_path / "a"), str(tmp_path / "missing")]) == 1
    assert "missing/metrics.jsonl not found" in capsys.readouterr().err


def test_runs_of_the_same_name_are_told_apart_by_their_parents():
    from pathlib import Path

    from jaxrl.io.plot import run_labels

    assert run_labels([Path("runs/a/seed_1"), Path("runs/b/seed_1")]) == {Path("runs/a/seed_1"): "a/seed_1",
                                                                          Path("runs/b/seed_1"): "b/seed_1"}
    assert run_labels([Path("runs/x"), Path("other/y")]) == {Path("runs/x"): "x", Path("other/y"): "y"}
    assert run_labels([Path("x"), Path("x")]) == {Path("x"): "x"}  # the same run twice: one label
