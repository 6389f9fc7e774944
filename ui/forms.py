"""The hyperparameter form: widgets in, a TrainConfig (or the reason there is none) out."""

from __future__ import annotations

import streamlit as st

from cfcore.config import DEVICES, LIMITS, OPTIMIZERS, OUTPUTS, PRESETS, TrainConfig
from cfcore.errors import ConfigError
from cfcore.rankers import registry
from cfcore.rankers.base import Setting
from cfcore.records import Evaluation
from ui.state import FORM_PREFIX, FORM_VALUES, PRESET, form_key
from ui.text import md

LEARNING_RATES = [1e-5, 3e-5, 1e-4, 3e-4, 5e-4, 1e-3, 2e-3, 3e-3, 5e-3, 1e-2, 2e-2, 3e-2, 5e-2, 1e-1, 3e-1, 1.0]
BATCH_SIZES = [32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536]
OPTIMIZER_LABELS = {"sparse_adam": "Row-wise Adam (fast)", "adam": "Dense Adam (seed)"}
OPTIMIZER_HELP = ("Row-wise Adam (sparse_adam) updates only the users and movies in each batch, with L2 on those "
                  "rows: much faster on large data. Dense Adam updates every parameter each step, exactly as the "
                  "seed document does.")
DEVICE_LABELS = {"auto": "auto (best available)", "cpu": "CPU", "cuda": "CUDA GPU", "mps": "Apple GPU (MPS)"}
OUTPUT_LABELS = {"clip": "clip to the rating scale (seed)", "sigmoid": "scaled sigmoid"}
CUSTOM = "custom"  # what the preset box says once a value differs from every preset's
PRESET_LABELS = {"recommended": "Recommended (CF Studio defaults)",
                 "seed": "Seed document (lr 0.001, dense Adam, 10 epochs)", CUSTOM: "Custom (your own values)"}


def _apply_preset() -> None:
    """Write a preset's values into the widgets' state (on_change of the preset selector; Custom keeps them)."""
    name = st.session_state[PRESET]
    if name in PRESETS:
        _load_values(PRESETS[name])


def _preset_in_force() -> str:
    """The preset whose values the form holds (the chosen one first), else CUSTOM. Widgets not drawn in the
    last run (another ranking kind's settings) have no state and are not compared."""
    chosen = st.session_state.get(PRESET)
    for name in sorted(PRESETS, key=lambda n: n != chosen):
        values = _form_values(PRESETS[name])
        if all(st.session_state[key] == value for key, value in values.items() if key in st.session_state):
            return name
    return CUSTOM


def _defaults() -> dict:
    """Every form value a person may set, by its session key, at its default."""
    return _form_values(TrainConfig()) | {form_key("relevance_threshold"): Evaluation().relevance_threshold}


def _bounds_of(key: str) -> tuple[float, float] | None:
    """The range a number widget accepts (a value outside it would break the widget), None for other widgets."""
    name = key[len(FORM_PREFIX):]
    if name in LIMITS:
        return LIMITS[name][0], LIMITS[name][1]
    if name == "relevance_threshold":
        return -1e6, 1e6
    for kind, ranker in registry.kinds().items():
        for setting in ranker.Params.settings():
            if key == ranker_key(kind, setting.name):
                return setting.low, setting.high
    return None


def _typed(key: str, raw, default):
    """``raw`` (the URL's text, or a value kept from an earlier visit) as the widget for ``key`` holds it;
    ValueError saying what is wrong when it cannot be one."""
    if isinstance(default, bool):
        if str(raw) not in ("True", "False"):
            raise ValueError(f"is {raw!r}; it must be True or False")
        return str(raw) == "True"
    if isinstance(default, (int, float)):
        try:
            value = int(raw) if isinstance(default, int) else float(raw)
        except (TypeError, ValueError):
            raise ValueError(f"is {raw!r}, not a {'whole ' if isinstance(default, int) else ''}number") from None
        low, high = _bounds_of(key) or (-float("inf"), float("inf"))
        if not low <= value <= high:
            raise ValueError(f"is {raw!r}, outside {low:g} to {high:g}")
        for options in ((LEARNING_RATES,) if key == form_key("learning_rate") else
                        (BATCH_SIZES,) if key == form_key("batch_size") else ()):
            value = _nearest(options, value)  # a slider of fixed stops
        return value
    options = {form_key("optimizer"): OPTIMIZERS, form_key("device"): DEVICES, form_key("output"): OUTPUTS,
               form_key("ranking_model"): list(registry.kinds())}.get(key)
    if options is not None and raw not in options:
        raise ValueError(f"is {raw!r}; it must be one of {', '.join(options)}")
    return raw


def _restore_values() -> list[str]:
    """Put the kept values (FORM_VALUES: from the URL, an earlier visit or "Load these settings") into the
    freshly defaulted widgets, before they are drawn; what could not be used, as sentences."""
    defaults, problems = _defaults(), []
    for key, raw in dict(st.session_state.get(FORM_VALUES, {})).items():
        name = key[len(FORM_PREFIX):]
        if key not in defaults:
            problems.append(f"the link's Train setting {name!r} is not one this form has; it was left out")
            continue
        try:
            st.session_state[key] = _typed(key, raw, defaults[key])
        except ValueError as exc:
            problems.append(f"the link's Train setting {name} {exc}; the form shows the default "
                            f"{defaults[key]!r} instead")
    return problems


def _keep_values() -> None:
    """Remember the values that differ from the defaults (for a reload, another page's visit and the URL)."""
    defaults = _defaults()
    st.session_state[FORM_VALUES] = {key: st.session_state[key] for key, default in defaults.items()
                                     if key in st.session_state and st.session_state[key] != default}


def load_settings(config: TrainConfig, evaluation: Evaluation) -> None:
    """Fill the Train form with a run's settings on its next draw. A button's callback: a widget's state cannot
    change once the widget is drawn, so the widgets are cleared and rebuilt from these values at the form's top."""
    for key in [k for k in st.session_state if str(k).startswith(FORM_PREFIX)]:
        del st.session_state[key]
    values = _form_values(config) | {form_key("relevance_threshold"): evaluation.relevance_threshold}
    defaults = _defaults()
    st.session_state[FORM_VALUES] = {key: value for key, value in values.items() if value != defaults.get(key)}


def _load_values(config: TrainConfig) -> None:
    for key, value in _form_values(config).items():
        st.session_state[key] = value
    st.session_state.setdefault(form_key("relevance_threshold"), Evaluation().relevance_threshold)


def _form_values(config: TrainConfig) -> dict:
    """Each widget's value for ``config``, by its session key."""
    fields = {
        "embedding_dim": config.embedding_dim, "learning_rate": _nearest(LEARNING_RATES, config.learning_rate),
        "batch_size": _nearest(BATCH_SIZES, config.batch_size), "epochs": config.epochs,
        "weight_decay": config.weight_decay, "dropout": config.dropout, "optimizer": config.optimizer,
        "use_clip": config.grad_clip is not None, "grad_clip": config.grad_clip or 1.0,
        "use_schedule": config.lr_patience is not None, "lr_factor": config.lr_factor,
        "lr_patience": config.lr_patience if config.lr_patience is not None else 1,
        "use_early_stopping": config.early_stopping is not None,
        "early_stopping": config.early_stopping if config.early_stopping is not None else 3,
        "output": config.output, "seed": config.seed, "device": config.device,
        "ranking_model": config.ranking_model,
    }
    values = {form_key(name): value for name, value in fields.items()}
    for kind, ranker in registry.kinds().items():  # every kind's settings: its defaults, or the config's own
        params = config.ranking_params if kind == config.ranking_model else ranker.Params()
        values.update({ranker_key(kind, s.name): getattr(params, s.name) for s in ranker.Params.settings()})
    return values


def _bounds(name: str) -> dict:
    """min_value/max_value of a number widget: the range TrainConfig accepts (config.LIMITS)."""
    low, high, integer = LIMITS[name]
    return {"min_value": int(low), "max_value": int(high)} if integer else {"min_value": float(low),
                                                                             "max_value": float(high)}


def _nearest(options: list, value):
    return min(options, key=lambda o: abs(o - value))


def ranker_key(kind: str, name: str) -> str:
    """The session key of the widget for setting ``name`` of ranking kind ``kind``."""
    return form_key(f"{kind}_{name}")


def _ranker_settings_ui(kind: str, columns) -> None:
    """The chosen ranking kind's own settings (its Params, from the registry), two to a row."""
    for n, setting in enumerate(registry.get(kind).Params.settings()):
        st.session_state.setdefault(ranker_key(kind, setting.name), setting.default)  # a kind found since load
        columns[n % 2].number_input(setting.label, **_setting_bounds(setting), key=ranker_key(kind, setting.name),
                                    help=setting.help, **({"step": 1} if setting.integer else {"format": "%g"}))


def _setting_bounds(setting: Setting) -> dict:
    cast = int if setting.integer else float
    return {"min_value": cast(setting.low), "max_value": cast(setting.high)}


def config_form() -> tuple[TrainConfig | None, str | None]:
    """Draw the form; return (config, None) or (None, what is wrong with the values)."""
    problems = []
    if form_key("embedding_dim") not in st.session_state:  # a new session, another page's visit, a loaded run
        _load_values(TrainConfig())
        problems = _restore_values()
    for problem in problems:
        st.warning(md(problem[0].upper() + problem[1:] + "."))  # the URL's text, shown literally
    st.session_state[PRESET] = _preset_in_force()  # a changed value makes it "Custom", not the preset's name
    st.selectbox("Preset", [*PRESETS, CUSTOM], key=PRESET, on_change=_apply_preset,
                 format_func=lambda p: PRESET_LABELS.get(p, p),
                 help="Fills the form; change any value afterwards (the box then says Custom).")
    left, right = st.columns(2)
    left.number_input("Embedding dimension", **_bounds("embedding_dim"), step=1, key=form_key("embedding_dim"),
                      help="Length of each user's and movie's taste vector.")
    right.number_input("Epochs", **_bounds("epochs"), step=1, key=form_key("epochs"),
                       help="Upper bound; early stopping may end sooner.")
    left.select_slider("Learning rate", options=LEARNING_RATES, key=form_key("learning_rate"),
                       format_func=lambda v: f"{v:g}", help="Log scale. Too high makes the loss diverge.")
    right.select_slider("Batch size", options=BATCH_SIZES, key=form_key("batch_size"), help="Ratings per step.")
    kinds = registry.kinds()
    st.selectbox("Ranking model (orders the lists)", list(kinds), key=form_key("ranking_model"),
                 format_func=registry.label,
                 help="The rating model predicts stars; what people choose to watch is another question. "
                      + " ".join(f"{k.label}: {k.summary}" for k in kinds.values()))
    with st.expander("Advanced"):
        a, b = st.columns(2)
        a.number_input("Weight decay (L2)", **_bounds("weight_decay"), step=0.01, format="%.4f",
                       key=form_key("weight_decay"),
                       help="Per-rating penalty on the touched rows (fast Adam) or Adam's weight_decay (dense).")
        b.selectbox("Optimizer", OPTIMIZERS, key=form_key("optimizer"), format_func=OPTIMIZER_LABELS.get,
                    help=OPTIMIZER_HELP)
        a.number_input("Embedding dropout", **_bounds("dropout"), step=0.05, format="%.2f",
                       key=form_key("dropout"),
                       help="While training, each entry of a rating's user and movie vectors is left out with this "
                            "probability (the rest scaled up to match), so the model cannot lean on any one "
                            "entry: another remedy for overfitting beside weight decay. Predictions use the whole "
                            "vectors. 0 = off.")
        b.number_input("Relevant when rated at least", min_value=-1e6, max_value=1e6, step=0.5, format="%g",
                       key=form_key("relevance_threshold"),
                       help="For the ranking metrics recorded with the run (P@10, R@10, NDCG@10): a held-out rating "
                            "this high counts as a movie the user wanted. The CLI's --relevance-threshold.")
        a.checkbox("Clip gradients", key=form_key("use_clip"))
        b.number_input("Max gradient norm", **_bounds("grad_clip"), key=form_key("grad_clip"),
                       disabled=not st.session_state[form_key("use_clip")])
        a.checkbox("Reduce learning rate on plateau", key=form_key("use_schedule"))
        sched = not st.session_state[form_key("use_schedule")]
        b.number_input("LR factor", **_bounds("lr_factor"), step=0.05, key=form_key("lr_factor"), disabled=sched)
        b.number_input("LR patience (epochs)", **_bounds("lr_patience"), step=1, key=form_key("lr_patience"), disabled=sched)
        a.checkbox("Early stopping", key=form_key("use_early_stopping"))
        b.number_input("Early-stopping patience (epochs)", **_bounds("early_stopping"), step=1,
                       key=form_key("early_stopping"), disabled=not st.session_state[form_key("use_early_stopping")])
        a.selectbox("Output range", OUTPUTS, key=form_key("output"), format_func=OUTPUT_LABELS.get,
                    help="How predictions are kept on the rating scale: cut at its ends (clip, as the seed does; "
                         "the 'range limit' in an explanation) or squeezed smoothly (sigmoid).")
        b.number_input("Seed", **_bounds("seed"), step=1, key=form_key("seed"))
        a.selectbox("Device", DEVICES, key=form_key("device"), format_func=DEVICE_LABELS.get,
                    help="auto picks a CUDA GPU if there is one, then an Apple GPU, then the CPU.")
        _ranker_settings_ui(st.session_state[form_key("ranking_model")], (a, b))
    _keep_values()
    try:
        return config_from_state(), None
    except ConfigError as exc:
        return None, str(exc)


def evaluation_from_state() -> Evaluation:
    """How the run's lists are judged (k is 10 on every surface; the threshold is the form's)."""
    default = Evaluation()
    return Evaluation(k=default.k, relevance_threshold=float(st.session_state.get(form_key("relevance_threshold"),
                                                                                  default.relevance_threshold)))


def config_from_state() -> TrainConfig:
    s = st.session_state
    kind = s[form_key("ranking_model")]
    return TrainConfig(
        embedding_dim=int(s[form_key("embedding_dim")]), learning_rate=float(s[form_key("learning_rate")]),
        batch_size=int(s[form_key("batch_size")]), epochs=int(s[form_key("epochs")]),
        weight_decay=float(s[form_key("weight_decay")]), dropout=float(s[form_key("dropout")]),
        optimizer=s[form_key("optimizer")],
        grad_clip=float(s[form_key("grad_clip")]) if s[form_key("use_clip")] else None,
        lr_factor=float(s[form_key("lr_factor")]),
        lr_patience=int(s[form_key("lr_patience")]) if s[form_key("use_schedule")] else None,
        early_stopping=int(s[form_key("early_stopping")]) if s[form_key("use_early_stopping")] else None,
        output=s[form_key("output")], seed=int(s[form_key("seed")]), device=s[form_key("device")],
        ranking_model=kind, ranking_params={setting.name: s.get(ranker_key(kind, setting.name), setting.default)
                                            for setting in registry.get(kind).Params.settings()},
    )
