"""The PPO config: every knob, documented, with validation that names the field.

Shared by the feed-forward agent (:mod:`jaxrl.agents.ppo`) and the recurrent one
(:mod:`jaxrl.agents.recurrent_ppo`, ``policy="lstm"``).
"""

from __future__ import annotations

import dataclasses
import math

from jaxrl.config import validate_common
from jaxrl.nets.mlp import activation_by_name


@dataclasses.dataclass(frozen=True)
class PPOConfig:
    """Every knob of a PPO run. Names follow CleanRL's ``ppo.py`` where one exists.

    Defaults solve CartPole-v1 in about 100k steps (after RL Baselines3 Zoo's tuned
    CartPole settings); see :mod:`jaxrl.presets` for other envs.
    """

    # --- environment and run ---
    env: str = "CartPole-v1"  # gymnasium env id
    seed: int = 1  # seeds the env, network init and sampling
    total_timesteps: int = 100_000  # env steps (summed over envs), rounded down to whole batches
    num_envs: int = 8  # parallel envs in the vector env
    vectorization: str = "sync"  # "sync", "async", "vector_entry_point" (the env's own) or "envpool" (extra)
    # --- rollout and update schedule ---
    num_steps: int = 32  # steps per env per rollout; batch = num_envs * num_steps
    update_epochs: int = 20  # passes over each batch
    num_minibatches: int = 1  # minibatches per epoch; must divide the batch
    # --- optimisation ---
    learning_rate: float = 1e-3  # Adam(W) step size (of the actor when critic_learning_rate is set)
    critic_learning_rate: float | None = None  # separate critic optimizer and step size (needs shared_trunk=False)
    weight_decay: float = 0.0  # decoupled weight decay; > 0 makes the optimizer AdamW
    adam_eps: float = 1e-5  # Adam epsilon
    anneal_lr: bool = True  # decay step sizes linearly to 0 over the run
    max_grad_norm: float = 0.5  # global-norm gradient clip (per optimizer)
    target_kl: float | None = None  # stop the epochs of an update once the epoch's mean approx KL exceeds it
    # --- objective ---
    gamma: float = 0.98  # discount
    gae_lambda: float = 0.8  # GAE lambda
    clip_coef: float = 0.2  # surrogate clip range
    clip_vloss: bool = False  # clip the value loss around the old values with clip_coef
    ent_coef: float = 0.0  # entropy bonus weight
    vf_coef: float = 0.5  # value-loss weight
    norm_adv: bool = True  # normalise advantages per minibatch
    reward_scale: float = 1.0  # rewards seen by the learner: reward_scale * max(r, reward_min)
    reward_min: float | None = None  # reward floor applied before scaling (None: no floor)
    norm_obs: bool = False  # running mean/std observation normalisation
    # --- network ---
    policy: str = "mlp"  # "mlp" (feed-forward) or "lstm" (recurrent, see jaxrl.agents.recurrent_ppo)
    hidden_sizes: tuple[int, ...] = (64, 64)  # MLP hidden layer sizes (for lstm: the dense layers after the LSTM)
    activation: str = "tanh"  # tanh, relu, silu or elu
    shared_trunk: bool = False  # one trunk for actor and critic (else separate networks)
    hidden_gain: float = 2.0**0.5  # orthogonal init gain of hidden layers
    policy_gain: float = 0.01  # ... of the policy head
    value_gain: float = 1.0  # ... of the value head
    log_std_init: float = 0.0  # initial Gaussian log-std (continuous actions)
    trainable_log_std: bool = True  # learn the log-std, or keep it fixed at log_std_init
    # --- recurrent policy (policy="lstm") ---
    lstm_hidden_size: int = 128  # LSTM state size
    lstm_layers: int = 1  # stacked LSTM layers
    shared_lstm: bool = False  # one LSTM torso for actor and critic (else one each)
    seq_len: int = 8  # truncated-BPTT chunk length; must divide num_steps (num_steps: full rollout)
    # --- stopping, logging and checkpoints (host loop) ---
    target_return: float | None = None  # stop once the mean return of recent episodes reaches it
    patience: int | None = None  # stop after this many updates without a new best mean return
    checkpoint_every: int = 50  # updates between periodic checkpoints (0: final only)
    keep_checkpoints: int = 3  # most recent checkpoints kept on disk
    progress: bool = True  # show a progress bar
    check_env_finite: bool = True  # error naming the env index when an env returns a NaN/inf observation or reward
    env_step_timeout: float | None = 300.0  # seconds an async env's step or reset may take (None: no limit)

    @property
    def batch_size(self) -> int:
        return self.num_envs * self.num_steps

    @property
    def minibatch_size(self) -> int:
        return self.batch_size // self.num_minibatches

    @property
    def num_updates(self) -> int:
        return max(1, self.total_timesteps // self.batch_size)

    def validate(self) -> PPOConfig:
        """Raise ``ValueError`` naming the first invalid field; return self when valid."""
        validate_common(self)
        if not (self.learning_rate > 0 and math.isfinite(self.learning_rate)):
            raise ValueError(f"learning_rate must be a positive finite number, got {self.learning_rate}")
        for name in ("num_steps", "update_epochs", "num_minibatches"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.policy not in ("mlp", "lstm"):
            raise ValueError(f"policy must be 'mlp' or 'lstm', got {self.policy!r}")
        if self.policy == "lstm":
            self._validate_recurrent()
        elif self.batch_size % self.num_minibatches:
            raise ValueError(
                f"num_envs * num_steps ({self.num_envs} * {self.num_steps} = {self.batch_size}) "
                f"must be divisible by num_minibatches ({self.num_minibatches})"
            )
        if self.total_timesteps < self.batch_size:
            raise ValueError(
                f"total_timesteps ({self.total_timesteps}) must be at least one batch "
                f"(num_envs * num_steps = {self.batch_size})"
            )
        if not 0.0 <= self.gae_lambda <= 1.0:
            raise ValueError(f"gae_lambda must be in [0, 1], got {self.gae_lambda}")
        for name in ("clip_coef", "max_grad_norm", "reward_scale"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("ent_coef", "vf_coef", "weight_decay", "adam_eps"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.critic_learning_rate is not None:
            if not self.critic_learning_rate > 0:
                raise ValueError(f"critic_learning_rate must be > 0, got {self.critic_learning_rate}")
            if self.shared_trunk:
                raise ValueError(
                    "critic_learning_rate needs separate actor and critic networks; "
                    "set shared_trunk=False or drop critic_learning_rate"
                )
        if self.target_kl is not None and not self.target_kl > 0:
            raise ValueError(f"target_kl must be > 0, got {self.target_kl}")
        if not self.hidden_sizes or any(size < 1 for size in self.hidden_sizes):
            raise ValueError(f"hidden_sizes must be a non-empty list of positive ints, got {self.hidden_sizes}")
        activation_by_name(self.activation)
        return self


    def _validate_recurrent(self) -> None:
        for name in ("lstm_hidden_size", "lstm_layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.seq_len < 1:
            raise ValueError(f"seq_len must be >= 1, got {self.seq_len}")
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
