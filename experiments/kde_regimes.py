r"""The three regimes of the Gaussian KDE in large dimensions and its KL-optimal bandwidth.

Data :math:`y_1..y_n\sim\mathcal N(0, I_d)`, :math:`n = e^{\alpha d}`, the isotropic Gaussian KDE
:math:`\hat\rho_h` evaluated at a fresh x. Biroli & Mézard map :math:`Z = \sum_i e^{-|x-y_i|^2/(2h^2)}` to a
random-energy model: above :math:`h_\mathrm{CLT} = \sqrt2 h_G` the fluctuations of ρ̂ are Gaussian, between
:math:`h_G` and :math:`h_\mathrm{CLT}` they are α-stable with index :math:`\mu = (h/h_G)^2`, and below
:math:`h_G` a few nearest data points dominate (condensation). The KL-optimal bandwidth
:math:`h^* = \sqrt{u_\min(\alpha)}` lies in the condensed regime (``divjax.kde.theory``). The paper's text
was not available, so every formula is derived in divjax, see docs/theory/kde_large_dim.md; the
paper's own figures are unknown, so the panels below are divjax's choice.

Panels:

(F1) phase diagram in (α, h): :math:`h_\mathrm{CLT}, h_G, h^*`, the naive :math:`h_\mathrm{var}` and the
     classical Scott/Silverman limit :math:`e^{-\alpha}` (theory only);
(F2) KL(ρ‖ρ̂_h)/d against h at α = 0.2: the asymptotic theory, the exact finite-d curves
     (``theory.finite_d_prediction``: noncentral χ², the φ(t) integral, Gauss–Laguerre over |x|²) and
     brute-force Monte Carlo (``kde.log_density``, ``n_sets`` data sets × ``n_test`` points, sharded
     over devices); the results record |MC − exact| in standard errors per point;
(F3) participation ratio E[Y] against h/h_G, Monte Carlo and exact finite-d, against 1 − (h/h_G)²;
(F4) distribution of ln(ρ̂(x)/E_Dρ̂(x)) over data sets at fixed |x|² = d in each regime, the distances
     sampled directly from (z₁ − √d)² + χ²_{d−1}; the CLT one against the exact relative SD;
(F5) the fluctuation decay rate κ from fits of ln IQR(ln ρ̂) against d, against the derived rates
     (docs/theory/kde_large_dim.md).

References:
  G. Biroli & M. Mézard, *Kernel density estimators in large dimensions*, arXiv:2408.05807 (2024).
  A. Bovier, I. Kurkova & M. Löwe, *Fluctuations of the free energy in the REM and the p-spin SK
  models*, Ann. Probab. 30 (2002).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from divjax import kde, plotting
from divjax.kde import theory
from experiments._harness import Timer, call, sweep

NAME = "kde_regimes"
DESCRIPTION = ("Gaussian KDE with n = e^{αd} (Biroli & Mézard 2024): phase diagram h_CLT/h_G/h*, KL/d vs h "
               "(asymptotic, exact finite-d, Monte Carlo), participation ratio, fluctuations per regime")


@dataclasses.dataclass(frozen=True)
class Config:
  """Configuration of the kde_regimes experiment.

  Attributes:
    alpha: ln(n)/d of panels F2–F5.
    phase_alphas: (min, max, points) of the α grid of the phase diagram (F1).
    h_grid: bandwidths of the log-likelihood/KL curves (F2).
    exact_dims: dimensions of the exact finite-d curves.
    mc_dims: dimensions of the Monte-Carlo points (n = round(e^{αd})).
    n_sets: data sets per Monte-Carlo point.
    mc_batches: the sweep axis (sharded over devices); each batch runs n_sets/mc_batches data sets one
      after another, so memory holds mc_batches data sets at a time (n = 1.2·10⁶ at d = 70).
    n_test: test points per data set.
    pr_ratios: h/h_G of the participation-ratio panel (F3).
    fluct_dim: d of the fixed-x fluctuation histograms (F4); n = round(e^{α d}).
    fluct_h: bandwidths of F4 (one per regime: condensed, stable, CLT).
    fluct_sets: data sets of F4.
    kappa_dims: dimensions of the κ fit (F5); empty (quick scale): skipped.
    kappa_h: bandwidths of F5.
    kappa_sets: data sets per (d, h) of F5.
  """

  alpha: float = 0.2
  phase_alphas: tuple[float, float, int] = (0.02, 2.0, 120)
  h_grid: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2, 1.5, 2.0)
  exact_dims: tuple[int, ...] = (20, 30, 40)
  mc_dims: tuple[int, ...] = (20, 30)
  n_sets: int = 100
  mc_batches: int = 4
  n_test: int = 400
  pr_ratios: tuple[float, ...] = (0.4, 0.55, 0.7, 0.85, 1.0, 1.15, 1.3, 1.5)
  fluct_dim: int = 40
  fluct_h: tuple[float, ...] = (0.8, 1.25, 2.0)
  fluct_sets: int = 2000
  kappa_dims: tuple[int, ...] = ()
  kappa_h: tuple[float, ...] = (2.5, 2.0, 1.6, 1.3)
  kappa_sets: int = 1000

  @classmethod
  def quick(cls) -> "Config":
    """d ≤ 40 (F1–F4), ~30–45 s on 2 idle CPU cores; F5 (κ) is left to the paper scale."""
    return cls()

  @classmethod
  def paper(cls) -> "Config":
    """d up to 60–70 (n up to 1.2·10⁶), for an accelerator; not run on the CPU-only CI."""
    return cls(exact_dims=(20, 30, 40, 50, 60, 70), mc_dims=(20, 30, 40, 50, 60, 70), n_sets=200,
               n_test=400, fluct_dim=60, fluct_sets=2000, kappa_dims=(20, 30, 40, 50, 60),
               kappa_h=(2.5, 2.0, 1.6, 1.3, 1.1), kappa_sets=2000,
               pr_ratios=(0.3, 0.4, 0.55, 0.7, 0.85, 1.0, 1.15, 1.3, 1.5, 2.0))


def _n_of(alpha: float, d: int) -> int:
  return max(2, round(math.exp(alpha * d)))


# ---------------------------------------------------------------------------------------------------
# Monte Carlo pieces (float32, vmapped over data sets by the harness).


def _mc_one_set(h_ll, h_pr, key_data, *, d: int, n: int, n_test: int):
  """One data set: mean ln ρ̂/d at each h of h_ll and mean participation ratio at each h of h_pr."""
  ky, kx = jax.random.split(key_data)
  y = jax.random.normal(ky, (n, d))
  x = jax.random.normal(kx, (n_test, d))
  ll = jax.lax.map(lambda h: jnp.mean(kde.log_density(x, y, h)) / d, h_ll)
  pr = jax.lax.map(lambda h: jnp.mean(kde.participation_ratio(x, y, h)), h_pr)
  return ll, pr


def _mc_batch(h_ll, h_pr, keys, *, d: int, n: int, n_test: int):
  """A batch of data sets one after another (lax.map): memory holds one data set per batch."""
  return jax.lax.map(lambda k: _mc_one_set(h_ll, h_pr, k, d=d, n=n, n_test=n_test), keys)


@functools.lru_cache(maxsize=None)
def _mc_fn(d: int, n: int, n_test: int):
  return functools.partial(_mc_batch, d=d, n=n, n_test=n_test)


def _log_z_fixed_x(key, h, *, d: int, n: int, n_sets: int):
  """ln Z over data sets at |x|² = d, D_i = (z₁ − √d)² + χ²_{d−1} sampled directly: [len(h), n_sets]."""
  k1, k2 = jax.random.split(key)
  z1 = jax.random.normal(k1, (n_sets, n), jnp.float32)
  chi = 2.0 * jax.random.gamma(k2, 0.5 * (d - 1), (n_sets, n), jnp.float32)
  D = ((z1 - math.sqrt(d))**2 + chi).astype(h.dtype)
  return jax.lax.map(lambda hh: jax.scipy.special.logsumexp(-D / (2.0 * hh * hh), axis=1), h)


@functools.lru_cache(maxsize=None)
def _log_z_fn(d: int, n: int, n_sets: int):
  """One function object per (d, n, n_sets), so the harness's compiled-program cache hits."""
  return functools.partial(_log_z_fixed_x, d=d, n=n, n_sets=n_sets)


def _log_mean_w(h, d, r2):
  """ln E w = −(d/2) ln(1 + 1/h²) − r²/(2(h² + 1)) (σ = 1)."""
  return -0.5 * d * np.log1p(1.0 / h**2) - r2 / (2.0 * (h**2 + 1.0))


def _skewness(v: np.ndarray) -> float:
  c = v - v.mean()
  return float(np.mean(c**3) / np.mean(c**2)**1.5)


def _iqr(v: np.ndarray) -> float:
  return float(np.subtract(*np.percentile(v, [75, 25])))


# ---------------------------------------------------------------------------------------------------
# The experiment.


def run(config: Config, *, seed: int = 0) -> dict[str, Any]:
  if config.n_sets % config.mc_batches:
    raise ValueError(f"n_sets ({config.n_sets}) must be a multiple of mc_batches ({config.mc_batches}).")
  timer = Timer()
  alpha = config.alpha
  key = jax.random.PRNGKey(seed)
  k_mc, k_fluct, k_kappa = jax.random.split(key, 3)
  tables: dict[str, list[dict[str, Any]]] = {}
  summary: dict[str, Any] = {}
  checks: dict[str, bool] = {}
  sections: dict[str, float] = {}
  clock = [time.perf_counter(), time.process_time()]

  def lap(name: str) -> None:  # wall and process-CPU seconds per section
    now, cpu = time.perf_counter(), time.process_time()
    sections[name] = round(now - clock[0], 3)
    sections[name + "_cpu"] = round(cpu - clock[1], 3)
    clock[0], clock[1] = now, cpu

  with jax.enable_x64(True):
    # F1: phase diagram.
    lo, hi, num = config.phase_alphas
    alphas = np.geomspace(lo, hi, num)
    hg_a, hclt_a = np.asarray(theory.h_g(alphas)), np.asarray(theory.h_clt(alphas))
    hs_a, hv_a = np.asarray(theory.h_star(alphas)), np.asarray(theory.h_var(alphas))
    tables["phase"] = [dict(alpha=a, h_g=g, h_clt=c, h_star=s, h_var=v, classical=math.exp(-a))
                       for a, g, c, s, v in zip(alphas, hg_a, hclt_a, hs_a, hv_a)]
    checks["h_star_below_h_g_for_all_alpha"] = bool(np.all(hs_a < hg_a))
    checks["h_var_between_h_g_and_h_clt"] = bool(np.all((hg_a < hv_a) & (hv_a < hclt_a)))
    checks["classical_rule_in_condensed_regime"] = bool(np.all(np.exp(-alphas) < hg_a))

    hg, hclt, hstar = (float(theory.h_g(alpha)), float(theory.h_clt(alpha)),
                       float(theory.h_star(alpha)))
    h_cross = -0.5 * math.log(2 * math.pi) - 0.5
    summary["thresholds"] = dict(alpha=alpha, g_star=float(theory.g_star(alpha)), h_g=hg, h_clt=hclt,
                                 h_star=hstar, h_var=float(theory.h_var(alpha)),
                                 u_min=float(theory.u_min(alpha)),
                                 kl_star_per_dim=float(theory.kl_per_dim(hstar, alpha)),
                                 mu_at_h_star=float(theory.stable_index(hstar, alpha)))
    dL = jax.grad(theory.log_likelihood)
    checks["L_and_dL_continuous_at_h_g"] = bool(
        abs(float(theory.log_likelihood(hg * (1 - 1e-12), alpha) - theory.log_likelihood(hg, alpha)))
        < 1e-10 and abs(float(dL(hg * (1 - 1e-9), alpha) - dL(hg * (1 + 1e-9), alpha))) < 1e-7)

    # F2/F3 theory: asymptotic and exact finite-d curves on a fine h grid plus the MC grid.
    h_fine = np.unique(np.round(np.concatenate([np.linspace(0.45, 2.1, 34), np.arange(0.86, 1.05, 0.02),
                                                np.asarray(config.h_grid)]), 6))
    h_fine = np.unique(np.concatenate([h_fine, [hg, hstar, hclt]]))
    curves = [dict(source="asymptotic", d=None, h=h, L=float(theory.log_likelihood(h, alpha)),
                   kl_per_dim=float(theory.kl_per_dim(h, alpha)),
                   pr=float(max(0.0, 1 - float(theory.stable_index(h, alpha)))))
              for h in h_fine]

  lap("theory")
  pr_h = np.asarray(config.pr_ratios) * hg
  with timer.running():
    exact = {}
    exact_pr = {}
    for d in sorted(set(config.exact_dims) | set(config.mc_dims)):
      n = _n_of(alpha, d)
      both = theory.finite_d_prediction(np.concatenate([h_fine, pr_h]), n=n, d=d)
      ll, part = both.log_likelihood[:len(h_fine)], both.participation_ratio[:len(h_fine)]
      exact[d] = dict(zip(h_fine.tolist(), ll.tolist()))
      exact_pr[d] = both.participation_ratio[len(h_fine):]
      if d in config.exact_dims:
        curves += [dict(source="exact", d=d, h=h, L=l, kl_per_dim=h_cross - l, pr=p)
                   for h, l, p in zip(h_fine, ll, part)]
  tables["curves"] = curves

  # Finite-d optimum (argmax of exact L_d on the fine grid) and convergence to the asymptote.
  opt_rows = []
  for d in config.exact_dims:
    hs, ls = np.array(list(exact[d])), np.array(list(exact[d].values()))
    i = int(np.argmax(ls))
    opt_rows.append(dict(d=d, h_opt=hs[i], kl_min_per_dim=h_cross - ls[i], h_g=hg, h_star=hstar))
  tables["finite_d_optimum"] = opt_rows
  checks["finite_d_optimum_below_h_g"] = all(r["h_opt"] < hg for r in opt_rows)
  gaps_hg = [float(theory.log_likelihood(hg, alpha)) - exact[d][hg] for d in config.exact_dims]
  summary["gap_L_inf_minus_L_d_at_h_g"] = dict(zip(map(str, config.exact_dims), gaps_hg))
  checks["exact_gap_at_h_g_decreases_with_d"] = bool(np.all(np.diff(gaps_hg) < 0))
  big = [h for h in h_fine if h >= 1.4 * hg]
  if 40 in config.exact_dims:
    worst = max(abs(float(theory.log_likelihood(h, alpha)) - exact[40][h]) for h in big)
    summary["max_gap_h_ge_1.4hg_d40"] = worst
    checks["exact_d40_within_2e-3_of_asymptote_for_h_ge_1.4_h_g"] = worst < 2e-3

  lap("exact_finite_d")
  # F2/F3 Monte Carlo.
  h_ll = jnp.asarray(config.h_grid, jnp.float32)
  h_pr = jnp.asarray(pr_h, jnp.float32)
  mc_rows, pr_rows = [], []
  for j, d in enumerate(config.mc_dims):
    n = _n_of(alpha, d)
    keys = jax.random.split(jax.random.fold_in(k_mc, d), config.n_sets)
    keys = keys.reshape(config.mc_batches, config.n_sets // config.mc_batches, -1)
    ll, pr = sweep(_mc_fn(d, n, config.n_test), keys, shared=(h_ll, h_pr), timer=timer)
    ll = np.asarray(ll, np.float64).reshape(config.n_sets, -1)
    pr = np.asarray(pr, np.float64).reshape(config.n_sets, -1)
    L, se = ll.mean(0), ll.std(0, ddof=1) / math.sqrt(config.n_sets)
    for i, h in enumerate(config.h_grid):
      ex = exact[d][float(np.float64(h))]
      mc_rows.append(dict(d=d, n=n, h=h, L_mc=L[i], se=se[i], L_exact=ex, abs_gap=abs(L[i] - ex),
                          z=(L[i] - ex) / se[i], L_asymptotic=float(theory.log_likelihood(h, alpha)),
                          kl_mc=h_cross - L[i]))
    P, pse = pr.mean(0), pr.std(0, ddof=1) / math.sqrt(config.n_sets)
    for i, r in enumerate(config.pr_ratios):
      pr_rows.append(dict(d=d, n=n, h_over_h_g=r, h=pr_h[i], pr_mc=P[i], se=pse[i],
                          pr_exact=exact_pr[d][i], pr_asymptotic=max(0.0, 1 - r * r)))
  tables["monte_carlo"] = mc_rows
  tables["participation"] = pr_rows
  max_z = max(abs(r["z"]) for r in mc_rows)
  summary["max_abs_gap_mc_vs_exact_by_d"] = {
      str(d): max(r["abs_gap"] for r in mc_rows if r["d"] == d) for d in config.mc_dims}
  summary["max_se_by_d"] = {str(d): max(r["se"] for r in mc_rows if r["d"] == d)
                            for d in config.mc_dims}
  summary["max_abs_z_mc_vs_exact"] = max_z
  checks["mc_vs_exact_within_4_se"] = max_z < 4.0
  if 30 in config.mc_dims:  # |MC − exact| < 3e-3 at α = 0.2, d = 30, n = 403, ≥ 100 data sets × 400 points
    checks["mc_vs_exact_within_3e-3_at_d30"] = summary["max_abs_gap_mc_vs_exact_by_d"]["30"] < 3e-3
  pr_gap = max(abs(r["pr_mc"] - r["pr_exact"]) for r in pr_rows)
  summary["max_abs_gap_pr_mc_vs_exact"] = pr_gap
  checks["participation_mc_vs_exact_within_0.02"] = pr_gap < 0.02
  # E[Y] decreases with h and approaches the asymptote from above below h_G.
  checks["participation_decreases_with_h"] = all(
      np.all(np.diff([r["pr_mc"] for r in pr_rows if r["d"] == d]) < 0) for d in config.mc_dims)

  lap("monte_carlo")
  # F4: fluctuations at fixed |x|² = d in each regime.
  d, n = config.fluct_dim, _n_of(alpha, config.fluct_dim)
  with jax.enable_x64(True):
    hs = jnp.asarray(config.fluct_h, jnp.float64)
    lz = np.asarray(call(_log_z_fn(d, n, config.fluct_sets), k_fluct, hs, timer=timer))
    fl_rows, hist = [], {}
    for h, row in zip(config.fluct_h, lz):
      log_ratio = row - math.log(n) - _log_mean_w(h, d, float(d))  # ln(ρ̂/E_D ρ̂)
      mu = float(theory.stable_index(h, alpha))
      regime = "CLT" if mu >= 2 else ("stable" if mu >= 1 else "condensed")
      pred_sd = float(theory.clt_relative_sd(h, n=n, d=d, r2=float(d)))
      fl_rows.append(dict(d=d, n=n, h=h, mu=mu, regime=regime, iqr=_iqr(row),
                          iqr_clt_prediction=1.349 * pred_sd, skewness=_skewness(row),
                          median_log_ratio=float(np.median(log_ratio)),
                          mean_ratio=float(np.mean(np.exp(log_ratio)))))
      counts, edges = np.histogram(log_ratio, bins=50)
      hist[str(h)] = dict(counts=counts.tolist(), edges=edges.tolist(), regime=regime,
                          clt_sd=pred_sd)
  tables["fluctuations"] = fl_rows
  summary["fluctuation_histograms"] = hist
  clt = [r for r in fl_rows if r["regime"] == "CLT"]
  stable = [r for r in fl_rows if r["regime"] == "stable"]
  checks["clt_iqr_within_5pct_of_exact_sd"] = all(
      abs(r["iqr"] / r["iqr_clt_prediction"] - 1) < 0.05 for r in clt) and bool(clt)
  checks["stable_regime_right_skewed"] = all(
      r["skewness"] > 0.3 and r["skewness"] > max(c["skewness"] for c in clt) for r in stable) \
      and bool(stable)

  lap("fluctuations")
  # F5: κ from ln IQR against d.
  if config.kappa_dims:
    kap_iqr = {}
    with jax.enable_x64(True):
      hs = jnp.asarray(config.kappa_h, jnp.float64)
      for d in config.kappa_dims:
        n = _n_of(alpha, d)
        lz = np.asarray(call(_log_z_fn(d, n, config.kappa_sets), jax.random.fold_in(k_kappa, d), hs,
                             timer=timer))
        kap_iqr[d] = [_iqr(r) for r in lz]
    kap_rows = []
    dims = np.asarray(config.kappa_dims, float)
    for i, h in enumerate(config.kappa_h):
      y = np.log([kap_iqr[d][i] for d in config.kappa_dims])
      slope = np.polyfit(dims, y, 1)[0]
      with jax.enable_x64(True):
        kap_rows.append(dict(h=h, kappa_fit=-slope, kappa_theory=float(theory.fluctuation_rate(h, alpha)),
                             mu=float(theory.stable_index(h, alpha)),
                             iqr_by_d={str(d): kap_iqr[d][i] for d in config.kappa_dims}))
    tables["kappa"] = kap_rows
    far = [r for r in kap_rows if r["mu"] >= 2.5]
    checks["kappa_fit_matches_theory_deep_in_clt_regime"] = all(
        abs(r["kappa_fit"] / r["kappa_theory"] - 1) < 0.15 for r in far) and bool(far)

    lap("kappa")
  summary["mc_dims"] = list(config.mc_dims)
  return {
      "tables": tables,
      "summary": summary,
      "gap": {"metric": "max |L_MC − L_exact(d)|/SE", "value": max_z, "tolerance": 4.0},
      "checks": checks,
      "timings": {**timer.as_dict(), "sections_s": sections},
  }


# ---------------------------------------------------------------------------------------------------
# Figure.


def plot(results: dict[str, Any]) -> "matplotlib.figure.Figure":
  """Six panels: phase diagram, KL/d vs h, participation ratio, fluctuations, κ, MC − exact in SE."""
  T = results["tables"]
  s = results["summary"]
  th = s["thresholds"]
  fig, axes = plotting.new_figure(2, 3, width=4.3, height=3.4)
  C = plotting.COLORS

  # F1.
  ax = axes[0, 0]
  ph = T["phase"]
  a = [r["alpha"] for r in ph]
  ax.fill_between(a, [r["h_clt"] for r in ph], 3.0, color=C[2], alpha=0.08)
  ax.fill_between(a, [r["h_g"] for r in ph], [r["h_clt"] for r in ph], color=C[4], alpha=0.10)
  ax.fill_between(a, 0.0, [r["h_g"] for r in ph], color=C[1], alpha=0.07)
  plotting.plot_theory(ax, a, [r["h_clt"] for r in ph], label=r"$h_\mathrm{CLT}=\sqrt{2}\,h_G$", color=C[2])
  plotting.plot_theory(ax, a, [r["h_g"] for r in ph], label=r"$h_G$", color=C[1])
  plotting.plot_theory(ax, a, [r["h_star"] for r in ph], label=r"$h^*$ (KL-optimal)", color=C[0])
  ax.plot(a, [r["h_var"] for r in ph], ":", color="0.4", label=r"$h_\mathrm{var}$ (naive)")
  ax.plot(a, [r["classical"] for r in ph], "-.", color=C[3], lw=1, label=r"Scott/Silverman $e^{-\alpha}$")
  opt = T["finite_d_optimum"]
  ax.plot([th["alpha"]] * len(opt), [r["h_opt"] for r in opt], "o", color=C[0], ms=4,
          markerfacecolor="white", label=r"finite-$d$ optimum (exact)")
  ax.set_xscale("log")
  ax.set_ylim(0, 3.0)
  ax.text(0.03, 2.75, "CLT", fontsize=8)
  ax.text(0.03, 1.9, r"$\alpha$-stable", fontsize=8)
  ax.text(0.03, 0.25, "extreme-value (condensed)", fontsize=8)
  ax.set_xlabel(r"$\alpha = \ln n / d$")
  ax.set_ylabel(r"$h/\sigma$")
  ax.set_title("(F1) phase diagram")
  ax.legend(fontsize=6, loc="upper right")

  # F2.
  ax = axes[0, 1]
  asym = [r for r in T["curves"] if r["source"] == "asymptotic"]
  plotting.plot_theory(ax, [r["h"] for r in asym], [r["kl_per_dim"] for r in asym],
                       label=r"$d=\infty$ theory")
  dims = sorted({r["d"] for r in T["curves"] if r["source"] == "exact"})
  for k, d in enumerate(dims):
    rows = [r for r in T["curves"] if r["source"] == "exact" and r["d"] == d]
    plotting.plot_theory(ax, [r["h"] for r in rows], [r["kl_per_dim"] for r in rows], color=C[k],
                         label=f"exact d={d}", linewidth=1.0)
  for k, d in enumerate(s["mc_dims"]):
    rows = [r for r in T["monte_carlo"] if r["d"] == d]
    plotting.plot_measurement(ax, [r["h"] for r in rows], [r["kl_mc"] for r in rows],
                              yerr=[2 * r["se"] for r in rows], color=C[dims.index(d) if d in dims else k],
                              label=f"MC d={d} (±2 SE)", linestyle="none")
  for name, v, ls in (("$h^*$", th["h_star"], ":"), ("$h_G$", th["h_g"], "--"),
                      (r"$h_\mathrm{CLT}$", th["h_clt"], "-.")):
    ax.axvline(v, color="0.5", lw=0.8, ls=ls)
    ax.text(v, 0.02, name, fontsize=7, ha="center", transform=ax.get_xaxis_transform())
  ax.set_xlabel("h")
  ax.set_ylabel(r"KL$(\rho\,\|\,\hat\rho_h)/d$")
  ax.set_title(rf"(F2) KL per dimension, $\alpha={th['alpha']}$")
  ax.set_ylim(0, 0.6)
  ax.legend(fontsize=6, loc="lower right")
  by_d = s["max_abs_gap_mc_vs_exact_by_d"]
  plotting.annotate_gap(ax, "max |L_MC − L_exact|:\n" + "\n".join(
      f"d={d}: {v:.1e} ({v / s['max_se_by_d'][d]:.1f} SE)" for d, v in by_d.items()),
      loc="upper right")

  # F3.
  ax = axes[0, 2]
  xs = np.linspace(0.0, 2.0, 101)
  plotting.plot_theory(ax, xs, np.maximum(0, 1 - xs**2), label=r"$1-(h/h_G)^2$ ($d=\infty$)")
  for k, d in enumerate(s["mc_dims"]):
    rows = [r for r in T["participation"] if r["d"] == d]
    ax.plot([r["h_over_h_g"] for r in rows], [r["pr_exact"] for r in rows], "--", color=C[k], lw=1,
            label=f"exact d={d}")
    plotting.plot_measurement(ax, [r["h_over_h_g"] for r in rows], [r["pr_mc"] for r in rows],
                              yerr=[2 * r["se"] for r in rows], color=C[k], label=f"MC d={d}",
                              linestyle="none")
  ax.axvline(th["h_star"] / th["h_g"], color="0.5", lw=0.8, ls=":")
  ax.text(th["h_star"] / th["h_g"], 0.9, "$h^*$", fontsize=7, ha="right")
  ax.set_xlabel(r"$h/h_G$")
  ax.set_ylabel(r"$\mathbb{E}\,Y = \mathbb{E}\sum w_i^2/(\sum w_i)^2$")
  ax.set_title("(F3) participation ratio")
  ax.legend(fontsize=6)

  # F4.
  ax = axes[1, 0]
  for k, (h, hst) in enumerate(s["fluctuation_histograms"].items()):
    edges = np.asarray(hst["edges"])
    counts = np.asarray(hst["counts"], float)
    width = np.diff(edges)
    dens = counts / (counts.sum() * width)
    ax.stairs(dens, edges, color=C[k], label=f"h={float(h):g} ({hst['regime']})")
    if hst["regime"] == "CLT":
      sd = hst["clt_sd"]
      grid = np.linspace(edges[0], edges[-1], 200)
      plotting.plot_theory(ax, grid, np.exp(-0.5 * ((grid + 0.5 * sd * sd) / sd)**2) /
                           (sd * math.sqrt(2 * math.pi)), color=C[k], label="Gaussian, exact SD")
  ax.set_yscale("log")
  ax.set_ylim(bottom=1e-2)
  fl = T["fluctuations"]
  ax.set_xlabel(r"$\ln(\hat\rho(x)/\mathbb{E}_D\hat\rho(x))$" + f", d={fl[0]['d']}, |x|²=d")
  ax.set_ylabel("density over data sets")
  ax.set_title("(F4) fluctuations per regime")
  ax.legend(fontsize=6)
  plotting.annotate_gap(ax, "\n".join(f"h={r['h']:g}: skew {r['skewness']:.2f}" for r in fl),
                        loc="upper left")

  # F5.
  ax = axes[1, 1]
  if "kappa" in T:
    kap = T["kappa"]
    hh = np.linspace(1.05, 2.6, 100)
    kt = []
    for h in hh:
      mu = (h / th["h_g"])**2
      G = 1 / h**2
      lam = lambda lm: -0.5 * math.log1p(lm * G) - 0.5 * lm * G / (1 + lm * G)
      kt.append(th["alpha"] / 2 + lam(1) - lam(2) / 2 if mu >= 2 else
                th["alpha"] + lam(1) + th["u_min"] / (2 * h * h))
    plotting.plot_theory(ax, hh, kt, label=r"$\kappa(h)$, $d=\infty$")
    plotting.plot_measurement(ax, [r["h"] for r in kap], [r["kappa_fit"] for r in kap], color=C[1],
                              label="fit of ln IQR vs d", linestyle="none")
    ax.axvline(th["h_clt"], color="0.5", lw=0.8, ls="-.")
    ax.axvline(th["h_g"], color="0.5", lw=0.8, ls="--")
    ax.legend(fontsize=6)
    ax.set_xlabel("h")
    ax.set_ylabel(r"decay rate $\kappa$")
    ax.set_title("(F5) fluctuation decay rate")
  else:  # quick scale: no κ fit; show the finite-d convergence of L instead
    L_inf = {r["h"]: r["L"] for r in asym}
    for k, d in enumerate(dims):
      rows = [r for r in T["curves"] if r["source"] == "exact" and r["d"] == d]
      plotting.plot_theory(ax, [r["h"] for r in rows], [L_inf[r["h"]] - r["L"] for r in rows],
                           color=C[k], label=f"d={d}", linewidth=1.0)
    ax.axvline(th["h_g"], color="0.5", lw=0.8, ls="--")
    ax.axvline(th["h_clt"], color="0.5", lw=0.8, ls="-.")
    ax.set_yscale("log")
    ax.set_xlabel("h")
    ax.set_ylabel(r"$L_\infty(h) - L_d(h)$ (exact)")
    ax.set_title(r"convergence to $d=\infty$ (κ fit: paper scale)")
    ax.legend(fontsize=6)

  # MC − exact in standard errors.
  ax = axes[1, 2]
  for k, d in enumerate(s["mc_dims"]):
    rows = [r for r in T["monte_carlo"] if r["d"] == d]
    plotting.plot_measurement(ax, [r["h"] for r in rows], [r["z"] for r in rows], color=C[k],
                              label=f"d={d}")
  ax.axhspan(-2, 2, color="0.85", alpha=0.5)
  ax.axhline(0, color="black", lw=0.8, ls="--")
  ax.axvline(th["h_g"], color="0.5", lw=0.8, ls="--")
  ax.set_xlabel("h")
  ax.set_ylabel(r"$(L_\mathrm{MC} - L_\mathrm{exact})/\mathrm{SE}$")
  ax.set_title("MC vs exact finite-d, in standard errors")
  ax.legend(fontsize=6)
  return fig
