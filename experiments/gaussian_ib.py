r"""The exactly solvable Gaussian information bottleneck, and trained VIB / CS-IB encoders against it.

For jointly Gaussian (X, Y) and encoders :math:`T = AX + \xi`, :math:`\xi \sim \mathcal N(0, I)`, the IB
curve :math:`I(T;Y)` against :math:`I(T;X)` is known in closed form (Chechik et al. 2005,
:mod:`divjax.ib.gaussian_ib`): components of the optimal projection switch on at the critical
:math:`\beta_i^c = 1/(1-\lambda_i)`, and no encoder lies above the curve. This experiment

1. traces the curve for the canonical :math:`\Sigma_x = \Sigma_y = I_2`, :math:`\Sigma_{xy} =
   \operatorname{diag}(0.9, 0.5)` (λ = 0.19, 0.75; β^c = 1.2346, 4) and for a random
   :math:`n_x = 6, n_y = 4` problem, and checks that the optimal encoders constructed at each β sit on it
   (exact log-det mutual informations vs the closed form);
2. draws thousands of random linear-Gaussian encoders and checks that all lie on or below it;
3. trains linear-Gaussian encoders (flax + optax, fresh Gaussian minibatches each step, ``vmap`` over
   seeds × β by the harness) with the **VIB** loss (prior N(0, I), Gaussian decoder with learned
   variance; VIB weight 1/β) and with the **CS-IB** loss (conditional CS divergence + β_CS · CS-QMI),
   and evaluates each trained A exactly, recording its vertical distance to the curve;
   VIB's population optimum is computed exactly (:func:`vib_population_optimum`): the KL to a fixed
   N(0, I) prior penalises tr(AΣ_xAᵀ) instead of the log-det, so above the second critical β the VIB
   optimum lies strictly below the curve; the trained VIB encoders are compared with it;
4. checks the CS-QMI Gram estimator on (X, T) samples of the optimal encoders against its
   large-sample limit, the CS-QMI of the Gaussian smoothed by σ²/2 (derived in divjax, see
   docs/theory/information_bottleneck.md).

The recorded gap is the largest distance of a trained VIB encoder's exact information pair to the
population VIB optimum; distances of trained VIB and CS-IB encoders to the IB curve are recorded too.

References:
  Chechik, Globerson, Tishby & Weiss, *Information bottleneck for Gaussian variables*, JMLR 6, 2005.
  Alemi, Fischer, Dillon & Murphy, *Deep variational information bottleneck*, ICLR 2017,
  arXiv:1612.00410.
  Yu, Yu, Løkse, Jenssen & Príncipe, *Cauchy–Schwarz divergence information bottleneck for
  regression*, ICLR 2024, arXiv:2404.17951.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from divjax import ib, plotting
from experiments._harness import Timer, sweep

if typing.TYPE_CHECKING:
  import matplotlib.figure

NAME = "gaussian_ib"
DESCRIPTION = ("Exact Gaussian IB curve with critical β's; random encoders below it; trained VIB and "
               "CS-IB linear encoders near it")


@dataclasses.dataclass(frozen=True)
class Config:
  """Configuration of the gaussian_ib experiment.

  Attributes:
    random_nx, random_ny: dimensions of the random problem.
    problem_seed: seed of the random problem's joint covariance (fixed across run seeds).
    n_curve_betas: β values (log-spaced in (1, beta_max]) of the optimal-encoder sweep.
    beta_max: largest β of the sweep.
    n_random_encoders: random linear encoders per problem.
    vib_betas: Tishby β's of the trained VIB encoders (VIB weight on the KL is 1/β).
    cs_betas: weights β_CS of the CS-QMI term of the trained CS-IB encoders.
    n_seeds: training seeds per β.
    num_steps, batch_size, learning_rate: Adam training of the encoders (fresh samples per step).
    cs_batch_size: minibatch of the CS-IB loss (its Gram matrices are batch²).
    sigma_x, sigma_y, sigma_t: kernel widths of the CS-IB loss.
    qmi_betas: β's of the optimal encoders whose CS-QMI estimator is checked.
    qmi_samples, qmi_seeds, qmi_sigma: the CS-QMI check's sample size, repetitions, kernel width.
  """

  random_nx: int = 6
  random_ny: int = 4
  problem_seed: int = 0
  n_curve_betas: int = 60
  beta_max: float = 300.0
  n_random_encoders: int = 3000
  vib_betas: tuple[float, ...] = (2.0, 5.0, 20.0)
  cs_betas: tuple[float, ...] = (0.02, 0.1, 0.5)
  n_seeds: int = 2
  num_steps: int = 1500
  batch_size: int = 256
  learning_rate: float = 1e-2
  cs_batch_size: int = 128
  sigma_x: float = 1.0
  sigma_y: float = 1.0
  sigma_t: float = 1.0
  qmi_betas: tuple[float, ...] = (2.0, 10.0)
  qmi_samples: int = 1000
  qmi_seeds: int = 10
  qmi_sigma: float = 2.0

  @classmethod
  def quick(cls) -> "Config":
    """About 30 s on an idle 2-core CPU."""
    return cls()

  @classmethod
  def paper(cls) -> "Config":
    """More β's, seeds and steps; the CS-QMI check at N = 2000 with 20 repetitions."""
    return cls(n_curve_betas=200, n_random_encoders=20000,
               vib_betas=(1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0), cs_betas=(0.01, 0.03, 0.1, 0.3, 1.0),
               n_seeds=5, num_steps=5000, cs_batch_size=256, qmi_betas=(2.0, 5.0, 10.0, 50.0),
               qmi_samples=2000, qmi_seeds=20)


# ---------------------------------------------------------------------------------------------------
# Problems.


def canonical_problem() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Σ_x = Σ_y = I₂, Σ_xy = diag(0.9, 0.5)."""
  return np.eye(2), np.diag([0.9, 0.5]), np.eye(2)


def random_problem(nx: int, ny: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """A random joint covariance (Wishart-like plus a ridge), split into Σ_x, Σ_xy, Σ_y."""
  rng = np.random.default_rng(seed)
  m = rng.normal(size=(nx + ny, nx + ny))
  joint = m @ m.T / (nx + ny) + 0.1 * np.eye(nx + ny)
  return joint[:nx, :nx], joint[:nx, nx:], joint[nx:, nx:]


# ---------------------------------------------------------------------------------------------------
# Trained encoders (flax + optax).


class LinearGaussianEncoder(nn.Module):
  """T = A X + ξ, ξ ~ N(0, I): the mean A x (no bias; log-variance fixed at 0)."""
  n_t: int

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    return nn.Dense(self.n_t, use_bias=False, name="A")(x)


class GaussianDecoder(nn.Module):
  """q(y | t) = N(W t + b, diag exp(log_var)); returns (mean, log_var)."""
  n_y: int

  @nn.compact
  def __call__(self, t: jax.Array) -> tuple[jax.Array, jax.Array]:
    log_var = self.param("log_var", nn.initializers.zeros, (self.n_y,))
    return nn.Dense(self.n_y, name="W")(t), log_var


def _sampler(cov_x, cov_xy, cov_y):
  joint = np.block([[cov_x, cov_xy], [cov_xy.T, cov_y]])
  chol = jnp.asarray(np.linalg.cholesky(joint), jnp.float32)
  nx = cov_x.shape[0]

  def sample(key, n):
    z = jax.random.normal(key, (n, chol.shape[0])) @ chol.T
    return z[:, :nx], z[:, nx:]

  return sample


def _train(loss_kind: str, config: Config, problem, key: jax.Array, beta: jax.Array) -> jax.Array:
  """Trains one linear-Gaussian encoder; returns its A, shape [n_x, n_x]."""
  cov_x, cov_xy, cov_y = problem
  nx, ny = cov_x.shape[0], cov_y.shape[0]
  sample = _sampler(cov_x, cov_xy, cov_y)
  enc, dec = LinearGaussianEncoder(nx), GaussianDecoder(ny)
  k_enc, k_dec, k_run = jax.random.split(key, 3)
  params = {"enc": enc.init(k_enc, jnp.zeros((1, nx))), "dec": dec.init(k_dec, jnp.zeros((1, nx)))}
  opt = optax.adam(optax.cosine_decay_schedule(config.learning_rate, config.num_steps, alpha=0.05))

  def vib(p, k):
    k_data, k_noise = jax.random.split(k)
    x, y = sample(k_data, config.batch_size)
    mean = enc.apply(p["enc"], x)

    def nll(t):
      mu, log_var = dec.apply(p["dec"], t)
      return 0.5 * jnp.sum((y - mu)**2 * jnp.exp(-log_var) + log_var + math.log(2 * math.pi), -1)

    return ib.vib_loss(k_noise, mean, jnp.zeros_like(mean), nll, beta=1.0 / beta)[0]

  def csib(p, k):
    k_data, k_noise = jax.random.split(k)
    x, y = sample(k_data, config.cs_batch_size)
    t = enc.apply(p["enc"], x) + jax.random.normal(k_noise, (config.cs_batch_size, nx))
    y_pred, _ = dec.apply(p["dec"], t)
    return ib.cs_ib_loss(x, y, y_pred, t, beta=beta, sigma_x=config.sigma_x, sigma_y=config.sigma_y,
                         sigma_t=config.sigma_t)[0]

  loss_fn = vib if loss_kind == "vib" else csib

  def step(carry, k):
    p, s = carry
    g = jax.grad(loss_fn)(p, k)
    u, s = opt.update(g, s, p)
    return (optax.apply_updates(p, u), s), None

  (params, _), _ = jax.lax.scan(step, (params, opt.init(params)),
                                jax.random.split(k_run, config.num_steps))
  # flax Dense computes x @ kernel, so A = kernelᵀ.
  return params["enc"]["params"]["A"]["kernel"].T


# ---------------------------------------------------------------------------------------------------
# Run.


def _curve_rows(case: str, spectrum: ib.GaussianIBSpectrum, config: Config) -> list[dict[str, Any]]:
  bc = np.asarray(ib.critical_betas(spectrum))
  lo = float(bc[0])
  betas = np.unique(np.concatenate([
      lo * np.geomspace(1.0 + 1e-3, config.beta_max / lo, config.n_curve_betas),
      bc[np.isfinite(bc)] * (1 + 1e-9)]))
  rows = []
  point = jax.jit(jax.vmap(lambda b: ib.ib_point(spectrum, beta=b)))
  encoded = jax.jit(jax.vmap(lambda b: ib.linear_encoder_information(
      spectrum, ib.optimal_encoder(spectrum, beta=b))))
  ix, iy = (np.asarray(v) for v in point(jnp.asarray(betas)))
  ex, ey = (np.asarray(v) for v in encoded(jnp.asarray(betas)))
  curve = np.asarray(ib.ib_curve(spectrum, jnp.asarray(ex)))
  for b, a, c, d, e, f in zip(betas, ix, iy, ex, ey, curve):
    rows.append({"case": case, "beta": float(b), "i_tx_closed_form": float(a),
                 "i_ty_closed_form": float(c), "i_tx_encoder": float(d), "i_ty_encoder": float(e),
                 "i_ty_curve": float(f)})
  return rows


def _random_encoders(spectrum: ib.GaussianIBSpectrum, n: int, key: jax.Array):
  nx = spectrum.cov_x.shape[0]
  k_a, k_s, k_r = jax.random.split(key, 3)
  a = jax.random.normal(k_a, (n, nx, nx), dtype=spectrum.cov_x.dtype)
  scale = jnp.exp(jax.random.uniform(k_s, (n, 1, 1), minval=-3.0, maxval=2.5, dtype=a.dtype))
  rank = jax.random.randint(k_r, (n,), 1, nx + 1)
  keep = (jnp.arange(nx)[None, :] < rank[:, None])[..., None]
  a = jnp.where(keep, a * scale, 0.0)
  ix, iy = jax.jit(jax.vmap(lambda m: ib.linear_encoder_information(spectrum, m)))(a)
  return np.asarray(ix), np.asarray(iy), np.asarray(ib.ib_curve(spectrum, ix))


def _qmi_rows(spectrum: ib.GaussianIBSpectrum, config: Config, key: jax.Array) -> list[dict[str, Any]]:
  """CS-QMI estimator on (X, T) samples of optimal encoders vs its smoothed closed form."""
  cov_x = np.asarray(spectrum.cov_x)
  nx = cov_x.shape[0]
  rows = []
  for j, beta in enumerate(config.qmi_betas):
    a = np.asarray(ib.optimal_encoder(spectrum, beta=beta))
    joint = np.block([[cov_x, cov_x @ a.T], [a @ cov_x, a @ cov_x @ a.T + np.eye(nx)]])
    chol = jnp.asarray(np.linalg.cholesky(joint), jnp.float32)
    s = config.qmi_sigma

    def one(k):
      z = jax.random.normal(k, (config.qmi_samples, 2 * nx)) @ chol.T
      return ib.cs_qmi(z[:, :nx], z[:, nx:], sigma_x=s, sigma_t=s)

    keys = jax.random.split(jax.random.fold_in(key, j), config.qmi_seeds)
    values = np.asarray(jax.lax.map(jax.jit(one), keys), np.float64)
    limit = float(ib.gaussian_cs_qmi(joint, dim_x=nx, kernel_widths=(s, s)))
    unsmoothed = float(ib.gaussian_cs_qmi(joint, dim_x=nx))
    i_tx, _ = ib.linear_encoder_information(spectrum, a)
    rows.append({"beta": float(beta), "i_tx": float(i_tx), "estimate_mean": float(values.mean()),
                 "estimate_se": float(values.std(ddof=1) / math.sqrt(len(values))),
                 "smoothed_closed_form": limit, "unsmoothed_closed_form": unsmoothed,
                 "shannon_i_tx": float(i_tx)})
  return rows


def vib_population_optimum(spectrum: ib.GaussianIBSpectrum, beta: float, *, n_starts: int = 4,
                           seed: int = 0) -> tuple[float, float]:
  r"""Exact (I(T;X), I(T;Y)) of the minimiser of the *population* VIB objective (float64).

  With p(t|x) = N(Ax, I), prior N(0, I) and the optimal (Gaussian) decoder, the VIB loss is
  :math:`H(Y) - I(T;Y) + \tfrac1\beta\,\mathbb E_x\mathrm{KL}(\mathcal N(Ax,I)\|\mathcal N(0,I))
  = \text{const} - I(T;Y) + \tfrac1{2\beta}\operatorname{tr}(A\Sigma_xA^\top)`. The trace replaces the
  log-det of the IB Lagrangian, so for β above the second critical value the optimum allocates the
  components differently and sits below the IB curve. Minimised by L-BFGS from several starts.
  """
  from scipy import optimize
  nx = spectrum.cov_x.shape[0]

  def objective(a_flat):
    a = a_flat.reshape(nx, nx)
    _, i_ty = ib.linear_encoder_information(spectrum, a)
    return -i_ty + 0.5 / beta * jnp.trace(a @ spectrum.cov_x @ a.T)

  value_and_grad = jax.jit(jax.value_and_grad(objective))
  rng = np.random.default_rng(seed)
  best = None
  for _ in range(n_starts):
    res = optimize.minimize(lambda v: tuple(np.asarray(o, np.float64) for o in value_and_grad(v)),
                            rng.normal(size=nx * nx), jac=True, method="L-BFGS-B",
                            options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 5000})
    if best is None or res.fun < best.fun:
      best = res
  ix, iy = ib.linear_encoder_information(spectrum, best.x.reshape(nx, nx))
  return float(ix), float(iy)


def run(config: Config, *, seed: int = 0) -> dict[str, Any]:
  """Curves, random encoders, trained encoders and the CS-QMI check; returns the results dict."""
  timer = Timer()
  key = jax.random.key(seed)
  k_rand, k_train, k_qmi = jax.random.split(key, 3)
  cases = {"canonical": canonical_problem(),
           f"random {config.random_nx}x{config.random_ny}":
               random_problem(config.random_nx, config.random_ny, config.problem_seed)}
  curve_rows, random_rows, spectra_summary = [], [], {}
  worst_closed_form, min_random_gap = 0.0, math.inf
  with jax.enable_x64(True):
    spectra = {c: ib.gaussian_ib_spectrum(*p) for c, p in cases.items()}
    for i, (case, s) in enumerate(spectra.items()):
      rows = _curve_rows(case, s, config)
      curve_rows += rows
      worst_closed_form = max(worst_closed_form, max(
          max(abs(r["i_tx_closed_form"] - r["i_tx_encoder"]), abs(r["i_ty_closed_form"] - r["i_ty_encoder"]),
              abs(r["i_ty_curve"] - r["i_ty_encoder"])) for r in rows))
      ix, iy, cy = _random_encoders(s, config.n_random_encoders, jax.random.fold_in(k_rand, i))
      min_random_gap = min(min_random_gap, float((cy - iy).min()))
      step = max(1, len(ix) // 1500)  # keep the stored table small
      random_rows += [{"case": case, "i_tx": float(a), "i_ty": float(b), "gap_to_curve": float(c - b)}
                      for a, b, c in zip(ix[::step], iy[::step], cy[::step])]
      bc = np.asarray(ib.critical_betas(s))
      spectra_summary[case] = {
          "eigenvalues": np.asarray(s.eigenvalues).tolist(),
          "critical_betas": [float(b) if np.isfinite(b) else None for b in bc],
          "critical_points": [
              dict(zip(("i_tx", "i_ty"), (float(v) for v in ib.ib_point(s, beta=float(b) * (1 + 1e-12)))))
              for b in bc if np.isfinite(b)],
          "i_xy": float(-0.5 * np.log(np.asarray(s.eigenvalues)).sum()),
      }
    canonical = spectra["canonical"]
    qmi_rows = _qmi_rows(canonical, config, k_qmi)

  # Trained encoders on the canonical problem (float32), seeds × β swept by the harness.
  problem = tuple(np.asarray(m, np.float64) for m in cases["canonical"])
  trained_rows, vib_optima = [], {}
  for kind, betas in (("vib", config.vib_betas), ("cs_ib", config.cs_betas)):
    grid_b = np.repeat(np.asarray(betas, np.float32), config.n_seeds)
    keys = jax.random.split(jax.random.fold_in(k_train, 0 if kind == "vib" else 1), len(grid_b))
    fn = _TRAINERS[kind]
    a_all = np.asarray(sweep(fn, keys, jnp.asarray(grid_b), shared=(_ConfigArrays.of(config, problem),),
                             timer=timer), np.float64)
    with jax.enable_x64(True):
      for j, (b, a) in enumerate(zip(grid_b, a_all)):
        ix, iy = ib.linear_encoder_information(canonical, a)
        curve = float(ib.ib_curve(canonical, ix))
        row = {"method": kind, "beta": float(b), "seed": j % config.n_seeds, "i_tx": float(ix),
               "i_ty": float(iy), "i_ty_curve": curve, "gap_to_curve": curve - float(iy)}
        if kind == "vib":
          if float(b) not in vib_optima:
            vib_optima[float(b)] = vib_population_optimum(canonical, float(b))
          ox, oy = vib_optima[float(b)]
          row.update(vib_optimum_i_tx=ox, vib_optimum_i_ty=oy,
                     distance_to_vib_optimum=math.hypot(float(ix) - ox, float(iy) - oy))
        trained_rows.append(row)

  vib_gaps = [r["gap_to_curve"] for r in trained_rows if r["method"] == "vib"]
  cs_gaps = [r["gap_to_curve"] for r in trained_rows if r["method"] == "cs_ib"]
  qmi_z = [abs(r["estimate_mean"] - r["smoothed_closed_form"]) / max(r["estimate_se"], 1e-12)
           for r in qmi_rows]
  canon = spectra_summary["canonical"]
  all_trained = [r["gap_to_curve"] for r in trained_rows]
  gap_tol = 0.02
  vib_distance = max(r["distance_to_vib_optimum"] for r in trained_rows if r["method"] == "vib")
  with jax.enable_x64(True):
    optimum_gaps = {b: float(ib.ib_curve(canonical, o[0])) - o[1] for b, o in vib_optima.items()}
  beta2 = canon["critical_betas"][1]
  checks = {
      "canonical_critical_betas_are_1.2346_and_4":
          abs(canon["critical_betas"][0] - 1 / 0.81) < 1e-9 and abs(canon["critical_betas"][1] - 4) < 1e-9,
      "canonical_i_xy_is_0.974207": abs(canon["i_xy"] - 0.974207) < 1e-6,
      "optimal_encoders_lie_on_the_closed_form_curve": worst_closed_form < 1e-8,
      "random_encoders_lie_on_or_below_the_curve": min_random_gap > -1e-9,
      "trained_encoders_lie_on_or_below_the_curve": min(all_trained) > -1e-9,
      "trained_vib_encoders_reach_the_population_vib_optimum": vib_distance < gap_tol,
      "vib_optimum_is_on_the_curve_below_the_second_critical_beta":
          all(abs(g) < 1e-6 for b, g in optimum_gaps.items() if b < beta2),
      "cs_qmi_estimator_matches_the_smoothed_limit_within_4_se": max(qmi_z) < 4.0,
  }
  summary = {
      "spectra": spectra_summary,
      "max_closed_form_vs_encoder_error": worst_closed_form,
      "min_random_encoder_gap": min_random_gap,
      "n_random_encoders_per_case": config.n_random_encoders,
      "max_vib_gap_to_curve": max(vib_gaps),
      "max_vib_distance_to_population_optimum": vib_distance,
      "vib_population_optima": [{"beta": b, "i_tx": o[0], "i_ty": o[1], "gap_to_curve": optimum_gaps[b]}
                                for b, o in vib_optima.items()],
      "max_cs_ib_gap_to_curve": max(cs_gaps),
      "trained": [{k: r[k] for k in ("method", "beta", "seed", "i_tx", "i_ty", "gap_to_curve")}
                  for r in trained_rows],
      "cs_qmi_check": qmi_rows,
      "cs_qmi_max_abs_z": max(qmi_z),
  }
  return {
      "tables": {"curves": curve_rows, "random_encoders": random_rows, "trained": trained_rows,
                 "cs_qmi": qmi_rows},
      "summary": summary,
      "gap": {"metric": "max distance of a trained VIB encoder's exact (I(T;X), I(T;Y)) to the "
                        "population VIB optimum (nats)",
              "value": vib_distance, "tolerance": gap_tol},
      "checks": {k: bool(v) for k, v in checks.items()},
      "timings": timer.as_dict(),
  }


@jax.tree_util.register_pytree_node_class
@dataclasses.dataclass(frozen=True)
class _ConfigArrays:
  """The config and problem passed to the swept trainer as a static (hashable) pytree."""
  config: Config
  problem: tuple

  @classmethod
  def of(cls, config: Config, problem) -> "_ConfigArrays":
    return cls(config, tuple(tuple(map(tuple, m.tolist())) for m in problem))

  def tree_flatten(self):
    return (), (self.config, self.problem)

  @classmethod
  def tree_unflatten(cls, aux, _):
    return cls(*aux)

  def arrays(self):
    return tuple(np.asarray(m, np.float64) for m in self.problem)


def _train_vib(static: _ConfigArrays, key, beta):
  return _train("vib", static.config, static.arrays(), key, beta)


def _train_cs(static: _ConfigArrays, key, beta):
  return _train("cs_ib", static.config, static.arrays(), key, beta)


_TRAINERS = {"vib": _train_vib, "cs_ib": _train_cs}


# ---------------------------------------------------------------------------------------------------
# Figure.


def plot(results: dict[str, Any]) -> "matplotlib.figure.Figure":
  """(a) canonical curve, random and trained encoders; (b) the random problem; (c) the CS-QMI check."""
  t = results["tables"]
  s = results["summary"]
  fig, axes = plotting.new_figure(1, 3, width=4.4, height=3.6)
  cases = list(s["spectra"])
  for ax, case in zip(axes[0, :2], cases):
    rnd = [r for r in t["random_encoders"] if r["case"] == case]
    ax.scatter([r["i_tx"] for r in rnd], [r["i_ty"] for r in rnd], s=3, color="0.75",
               label="random linear encoders", zorder=1, rasterized=True)
    cur = sorted((r for r in t["curves"] if r["case"] == case), key=lambda r: r["i_tx_encoder"])
    xmax = max(r["i_tx_encoder"] for r in cur)
    plotting.plot_theory(ax, [0.0] + [r["i_tx_closed_form"] for r in cur],
                         [0.0] + [r["i_ty_closed_form"] for r in cur], label="IB curve (closed form)")
    every = max(1, len(cur) // 15)
    plotting.plot_measurement(ax, [r["i_tx_encoder"] for r in cur][::every],
                              [r["i_ty_encoder"] for r in cur][::every], color=plotting.COLORS[0],
                              label="optimal encoder A(β), log-det MI", linestyle="none", filled=False)
    ax.axhline(s["spectra"][case]["i_xy"], color="0.4", linestyle=":", linewidth=1,
               label="I(X;Y)")
    for k, p in enumerate(s["spectra"][case]["critical_points"]):
      b = s["spectra"][case]["critical_betas"][k]
      ax.plot([p["i_tx"]], [p["i_ty"]], marker="D", color="black", markersize=5, linestyle="none",
              label="critical β" if k == 0 else None, zorder=5)
      ax.annotate(f"β={b:.3g}", (p["i_tx"], p["i_ty"]), textcoords="offset points", xytext=(6, -12),
                  fontsize=7)
    if case == "canonical":
      for m, (method, label) in enumerate((("vib", "trained VIB"), ("cs_ib", "trained CS-IB"))):
        tr = [r for r in t["trained"] if r["method"] == method]
        ax.plot([r["i_tx"] for r in tr], [r["i_ty"] for r in tr], linestyle="none",
                marker="o" if method == "vib" else "s", color=plotting.COLORS[1 + m], markersize=6,
                label=label, zorder=6)
      opt = s["vib_population_optima"]
      ax.plot([o["i_tx"] for o in opt], [o["i_ty"] for o in opt], linestyle="none", marker="+",
              markersize=11, color=plotting.COLORS[1], label="population VIB optimum (theory)",
              zorder=7)
      g = results["gap"]
      plotting.annotate_gap(ax, f"trained VIB to its optimum: {g['value']:.1e}\n"
                                f"trained VIB to curve: max {s['max_vib_gap_to_curve']:.1e}\n"
                                f"trained CS-IB: max gap {s['max_cs_ib_gap_to_curve']:.1e}\n"
                                f"random: min gap {s['min_random_encoder_gap']:.1e}",
                            loc="upper left")
    ax.set_xlim(0, min(xmax, 3.2 if case == "canonical" else 6.0))
    ax.set_xlabel("I(T;X) [nats]")
    ax.set_ylabel("I(T;Y) [nats]")
    ax.set_title(f"({'ab'[cases.index(case)]}) {case}" + (": Σxy = diag(0.9, 0.5)" if case == "canonical" else ""),
                 fontsize=9)
    ax.legend(fontsize=6.5, loc="lower right", framealpha=0.95)
    if case == "canonical":
      ax.set_ylim(0, 1.25)  # head-room for the gap note
  ax = axes[0, 2]
  q = t["cs_qmi"]
  xs = [r["beta"] for r in q]
  plotting.plot_theory(ax, xs, [r["smoothed_closed_form"] for r in q],
                       label="CS-QMI of the σ²/2-smoothed Gaussian", marker="_")
  ax.plot(xs, [r["unsmoothed_closed_form"] for r in q], ":", color="0.5", marker="_",
          label="CS-QMI, unsmoothed")
  ax.plot(xs, [r["shannon_i_tx"] for r in q], ":", color=plotting.COLORS[2], marker="_",
          label="Shannon I(X;T)")
  plotting.plot_measurement(ax, xs, [r["estimate_mean"] for r in q],
                            yerr=[2 * r["estimate_se"] for r in q], color=plotting.COLORS[0],
                            label="Gram estimator (±2 SE)", linestyle="none")
  ax.set_xscale("log")
  ax.set_yscale("log")
  ax.set_xlabel("β of the optimal encoder")
  ax.set_ylabel("I(X;T) [nats]")
  ax.set_title("(c) CS-QMI estimator on (X, T) samples", fontsize=9)
  ax.legend(fontsize=7)
  fig.suptitle("Gaussian information bottleneck (Chechik et al. 2005): exact curve vs encoders",
               fontsize=11)
  return fig
