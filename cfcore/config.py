"""Hyperparameters: one frozen dataclass that flows from the form to training to the checkpoint."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Literal, get_args

from cfcore.errors import ConfigError, check_range
from cfcore.rankers import registry
from cfcore.rankers.base import RankerParams
from cfcore.rankers.mf import RatingModelRanker

Optimizer = Literal["sparse_adam", "adam"]
Device = Literal["auto", "cpu", "cuda", "mps"]
Output = Literal["clip", "sigmoid"]
StopOn = Literal["both", "rmse", "ndcg"]
OPTIMIZERS: tuple[str, ...] = get_args(Optimizer)  # the choices, spelled once (in the type)
DEVICES: tuple[str, ...] = get_args(Device)
OUTPUTS: tuple[str, ...] = get_args(Output)
STOP_ON: tuple[str, ...] = get_args(StopOn)

# The accepted range of each number: (lowest, highest, whole numbers only). TrainConfig checks them
# and the form's widgets take their bounds from here, so the two cannot disagree.
LIMITS: dict[str, tuple[float, float, bool]] = {
    "embedding_dim": (1, 4096, True),
    "learning_rate": (1e-6, 1.0, False),
    "batch_size": (1, 10_000_000, True),
    "epochs": (1, 10_000, True),
    "weight_decay": (0.0, 100.0, False),
    "dropout": (0.0, 0.9, False),
    "lr_factor": (0.01, 0.99, False),
    "log_every": (1, 1_000_000, True),
    "seed": (0, 2**32 - 1, True),
    "grad_clip": (1e-6, 1e6, False),  # when set
    "lr_patience": (0, 10_000, True),  # when set
    "early_stopping": (0, 10_000, True),  # when set
}


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run; ``TrainConfig()`` is the recommended setting."""

    embedding_dim: int = 50  # length of each taste vector; the seed's default
    learning_rate: float = 0.005  # Adam step size; 0.005 converges in ~10 epochs on MovieLens
    batch_size: int = 1024  # ratings per step; the seed's default
    epochs: int = 30  # upper bound; early stopping usually ends sooner
    weight_decay: float = 0.05  # L2 strength: per-rating penalty on the rows a batch touches (sparse_adam),
    #                             or Adam's weight_decay on every parameter (adam, as in the seed)
    dropout: float = 0.0  # embedding dropout while training (the seed's remedy for overfitting): each entry of
    #                       a rating's user and item vectors is dropped with this probability; 0 = off
    optimizer: Optimizer = "sparse_adam"  # sparse_adam updates only touched rows; adam is the seed's dense Adam
    grad_clip: float | None = None  # max gradient norm per step; None = no clipping
    lr_factor: float = 0.5  # ReduceLROnPlateau: multiply the learning rate by this on a plateau
    lr_patience: int | None = 1  # epochs without improvement before reducing; None = fixed learning rate
    early_stopping: int | None = 3  # epochs without improvement before stopping; None = run every epoch
    stop_on: StopOn = "both"  # with a ranking model trained beside the stars (the tuned model): "both" = each keeps
    #                           its best epoch by its own measure (stars: validation RMSE, lists: NDCG@10) and stops
    #                           when that stalls, since tying them keeps one at a worse epoch; "rmse" / "ndcg" = both
    #                           keep the epoch that measure liked best and stop together when it stalls
    output: Output = "clip"  # clip to the rating scale (seed) or a scaled sigmoid
    seed: int = 42  # model init and batch order; same seed + data + CPU = same numbers
    device: Device = "auto"  # auto = CUDA, then Apple MPS, then CPU
    log_every: int = 20  # steps between progress records (each one reads the loss back from the device)
    ranking_model: str | None = None  # what orders the lists: a kind of cfcore/rankers (registry.names());
    #                                   None = the registry's default (today EASE: learned from what people chose
    #                                   to rate; NDCG@10 0.25 vs 0.05 for the rating model on the built-in data)
    ranking_params: RankerParams | None = None  # that kind's own settings (its Params); None = its defaults

    def __post_init__(self) -> None:
        for name, (low, high, integer) in LIMITS.items():
            value = getattr(self, name)
            if value is not None:  # grad_clip, lr_patience and early_stopping may be off
                check_range(name, value, low, high, integer=integer)
        for name, value, allowed in (("optimizer", self.optimizer, OPTIMIZERS), ("device", self.device, DEVICES),
                                     ("output", self.output, OUTPUTS), ("stop_on", self.stop_on, STOP_ON)):
            if value not in allowed:
                raise ConfigError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
        if self.ranking_model is None:
            object.__setattr__(self, "ranking_model", registry.default())
        # a dict (from a form, a file) or None becomes the kind's own checked parameters
        object.__setattr__(self, "ranking_params", registry.params_for(self.ranking_model, self.ranking_params))

    def to_dict(self) -> dict:
        return asdict(self)  # ranking_params as a nested dict of plain values

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        """Rebuild from a dict (``to_dict``'s, in a checkpoint or a run), ignoring keys this version does not know."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def __reduce__(self):
        # pickled as plain values (to a training process): a kind's parameters may come from a plugin
        # module that the receiving process imports through the registry, not by its pickled name
        return (TrainConfig.from_dict, (self.to_dict(),))

    def replace(self, **changes) -> TrainConfig:
        """A copy with ``changes``; a new ranking kind without parameters gets its own defaults."""
        if "ranking_model" in changes and changes["ranking_model"] != self.ranking_model:
            changes.setdefault("ranking_params", None)
        return replace(self, **changes)

    def batch_for(self, n_ratings: int) -> int:
        """The batch size a run on ``n_ratings`` training ratings uses: never more than there are."""
        return max(1, min(self.batch_size, n_ratings))

    def steps_per_epoch(self, n_ratings: int) -> int:
        """Optimiser steps in one epoch over ``n_ratings`` training ratings (the last batch may be short)."""
        return max(1, -(-n_ratings // self.batch_for(n_ratings)))


# The seed design document's exact values, for comparison with the recommended defaults.
SEED_PRESET = TrainConfig(
    embedding_dim=50, learning_rate=0.001, batch_size=1024, epochs=10, weight_decay=0.01, optimizer="adam",
    grad_clip=None, lr_patience=None, early_stopping=None, output="clip", ranking_model=RatingModelRanker.kind,
)
PRESETS: dict[str, TrainConfig] = {"recommended": TrainConfig(), "seed": SEED_PRESET}
