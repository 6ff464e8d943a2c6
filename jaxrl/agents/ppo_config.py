"""The PPO config: every knob, documented, with validation that names the field.

Shared by the feed-forward agent (:mod:`jaxrl.agents.ppo`) and the recurrent one
(:mod:`jaxrl.agents.recurrent_ppo`, ``policy="lstm"`` or ``"gru"``). The per-env presets live here too.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from jaxrl.config import (
    OnPolicyConfig,
    check_at_least,
    check_choice,
    check_clip,
    check_conv_layout,
    check_fraction,
    check_hidden_sizes,
    check_in_unit_interval,
    check_positive,
    hparam,
)
from jaxrl.envs.atari import PREFIX as ATARI_PREFIX
from jaxrl.envs.playground_suite import DM_CONTROL_IDS
from jaxrl.envs.twins import ACROBOT_IDS, CARTPOLE_IDS, MOUNTAIN_CAR_IDS, MUJOCO_IDS, PENDULUM_IDS
from jaxrl.nets.conv import PADDINGS
from jaxrl.nets.mlp import activation_by_name
from jaxrl.nets.recurrent import CELLS as RECURRENT_POLICIES


@dataclasses.dataclass(frozen=True)
class PPOConfig(OnPolicyConfig):
    """Every knob of a PPO run. Names follow CleanRL's ``ppo.py`` where one exists.

    Defaults solve CartPole-v1 in about 100k steps (after RL Baselines3 Zoo's tuned
    CartPole settings); see :data:`PPO_PRESETS` for other envs.
    """

    # The run's fields (env, seed, total_timesteps, num_envs, ...) come from RunConfig, whose
    # defaults (CartPole-v1, 100k steps, 8 envs, a checkpoint every 50 updates) are PPO's, and the
    # rollout schedule (num_steps = 32, ...) from OnPolicyConfig.
    update_epochs: int = 20  # passes over each batch
    num_minibatches: int = 1  # minibatches per epoch; must divide the batch (lstm: the sequence chunks)
    # --- optimisation ---
    learning_rate: float = hparam(1e-3)  # Adam(W) step size (of the actor when critic_learning_rate is set)
    critic_learning_rate: float | None = hparam(None, structural=True)  # separate critic optimizer and step
    # size (needs shared_trunk=False); None: one optimizer
    weight_decay: float = 0.0  # decoupled weight decay; > 0 makes the optimizer AdamW
    adam_eps: float = 1e-5  # Adam epsilon
    anneal_lr: bool = True  # decay step sizes linearly to 0 over the run
    max_grad_norm: float = hparam(0.5)  # global-norm gradient clip (per optimizer)
    target_kl: float | None = hparam(None, structural=True, when_none=math.inf)  # stop the epochs of an update
    # once the epoch's mean approx KL exceeds it
    # --- objective ---
    gamma: float = hparam(0.98)  # discount
    gae_lambda: float = hparam(0.8)  # GAE lambda
    clip_coef: float = hparam(0.2)  # surrogate clip range
    clip_vloss: bool = False  # clip the value loss around the old values with clip_coef
    ent_coef: float = hparam(0.0)  # entropy bonus weight
    vf_coef: float = hparam(0.5)  # value-loss weight
    norm_adv: bool = True  # normalise advantages per minibatch
    reward_scale: float = hparam(1.0)  # rewards seen by the learner: reward_scale * clip(max(r, reward_min),
    # -reward_clip, reward_clip)
    reward_min: float | None = hparam(None, when_none=-math.inf)  # reward floor applied before scaling (None: no floor)
    reward_clip: float | None = hparam(None, when_none=math.inf)  # clip rewards to [-reward_clip, reward_clip]
    # before scaling (Atari: 1, the sign of its integer scores); None: no clip. Reported returns stay the env's
    norm_obs: bool = False  # running mean/std observation normalisation
    norm_reward: bool = False  # divide rewards by the running std of each env's discounted return, clipped
    # to +-10 (SB3's VecNormalize norm_reward, gymnasium's NormalizeReward); update then takes num_envs envs
    # --- network ---
    policy: str = "mlp"  # "mlp" (feed-forward), "lstm" or "gru" (recurrent, see jaxrl.agents.recurrent_ppo)
    hidden_sizes: tuple[int, ...] = (64, 64)  # MLP hidden layer sizes (lstm/gru: the dense layers after the cell)
    critic_hidden_sizes: tuple[int, ...] = ()  # the critic MLP's own sizes (brax's PPO: policy (32,)*4, value
    # (256,)*5); empty: hidden_sizes. Feed-forward policy with separate trunks
    activation: str = "tanh"  # tanh, relu, silu or elu
    shared_trunk: bool = False  # one trunk for actor and critic (else separate networks)
    conv_channels: tuple[int, ...] = ()  # conv layers before each MLP trunk, for image observations (MinAtar: 16)
    conv_kernels: tuple[int, ...] = ()  # each conv's kernel size (Atari's: 8 4 3); empty: 3 each
    conv_strides: tuple[int, ...] = ()  # each conv's stride (Atari's: 4 2 1); empty: 1 each
    conv_padding: str = "same"  # same (stride 1 keeps H x W) or valid (no zero border: the DQN paper's Atari convs)
    asymmetric_critic: bool = False  # the critic also reads the env's privileged observation (Playground's
    # privileged_state); the policy reads only the observation proper. Feed-forward, separate trunks
    hidden_gain: float = 2.0**0.5  # orthogonal init gain of hidden layers
    policy_gain: float = 0.01  # orthogonal init gain of the policy head
    value_gain: float = 1.0  # orthogonal init gain of the value head
    log_std_init: float = 0.0  # initial Gaussian log-std (continuous actions)
    trainable_log_std: bool = True  # learn the log-std, or keep it fixed at log_std_init
    # --- recurrent policy (policy="lstm" or "gru"; the lstm_ names hold for both cells) ---
    lstm_hidden_size: int = 128  # recurrent state size
    lstm_layers: int = 1  # stacked recurrent layers
    shared_lstm: bool = False  # one recurrent torso for actor and critic (else one each)
    seq_len: int = 8  # truncated-BPTT chunk length; must divide num_steps (num_steps: full rollout)

    def validate(self) -> PPOConfig:
        """Raise ``ValueError`` naming the first invalid field; return self when valid."""
        self.validate_schedule()
        check_fraction(self, "gamma")
        check_positive(self, "learning_rate")
        if self.policy not in ("mlp", *RECURRENT_POLICIES):
            raise ValueError(f"policy must be 'mlp', 'lstm' or 'gru', got {self.policy!r}")
        if self.policy in RECURRENT_POLICIES:
            self._validate_recurrent()
        else:
            self.check_minibatches_divide_the_batch()
        check_in_unit_interval(self, "gae_lambda")
        for name in ("clip_coef", "max_grad_norm", "reward_scale"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        check_at_least(self, 0, "ent_coef", "vf_coef", "weight_decay", "adam_eps")
        if self.critic_learning_rate is not None:
            if not self.critic_learning_rate > 0:
                raise ValueError(f"critic_learning_rate must be > 0, got {self.critic_learning_rate}")
            if self.shared_trunk:
                raise ValueError(
                    "critic_learning_rate needs separate actor and critic networks; "
                    "set shared_trunk=False or drop critic_learning_rate"
                )
        if self.norm_reward and self.reward_min is not None:
            raise ValueError("reward_min floors raw rewards and norm_reward rescales them; use one of the two")
        if self.target_kl is not None and not self.target_kl > 0:
            raise ValueError(f"target_kl must be > 0, got {self.target_kl}")
        check_hidden_sizes(self.hidden_sizes)
        if self.critic_hidden_sizes:
            check_hidden_sizes(self.critic_hidden_sizes, "critic_hidden_sizes")
            if self.policy != "mlp" or self.shared_trunk:
                raise ValueError("critic_hidden_sizes needs policy='mlp' with separate actor and critic trunks "
                                 "(shared_trunk=False)")
        check_conv_layout(self.conv_channels, self.conv_kernels, self.conv_strides)
        check_choice(self, "conv_padding", PADDINGS)
        check_clip(self, "reward_clip")
        if self.conv_channels and self.policy != "mlp":
            raise ValueError(f"conv_channels is for the feed-forward policy; policy={self.policy!r} has no conv torso")
        if self.asymmetric_critic and (self.policy != "mlp" or self.shared_trunk or self.conv_channels):
            raise ValueError("asymmetric_critic needs policy='mlp' with separate actor and critic trunks and no "
                             f"conv torso (got policy={self.policy!r}, shared_trunk={self.shared_trunk}, "
                             f"conv_channels={self.conv_channels})")
        activation_by_name(self.activation)
        return self

    def conv_torso(self) -> dict[str, Any]:
        """The conv torso's fields of :class:`~jaxrl.nets.mlp.ActorCritic` (no torso without conv_channels)."""
        return {"conv_channels": tuple(self.conv_channels), "conv_kernels": tuple(self.conv_kernels),
                "conv_strides": tuple(self.conv_strides), "conv_padding": self.conv_padding}

    def _validate_recurrent(self) -> None:
        check_at_least(self, 1, "lstm_hidden_size", "lstm_layers", "seq_len")
        if self.num_steps % self.seq_len:
            raise ValueError(f"seq_len ({self.seq_len}) must divide num_steps ({self.num_steps})")
        chunks = self.num_envs * (self.num_steps // self.seq_len)
        if chunks % self.num_minibatches:
            raise ValueError(
                f"the number of sequence chunks, num_envs * num_steps / seq_len ({self.num_envs} * "
                f"{self.num_steps} / {self.seq_len} = {chunks}), must be divisible by num_minibatches "
                f"({self.num_minibatches})"
            )
        if self.critic_learning_rate is not None and self.shared_lstm:
            raise ValueError("critic_learning_rate needs separate actor and critic LSTMs; set shared_lstm=False")


# Per-env presets, in the spirit of RL Baselines3 Zoo: ``jaxrl.config_for("ppo", env)`` applies
# them before any override. The PPOConfig defaults are tuned for CartPole-v1.
PPO_PRESETS: dict[str, dict[str, Any]] = {
    "CartPole-v1": {},
    "Pendulum-v1": {
        "total_timesteps": 200_000,
        "num_envs": 8,
        "num_steps": 256,
        "update_epochs": 10,
        "num_minibatches": 32,
        "learning_rate": 1e-3,
        "gamma": 0.9,
        "gae_lambda": 0.95,
        "ent_coef": 0.0,
        "max_grad_norm": 0.5,
        "norm_obs": False,
        "log_std_init": -0.5,
    },
}
# The device loop's twins of those two (gymnasium's functional envs, gymnax)
PPO_PRESETS.update(dict.fromkeys(CARTPOLE_IDS, PPO_PRESETS["CartPole-v1"]))
PPO_PRESETS.update(dict.fromkeys(PENDULUM_IDS, PPO_PRESETS["Pendulum-v1"]))
# Velocity-hidden tasks; the recurrent fields are ignored by policy="mlp", so both policies can be
# compared on one preset. Both: one GRU of 32 shared by actor and critic, a 64 dense layer each, and
# rewards scaled by 0.01 so that value targets are O(1). Unscaled, CartPole's returns reach ~100: with
# the gradient clipped at norm 0.5 the critic trails them, and a shared torso's gradient is then almost
# all value loss (shared GRU 64 unscaled: 0/10 seeds >= 400, eval ~45; scaled: 10/10). Seeds 0-9, device
# loop: CartPole-NoVel 10/10 >= 400 within 1M steps (training return first at 400 after a median ~225k
# steps), Pendulum-NoVel 10/10 >= -400 within 300k. The earlier preset (a GRU of 64 each for actor and
# critic, separate optimizers, unscaled) had 8/10 and 9/10. The small shared cell is also what makes the
# recurrent agent cheap: ~59% of the feed-forward MLP's SPS on a 2-core CPU (see README).
NO_VELOCITY_RECURRENT = {"policy": "gru", "shared_lstm": True, "lstm_hidden_size": 32, "hidden_sizes": (64,),
                         "reward_scale": 0.01}
PPO_PRESETS["jaxrl/CartPole-NoVel-v1"] = {
    **NO_VELOCITY_RECURRENT, "total_timesteps": 1_000_000, "num_envs": 32, "num_steps": 64, "seq_len": 64,
    "num_minibatches": 4, "update_epochs": 4, "gamma": 0.99, "gae_lambda": 0.95, "learning_rate": 3e-4,
    "ent_coef": 0.0,
}
PPO_PRESETS["jaxrl/Pendulum-NoVel-v1"] = {
    **PPO_PRESETS["Pendulum-v1"], **NO_VELOCITY_RECURRENT, "total_timesteps": 300_000, "seq_len": 16,
    "num_minibatches": 8,
}
# Playground's DM-Control envs (1000-step episodes, rewards in [0, 1]) in the device loop: 64 envs x
# 32 steps, 8 epochs x 8 minibatches, observation normalisation. Picked on CartpoleSwingup (1M steps,
# 3 seeds) from three candidates; see the env-suites issue notes.
# Full float32 products: in TF32 (a GPU's default) PPO with Playground's published CartpoleBalance config
# stalled at 513 (greedy 570) where float32 reached 946 (greedy 1000); one seed, H200. Same on a CPU.
# Start states drawn once per rollout: an MJX reset costs more than a step, and drawing one at every step
# held training to 73k SPS where this draw gives 100-102k (3 seeds vmapped, 2-core CPU; CartpoleBalance
# 3/3 at 999.8 either way, CartpoleSwingup 2/3 and 3/3 >= 600). The 1000-step episodes end at most once
# per 32-step rollout, so no env restarts twice from one draw.
PPO_PRESETS.update(dict.fromkeys(DM_CONTROL_IDS, {
    "total_timesteps": 1_000_000, "num_envs": 64, "num_steps": 32, "update_epochs": 8, "num_minibatches": 8,
    "learning_rate": 3e-4, "gamma": 0.99, "gae_lambda": 0.95, "norm_obs": True, "matmul_precision": "highest",
    "fresh_starts": "rollout",
}))
# gymnax's own published PPO config for MinAtar Breakout (gymnax-blines agents/Breakout-MinAtar/ppo.yaml,
# its 5% warm-up left out): a 256x256 ReLU MLP on the flattened 10x10x4 grid, 64 envs x 128 steps, 10M
# steps. Run beside rejax with it (benchmarks/peer_rejax_minatar_ppo.py, 3 seeds, 2-core CPU): sampled
# evaluations 19.0 / 35.4 / 59.0 against rejax's 43.4 / 18.3 / 0.4, at the same SPS.
PPO_PRESETS["gymnax/Breakout-MinAtar"] = {
    "total_timesteps": 10_000_000, "num_envs": 64, "num_steps": 128, "update_epochs": 4, "num_minibatches": 8,
    "learning_rate": 5e-4, "anneal_lr": False, "gamma": 0.999, "gae_lambda": 0.95, "clip_coef": 0.2,
    "ent_coef": 0.01, "vf_coef": 0.5, "max_grad_norm": 0.5, "hidden_sizes": (256, 256), "activation": "relu",
}
# gymnasium's MuJoCo envs in the host loop: CleanRL's continuous-PPO settings (lr 3e-4 annealed, gamma
# 0.99, lambda 0.95, 10 epochs x 32 minibatches, no entropy bonus, observations and rewards normalised),
# 8 envs x 256 steps for its one env x 2,048. 1M steps, seeds 1-3, deterministic evaluations (5 episodes):
# Hopper-v5 3301 / 2956 / 3584, Walker2d-v5 4097 / 5440 / 5145, HalfCheetah-v5 3482 / 1909 / 4652 (without
# reward normalisation 1800 / 1711 / 3302); see README.
PPO_PRESETS.update(dict.fromkeys(MUJOCO_IDS, {
    "total_timesteps": 1_000_000, "num_envs": 8, "num_steps": 256, "update_epochs": 10, "num_minibatches": 32,
    "learning_rate": 3e-4, "gamma": 0.99, "gae_lambda": 0.95, "ent_coef": 0.0, "norm_obs": True, "norm_reward": True,
}))
# Ant-v5 observes without the 78 contact-force entries v5 adds by default (Ant-v4's default, on which CleanRL
# and RL Zoo measured; the reward is unchanged): 3998 / 2658 / 4194 on seeds 1-3 against 628 / 309 / 787 with
# them, and 4452 / 3071 on the held-out seeds 4-5
PPO_PRESETS["Ant-v5"] = {**PPO_PRESETS["Ant-v5"], "env_kwargs": ("include_cfrc_ext_in_observation=false",)}
# Swimmer's reward comes from slow forward motion, which gamma 0.99 barely sees: with gamma 0.9999, as RL
# Baselines3 Zoo trains it, 131 / 146 / 142 on seeds 1-3 (held-out 4-5: 145 / 117) against 38 / 42 / 48
# (benchmarks/learning.py ppo-swimmer-gamma9999, ppo-swimmer)
PPO_PRESETS.update({env_id: {**PPO_PRESETS[env_id], "gamma": 0.9999} for env_id in ("Swimmer-v4", "Swimmer-v5")})
# Atari (ALE/<Game>-v5, preprocessed by jaxrl.envs.atari): CleanRL's ppo_atari.py settings, the PPO paper's
# Atari ones at 8 envs: 128 steps, 4 epochs x 4 minibatches, lr 2.5e-4 annealed, clip 0.1, value loss clipped,
# entropy 0.01, rewards clipped to [-1, 1], one trunk shared by policy and value: the DQN paper's convs (32 8x8
# stride 4, 64 4x4 stride 2, 64 3x3 stride 1, no padding) and a 512 ReLU layer; 10M steps.
ATARI_PPO_PRESET: dict[str, Any] = {
    "total_timesteps": 10_000_000, "num_envs": 8, "num_steps": 128, "update_epochs": 4, "num_minibatches": 4,
    "learning_rate": 2.5e-4, "gamma": 0.99, "gae_lambda": 0.95, "clip_coef": 0.1, "clip_vloss": True,
    "ent_coef": 0.01, "vf_coef": 0.5, "max_grad_norm": 0.5, "reward_clip": 1.0, "shared_trunk": True,
    "conv_channels": (32, 64, 64), "conv_kernels": (8, 4, 3), "conv_strides": (4, 2, 1), "conv_padding": "valid",
    "hidden_sizes": (512,), "activation": "relu",
}
# gymnasium's LunarLander-v3 (pip install 'jaxrl[box2d]'): RL Baselines3 Zoo's PPO settings for LunarLander,
# on SB3's defaults otherwise (64x64 tanh, lr 3e-4 not annealed, clip 0.2): 16 envs x 1,024 steps, minibatches
# of 64 (256 a rollout), 4 epochs, gamma 0.999, lambda 0.98, entropy 0.01, 1M steps. Seeds 1-3, not tuned:
# 264.9 / 265.9 / 260.1 (20 deterministic episodes; 200 is "solved"), 67-72 s a seed on a 2-core CPU.
PPO_PRESETS["LunarLander-v3"] = {
    "total_timesteps": 1_000_000, "num_envs": 16, "num_steps": 1024, "num_minibatches": 256, "update_epochs": 4,
    "learning_rate": 3e-4, "anneal_lr": False, "gamma": 0.999, "gae_lambda": 0.98, "ent_coef": 0.01,
}
# RL Zoo gives LunarLanderContinuous the same settings: 276.8 / 266.0 / 267.5 on seeds 1-3, 71-80 s a seed.
PPO_PRESETS["LunarLanderContinuous-v3"] = PPO_PRESETS["LunarLander-v3"]
# gymnasium's Acrobot-v1 and MountainCar-v0 (host loop): RL Zoo's PPO settings, observations and rewards normalised
# (its VecNormalize), minibatches of 64, 4 epochs, lr 3e-4 not annealed, 1M steps. Seeds 1-3 (20 deterministic
# episodes): Acrobot -70.5 / -71.3 / -74.0 (59-65 s a seed), MountainCar -120.2 / -112.0 / -111.5 (39-45 s).
ACROBOT_PPO_PRESET: dict[str, Any] = {
    "total_timesteps": 1_000_000, "num_envs": 16, "num_steps": 256, "num_minibatches": 64, "update_epochs": 4,
    "learning_rate": 3e-4, "anneal_lr": False, "gamma": 0.99, "gae_lambda": 0.94, "ent_coef": 0.0,
    "norm_obs": True, "norm_reward": True,
}
PPO_PRESETS.update(dict.fromkeys(ACROBOT_IDS, ACROBOT_PPO_PRESET))
PPO_PRESETS.update(dict.fromkeys(MOUNTAIN_CAR_IDS, {**ACROBOT_PPO_PRESET, "num_steps": 16, "num_minibatches": 4,
                                                    "gae_lambda": 0.98}))
# Presets of every id that starts with a prefix (after the ids' own)
PPO_PREFIX_PRESETS: dict[str, dict[str, Any]] = {ATARI_PREFIX: ATARI_PPO_PRESET}
