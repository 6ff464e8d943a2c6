"""The configs brax's and MuJoCo Playground's own trainers publish, as jaxrl config fields.

brax's PPO and SAC trainers take a flat dict of settings. Playground publishes one per env
(``mujoco_playground.config.{dm_control_suite,locomotion,manipulation}_params``), and brax's
training notebook gives one for its ant. Mapped onto :class:`~jaxrl.agents.ppo_config.PPOConfig`
or :class:`~jaxrl.agents.sac.SACConfig` fields, they are

* the presets of the ids that have no preset of jaxrl's own: ``jaxrl train ppo --env brax/ant``
  and every Playground locomotion or manipulation id (``playground/Go1JoystickFlatTerrain``) run
  the published PPO config (:func:`published_preset`). Playground's DM-Control ids keep jaxrl's
  presets, which were picked and checked on a CPU;
* what ``benchmarks/peer_playground.py`` gives both trainers, side by side.
"""

from __future__ import annotations

from typing import Any

from jaxrl.envs import brax_suite, playground_suite

# brax's training notebook (google/brax, notebooks/training.ipynb), the PPO config it gives for ant;
# its networks are brax's PPO defaults (a 32x4 policy, a 256x5 value net, swish).
BRAX_PUBLISHED: dict[tuple[str, str], dict[str, Any]] = {
    ("ant", "ppo"): {"num_timesteps": 50_000_000, "num_evals": 10, "reward_scaling": 10, "episode_length": 1000,
                     "normalize_observations": True, "action_repeat": 1, "unroll_length": 5, "num_minibatches": 32,
                     "num_updates_per_batch": 4, "discounting": 0.97, "learning_rate": 3e-4, "entropy_cost": 1e-2,
                     "num_envs": 4096, "batch_size": 2048},
}
BRAX_INITIAL_LOG_STD = -0.365  # log(softplus(0) + 0.001): brax's PPO policy std before training
# brax's trainers restart an ended episode from a start state they stored, running no reset per step;
# jaxrl draws fresh ones once per rollout (SAC: per metrics record), as an MJX reset costs more than a step
BRAX_LIKE_STARTS = {"fresh_starts": "rollout"}


def _playground_params(name: str) -> Any:
    """The module of Playground's published configs that covers env ``name``."""
    from mujoco_playground import registry
    from mujoco_playground.config import dm_control_suite_params, locomotion_params, manipulation_params

    for group, params in ((registry.dm_control_suite, dm_control_suite_params),
                          (registry.locomotion, locomotion_params), (registry.manipulation, manipulation_params)):
        if name in group.ALL_ENVS:
            return params
    raise ValueError(f"Playground has no env {name!r}")


def published_config(env_id: str, algorithm: str = "ppo") -> dict[str, Any]:
    """The config ``algorithm``'s brax trainer is published with for ``env_id`` (``brax/<name>`` or
    ``playground/<Name>``), as a plain dict (``network_factory`` a dict too); ``ValueError`` naming
    what is missing where nothing is published."""
    if env_id.startswith(brax_suite.PREFIX):
        key = (env_id.removeprefix(brax_suite.PREFIX), algorithm)
        if key not in BRAX_PUBLISHED:
            known = ", ".join(f"{brax_suite.PREFIX}{name} ({algo})" for name, algo in BRAX_PUBLISHED)
            raise ValueError(f"no published brax config for {env_id} ({algorithm}); known: {known}")
        return {**BRAX_PUBLISHED[key], "network_factory": {}}
    if not env_id.startswith(playground_suite.PREFIX):
        raise ValueError(f"{env_id} is neither a brax nor a Playground id")
    name = env_id.removeprefix(playground_suite.PREFIX)
    make = getattr(_playground_params(name), f"brax_{algorithm}_config", None)
    if make is None:
        raise ValueError(f"Playground publishes no {algorithm} config for {name}")
    config = make(name, playground_suite.impl()).to_dict()
    config.setdefault("network_factory", {})
    if config.get("action_repeat", 1) != 1:
        raise ValueError(f"{name}: action_repeat={config['action_repeat']} has no jaxrl counterpart")
    return config


def brax_ppo_fields(published: dict[str, Any]) -> dict[str, Any]:
    """:class:`PPOConfig` fields for a brax PPO config (brax's defaults where the config is silent).

    brax collects ``batch_size * num_minibatches`` trajectories of ``unroll_length`` steps per update
    from ``num_envs`` envs, i.e. rollouts of ``samples / num_envs`` steps per env, which jaxrl runs as
    one ``[num_steps, num_envs]`` rollout (GAE over all of it, where brax cuts it every
    ``unroll_length``). A value net on ``privileged_state`` is jaxrl's asymmetric critic.
    """
    samples = published["batch_size"] * published["num_minibatches"] * published["unroll_length"]
    if samples % published["num_envs"]:
        raise ValueError(f"{samples} samples per update do not split over {published['num_envs']} envs")
    network = published["network_factory"]
    policy_reads = network.get("policy_obs_key", playground_suite.POLICY_OBSERVATION)
    critic_reads = network.get("value_obs_key", playground_suite.POLICY_OBSERVATION)
    if policy_reads != playground_suite.POLICY_OBSERVATION or critic_reads not in (
            playground_suite.POLICY_OBSERVATION, playground_suite.PRIVILEGED_OBSERVATION):
        raise ValueError(f"networks on observation entries {policy_reads!r} / {critic_reads!r} have no jaxrl "
                         f"counterpart (the policy reads {playground_suite.POLICY_OBSERVATION!r})")
    return {
        "num_envs": published["num_envs"], "num_steps": samples // published["num_envs"],
        "update_epochs": published["num_updates_per_batch"], "num_minibatches": published["num_minibatches"],
        "learning_rate": published["learning_rate"], "anneal_lr": False, "gamma": published["discounting"],
        "gae_lambda": published.get("gae_lambda", 0.95), "clip_coef": published.get("clipping_epsilon", 0.3),
        "ent_coef": published["entropy_cost"], "vf_coef": published.get("vf_loss_coefficient", 0.5),
        # brax clips no gradient unless told; jaxrl's clip at a norm no gradient reaches
        "max_grad_norm": published.get("max_grad_norm") or 1e6,
        "reward_scale": published.get("reward_scaling", 1.0),
        "norm_obs": published.get("normalize_observations", False),
        "hidden_sizes": tuple(network.get("policy_hidden_layer_sizes", (32,) * 4)),
        "critic_hidden_sizes": tuple(network.get("value_hidden_layer_sizes", (256,) * 5)),
        "asymmetric_critic": critic_reads == playground_suite.PRIVILEGED_OBSERVATION,
        "activation": "silu",  # brax's swish
        # brax's initial policy std, softplus(0) + 0.001 (jaxrl's default is 1). On brax's ant (episodes
        # end when the body leaves a height range), first 2 updates, a 2-core CPU: std 1 gave training
        # episodes of 19.5 and 21.5 steps and a sampled evaluation of -25.0; std 0.694 29.8 and 37.4
        # steps and -9.1; brax's trainer -2.7 (greedy: 838.8 and 838.7)
        "log_std_init": BRAX_INITIAL_LOG_STD,
        **BRAX_LIKE_STARTS,
    }


def brax_sac_fields(published: dict[str, Any]) -> dict[str, Any]:
    """:class:`~jaxrl.agents.sac.SACConfig` fields for a brax SAC config (brax's defaults where silent)."""
    if published.get("reward_scaling", 1.0) != 1.0:
        raise ValueError(f"reward_scaling={published['reward_scaling']}: jaxrl's SAC has no reward scale")
    network = published["network_factory"]
    rate = published["learning_rate"]
    return {
        "num_envs": published["num_envs"], "batch_size": published["batch_size"],
        "updates_per_step": published["grad_updates_per_step"], "learning_starts": published["min_replay_size"],
        "buffer_size": published["max_replay_size"], "policy_lr": rate, "q_lr": rate, "alpha_lr": rate,
        "gamma": published["discounting"], "tau": published.get("tau", 0.005),
        "critic_layer_norm": network.get("q_network_layer_norm", False),
        "norm_obs": published.get("normalize_observations", False),
        "hidden_sizes": tuple(network.get("hidden_layer_sizes", (256, 256))), "activation": "relu",
        **BRAX_LIKE_STARTS,
    }


FIELDS = {"ppo": brax_ppo_fields, "sac": brax_sac_fields}


def published_preset(algorithm: str, env_id: str) -> dict[str, Any] | None:
    """The preset of ``env_id`` for ``algorithm`` taken from its published config (with its
    ``num_timesteps``), for the ids it covers: PPO on ``brax/<name>`` ids brax publishes a config
    for, and on Playground's locomotion and manipulation ids. None elsewhere, and where the suite
    does not import or its config has no jaxrl counterpart (the run then starts from the defaults)."""
    if algorithm != "ppo" or env_id in playground_suite.DM_CONTROL_IDS:
        return None
    if not env_id.startswith((brax_suite.PREFIX, playground_suite.PREFIX)):
        return None
    try:
        published = published_config(env_id, algorithm)
        return {**FIELDS[algorithm](published), "total_timesteps": published["num_timesteps"]}
    except Exception:  # noqa: BLE001 - a broken suite: building its env then says what is wrong, in one line
        return None
