r"""Layerwise generalisation bounds on a linear-Gaussian network, and how noisy layers contract.

Reconstruction of He, Yu & Goldfeld (arXiv:2404.03176): only the abstracts were available, so the bounds
are derived in divjax (docs/theory/layerwise_bounds.md), on a closed-form instance: Y = ±1,
X | Y ~ N(Yμ, s²I_6), fixed hidden layers 6 → 5 → 3 → 4 (rank r = 3), last layer learned as
w = A μ̂ from n samples, prediction ŷ = wᵀT₃. Everything is exact or Rao–Blackwellised Monte Carlo
(:mod:`divjax.ib.layerwise`):

* **KL per layer** — :math:`\mathrm{KL}_l = -\tfrac r2\log(1-1/n)` at every hidden layer (checked
  against the log pseudo-determinant MI), smaller at the output by data processing (Monte Carlo), and
  strictly decreasing with depth once Gaussian noise is injected at every layer.
* **Bounds vs the exact gap** — for the absolute loss: the KL bound √(2σ̄²KL_l) and the W₁ bound
  E_w[‖B_lᵀw‖·W₁(T_l^{(i)}|w, T_l)] at every layer l, against the Rao–Blackwellised gap, across n;
  the squared-loss gap in closed form against direct simulation. The W₁ bound with the cruder
  downstream operator-norm product ∏‖W_k‖·‖w‖ is non-increasing in l (W₁ contracts by a layer's
  operator norm), so in this instance the "funnel" is the layer where the direction-aware bound is
  smallest, recorded but not forced.
* **Gibbs** — on a 3-weight binary network (8 hypotheses, 0-1 loss), the exact gap over all dataset
  types equals I_SKL(W;S)/γ (Aminian et al.), matches Monte Carlo, and stays below 2σ²γ/n.
* **Contraction** — Dropout 1 − p^d and DropConnect 1 − p^{d_in d_out} against the Dobrushin
  coefficient of the exactly enumerated channels and a numerically maximised KL ratio; Gaussian noise
  2Φ(R√d/s) − 1 against Monte-Carlo TV; chains of k layers (exact composite channels, 1-D quadrature
  for a tanh + noise chain) against the product of per-layer coefficients: deeper and narrower
  contracts more.

References:
  He, Yu & Goldfeld, *Information-theoretic generalization bounds for deep neural networks*,
  arXiv:2404.03176 (2024).
  Polyanskiy & Wu, *Strong data-processing inequalities for channels and Bayesian networks*,
  arXiv:1508.06025.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import typing
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from divjax import plotting
from divjax.ib import layerwise as lw
from experiments._harness import Timer, sweep

if typing.TYPE_CHECKING:
  import matplotlib.figure

NAME = "layerwise_bounds"
DESCRIPTION = ("Layerwise KL/W1 generalisation bounds on a linear-Gaussian net vs the exact gap; "
               "contraction of Dropout/DropConnect/Gaussian noise vs width and depth")


@dataclasses.dataclass(frozen=True)
class Config:
  """Configuration of the layerwise_bounds experiment.

  Attributes:
    dim: input dimension d.
    widths: hidden widths d_1, …, d_{L-1} (weights i.i.d. N(0, 1/d_{l-1})).
    input_scale: s, the class-conditional standard deviation.
    signal: ‖A μ‖, the size of the clean prediction μᵀMμ = signal² (μ's direction is random).
    n: training-set size of the per-layer panel.
    n_values: training-set sizes of the bound-vs-n sweep.
    noise_levels: σ of the noisy-layer KL curves (the same σ at every hidden layer).
    bound_samples: Monte-Carlo samples per expectation in the bounds and the gap.
    output_kl_samples: mixture components per law for the output-layer KL.
    output_kl_grid: grid points for the output-layer KL.
    sim_reps: direct-simulation replications of the squared-loss gap per n.
    rate: drop probability p of Dropout / DropConnect.
    dropout_widths: widths enumerated exactly (Dobrushin and optimised KL ratio).
    dropconnect_widths: square DropConnect layers d × d enumerated exactly.
    noise_bound: R, the activation bound for Gaussian noise injection.
    noise_scale: s of the injected noise.
    noise_widths: widths whose Gaussian TV is measured by Monte Carlo.
    tv_samples: Monte-Carlo samples per Gaussian TV.
    depths: chain depths k.
    chain_gain: gain g of the 1-D chain T_k = tanh(g T_{k-1}) + s ξ.
    chain_grid: quadrature points of the 1-D chain.
    gibbs_n_values: training-set sizes of the Gibbs panel (exact sums over dataset types).
    gibbs_gammas: inverse temperatures γ of the Gibbs posterior.
    gibbs_label_noise: label-flip probability of the tiny teacher.
    gibbs_mc_reps: Monte-Carlo (dataset, W) draws per (n, γ).
    kl_widths: dropout widths whose KL contraction is also maximised numerically (one compile each).
    kl_restarts: random starts of the KL-ratio maximisation.
    kl_steps: Adam steps of the KL-ratio maximisation.
  """

  dim: int = 6
  widths: tuple[int, ...] = (5, 3, 4)
  input_scale: float = 1.3
  signal: float = 0.3
  n: int = 20
  n_values: tuple[int, ...] = (5, 10, 20, 50, 100, 200)
  noise_levels: tuple[float, ...] = (0.25, 0.5, 1.0)
  bound_samples: int = 8192
  output_kl_samples: int = 2048
  output_kl_grid: int = 1201
  sim_reps: int = 20_000
  rate: float = 0.5
  dropout_widths: tuple[int, ...] = (1, 2, 3)
  dropconnect_widths: tuple[int, ...] = (1, 2)
  noise_bound: float = 1.0
  noise_scale: float = 2.0
  noise_widths: tuple[int, ...] = (1, 2, 4, 8, 16)
  tv_samples: int = 200_000
  depths: tuple[int, ...] = (1, 2, 3, 4, 5, 6)
  chain_gain: float = 2.0
  chain_grid: int = 1601
  gibbs_n_values: tuple[int, ...] = (1, 2, 4, 6, 10)
  gibbs_gammas: tuple[float, ...] = (1.0, 4.0, 16.0)
  gibbs_label_noise: float = 0.1
  gibbs_mc_reps: int = 20_000
  kl_widths: tuple[int, ...] = (1, 2)
  kl_restarts: int = 4
  kl_steps: int = 200

  @classmethod
  def quick(cls) -> "Config":
    """About 30 s on an idle 2-core CPU."""
    return cls()

  @classmethod
  def paper(cls) -> "Config":
    """More Monte Carlo, larger enumerations and n up to 1000."""
    return cls(n_values=(5, 10, 20, 50, 100, 200, 500, 1000), bound_samples=65536,
               output_kl_samples=8192, output_kl_grid=4001, sim_reps=200_000,
               dropout_widths=(1, 2, 3, 4), dropconnect_widths=(1, 2), tv_samples=2_000_000,
               depths=tuple(range(1, 11)), chain_grid=4001, gibbs_n_values=(1, 2, 3, 4, 6, 8, 10, 12),
               gibbs_mc_reps=200_000, kl_widths=(1, 2, 3, 4), kl_restarts=16,
               kl_steps=600)


# ---------------------------------------------------------------------------------------------------
# The instance and the exact channels.


def make_instance(config: Config, seed: int) -> tuple[list[np.ndarray], np.ndarray]:
  """Weights W_l ~ N(0, 1/d_{l-1}) and μ scaled so that ‖Aμ‖ = ``config.signal``."""
  rng = np.random.default_rng(seed)
  weights, prev = [], config.dim
  for w in config.widths:
    weights.append(rng.standard_normal((w, prev)) / math.sqrt(prev))
    prev = w
  a = np.eye(config.dim)
  for w in weights:
    a = w @ a
  v = rng.standard_normal(config.dim)
  return weights, config.signal * v / np.linalg.norm(a @ v)


def pseudodet_mi(cov_u: np.ndarray, cov_v: np.ndarray, cov_joint: np.ndarray) -> float:
  """Gaussian MI from log pseudo-determinants (float64 NumPy oracle)."""
  def logpdet(c):
    ev = np.linalg.eigvalsh(c)
    return float(np.sum(np.log(ev[ev > 1e-9 * ev.max()])))
  return 0.5 * (logpdet(cov_u) + logpdet(cov_v) - logpdet(cov_joint))


def dropout_channel(width: int, rate: float, levels=(1.0, 2.0)) -> np.ndarray:
  """Exact transition matrix of x ↦ x ⊙ mask, x ∈ levels^width (mask entries dropped w.p. rate)."""
  return _enumerate(list(itertools.product(levels, repeat=width)), width, rate,
                    lambda x, mask: tuple(xi * mi for xi, mi in zip(x, mask)))


def dropconnect_channel(weights: np.ndarray, rate: float, levels=(1.0, 2.0)) -> np.ndarray:
  """Exact transition matrix of x ↦ (W ⊙ mask) x over all weight masks."""
  d_out, d_in = weights.shape
  return _enumerate(list(itertools.product(levels, repeat=d_in)), d_in * d_out, rate,
                    lambda x, mask: tuple(np.round((weights * np.reshape(mask, weights.shape))
                                                   @ np.asarray(x), 10)))


def _enumerate(inputs, num_mask, rate, apply) -> np.ndarray:
  outputs: dict[Any, int] = {}
  rows = []
  for x in inputs:
    row: dict[Any, float] = {}
    for mask in itertools.product((0, 1), repeat=num_mask):
      y = apply(x, mask)
      prob = float(np.prod([(1 - rate) if m else rate for m in mask]))
      row[y] = row.get(y, 0.0) + prob
      outputs.setdefault(y, len(outputs))
    rows.append(row)
  k = np.zeros((len(inputs), len(outputs)))
  for i, row in enumerate(rows):
    for y, prob in row.items():
      k[i, outputs[y]] = prob
  return k


def chain_tv(depth: int, *, bound: float, noise_scale: float, gain: float, grid: int) -> float:
  """TV after ``depth`` layers of T_k = tanh(g T_{k-1}) + sξ, started from φ = +R and −R (quadrature)."""
  half = bound + 8 * noise_scale
  t = np.linspace(-half, half, grid)
  h = t[1] - t[0]
  p = stats.norm.pdf(t, bound, noise_scale)
  q = stats.norm.pdf(t, -bound, noise_scale)
  kernel = stats.norm.pdf(t[:, None], bound * np.tanh(gain * t[None, :] / bound), noise_scale) * h
  for _ in range(depth - 1):
    p, q = kernel @ p, kernel @ q
  return float(0.5 * np.sum(np.abs(p - q)) * h)


def tiny_binary_network(label_noise: float) -> tuple[np.ndarray, np.ndarray]:
  """Loss table and data law of ŷ = sign(w₁x₁ + w₂x₂ + w₃), w ∈ {±1}³, x ∈ {±1}², 0-1 loss.

  Outcomes z = (x₁, x₂, y) (8 of them), x uniform, y = sign(x₁ + x₂ + 1) flipped w.p. ``label_noise``.
  """
  outcomes = list(itertools.product((-1, 1), (-1, 1), (-1, 1)))
  hypotheses = list(itertools.product((-1, 1), repeat=3))
  probs = np.array([0.25 * ((1 - label_noise) if y == np.sign(x1 + x2 + 1) else label_noise)
                    for x1, x2, y in outcomes])
  losses = np.array([[float(np.sign(w1 * x1 + w2 * x2 + w3) != y) for x1, x2, y in outcomes]
                     for w1, w2, w3 in hypotheses])
  return losses, probs


def gibbs_monte_carlo(losses, probs, gamma, n, reps, rng) -> tuple[float, float]:
  """Draw S ~ μⁿ and W ~ P_{W|S}; average L_μ(W) − L_S(W). Returns (mean, SE)."""
  idx = rng.choice(len(probs), size=(reps, n), p=probs)
  emp = losses[:, idx].mean(axis=2).T                      # [reps, W]
  logits = -gamma * emp
  post = np.exp(logits - logits.max(axis=1, keepdims=True))
  post /= post.sum(axis=1, keepdims=True)
  u = rng.random((reps, 1))
  w = np.minimum((np.cumsum(post, axis=1) < u).sum(axis=1), losses.shape[0] - 1)
  vals = (losses @ probs)[w] - emp[np.arange(reps), w]
  return float(vals.mean()), float(vals.std() / math.sqrt(reps))


# ---------------------------------------------------------------------------------------------------
# Run.


def _noisy_kl_at(weights, n, s, sigma):
  return lw.linear_gaussian_noisy_layer_kl(list(weights), jnp.full(len(weights), sigma), n=n,
                                           input_scale=s)


def run(config: Config, *, seed: int) -> dict[str, Any]:
  """Runs every panel; see the module docstring."""
  timer = Timer()
  key = jax.random.key(seed)
  k_bounds, k_out, k_kl = jax.random.split(key, 3)
  rng = np.random.default_rng(seed + 1)
  with jax.enable_x64(True):
    weights, mu = make_instance(config, seed)
    s, n0, L = config.input_scale, config.n, len(config.widths) + 1
    w_j = tuple(jnp.asarray(w) for w in weights)
    mu_j = jnp.asarray(mu)

    # --- KL per layer: closed form vs pseudo-determinant oracle, output layer, noisy layers.
    with timer.running():
      kl = np.asarray(lw.linear_gaussian_layer_kl(list(w_j), n=n0))
      rank = int(lw.network_rank(list(w_j)))
      kl_out = float(lw.linear_gaussian_output_kl(k_out, list(w_j), mu_j, n=n0, input_scale=s,
                                                  num_samples=config.output_kl_samples,
                                                  num_grid=config.output_kl_grid))
    maps = [np.eye(config.dim)]
    for w in weights:
      maps.append(w @ maps[-1])
    a = maps[-1]
    oracle = []
    for a_l in maps:
      cu, cv, cross = s**2 * a_l @ a_l.T, n0 * s**2 * a @ a.T, s**2 * a_l @ a.T
      oracle.append(pseudodet_mi(cu, cv, np.block([[cu, cross], [cross.T, cv]])))
    kl_oracle_err = float(np.max(np.abs(kl - np.asarray(oracle))))
    noisy = np.asarray(sweep(_noisy_kl_at, jnp.asarray(config.noise_levels),
                             shared=(w_j, jnp.float64(n0), jnp.float64(s)), timer=timer))
    kl_rows = [{"layer": l, "sigma": 0.0, "kl": float(kl[l]), "kl_oracle": oracle[l],
                "kind": "closed form"} for l in range(L)]
    kl_rows.append({"layer": L, "sigma": 0.0, "kl": kl_out, "kl_oracle": None,
                    "kind": "output, Monte Carlo"})
    for sigma, row in zip(config.noise_levels, noisy):
      kl_rows += [{"layer": l, "sigma": float(sigma), "kl": float(row[l]), "kl_oracle": None,
                   "kind": "noisy, closed form"} for l in range(L)]

    # --- Bounds vs the gap, across n.
    # (n is a traced argument of the jitted bounds, so the loop compiles once.)
    bounds = []
    for n in config.n_values:
      with timer.running():
        b = jax.tree_util.tree_map(np.asarray, lw.linear_gaussian_bounds(
            k_bounds, list(w_j), mu_j, n=n, input_scale=s, num_samples=config.bound_samples))
      bounds.append(b)
    layer_rows, n_rows = [], []
    for n, b in zip(config.n_values, bounds):
      sq_exact = float(lw.linear_gaussian_squared_loss_gap(list(w_j), mu_j, n=n, input_scale=s))
      sq_mc, sq_se = _simulate_squared_gap(weights, mu, n, s, config.sim_reps, rng)
      n_rows.append({"n": n, "gap_abs": float(b.gap), "gap_abs_se": float(b.gap_se),
                     "kl": float(b.kl[0]), "kl_bound": float(b.kl_bound[0]),
                     "w1_bound_last_hidden": float(b.w1_bound[L - 1]),
                     "w1_bound_best_hidden": float(np.min(b.w1_bound[:L])),
                     "w1_bound_output": float(b.w1_bound[L]),
                     "gap_sq_exact": sq_exact, "gap_sq_sim": sq_mc, "gap_sq_sim_se": sq_se})
      for l in range(L + 1):
        layer_rows.append({
            "n": n, "layer": l,
            "kl_bound": float(b.kl_bound[l]) if l < L else None,
            "w1_lower": float(b.w1_lower[l]) if l < L else None,
            "w1_upper": float(b.w1_upper[l]) if l < L else None,
            "w1_bound": float(b.w1_bound[l]), "w1_bound_se": float(b.bound_se[l]),
            "w1_bound_opnorm": float(b.w1_bound_opnorm[l]),
            "gap_abs": float(b.gap), "gap_abs_se": float(b.gap_se)})

    # --- Contraction coefficients vs width.
    p = config.rate
    eta_rows = []
    for d in config.dropout_widths:
      k = dropout_channel(d, p)
      with timer.running():
        tv = float(lw.tv_contraction_coefficient(k))
        kl_lb = float(lw.kl_contraction_lower_bound(jax.random.fold_in(k_kl, d), k,
                                                    num_restarts=config.kl_restarts,
                                                    num_steps=config.kl_steps)
                      ) if d in config.kl_widths else None
      eta_rows.append({"mechanism": "dropout", "width": d, "formula":
                       float(lw.dropout_contraction(d, rate=p)), "eta_tv_exact": tv,
                       "eta_kl_lower": kl_lb, "tv_mc": None, "tv_mc_se": None})
    for d in config.dropconnect_widths:
      wdc = rng.uniform(0.5, 1.5, (d, d)) * rng.choice([-1.0, 1.0], (d, d))
      k = dropconnect_channel(wdc, p)
      with timer.running():
        tv = float(lw.tv_contraction_coefficient(k))
      eta_rows.append({"mechanism": "dropconnect", "width": d, "formula":
                       float(lw.dropconnect_contraction(d, d, rate=p)), "eta_tv_exact": tv,
                       "eta_kl_lower": None, "tv_mc": None, "tv_mc_se": None})
    rb, rs = config.noise_bound, config.noise_scale
    for d in config.noise_widths:
      a_pt, b_pt = np.full(d, rb), np.full(d, -rb)
      x = a_pt + rs * rng.standard_normal((config.tv_samples, d))
      log_ratio = (np.sum((x - a_pt)**2, 1) - np.sum((x - b_pt)**2, 1)) / (2 * rs**2)
      vals = np.maximum(1.0 - np.exp(log_ratio), 0.0)
      eta_rows.append({"mechanism": "gaussian", "width": d, "formula":
                       float(lw.gaussian_noise_contraction(d, bound=rb, noise_scale=rs)),
                       "eta_tv_exact": None, "eta_kl_lower": None, "tv_mc": float(vals.mean()),
                       "tv_mc_se": float(vals.std() / math.sqrt(len(vals)))})

    # --- Contraction vs depth.
    depth_rows = []
    for d in (1, 2, 4):
      eta1 = float(lw.dropout_contraction(d, rate=p))
      product = np.asarray(lw.contracted_kl_bound(1.0, jnp.full(len(config.depths), eta1)))
      for j, k_ in enumerate(config.depths):
        # k dropout layers on the same units = one dropout at rate 1 − (1 − p)^k (exact).
        composite = float(lw.dropout_contraction(d, rate=1 - (1 - p)**k_))
        if d <= 2:
          composite_enum = float(lw.tv_contraction_coefficient(dropout_channel(d, 1 - (1 - p)**k_)))
        else:
          composite_enum = None
        depth_rows.append({"mechanism": "dropout", "width": d, "depth": k_,
                           "product_bound": float(product[j]), "measured": composite,
                           "measured_enumerated": composite_enum})
    eta_g = float(lw.gaussian_noise_contraction(1, bound=rb, noise_scale=rs / 2))
    product = np.asarray(lw.contracted_kl_bound(1.0, jnp.full(len(config.depths), eta_g)))
    for j, k_ in enumerate(config.depths):
      depth_rows.append({"mechanism": "gaussian", "width": 1, "depth": k_,
                         "product_bound": float(product[j]),
                         "measured": chain_tv(k_, bound=rb, noise_scale=rs / 2,
                                              gain=config.chain_gain, grid=config.chain_grid),
                         "measured_enumerated": None})

    # --- Gibbs algorithm on a tiny binary network.
    g_losses, g_probs = tiny_binary_network(config.gibbs_label_noise)
    gibbs_rows = []
    for gamma in config.gibbs_gammas:
      for n in config.gibbs_n_values:
        with timer.running():
          g = jax.tree_util.tree_map(float, lw.gibbs_generalization(g_losses, g_probs, gamma=gamma,
                                                                    n=n))
        mc, mc_se = gibbs_monte_carlo(g_losses, g_probs, gamma, n, config.gibbs_mc_reps, rng)
        gibbs_rows.append({"gamma": gamma, "n": n, "gen_exact": g.gen,
                           "isk_over_gamma": g.symmetrized_kl_information / gamma,
                           "mutual_information": g.mutual_information,
                           "bound_2sigma2_gamma_over_n": g.sub_gaussian_bound,
                           "gen_mc": mc, "gen_mc_se": mc_se})

  # --- Checks and summary.
  at_n0 = [r for r in layer_rows if r["n"] == n0]
  hidden_tight = [r["w1_bound"] for r in at_n0 if r["layer"] < L]
  hidden_op = [r["w1_bound_opnorm"] for r in at_n0 if r["layer"] < L]
  single = [r for r in eta_rows if r["mechanism"] in ("dropout", "dropconnect")]
  enum_err = max(abs(r["eta_tv_exact"] - r["formula"]) for r in single)
  kl_err = max(abs(r["eta_kl_lower"] - r["formula"]) for r in single if r["eta_kl_lower"] is not None)
  gauss = [r for r in eta_rows if r["mechanism"] == "gaussian"]
  z_gauss = max(abs(r["tv_mc"] - r["formula"]) / r["tv_mc_se"] for r in gauss)
  z_sq = max(abs(r["gap_sq_sim"] - r["gap_sq_exact"]) / r["gap_sq_sim_se"] for r in n_rows)
  bounds_hold = all(
      min(r["kl_bound"], min(lr["w1_bound"] for lr in layer_rows if lr["n"] == r["n"]))
      >= abs(r["gap_abs"]) - 3 * r["gap_abs_se"] for r in n_rows)
  noisy_ok = all(np.all(np.diff(row) <= 1e-12) and row[0] < kl[0] for row in noisy)
  drop_depth = [r for r in depth_rows if r["mechanism"] == "dropout"]
  deeper = all(np.all(np.diff([r["measured"] for r in drop_depth if r["width"] == d]) < 0)
               for d in (1, 2, 4))
  narrower = all(
      next(r["measured"] for r in drop_depth if r["width"] == 1 and r["depth"] == k_) <
      next(r["measured"] for r in drop_depth if r["width"] == 4 and r["depth"] == k_)
      for k_ in config.depths)
  gauss_depth = [r for r in depth_rows if r["mechanism"] == "gaussian"]
  composite_ok = all(r["measured"] <= r["product_bound"] + 1e-9 for r in depth_rows)
  enum_ok = all(r["measured_enumerated"] is None or abs(r["measured_enumerated"] - r["measured"]) < 1e-12
                for r in drop_depth)
  gibbs_identity = max(abs(r["gen_exact"] - r["isk_over_gamma"]) for r in gibbs_rows)
  gibbs_z = max(abs(r["gen_mc"] - r["gen_exact"]) / r["gen_mc_se"] for r in gibbs_rows)
  checks = {
      "gibbs_gen_equals_isk_over_gamma_1e-10": bool(gibbs_identity < 1e-10),
      "gibbs_gen_matches_monte_carlo_4se": bool(gibbs_z < 4),
      "gibbs_gen_below_2sigma2_gamma_over_n": bool(all(
          -1e-12 <= r["gen_exact"] <= r["bound_2sigma2_gamma_over_n"] for r in gibbs_rows)),
      "kl_rank_formula_equals_pseudodeterminant_mi_1e-8": bool(kl_oracle_err < 1e-8),
      "output_kl_below_hidden_kl_dpi": bool(0 <= kl_out <= kl[-1]),
      "noisy_kl_non_increasing_in_depth_and_below_noiseless": bool(noisy_ok),
      "kl_and_w1_bounds_hold_for_every_n_and_layer": bool(bounds_hold),
      "opnorm_w1_bound_non_increasing_in_layer": bool(np.all(np.diff(
          [r["w1_bound_opnorm"] for r in at_n0]) <= 1e-9)),
      "squared_loss_gap_matches_simulation_4se": bool(z_sq < 4),
      "dropout_dropconnect_formula_equals_enumerated_dobrushin": bool(enum_err < 1e-12),
      "dropout_kl_contraction_optimised_matches_formula_2e-3": bool(kl_err < 2e-3),
      "gaussian_tv_formula_matches_monte_carlo_4se": bool(z_gauss < 4),
      "deeper_contracts_more": bool(deeper and np.all(np.diff([r["measured"] for r in gauss_depth]) < 0)),
      "narrower_contracts_more": bool(narrower and np.all(np.diff([r["formula"] for r in gauss]) > 0)),
      "composite_channels_below_product_bound": bool(composite_ok and enum_ok),
  }
  funnel_tight = int(np.argmin(hidden_tight))
  summary = {
      "rank": rank, "n": n0, "kl_hidden": float(kl[0]), "kl_output_mc": kl_out,
      "kl_rank_formula_max_abs_err": kl_oracle_err,
      "noisy_kl": {str(sig): [float(v) for v in row] for sig, row in zip(config.noise_levels, noisy)},
      "gap_abs_at_n": {"value": next(r["gap_abs"] for r in n_rows if r["n"] == n0),
                       "se": next(r["gap_abs_se"] for r in n_rows if r["n"] == n0)},
      "kl_bound_at_n": next(r["kl_bound"] for r in n_rows if r["n"] == n0),
      "w1_bound_per_layer_at_n": [r["w1_bound"] for r in at_n0],
      "w1_bound_opnorm_per_layer_at_n": [r["w1_bound_opnorm"] for r in at_n0],
      "funnel_layer_hidden_direction_aware": funnel_tight,
      "funnel_is_interior": bool(0 < funnel_tight < L - 1),
      "best_bound_layer_overall": int(np.argmin([r["w1_bound"] for r in at_n0])),
      "dropout_eta_kl_width2": next(r["eta_kl_lower"] for r in single
                                    if r["mechanism"] == "dropout" and r["width"] == 2),
      "max_abs_err_enumerated": enum_err, "max_abs_err_kl_optimised": kl_err,
      "gaussian_tv_max_z": z_gauss, "squared_gap_max_z": z_sq,
      "gibbs_max_abs_identity_err": gibbs_identity, "gibbs_mc_max_z": gibbs_z,
  }
  return {
      "tables": {"kl_per_layer": kl_rows, "bounds_per_layer": layer_rows, "bounds_vs_n": n_rows,
                 "contraction_width": eta_rows, "contraction_depth": depth_rows,
                 "gibbs": gibbs_rows},
      "summary": summary,
      "gap": {"metric": "max |η measured − η formula|, enumerated Dropout/DropConnect channels "
                        "(Dobrushin and optimised KL ratio)",
              "value": max(enum_err, kl_err), "tolerance": 2e-3},
      "checks": checks,
      "timings": timer.as_dict(),
  }


def _simulate_squared_gap(weights, mu, n, s, reps, rng) -> tuple[float, float]:
  """Direct simulation of the squared-loss gap (Y drawn, whole training sets), mean and SE."""
  d = len(mu)
  a = np.eye(d)
  for w in weights:
    a = w @ a
  m = a.T @ a
  out = []
  chunk = max(1, min(reps, 2_000_000 // max(n * d, 1)))
  done = 0
  while done < reps:
    r = min(chunk, reps - done)
    y = rng.choice([-1.0, 1.0], size=(r, n))
    x = y[..., None] * mu + s * rng.standard_normal((r, n, d))
    mu_hat = np.einsum("rj,rjd->rd", y, x) / n
    yt = rng.choice([-1.0, 1.0], size=r)
    xt = yt[:, None] * mu + s * rng.standard_normal((r, d))
    mm = mu_hat @ m
    out.append((np.einsum("rd,rd->r", mm, xt) - yt)**2 - (np.einsum("rd,rd->r", mm, x[:, 0]) - y[:, 0])**2)
    done += r
  vals = np.concatenate(out)
  return float(vals.mean()), float(vals.std() / math.sqrt(len(vals)))


# ---------------------------------------------------------------------------------------------------
# Figure.


def plot(results: dict[str, Any]) -> "matplotlib.figure.Figure":
  """(a) bounds per layer; (b) bounds vs n; (c) KL per layer; (d) squared gap; (e) η vs width; (f) η vs depth."""
  t = results["tables"]
  s = results["summary"]
  c = plotting.COLORS
  fig, axes = plotting.new_figure(2, 4, width=4.4, height=3.5)
  n0 = s["n"]

  # (a) bounds per layer at n0.
  ax = axes[0, 0]
  rows = sorted((r for r in t["bounds_per_layer"] if r["n"] == n0), key=lambda r: r["layer"])
  layers = [r["layer"] for r in rows]
  L = layers[-1]
  hidden = [r for r in rows if r["layer"] < L]
  plotting.plot_theory(ax, [r["layer"] for r in hidden], [r["kl_bound"] for r in hidden],
                       color=c[0], label="KL bound √(2σ̄²KL_l)")
  plotting.plot_measurement(ax, layers, [r["w1_bound"] for r in rows],
                            yerr=[2 * r["w1_bound_se"] for r in rows], color=c[1],
                            label="W₁ bound, ‖B_lᵀw‖ Lipschitz")
  plotting.plot_measurement(ax, layers, [r["w1_bound_opnorm"] for r in rows], color=c[2],
                            filled=False, label="W₁ bound, ∏‖W_k‖·‖w‖")
  gap = abs(rows[0]["gap_abs"])
  ax.axhline(gap, color="black", linewidth=1.2, label=f"|gen| (abs. loss) = {gap:.3f}")
  f = s["funnel_layer_hidden_direction_aware"]
  ax.plot([f], [rows[f]["w1_bound"]], "*", color=c[1], markersize=13, zorder=6,
          label=f"funnel (hidden min): layer {f}")
  ax.set_yscale("log")
  ax.set_xticks(layers, [str(x) if x < L else f"{x}\n(ŷ)" for x in layers])
  ax.set_xlabel("layer l")
  ax.set_ylabel("bound on |gen|")
  ax.set_title(f"(a) layerwise bounds, n = {n0}, rank r = {s['rank']}", fontsize=10)
  ax.legend(fontsize=6.5, frameon=False, loc="upper right")

  # (b) bounds vs n.
  ax = axes[0, 1]
  nr = sorted(t["bounds_vs_n"], key=lambda r: r["n"])
  ns = [r["n"] for r in nr]
  plotting.plot_theory(ax, ns, [r["kl_bound"] for r in nr], color=c[0], label="KL bound ∝ √(r/n)")
  plotting.plot_measurement(ax, ns, [r["w1_bound_best_hidden"] for r in nr], color=c[1],
                            label="W₁ bound, best hidden layer")
  plotting.plot_measurement(ax, ns, [r["w1_bound_output"] for r in nr], color=c[3], marker="s",
                            label="W₁ bound at ŷ (exact 1-D W₁)")
  plotting.plot_measurement(ax, ns, [abs(r["gap_abs"]) for r in nr],
                            yerr=[2 * r["gap_abs_se"] for r in nr], color="black", marker="D",
                            label="|gen|, abs. loss (RB Monte Carlo ± 2SE)")
  ax.set_xscale("log")
  ax.set_yscale("log")
  ax.set_xlabel("training-set size n")
  ax.set_ylabel("bound / gap")
  ax.set_title("(b) bounds vs the exact gap", fontsize=10)
  ax.legend(fontsize=6.5, frameon=False, loc="lower left")

  # (c) KL per layer.
  ax = axes[0, 2]
  kr = t["kl_per_layer"]
  base = sorted((r for r in kr if r["kind"] == "closed form"), key=lambda r: r["layer"])
  plotting.plot_theory(ax, [r["layer"] for r in base], [r["kl"] for r in base], color="black",
                       label="−(r/2)log(1−1/n), noiseless")
  ax.plot([r["layer"] for r in base], [r["kl_oracle"] for r in base], "x", color="black",
          markersize=8, label="pseudo-det MI (oracle)")
  out = next(r for r in kr if r["kind"] == "output, Monte Carlo")
  plotting.plot_measurement(ax, [base[-1]["layer"], out["layer"]], [base[-1]["kl"], out["kl"]],
                            color=c[1], marker="s", label="output ŷ, Monte Carlo (DPI)")
  for i, sig in enumerate(sorted({r["sigma"] for r in kr if r["kind"] == "noisy, closed form"})):
    rr = sorted((r for r in kr if r["kind"] == "noisy, closed form" and r["sigma"] == sig),
                key=lambda r: r["layer"])
    plotting.plot_theory(ax, [r["layer"] for r in rr], [r["kl"] for r in rr], color=c[2 + i],
                         label=f"noise σ = {sig:g} at every layer", marker="o", markersize=3)
  ax.set_xlabel("layer l")
  ax.set_ylabel("KL_l = I(T_l⁽ⁱ⁾; w | Y) (nats)")
  ax.set_title("(c) layer KL: flat without noise, decreasing with it", fontsize=10)
  ax.legend(fontsize=6.5, frameon=False, loc="lower left")
  ax.set_ylim(0, base[0]["kl"] * 1.15)

  # (d) squared-loss gap exact vs simulation.
  ax = axes[1, 0]
  plotting.plot_theory(ax, ns, [r["gap_sq_exact"] for r in nr], label="exact (Gaussian quadratic forms)")
  plotting.plot_measurement(ax, ns, [r["gap_sq_sim"] for r in nr],
                            yerr=[2 * r["gap_sq_sim_se"] for r in nr], color=c[0],
                            label="direct simulation ± 2SE")
  ax.axhline(0, color="0.6", linewidth=0.8)
  ax.set_xscale("log")
  ax.set_xlabel("training-set size n")
  ax.set_ylabel("gen = E test − E train (squared loss)")
  ax.set_title("(d) exact squared-loss gap vs simulation", fontsize=10)
  ax.legend(fontsize=7, frameon=False)
  plotting.annotate_gap(ax, f"max |z| = {s['squared_gap_max_z']:.2f}", loc="upper right")

  # (e) η vs width.
  ax = axes[1, 1]
  er = t["contraction_width"]
  cfg = results["metadata"]["config"]
  dd = np.arange(1, 17)
  p_rate, r_bound, n_scale = cfg["rate"], cfg["noise_bound"], cfg["noise_scale"]
  for mech, color, fn, label in (
      ("dropout", c[0], lambda d: 1 - p_rate**d, f"Dropout 1 − p^d (p = {p_rate:g})"),
      ("dropconnect", c[1], lambda d: 1 - p_rate**(d * d), "DropConnect d×d: 1 − p^(d²)")):
    plotting.plot_theory(ax, dd[:6], fn(dd[:6]), color=color, label=label)
    rr = [r for r in er if r["mechanism"] == mech]
    plotting.plot_measurement(ax, [r["width"] for r in rr], [r["eta_tv_exact"] for r in rr],
                              color=color, linestyle="none", label=f"{mech}: enumerated η_TV")
    kk = [r for r in rr if r["eta_kl_lower"] is not None]
    if kk:
      ax.plot([r["width"] for r in kk], [r["eta_kl_lower"] for r in kk], "+", color=color,
              markersize=11, label=f"{mech}: max KL ratio found")
  gr = [r for r in er if r["mechanism"] == "gaussian"]
  gw = np.linspace(1, 16, 100)
  ax.plot(gw, 2 * stats.norm.cdf(r_bound * np.sqrt(gw) / n_scale) - 1, "--", color=c[2],
          label=f"Gaussian 2Φ(R√d/s) − 1 (R={r_bound:g}, s={n_scale:g})")
  plotting.plot_measurement(ax, [r["width"] for r in gr], [r["tv_mc"] for r in gr],
                            yerr=[2 * r["tv_mc_se"] for r in gr], color=c[2], linestyle="none",
                            marker="s", label="Gaussian: Monte-Carlo TV")
  ax.set_xscale("log", base=2)
  ax.set_xlabel("width d")
  ax.set_ylabel("contraction coefficient η")
  ax.set_title("(e) narrower contracts more", fontsize=10)
  ax.legend(fontsize=6, frameon=False, loc="lower right")
  plotting.annotate_gap(ax, f"max |η − formula| = {results['gap']['value']:.1e}", loc="upper left")

  # (f) η vs depth.
  ax = axes[1, 2]
  dr = t["contraction_depth"]
  for i, (mech, width) in enumerate((("dropout", 1), ("dropout", 2), ("dropout", 4), ("gaussian", 1))):
    rr = sorted((r for r in dr if r["mechanism"] == mech and r["width"] == width),
                key=lambda r: r["depth"])
    ks = [r["depth"] for r in rr]
    lab = f"Dropout width {width}" if mech == "dropout" else "tanh + Gaussian chain (quadrature)"
    plotting.plot_theory(ax, ks, [r["product_bound"] for r in rr], color=c[i], label=None)
    plotting.plot_measurement(ax, ks, [r["measured"] for r in rr], color=c[i], label=lab)
  ax.plot([], [], "--", color="0.3", label="product of per-layer η (theory)")
  ax.set_yscale("log")
  ax.set_xlabel("depth k (noisy layers)")
  ax.set_ylabel("η of the k-layer chain")
  ax.set_title("(f) deeper contracts more", fontsize=10)
  ax.legend(fontsize=6.5, frameon=False, loc="lower left")

  # (g) Gibbs: gen vs n.
  ax = axes[0, 3]
  gr = t["gibbs"]
  for i, gamma in enumerate(sorted({r["gamma"] for r in gr})):
    rr = sorted((r for r in gr if r["gamma"] == gamma), key=lambda r: r["n"])
    nn = [r["n"] for r in rr]
    plotting.plot_theory(ax, nn, [r["isk_over_gamma"] for r in rr], color=c[i], label=None)
    ax.plot(nn, [r["bound_2sigma2_gamma_over_n"] for r in rr], ":", color=c[i], linewidth=1.2)
    plotting.plot_measurement(ax, nn, [r["gen_mc"] for r in rr], yerr=[2 * r["gen_mc_se"] for r in rr],
                              color=c[i], linestyle="none", label=f"γ = {gamma:g}: Monte Carlo ± 2SE")
  ax.plot([], [], "--", color="0.3", label="I_SKL(W;S)/γ (exact enumeration)")
  ax.plot([], [], ":", color="0.3", label="2σ²γ/n bound")
  ax.set_xscale("log")
  ax.set_yscale("log")
  ax.set_xlabel("training-set size n")
  ax.set_ylabel("gen of the Gibbs posterior")
  ax.set_title("(g) Gibbs on a 3-weight binary net", fontsize=10)
  ax.legend(fontsize=6.5, frameon=False, loc="lower left")
  plotting.annotate_gap(ax, f"max |gen − I_SKL/γ| = {s['gibbs_max_abs_identity_err']:.0e}\n"
                        f"max MC |z| = {s['gibbs_mc_max_z']:.2f}", loc="upper right")

  # (h) Gibbs: I(W;S) vs n.
  ax = axes[1, 3]
  for i, gamma in enumerate(sorted({r["gamma"] for r in gr})):
    rr = sorted((r for r in gr if r["gamma"] == gamma), key=lambda r: r["n"])
    plotting.plot_measurement(ax, [r["n"] for r in rr], [r["mutual_information"] for r in rr],
                              color=c[i], label=f"γ = {gamma:g}")
  ax.axhline(math.log(8), color="black", linestyle="--", linewidth=1.2, label="log|W| = 3 log 2 (8 hypotheses)")
  ax.set_xscale("log")
  ax.set_xlabel("training-set size n")
  ax.set_ylabel("I(W; S) (nats)")
  ax.set_title("(h) Gibbs: I(W;S) ≤ log|W|", fontsize=10)
  ax.set_ylim(0, 2.6)
  ax.legend(fontsize=7, frameon=False, loc="upper right", ncol=2)

  fig.suptitle("Layerwise generalisation bounds and SDPI contraction (He, Yu & Goldfeld, "
               "arXiv:2404.03176; reconstruction)", fontsize=11)
  return fig
