"""Property-based tests: any config value or CLI flag either works or fails with an error naming it."""

import argparse
import contextlib
import dataclasses
import functools
import io
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jaxrl.agents.ddpg import DDPGConfig
from jaxrl.agents.dqn import DQNConfig
from jaxrl.agents.ppo import PPOConfig
from jaxrl.agents.pqn import PQNConfig
from jaxrl.agents.sac import SACConfig
from jaxrl.agents.td3 import TD3Config
from jaxrl.api import train
from jaxrl.cli import build_parser, config_and_run_dir

CONFIG_CLASSES = (PPOConfig, TD3Config, SACConfig, DDPGConfig, PQNConfig, DQNConfig)

# Anything a user (or a typo) could put in a field.
ANY_VALUE = st.one_of(
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.text(max_size=8),
    st.lists(st.integers(min_value=-4, max_value=300), max_size=4).map(tuple),
    st.sampled_from([0, 1, -1, 0.0, 1e-12, 1e30, float("nan"), float("inf"), "", "sync", "tanh"]),
)


@settings(max_examples=400, deadline=None)
@given(config_cls=st.sampled_from(CONFIG_CLASSES), data=st.data())
def test_every_config_value_validates_or_is_a_value_error_naming_the_field(config_cls, data):
    field = data.draw(st.sampled_from([f.name for f in dataclasses.fields(config_cls)]), label="field")
    value = data.draw(ANY_VALUE, label="value")
    config = dataclasses.replace(config_cls(), **{field: value})
    try:
        config.validate()
    except ValueError as err:
        assert field in str(err), f"{field}={value!r} -> {err}"
        return
    # Accepted values are usable: finite where numbers, of the right kind.
    if isinstance(value, float):
        assert not math.isnan(value)


# Flags that need a live env, devices or processes are exercised in test_cli.py.
SKIPPED_FLAGS = {"--env", "--devices", "--coordinator", "--num-processes", "--process-id", "--resume", "--run-dir",
                 "--loop", "--help", "--overwrite", "--sweep", "--num-seeds"}  # run options, not config fields (tested in their own files)


# One parser for the whole property test: building it (every flag of every algorithm) took most of
# the test's time, and argparse parses with it without changing it.
_parser = functools.cache(build_parser)


@functools.cache
def _train_flags(algorithm: str) -> list[str]:
    parser = _parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    train_parser = subparsers.choices["train"]
    algorithms = next(a for a in train_parser._actions if isinstance(a, argparse._SubParsersAction))
    return sorted(option for action in algorithms.choices[algorithm]._actions for option in action.option_strings
                  if option.startswith("--") and option not in SKIPPED_FLAGS)


TOKENS = st.one_of(st.integers(-(10**6), 10**6).map(str), st.floats(allow_nan=True).map(str),
                   st.sampled_from(["none", "nan", "inf", "-inf", "", "abc", "1e400", "0x10", "true", "3.5", "-0"]),
                   st.text(max_size=6))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(algorithm=st.sampled_from(["ppo", "td3", "sac", "ddpg", "pqn", "dqn"]), data=st.data())
def test_every_cli_flag_value_parses_or_is_an_error_naming_the_flag(algorithm, data):
    flag = data.draw(st.sampled_from(_train_flags(algorithm)), label="flag")
    tokens = data.draw(st.lists(TOKENS, min_size=0, max_size=2), label="tokens")
    argv = ["train", algorithm, flag, *tokens]
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        try:
            args = _parser().parse_args(argv)
        except SystemExit as exit_:
            if exit_.code == 0:  # a drawn token argparse reads as -h or --help: help, rightly
                assert any(token == "-h" or (len(token) > 2 and "--help".startswith(token)) for token in tokens)
                return
            assert exit_.code == 2
            message = stderr.getvalue()
            # argparse names the flag, the stray token it could not place, or a token it read as an
            # option (``--loo`` abbreviates ``--loop``; ``--l`` is ambiguous), in one line.
            named_token = any(token.startswith("-") and token in message for token in tokens)
            assert flag in message or "unrecognized arguments" in message or named_token, message
            assert len(message.splitlines()) == 1, message
            return
    field = flag[2:].replace("-", "_").removeprefix("no_")
    try:
        config, _ = config_and_run_dir(args)
    except ValueError as err:
        assert field in str(err) or flag in str(err), f"{argv} -> {err}"
        return
    assert getattr(config, field) is not None or tokens  # the flag's value reached the config


SMALL_PPO = st.fixed_dictionaries({
    "num_envs": st.integers(1, 4),
    "num_steps": st.sampled_from([4, 8, 16]),
    "num_minibatches": st.sampled_from([1, 2, 4, 3]),
    "update_epochs": st.integers(1, 3),
    "learning_rate": st.floats(1e-6, 1.0),
    "gamma": st.floats(0.0, 1.0),
    "gae_lambda": st.floats(0.0, 1.0),
    "clip_coef": st.floats(0.0, 1.0),
    "ent_coef": st.floats(0.0, 0.1),
    "hidden_sizes": st.sampled_from([(8,), (4, 4)]),
    "norm_obs": st.booleans(),
    "target_kl": st.one_of(st.none(), st.floats(1e-4, 1.0)),
})


@settings(max_examples=6, deadline=None)
@given(values=SMALL_PPO)
def test_valid_looking_configs_train_or_name_the_field(values):
    config = PPOConfig(env="CartPole-v1", progress=False, **values)
    config = dataclasses.replace(config, total_timesteps=config.batch_size)
    try:
        config.validate()
    except ValueError as err:
        assert any(name in str(err) for name in values), str(err)
        return
    result = train("ppo", config)
    assert len(result.history) == 1
    assert np.isfinite(result.history[0]["value_loss"])


def test_unknown_algorithm_and_subcommand_are_usage_errors():
    for argv in (["train", "a2c"], ["fly"]):
        with contextlib.redirect_stderr(io.StringIO()), pytest.raises(SystemExit) as exit_:
            build_parser().parse_args(argv)
        assert exit_.value.code == 2
