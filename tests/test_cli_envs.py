"""``jaxrl envs``: every group's ids with their presets, a missing suite kept in the list with its
reason, and the one-line errors that point to it (nearest names for a mistyped suite id)."""

import dataclasses

import pytest

from jaxrl.agents.registry import get_algorithm
from jaxrl.cli import main
from jaxrl.cli.envs import group_lines
from jaxrl.envs.catalog import EnvGroup
from jaxrl.envs.device import ids_in_brief, make_device_env
from jaxrl.envs.suites import unknown_name
from jaxrl.envs.twins import ACROBOT_IDS, CARTPOLE_IDS, MOUNTAIN_CAR_IDS, PENDULUM_IDS


def listed(capsys, *argv: str) -> list[str]:
    assert main(["envs", *argv]) == 0
    return capsys.readouterr().out.splitlines()


def test_phys2d_ids_show_the_algorithms_with_a_preset(capsys):
    lines = listed(capsys, "phys2d")
    assert lines[0].startswith("phys2d: gymnasium's functional JAX envs")
    assert "  phys2d/CartPole-v0" in lines  # no preset: the id alone
    assert "  phys2d/CartPole-v1  presets: ppo pqn dqn" in lines
    assert "  phys2d/Pendulum-v0  presets: ppo ddpg td3 sac" in lines


def test_the_atari_group_lists_every_ale_game_with_its_ppo_and_dqn_presets(capsys):
    pytest.importorskip("ale_py")
    lines = listed(capsys, "atari", "--preset", "ppo")
    assert lines[0].startswith("atari: Atari 2600 games, preprocessed") and "(ale-py " in lines[0]
    assert any(line.split() == ["ALE/Breakout-v5", "presets:", "ppo", "pqn", "dqn"] for line in lines)
    assert sum(line.startswith("  ALE/") for line in lines) > 50


def test_the_atari_group_without_ale_py_says_which_extra(hide_module):
    from jaxrl.envs.catalog import env_groups

    hide_module("ale_py")
    (group,) = env_groups(("atari",))
    assert group.ids == ()
    assert group.unavailable == "the Atari ids (ALE/<Game>-v5) need ale-py: pip install 'jaxrl[atari]'"


def test_preset_filter_and_gymnasium_in_full_only_when_named(capsys):
    pytest.importorskip("gymnax")
    lines = listed(capsys, "gymnax", "gymnasium", "--preset", "dqn")
    ids = [line.split()[0] for line in lines if line.startswith("  ") and "/" in line.split()[0]]
    assert {"gymnax/CartPole-v1", "gymnax/Breakout-MinAtar", "gymnax/Asterix-MinAtar"} <= set(ids)
    assert "gymnax/Catch-bsuite" not in ids and "gymnax/Pendulum-v1" not in ids
    assert any(line.startswith("  ... and ") and line.endswith("more without a dqn preset") for line in lines)
    everything = listed(capsys, "gymnasium")
    assert "  Blackjack-v1" in everything and not any("GymV26" in line for line in everything)
    group = EnvGroup("gymnasium", "about", ("Acrobot-v1", "CartPole-v1", "Pendulum-v1"))
    presets = {"CartPole-v1": ["ppo"], "Pendulum-v1": ["sac"]}.get
    assert group_lines(group, lambda env_id: presets(env_id, []), None, in_full=False) == [
        "gymnasium: about", "  CartPole-v1  presets: ppo", "  Pendulum-v1  presets: sac",
        "  ... and 1 more without a preset (`jaxrl envs gymnasium` lists them)"]


def test_an_unknown_group_is_one_line(capsys):
    assert main(["envs", "mujoco"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == ("jaxrl: error: unknown env group(s) 'mujoco'; groups: phys2d, gymnax, brax, playground, jaxrl, "
                   "gymnasium, atari")


def test_a_mistyped_suite_id_gets_the_nearest_names():
    known = ["CartPole-v1", "Breakout-MinAtar", "Freeway-MinAtar"] + [f"Env{i}-v0" for i in range(20)]
    message = str(unknown_name("gymnax", "gymnax/", "breakout-minatar", known))  # case alone
    assert message == ("unknown gymnax env 'breakout-minatar' (did you mean 'gymnax/Breakout-MinAtar'?); "
                       "`jaxrl envs gymnax` lists its 23 envs")
    assert str(unknown_name("brax", "brax/", "zzz", ["ant", "hopper"])) == ("unknown brax env 'zzz'; "
                                                                         "brax has: ant, hopper")


def test_a_host_only_id_in_the_device_loop_names_its_jax_port_or_the_ids_in_brief():
    pytest.importorskip("gymnax")
    with pytest.raises(ValueError, match=r"^'Acrobot-v1' is not a JAX environment, .*its JAX port for the device "
                                         r"loop: gymnax/Acrobot-v1$"):
        make_device_env("Acrobot-v1")
    brief = ids_in_brief(["phys2d/CartPole-v1", *[f"gymnax/E{i}" for i in range(7)], "jaxrl/X"])
    assert brief == "phys2d/CartPole-v1, 7 gymnax/ ids, jaxrl/X (`jaxrl envs` lists them all)"


@pytest.mark.parametrize("algorithm, twins", [("ppo", CARTPOLE_IDS), ("ppo", PENDULUM_IDS), ("pqn", CARTPOLE_IDS),
                                              ("dqn", CARTPOLE_IDS), ("sac", PENDULUM_IDS), ("td3", PENDULUM_IDS),
                                              ("ddpg", PENDULUM_IDS), ("ppo", ACROBOT_IDS), ("dqn", ACROBOT_IDS),
                                              ("ppo", MOUNTAIN_CAR_IDS), ("dqn", MOUNTAIN_CAR_IDS)])
def test_a_tasks_ids_in_every_suite_share_its_preset(algorithm, twins):
    configs = [dataclasses.replace(get_algorithm(algorithm).config_for(env_id), env="") for env_id in twins]
    assert all(config == configs[0] for config in configs)
    assert all(get_algorithm(algorithm).preset_for(env_id) is not None for env_id in twins)


def test_a_reader_that_goes_away_ends_the_listing_quietly():
    """`jaxrl envs | head -1`: the pipe closes under the listing. The command stops with SIGPIPE's
    status and says nothing (it printed "jaxrl: error: [Errno 32] Broken pipe" and exited 1)."""
    import os
    import subprocess
    import sys

    read_end, write_end = os.pipe()
    child = subprocess.Popen([sys.executable, "-m", "jaxrl.cli", "envs"], stdout=write_end,
                             stderr=subprocess.PIPE, text=True)
    os.close(write_end)
    os.close(read_end)  # closed before the child, still importing jaxrl, writes its first line
    _, stderr = child.communicate(timeout=120)
    assert (child.returncode, stderr) == (141, "")
