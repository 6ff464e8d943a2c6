"""``env_kwargs``: a gymnasium env's constructor arguments, given as NAME=VALUE, reach every env a run
makes (training, evaluation during and after training, the template a checkpoint loads into)."""

import pytest

from jaxrl.agents.ppo import PPOConfig
from jaxrl.api import config_for, load, train
from jaxrl.cli import main
from jaxrl.config import env_kwargs_of
from jaxrl.envs.host import EnvCreationError, make_vector_env


def test_values_read_as_json_where_they_parse_and_as_text_otherwise():
    config = PPOConfig(env_kwargs=("rate=0.25", "flag=false", "same=True", "off=None", "name=red", "sizes=[1, 2]",
                                   'quoted="3"', "empty="))
    assert env_kwargs_of(config) == {"rate": 0.25, "flag": False, "same": True, "off": None, "name": "red",
                                     "sizes": [1, 2], "quoted": "3", "empty": ""}
    assert config_for("ppo", "CartPole-v1", env_kwargs={"sutton_barto_reward": True, "x": 0.5}).env_kwargs == (
        "sutton_barto_reward=true", "x=0.5")


@pytest.mark.parametrize("items, message", [
    (("novalue",), "env_kwargs items are NAME=VALUE .*got 'novalue'"),
    (("=1",), "env_kwargs items .*got '=1'"), (("two words=1",), "env_kwargs items .*got 'two words=1'"),
    (("a=1", "a=2"), "env_kwargs names 'a' twice")])
def test_malformed_items_are_one_line_naming_the_field(items, message):
    with pytest.raises(ValueError, match=f"^{message}"):
        PPOConfig(env_kwargs=items).validate()


def test_a_run_with_env_kwargs_trains_evaluates_and_loads_on_the_env_they_make(tmp_path, capsys):
    # Sutton and Barto's CartPole reward: 0 a step and -1 at the fall, where the default is +1 a step
    config = config_for("ppo", "CartPole-v1", total_timesteps=1024, num_envs=4, num_steps=64, progress=False,
                        eval_every=1, eval_episodes=2, env_kwargs={"sutton_barto_reward": True})
    result = train("ppo", config, tmp_path / "run")
    assert result.history[-1]["episodic_return"] == -1.0  # every finished episode
    assert result.history[-1]["eval_return"] == -1.0  # the evaluation during training plays the same env
    run = load(tmp_path / "run")
    assert run.config.env_kwargs == ("sutton_barto_reward=true",)  # from config.json
    assert main(["eval", str(tmp_path / "run"), "--episodes", "2"]) == 0
    assert '"mean_return": -1.0' in capsys.readouterr().out


def test_an_argument_the_env_does_not_take_and_the_device_loop_are_one_line(capsys):
    with pytest.raises(EnvCreationError, match=r"^'CartPole-v1' does not take env_kwargs \['bogus'\]: "):
        make_vector_env("CartPole-v1", 2, "sync", env_kwargs={"bogus": 1})
    assert main(["train", "ppo", "--env", "phys2d/CartPole-v1", "--env-kwargs", "a=1", "--no-progress"]) != 0
    assert capsys.readouterr().err.strip() == ("jaxrl: error: env_kwargs ['a=1'] apply to gymnasium envs in the host "
                                               "loop; the device loop's JAX env 'phys2d/CartPole-v1' takes none")
