r"""CS-IB vs VIB vs plain MSE regression: test RMSE, information plane and FGSM robustness.

Three objectives train the same MLP (encoder x → 32 → 32 → t ∈ R^8, decoder t → 16 → ŷ), with the
same minibatches, steps and optimiser, over seeds × β (``vmap``-ed and sharded by the harness):

* **MSE**: deterministic encoder, mean squared error (the β = 0 baseline);
* **VIB** (Alemi et al. 2017): Gaussian encoder, Gaussian decoder with unit variance (½·squared
  error), + β·KL(p(t|x) ‖ N(0, I)); predictions use the encoder mean;
* **CS-IB** (Yu et al. 2024): deterministic encoder, the conditional CS divergence
  D̂_CS(p(y|x) ‖ q(ŷ|x)) (``[n, 1]`` targets: the genuine estimator, not the upstream ``[n]``
  degeneracy that equals SSE/ln 2) + β·Î_CS(x; t). Widths: σ_x = σ_y = 1 on standardised data, as in
  the public code; σ_t is the root-mean-square pairwise distance of the batch's t (no gradient through it), so
  the compression term cannot be lowered by shrinking t.

Data: a synthetic heteroscedastic regression with a known noise law, and scikit-learn's shipped
``load_diabetes`` (442 patients, 10 features). Each seed draws its own split (60/20/20
train/validation/test); inputs and targets are standardised with training statistics. Model
selection is honest: each model keeps the parameters of its best **validation** step (early stopping on
the validation split, never on the test split), and β is chosen per seed and method by validation
RMSE; test RMSE is reported as mean ± standard error over seeds.

Theory line: on the synthetic data the Bayes-optimal predictor E[y|x] has RMSE
:math:`\sqrt{\mathbb E\,s(x)^2}` (the noise level, known in closed form), so no method can beat it and
:math:`\tfrac12\log(\operatorname{Var}y/\mathrm{MSE}_{\text{Bayes}})` caps the information-plane
surrogate :math:`I(y;t) \approx \tfrac12\log(\operatorname{Var}y/\mathrm{MSE})` (Kolchinsky et al.).
The recorded gap is the relative excess of the best method's synthetic test RMSE over the Bayes RMSE.

Information plane: :math:`\hat I_{CS}(x;t)` on the test set with the same estimator for every method
(a common currency) against the surrogate for I(y;t). Robustness: test RMSE under FGSM,
:math:`x + \varepsilon\,\operatorname{sign}\nabla_x(\hat y - y)^2` per sample, in standardised units.

References:
  Yu, Yu, Løkse, Jenssen & Príncipe, *Cauchy–Schwarz divergence information bottleneck for
  regression*, ICLR 2024, arXiv:2404.17951.
  Alemi, Fischer, Dillon & Murphy, *Deep variational information bottleneck*, ICLR 2017,
  arXiv:1612.00410.
  Kolchinsky, Tracey & Wolpert, *Nonlinear information bottleneck*, Entropy 2019, arXiv:1705.02436.
  Goodfellow, Shlens & Szegedy, *Explaining and harnessing adversarial examples*, ICLR 2015,
  arXiv:1412.6572.
  Efron, Hastie, Johnstone & Tibshirani, *Least angle regression*, Ann. Statist. 32, 2004 (the
  diabetes data).
"""

from __future__ import annotations

import dataclasses
import math
import typing
from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from divjax import ib, plotting
from experiments._harness import Timer, sweep

if typing.TYPE_CHECKING:
  import matplotlib.figure

NAME = "cs_ib_regression"
DESCRIPTION = ("CS-IB vs VIB vs MSE regression (synthetic heteroscedastic + diabetes): test RMSE, "
               "information plane, FGSM robustness")

METHODS = ("mse", "vib", "cs_ib")
DATASETS = ("synthetic", "diabetes")


@dataclasses.dataclass(frozen=True)
class Config:
  """Configuration of the cs_ib_regression experiment.

  Attributes:
    n_seeds: seeds (each its own split, initialisation and minibatch order).
    vib_betas, cs_betas: β grids of VIB and CS-IB (chosen per seed on validation RMSE).
    synthetic_n: total synthetic samples (split 60/20/20).
    synthetic_dim: synthetic input dimension.
    hidden, bottleneck, decoder_hidden: network sizes.
    num_steps, batch_size, learning_rate: Adam with cosine decay, minibatches with replacement.
    sigma_x, sigma_y: kernel widths of the conditional CS term (standardised units).
    epsilons: FGSM radii (standardised input units).
  """

  n_seeds: int = 5
  vib_betas: tuple[float, ...] = (1e-3, 1e-2)
  cs_betas: tuple[float, ...] = (1e-2, 1e-1)
  synthetic_n: int = 1000
  synthetic_dim: int = 5
  hidden: int = 32
  bottleneck: int = 8
  decoder_hidden: int = 16
  num_steps: int = 1000
  batch_size: int = 64
  learning_rate: float = 3e-3
  sigma_x: float = 1.0
  sigma_y: float = 1.0
  epsilons: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.3)

  @classmethod
  def quick(cls) -> "Config":
    """About 40 s on an idle 2-core CPU (about 26 s of it compiling, two programs)."""
    return cls()

  @classmethod
  def paper(cls) -> "Config":
    """10 seeds, wider β grids, more data and steps, the FGSM sweep to ε = 0.6."""
    return cls(n_seeds=10, vib_betas=(1e-4, 1e-3, 1e-2, 1e-1), cs_betas=(1e-3, 1e-2, 1e-1, 1.0),
               synthetic_n=4000, hidden=64, bottleneck=16, decoder_hidden=32, num_steps=2000,
               batch_size=128,
               epsilons=tuple(float(e) for e in np.round(np.arange(0.0, 0.61, 0.05), 2)))


# ---------------------------------------------------------------------------------------------------
# Data.


def synthetic_noise_sd(x: np.ndarray) -> np.ndarray:
  """s(x) = 0.1 + 0.4·|x₁| (heteroscedastic noise sd)."""
  return 0.1 + 0.4 * np.abs(x[:, 0])


def synthetic_mean(x: np.ndarray) -> np.ndarray:
  """E[y|x] = sin(2x₁) + ½x₂² − ½x₃."""
  return np.sin(2 * x[:, 0]) + 0.5 * x[:, 1]**2 - 0.5 * x[:, 2]


def synthetic_bayes_rmse() -> float:
  """√E[s(x)²] for x₁ ~ N(0, 1): E(0.1 + 0.4|x₁|)² = 0.01 + 0.08·√(2/π) + 0.16."""
  return math.sqrt(0.01 + 0.08 * math.sqrt(2 / math.pi) + 0.16)


def make_synthetic(n: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
  """x ~ N(0, I_dim), y = E[y|x] + s(x)·ε."""
  rng = np.random.default_rng(seed)
  x = rng.normal(size=(n, dim))
  return x, synthetic_mean(x) + synthetic_noise_sd(x) * rng.normal(size=n)


def _splits(x: np.ndarray, y: np.ndarray, seed: int) -> dict[str, np.ndarray]:
  """60/20/20 split, standardised with training statistics; also returns y's training scale."""
  n = len(y)
  perm = np.random.default_rng(10_000 + seed).permutation(n)
  n_test, n_val = n // 5, n // 5
  test, val, train = perm[:n_test], perm[n_test:n_test + n_val], perm[n_test + n_val:]
  mx, sx = x[train].mean(0), x[train].std(0) + 1e-12
  my, sy = y[train].mean(), y[train].std()
  f = lambda idx: ((x[idx] - mx) / sx, (y[idx] - my) / sy)
  (xtr, ytr), (xva, yva), (xte, yte) = f(train), f(val), f(test)
  return {"x_train": xtr, "y_train": ytr, "x_val": xva, "y_val": yva, "x_test": xte, "y_test": yte,
          "y_scale": np.float64(sy), "x_scale": sx}


def load_dataset(name: str, config: Config, seed: int) -> dict[str, np.ndarray]:
  """One seed's standardised split of ``name``."""
  if name == "synthetic":
    x, y = make_synthetic(config.synthetic_n, config.synthetic_dim, seed)
  else:
    from sklearn.datasets import load_diabetes
    x, y = load_diabetes(return_X_y=True)
  return _splits(np.asarray(x, np.float64), np.asarray(y, np.float64), seed)


# ---------------------------------------------------------------------------------------------------
# Models and objectives.


class Encoder(nn.Module):
  """x → hidden → hidden → (mean, log_var) of t (the log-variance head is used by VIB only)."""
  hidden: int
  k: int

  @nn.compact
  def __call__(self, x):
    h = nn.relu(nn.Dense(self.hidden)(x))
    h = nn.relu(nn.Dense(self.hidden)(h))
    return nn.Dense(self.k)(h), nn.Dense(self.k)(h)


class Decoder(nn.Module):
  hidden: int

  @nn.compact
  def __call__(self, t):
    return nn.Dense(1)(nn.relu(nn.Dense(self.hidden)(t)))[..., 0]


def rms_distance(t: jax.Array) -> jax.Array:
  """Root-mean-square pairwise distance of a batch, √(2 Σ_k Var t_k), without gradient (σ_t)."""
  var = jnp.sum(jnp.var(t, axis=0))
  return jax.lax.stop_gradient(jnp.sqrt(jnp.maximum(2.0 * var, 1e-12)))


def _make_fit(config: Config) -> Callable[..., dict[str, jax.Array]]:
  """The single-problem function the harness vmaps: (method index, data, key, β) → metrics.

  The method index is passed unbatched (``shared``), so ``lax.switch`` stays a real branch and the
  three methods share one compiled program per dataset shape.
  """
  enc = Encoder(config.hidden, config.bottleneck)
  dec = Decoder(config.decoder_hidden)

  def predict(p, x):
    mean, _ = enc.apply(p["enc"], x)
    return dec.apply(p["dec"], mean), mean

  def mse(p, x, y, key, beta):
    mean, _ = enc.apply(p["enc"], x)
    return jnp.mean((dec.apply(p["dec"], mean) - y)**2)

  def vib(p, x, y, key, beta):
    mean, log_var = enc.apply(p["enc"], x)
    nll = lambda t: 0.5 * (dec.apply(p["dec"], t) - y)**2
    return ib.vib_loss(key, mean, log_var, nll, beta=beta)[0]

  def cs_ib(p, x, y, key, beta):
    mean, _ = enc.apply(p["enc"], x)
    y_pred = dec.apply(p["dec"], mean)
    return ib.cs_ib_loss(x, y[:, None], y_pred[:, None], mean, beta=beta, sigma_x=config.sigma_x,
                         sigma_y=config.sigma_y, sigma_t=rms_distance(mean))[0]

  losses = [mse, vib, cs_ib]
  opt = optax.adam(optax.cosine_decay_schedule(config.learning_rate, config.num_steps, alpha=0.05))

  def fit(method, data, key, beta):
    x, y = data["x_train"], data["y_train"]
    k_enc, k_dec, k_run = jax.random.split(key, 3)
    params = {"enc": enc.init(k_enc, x[:1]), "dec": dec.init(k_dec, jnp.zeros((1, config.bottleneck)))}

    def loss_fn(p, xb, yb, k):
      return jax.lax.switch(method, losses, p, xb, yb, k, beta)

    val_mse = lambda p: jnp.mean((predict(p, data["x_val"])[0] - data["y_val"])**2)

    def step(carry, k):
      p, s, best_p, best_v = carry
      k_batch, k_noise = jax.random.split(k)
      idx = jax.random.randint(k_batch, (config.batch_size,), 0, x.shape[0])
      g = jax.grad(loss_fn)(p, x[idx], y[idx], k_noise)
      u, s = opt.update(g, s, p)
      p = optax.apply_updates(p, u)
      v = val_mse(p)  # early stopping on the validation split (never on the test split)
      better = v < best_v
      best_p = jax.tree_util.tree_map(lambda a, b: jnp.where(better, a, b), p, best_p)
      return (p, s, best_p, jnp.minimum(v, best_v)), None

    init = (params, opt.init(params), params, val_mse(params))
    (_, _, params, _), _ = jax.lax.scan(step, init, jax.random.split(k_run, config.num_steps))
    rmse = lambda xx, yy: jnp.sqrt(jnp.mean((predict(params, xx)[0] - yy)**2)) * data["y_scale"]
    x_te, y_te = data["x_test"], data["y_test"]
    grad_x = jax.grad(lambda xx: jnp.sum((predict(params, xx)[0] - y_te)**2))(x_te)
    eps = jnp.asarray(config.epsilons, x_te.dtype)
    fgsm = jax.vmap(lambda e: rmse(x_te + e * jnp.sign(grad_x), y_te))(eps)
    y_hat, t = predict(params, x_te)
    mse_std = jnp.mean((y_hat - y_te)**2)
    return {
        "val_rmse": rmse(data["x_val"], data["y_val"]),
        "test_rmse": fgsm[0],
        "fgsm_rmse": fgsm,
        "i_cs_xt": ib.cs_qmi(x_te, t, sigma_x=config.sigma_x, sigma_t=rms_distance(t)),
        "i_yt_surrogate": 0.5 * jnp.log(jnp.var(y_te) / mse_std),
    }

  return fit


# ---------------------------------------------------------------------------------------------------
# Run.


def _mean_se(v: list[float]) -> tuple[float, float]:
  a = np.asarray(v, np.float64)
  return float(a.mean()), float(a.std(ddof=1) / math.sqrt(len(a))) if len(a) > 1 else 0.0


def run(config: Config, *, seed: int = 0) -> dict[str, Any]:
  """Trains every method over seeds × β on both datasets; returns tables, summary, gap, checks."""
  timer = Timer()
  seeds = [seed * 1000 + s for s in range(config.n_seeds)]
  runs, selected, info_plane, fgsm_rows, summary_ds = [], [], [], [], {}
  for ds in DATASETS:
    splits = [load_dataset(ds, config, s) for s in seeds]
    stacked = {k: np.stack([sp[k] for sp in splits]).astype(np.float32)
               for k in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test", "y_scale")}
    for m, method in enumerate(METHODS):
      betas = {"mse": (0.0,), "vib": config.vib_betas, "cs_ib": config.cs_betas}[method]
      n_b = len(betas)
      data = {k: np.repeat(v, n_b, axis=0) for k, v in stacked.items()}  # (seed, β) flattened
      beta_grid = np.tile(np.asarray(betas, np.float32), config.n_seeds)
      keys = jax.random.split(jax.random.fold_in(jax.random.key(seed), 7 * m + DATASETS.index(ds)),
                              len(beta_grid))
      out = sweep(_fit_fn(config), data, keys, jnp.asarray(beta_grid), shared=(jnp.int32(m),),
                  timer=timer)
      out = {k: np.asarray(v, np.float64) for k, v in out.items()}
      for i in range(len(beta_grid)):
        runs.append({"dataset": ds, "method": method, "beta": float(betas[i % n_b]),
                     "seed": i // n_b, **{k: float(v[i]) for k, v in out.items() if v.ndim == 1}})
        for e, eps in enumerate(config.epsilons):
          fgsm_rows.append({"dataset": ds, "method": method, "beta": float(betas[i % n_b]),
                            "seed": i // n_b, "epsilon": float(eps),
                            "rmse": float(out["fgsm_rmse"][i, e])})
    # β selection per (seed, method) on validation RMSE; test numbers of the selected model.
    for method in METHODS:
      for s in range(config.n_seeds):
        cands = [r for r in runs if r["dataset"] == ds and r["method"] == method and r["seed"] == s]
        best = min(cands, key=lambda r: r["val_rmse"])
        selected.append({k: best[k] for k in ("dataset", "method", "seed", "beta", "val_rmse",
                                              "test_rmse", "i_cs_xt", "i_yt_surrogate")})
    per = {}
    for method in METHODS:
      rows = [r for r in selected if r["dataset"] == ds and r["method"] == method]
      mean, se = _mean_se([r["test_rmse"] for r in rows])
      fg = {}
      for eps in config.epsilons:
        vals = [f["rmse"] for f in fgsm_rows if f["dataset"] == ds and f["method"] == method and
                f["epsilon"] == float(eps) and any(f["seed"] == r["seed"] and f["beta"] == r["beta"]
                                                   for r in rows)]
        fg[str(eps)] = _mean_se(vals)
      per[method] = {"test_rmse_mean": mean, "test_rmse_se": se,
                     "selected_betas": [r["beta"] for r in rows], "fgsm_rmse": fg}
    summary_ds[ds] = per
    for method in METHODS:
      betas = {"mse": (0.0,), "vib": config.vib_betas, "cs_ib": config.cs_betas}[method]
      for b in betas:
        rows = [r for r in runs if r["dataset"] == ds and r["method"] == method and r["beta"] == b]
        ix, ix_se = _mean_se([r["i_cs_xt"] for r in rows])
        iy, iy_se = _mean_se([r["i_yt_surrogate"] for r in rows])
        rm, rm_se = _mean_se([r["test_rmse"] for r in rows])
        info_plane.append({"dataset": ds, "method": method, "beta": b, "i_cs_xt": ix,
                           "i_cs_xt_se": ix_se, "i_yt_surrogate": iy, "i_yt_surrogate_se": iy_se,
                           "test_rmse": rm, "test_rmse_se": rm_se})

  bayes = synthetic_bayes_rmse()
  syn = summary_ds["synthetic"]
  best_syn = min(syn[m]["test_rmse_mean"] for m in METHODS)
  # Bayes-limit sanity: the test RMSE estimates carry sampling error; a method "beating" the Bayes
  # RMSE by more than 4 standard errors (between-seed) would signal a bug.
  floor_ok = all(syn[m]["test_rmse_mean"] > bayes - 4 * max(syn[m]["test_rmse_se"], 1e-3)
                 for m in METHODS)
  cs_plane = sorted((r for r in info_plane if r["dataset"] == "synthetic" and r["method"] == "cs_ib"),
                    key=lambda r: r["beta"])
  ceiling = 0.5 * math.log(np.mean([float(np.var(load_dataset("synthetic", config, s)["y_test"]
                                                    ) * load_dataset("synthetic", config, s)["y_scale"]**2)
                                     for s in seeds[:1]]) / bayes**2)
  claims = {}
  for ds in DATASETS:
    cs, mse = summary_ds[ds]["cs_ib"], summary_ds[ds]["mse"]
    claims[f"{ds}: CS-IB test RMSE below MSE"] = cs["test_rmse_mean"] < mse["test_rmse_mean"]
    claims[f"{ds}: CS-IB RMSE below MSE at every FGSM epsilon"] = all(
        cs["fgsm_rmse"][k][0] <= mse["fgsm_rmse"][k][0] for k in cs["fgsm_rmse"])
    claims[f"{ds}: CS-IB RMSE below VIB at every FGSM epsilon"] = all(
        cs["fgsm_rmse"][k][0] <= summary_ds[ds]["vib"]["fgsm_rmse"][k][0] for k in cs["fgsm_rmse"])
  gap_value = (best_syn - bayes) / bayes
  gap_tol = 0.25
  checks = {
      "all_metrics_finite": all(np.isfinite(r[k]) for r in runs
                                for k in ("val_rmse", "test_rmse", "i_cs_xt", "i_yt_surrogate")),
      "no_method_beats_the_bayes_rmse": floor_ok,
      "best_synthetic_rmse_within_25pct_of_bayes": gap_value < gap_tol,
      "cs_qmi_penalty_compresses (I_CS(x;t) falls as beta grows)":
          cs_plane[-1]["i_cs_xt"] < cs_plane[0]["i_cs_xt"],
      "every_method_beats_predicting_the_mean_on_diabetes": all(
          r["i_yt_surrogate"] > 0 for r in info_plane if r["dataset"] == "diabetes"),
  }
  return {
      "tables": {"runs": runs, "selected": selected, "information_plane": info_plane,
                 "fgsm": fgsm_rows},
      "summary": {"datasets": summary_ds, "synthetic_bayes_rmse": bayes,
                  "synthetic_i_yt_ceiling": ceiling, "paper_claims_reproduced": claims,
                  "n_seeds": config.n_seeds},
      "gap": {"metric": "(best synthetic test RMSE − Bayes RMSE) / Bayes RMSE", "value": gap_value,
              "tolerance": gap_tol},
      "checks": {k: bool(v) for k, v in checks.items()},
      "timings": timer.as_dict(),
  }


_FITS: dict[Config, Callable[..., Any]] = {}


def _fit_fn(config: Config) -> Callable[..., Any]:
  """One function object per config, so the harness's compile cache reuses it across methods."""
  if config not in _FITS:
    _FITS[config] = _make_fit(config)
  return _FITS[config]


# ---------------------------------------------------------------------------------------------------
# Figure.

_LABELS = {"mse": "MSE", "vib": "VIB", "cs_ib": "CS-IB"}


def plot(results: dict[str, Any]) -> "matplotlib.figure.Figure":
  """Per dataset: (a) test RMSE vs β, (b) the information plane, (c) RMSE under FGSM."""
  s = results["summary"]
  t = results["tables"]
  fig, axes = plotting.new_figure(2, 3, width=4.2, height=3.2)
  for row, ds in enumerate(DATASETS):
    ax_r, ax_i, ax_f = axes[row]
    plane = [r for r in t["information_plane"] if r["dataset"] == ds]
    for m, method in enumerate(METHODS):
      color = plotting.COLORS[m]
      pts = sorted((r for r in plane if r["method"] == method), key=lambda r: r["beta"])
      sel = s["datasets"][ds][method]
      if method == "mse":
        ax_r.axhspan(sel["test_rmse_mean"] - sel["test_rmse_se"], sel["test_rmse_mean"] + sel["test_rmse_se"],
                     color=color, alpha=0.15)
        ax_r.axhline(sel["test_rmse_mean"], color=color, linewidth=1, label="MSE (β = 0) ± SE")
      else:
        plotting.plot_measurement(ax_r, [p["beta"] for p in pts], [p["test_rmse"] for p in pts],
                                  yerr=[p["test_rmse_se"] for p in pts], color=color,
                                  label=f"{_LABELS[method]} ± SE")
      ax_i.errorbar([p["i_cs_xt"] for p in pts], [p["i_yt_surrogate"] for p in pts],
                    xerr=[p["i_cs_xt_se"] for p in pts], yerr=[p["i_yt_surrogate_se"] for p in pts],
                    color=color, marker="os^"[m], linestyle="-" if len(pts) > 1 else "none",
                    linewidth=0.8, label=_LABELS[method], capsize=2)
      eps = sorted(float(e) for e in sel["fgsm_rmse"])
      key = {float(k): k for k in sel["fgsm_rmse"]}
      plotting.plot_measurement(ax_f, eps, [sel["fgsm_rmse"][key[e]][0] for e in eps],
                                yerr=[sel["fgsm_rmse"][key[e]][1] for e in eps], color=color,
                                label=f"{_LABELS[method]} (β by validation)")
    if ds == "synthetic":
      bayes = s["synthetic_bayes_rmse"]
      for ax in (ax_r, ax_f):
        plotting.plot_theory(ax, ax.get_xlim(), [bayes, bayes], label="Bayes RMSE √E s(x)²")
      plotting.plot_theory(ax_i, ax_i.get_xlim(), [s["synthetic_i_yt_ceiling"]] * 2,
                           label="½log(Var y / Bayes MSE)")
      g = results["gap"]
      plotting.annotate_gap(ax_r, f"best RMSE vs Bayes: {g['value']:+.1%}\n(tolerance {g['tolerance']:.0%})",
                            loc="lower left")
    ax_r.set_xscale("log")
    ax_r.set_xlabel("β")
    ax_r.set_ylabel("test RMSE (original units)")
    ax_r.set_title(f"{ds}: test RMSE, {s['n_seeds']} seeds", fontsize=9)
    ax_i.set_xlabel("Î_CS(x; t) on the test set [nats]")
    ax_i.set_ylabel("½ log(Var y / MSE) ≈ I(y; t)")
    ax_i.set_title(f"{ds}: information plane (markers: β grid)", fontsize=9)
    ax_f.set_xlabel("FGSM ε (standardised inputs)")
    ax_f.set_ylabel("test RMSE")
    ax_f.set_title(f"{ds}: robustness (mean ± SE)", fontsize=9)
    for ax in (ax_r, ax_i, ax_f):
      ax.legend(fontsize=7)
  fig.suptitle("CS-IB vs VIB vs MSE regression (Yu et al. 2024, arXiv:2404.17951)", fontsize=11)
  return fig
