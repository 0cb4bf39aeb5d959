r"""Asymptotics of KL-regularised alignment: best-of-N against the tilted optimum.

Reference p, reward r, KL budget Δ. The KL-constrained optimum is the tilted policy
:math:`\varphi_\Delta = p\,e^{\lambda r}/Z(\lambda)` with :math:`\mathrm{KL}(\varphi_\lambda\|p) =
\lambda\Lambda'(\lambda) - \Lambda(\lambda) = \Delta` (``divjax.alignment.solve_kl_budget``). Best-of-N
(BoN) draws N samples from p and keeps the best; on a finite space its law is exactly
:math:`F(r_y)^N - F(r_y^-)^N` (``divjax.alignment.best_of_n``).

(a) **The BoN KL bound as the outcome space grows.** For random problems (p ~ Dirichlet(1) on |Y|
    outcomes, Gaussian rewards, ``n_problems`` per size) the exact :math:`\mathrm{KL}(\pi_\mathrm{BoN}\|p)`
    against :math:`\log N - (N-1)/N` (Beirami et al.): below it for every problem, and tight as
    |Y| → ∞ (no atoms in the limit). The win rate against p is likewise below N/(N+1).
(b) **BoN ≈ KL-RL per token.** A memoryless source: L i.i.d. Bernoulli(q) tokens, reward = number of
    ones, budget LΔ, BoN with :math:`N = e^{L\Delta}` (Yang et al.'s scaling). Everything is exact on the
    sufficient statistic S ~ Binomial(L, q) (BoN and φ depend on y only through S, so KLs on S equal
    KLs on sequences), with N up to :math:`e^{2000}` through ``log_n``. As L grows the BoN per-token
    reward tends to :math:`\Lambda'(\lambda) = q_\lambda`, :math:`\mathrm{KL}(\mathrm{BoN}\|p)/L \to \Delta`
    and :math:`\mathrm{KL}(\mathrm{BoN}\|\varphi_\Delta)/L \to 0` (Yang et al.'s equivalence), while the
    absolute :math:`\mathrm{KL}(\mathrm{BoN}\|\varphi_\Delta)` grows like :math:`\tfrac12\log L` (derived in
    divjax, see docs/theory/alignment.md: BoN's law of S has O(1) width, φ's has width √L). The paper's
    full text was not available, so whether its closeness statement is per token or absolute is not
    known; the numbers here say per token.
(c) **The large-deviation rate.** Under :math:`\varphi_\lambda` the per-token reward :math:`R_L = S/L`
    satisfies an LDP with rate :math:`I_\lambda(x) = \Lambda^*(x) - \lambda x + \Lambda(\lambda)`
    (``divjax.alignment.tilted_rate_function``), here :math:`\mathrm{KL}(\mathrm{Bern}(x)\|\mathrm{Bern}(q_\lambda))`.
    The exact tail exponent :math:`-\frac1L\log P_\varphi(R_L \ge x)` (binomial tail summed in log space)
    converges to it from above, with the Bahadur–Rao correction
    :math:`\frac1L[\tfrac12\log(2\pi L x(1-x)) + \log(1-e^{-t})]`, t = I'(x), as the finite-L theory.

References:
  J. Q. Yang, S. Salamatian, Z. Sun, A. T. Suresh, A. Beirami, *Asymptotics of language model
  alignment*, ISIT 2024, arXiv:2404.01730.
  A. Beirami, A. Agarwal, J. Berant, A. D'Amour, J. Eisenstein, C. Nagpal, A. T. Suresh, *Theoretical
  guarantees on the best-of-n alignment policy*, arXiv:2401.01879.
  R. R. Bahadur, R. Ranga Rao, *On deviations of the sample mean*, Ann. Math. Statist. 31, 1960.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from scipy import special, stats

from divjax import alignment as al
from divjax import divergences as dv
from divjax import plotting
from experiments._harness import Timer, sweep

if typing.TYPE_CHECKING:
  import matplotlib.figure

NAME = "alignment_asymptotics"
# Part (a) pads every outcome space up to this many outcomes, so the quick sizes share one program.
_PAD_WIDTH = 4096
DESCRIPTION = ("best-of-N KL vs log N − (N−1)/N as |Y| grows; BoN with N = e^{LΔ} vs the tilted optimum "
               "per token; LDP exponent vs I_λ")


@dataclasses.dataclass(frozen=True)
class Config:
  """Configuration of the alignment_asymptotics experiment.

  Attributes:
    outcome_sizes: |Y| values of part (a).
    bon_ns: N values of part (a).
    n_problems: random (p, r) problems per |Y| (p ~ Dirichlet(concentration), r ~ N(0, 1)).
    concentration: the Dirichlet concentration of p in part (a).
    token_prob: q, the per-token Bernoulli probability of the reference in parts (b), (c).
    token_budget: Δ, the per-token KL budget.
    lengths: sequence lengths L of parts (b), (c).
    ldp_level: x, the per-token reward level of the tail P(R_L >= x) in part (c).
    tight_tol: tolerance on the relative deficit (bound − KL)/bound at the largest |Y|.
    ldp_tol_factor: the tolerance on the relative gap |exponent − I_λ(x)|/I_λ(x) at the largest L is
      this factor times the size of the Bahadur–Rao correction there (the known leading finite-L term).
    per_token_tol: tolerance on |BoN per-token reward − q_λ| and KL(BoN‖φ)/L at the largest L.
  """

  outcome_sizes: tuple[int, ...] = (2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
  bon_ns: tuple[int, ...] = (2, 4, 16, 64, 256)
  n_problems: int = 8
  concentration: float = 1.0
  token_prob: float = 0.3
  token_budget: float = 0.2
  lengths: tuple[int, ...] = (10, 30, 100, 300, 1000, 3000, 10000)
  ldp_level: float = 0.75
  tight_tol: float = 2e-3
  ldp_tol_factor: float = 2.0
  per_token_tol: float = 2e-3

  @classmethod
  def quick(cls) -> "Config":
    """A few seconds of compute (compilation dominates)."""
    return cls()

  @classmethod
  def paper(cls) -> "Config":
    """|Y| to 65 536 with 32 problems per size, N to 1024, L to 10⁵ (a few minutes on a CPU)."""
    return cls(outcome_sizes=tuple(2**k for k in range(1, 17)), bon_ns=(2, 4, 16, 64, 256, 1024),
               n_problems=32,
               lengths=(10, 30, 100, 300, 1000, 3000, 10000, 30000, 100000),
               tight_tol=1e-3, per_token_tol=5e-4)


# ---------------------------------------------------------------------------------------------------
# The single-problem functions the harness vmaps.


def _bon_summary(ref_logits: jax.Array, reward: jax.Array, log_n: jax.Array) -> dict[str, jax.Array]:
  b = al.best_of_n(ref_logits, reward, log_n=log_n)
  return {"kl": b.kl, "win_rate": b.win_rate, "max_atom": jnp.exp(jnp.max(ref_logits))}


def _token_problem(ref_logits: jax.Array, lam: jax.Array, log_n: jax.Array, level: jax.Array,
                   length: jax.Array) -> dict[str, jax.Array]:
  """BoN(N = e^{LΔ}) and φ_λ on S ∈ {0..L_max} (outcomes beyond L have ``-inf`` logits)."""
  s = jnp.arange(ref_logits.shape[0], dtype=ref_logits.dtype)
  bon = al.best_of_n(ref_logits, s, log_n=log_n)
  phi = al.tilt(ref_logits, s, lam)
  tail = jax.nn.logsumexp(jnp.where(s >= level, phi.log_probs, -jnp.inf))
  return {
      "bon_reward_per_token": bon.expected_reward / length,
      "bon_kl_to_ref_per_token": bon.kl / length,
      "bon_kl_to_tilt": dv.kl_divergence(bon.log_probs, phi.log_probs, logits=True),
      "tilt_kl_per_token": phi.kl / length,
      "tilt_reward_per_token": phi.expected_reward / length,
      "log_tail": tail,
  }


def _bern_kl(a: float, b: float) -> float:
  return a * math.log(a / b) + (1 - a) * math.log((1 - a) / (1 - b))


# ---------------------------------------------------------------------------------------------------
# Run.


def run(config: Config, *, seed: int = 0) -> dict[str, Any]:
  """Parts (a)–(c); returns tables, summary, gap, checks and timings."""
  timer = Timer()
  with jax.enable_x64(True):
    return _run(config, seed, timer)


def _run(config: Config, seed: int, timer: Timer) -> dict[str, Any]:
  # (a) BoN KL against the bound. Problems are padded with -inf logits to a common width per bucket
  # (all sizes <= _PAD_WIDTH share one compiled program; larger sizes get one each, so memory stays
  # O(problems · size)). The random draws do not depend on the bucketing.
  rng = np.random.default_rng(seed)
  size_max = max(config.outcome_sizes)
  problems = []
  for size in config.outcome_sizes:
    for k in range(config.n_problems):
      p = rng.dirichlet(np.full(size, config.concentration))
      r = rng.normal(size=size)
      problems.append((size, k, p, r))
  meta, kl, win, max_atom = [], [], [], []
  for width in sorted({max(size, _PAD_WIDTH) for size in config.outcome_sizes}):
    logits, rewards, log_ns = [], [], []
    for size, k, p, r in problems:
      if max(size, _PAD_WIDTH) != width:
        continue
      lp = np.full(width, -np.inf)
      with np.errstate(divide="ignore"):
        lp[:size] = np.log(p)
      rr = np.zeros(width)
      rr[:size] = r
      for n in config.bon_ns:
        logits.append(lp)
        rewards.append(rr)
        log_ns.append(math.log(n))
        meta.append((size, k, n))
    out = sweep(_bon_summary, np.stack(logits), np.stack(rewards), np.array(log_ns), timer=timer)
    kl += list(np.asarray(out["kl"]))
    win += list(np.asarray(out["win_rate"]))
    max_atom += list(np.asarray(out["max_atom"]))
  out = {"kl": kl, "win_rate": win, "max_atom": max_atom}
  bon_rows = []
  for i, (size, k, n) in enumerate(meta):
    bound = math.log(n) - (n - 1) / n
    bon_rows.append({"outcomes": size, "problem": k, "N": n, "kl": float(out["kl"][i]),
                     "kl_bound": bound, "win_rate": float(out["win_rate"][i]),
                     "win_rate_bound": n / (n + 1), "max_atom": float(out["max_atom"][i])})
  bon_mean = []
  for size in config.outcome_sizes:
    for n in config.bon_ns:
      rows = [r for r in bon_rows if r["outcomes"] == size and r["N"] == n]
      kls = np.array([r["kl"] for r in rows])
      bon_mean.append({"outcomes": size, "N": n, "kl_mean": float(kls.mean()),
                       "kl_min": float(kls.min()), "kl_max": float(kls.max()),
                       "kl_bound": rows[0]["kl_bound"],
                       "win_rate_mean": float(np.mean([r["win_rate"] for r in rows])),
                       "win_rate_bound": rows[0]["win_rate_bound"]})
  below = all(r["kl"] <= r["kl_bound"] + 1e-12 for r in bon_rows)
  win_below = all(r["win_rate"] <= r["win_rate_bound"] + 1e-12 for r in bon_rows)
  largest = [r for r in bon_rows if r["outcomes"] == size_max]
  deficit = max((r["kl_bound"] - r["kl"]) / r["kl_bound"] for r in largest)
  deficit_by_size = {str(size): max((r["kl_bound"] - r["kl"]) / r["kl_bound"]
                                    for r in bon_rows if r["outcomes"] == size)
                     for size in config.outcome_sizes}
  sizes_sorted = sorted(config.outcome_sizes)
  deficit_shrinks = all(deficit_by_size[str(b)] < deficit_by_size[str(a)]
                        for a, b in zip(sizes_sorted, sizes_sorted[1:]) if a >= 16)

  # (b), (c) the memoryless Bernoulli source on S ~ Binomial(L, q).
  q, delta, x = config.token_prob, config.token_budget, config.ldp_level
  token_logits = np.log([1 - q, q])
  token_reward = np.array([0.0, 1.0])
  sol = al.solve_kl_budget(token_logits, token_reward, delta)
  lam = float(sol.lam)
  q_lam = float(sol.tilt.expected_reward)
  rate = float(al.tilted_rate_function(token_logits, token_reward, x, lam=lam))
  q_lam_closed = float(special.expit(special.logit(q) + lam))
  rate_closed = _bern_kl(x, q_lam_closed)
  t_star = float(special.logit(x) - special.logit(q_lam_closed))
  lengths = np.array(config.lengths)
  l_max = int(lengths.max())
  s = np.arange(l_max + 1)
  ref = np.stack([np.where(s <= L, stats.binom.logpmf(s, L, q), -np.inf) for L in lengths])
  levels = np.ceil(x * lengths - 1e-9)
  tok = sweep(_token_problem, ref, np.full(len(lengths), lam), lengths * delta, levels,
              lengths.astype(np.float64), timer=timer)
  tok = {k: np.asarray(v) for k, v in tok.items()}
  token_rows = []
  for i, L in enumerate(lengths):
    x_l = levels[i] / L
    t_l = special.logit(x_l) - special.logit(q_lam_closed)
    br = (_bern_kl(x_l, q_lam_closed) + (0.5 * math.log(2 * math.pi * L * x_l * (1 - x_l))
                                         + math.log(-math.expm1(-t_l))) / L)
    token_rows.append({
        "L": int(L), "log_N": float(L * delta),
        "bon_reward_per_token": float(tok["bon_reward_per_token"][i]),
        "tilt_reward_per_token": float(tok["tilt_reward_per_token"][i]),
        "bon_kl_to_ref_per_token": float(tok["bon_kl_to_ref_per_token"][i]),
        "bon_kl_bound_per_token": float(al.best_of_n_kl_bound(log_n=L * delta)) / L,
        "tilt_kl_per_token": float(tok["tilt_kl_per_token"][i]),
        "bon_kl_to_tilt": float(tok["bon_kl_to_tilt"][i]),
        "bon_kl_to_tilt_per_token": float(tok["bon_kl_to_tilt"][i]) / L,
        "ldp_exponent": float(-tok["log_tail"][i] / L),
        "rate": rate,
        "bahadur_rao_exponent": br,
    })
  reward_gap = [abs(r["bon_reward_per_token"] - q_lam) for r in token_rows]
  kl_ref_gap = [abs(r["bon_kl_to_ref_per_token"] - delta) for r in token_rows]
  kl_tilt = [r["bon_kl_to_tilt_per_token"] for r in token_rows]
  ldp_gap = [r["ldp_exponent"] - rate for r in token_rows]
  br_gap = [abs(r["ldp_exponent"] - r["bahadur_rao_exponent"]) for r in token_rows]
  decreasing = lambda v: all(b < a for a, b in zip(v, v[1:]))
  # ½ log L growth of the absolute KL(BoN‖φ): slope in log L over the larger half of the lengths.
  half = len(lengths) // 2
  slope = float(np.polyfit(np.log(lengths[half:]),
                           [r["bon_kl_to_tilt"] for r in token_rows[half:]], 1)[0])
  ldp_rel_gap = abs(ldp_gap[-1]) / rate
  br_rel = abs(token_rows[-1]["bahadur_rao_exponent"] - rate) / rate
  ldp_tol = config.ldp_tol_factor * br_rel
  br_scaled = max(g * r["L"] for g, r in zip(br_gap, token_rows))
  tilt_budget_err = max(abs(r["tilt_kl_per_token"] - delta) for r in token_rows)

  summary = {
      "bon_max_relative_deficit_at_largest_outcome_space": deficit,
      "bon_relative_deficit_by_outcomes": deficit_by_size,
      "token": {"q": q, "delta": delta, "lambda": lam, "q_lambda": q_lam,
                "q_lambda_closed_form": q_lam_closed, "x": x, "rate": rate,
                "rate_closed_form": rate_closed, "t_star": t_star},
      "bon_reward_gap_per_token_at_largest_L": reward_gap[-1],
      "bon_kl_to_ref_gap_per_token_at_largest_L": kl_ref_gap[-1],
      "bon_kl_to_tilt_per_token_at_largest_L": kl_tilt[-1],
      "bon_kl_to_tilt_at_largest_L": token_rows[-1]["bon_kl_to_tilt"],
      "bon_kl_to_tilt_log_L_slope": slope,
      "ldp_exponent_minus_rate": ldp_gap,
      "ldp_relative_gap_at_largest_L": ldp_rel_gap,
      "ldp_bahadur_rao_relative_correction_at_largest_L": br_rel,
      "ldp_max_gap_to_bahadur_rao_times_L": br_scaled,
      "tilt_budget_error": tilt_budget_err,
  }
  checks = {
      "bon_kl_below_bound_for_every_problem": below,
      "bon_bound_tight_at_largest_outcome_space": deficit < config.tight_tol,
      "bon_deficit_shrinks_with_outcome_space": deficit_shrinks,
      "bon_win_rate_below_n_over_n_plus_1": win_below,
      "tilt_meets_the_per_token_budget": tilt_budget_err < 1e-10,
      "rate_function_matches_bernoulli_closed_form": (abs(rate - rate_closed) < 1e-10 * rate and
                                                      abs(q_lam - q_lam_closed) < 1e-12),
      "bon_per_token_reward_converges_to_tilted": (decreasing(reward_gap) and
                                                   reward_gap[-1] < config.per_token_tol),
      "bon_per_token_kl_converges_to_budget": decreasing(kl_ref_gap) and kl_ref_gap[-1] < config.per_token_tol,
      "bon_to_tilt_kl_vanishes_per_token": decreasing(kl_tilt) and kl_tilt[-1] < config.per_token_tol,
      "bon_to_tilt_kl_grows_like_half_log_L": abs(slope - 0.5) < 0.1,
      "ldp_exponent_converges_to_rate_from_above": (all(g > 0 for g in ldp_gap) and
                                                    decreasing(ldp_gap) and ldp_rel_gap < ldp_tol),
      "ldp_exponent_matches_bahadur_rao_to_order_1_over_L": br_scaled < 0.5,
  }
  return {
      "tables": {"bon_kl": bon_rows, "bon_kl_mean": bon_mean, "token": token_rows},
      "summary": summary,
      "gap": {"metric": "|LDP exponent − I_λ(x)|/I_λ(x) at the largest L", "value": ldp_rel_gap,
              "tolerance": ldp_tol},
      "checks": checks,
      "timings": timer.as_dict(),
  }


# ---------------------------------------------------------------------------------------------------
# Figure.


def plot(results: dict[str, Any]) -> "matplotlib.figure.Figure":
  """(a) BoN KL vs |Y|; (b) per-token BoN vs tilted; (c) KL(BoN‖φ); (d) LDP exponent vs I_λ."""
  fig, axes = plotting.new_figure(2, 2, width=4.6, height=3.4)
  ax = axes[0, 0]
  mean = results["tables"]["bon_kl_mean"]
  ns = sorted({r["N"] for r in mean})
  sizes = sorted({r["outcomes"] for r in mean})
  for k, n in enumerate(ns):
    rows = sorted((r for r in mean if r["N"] == n), key=lambda r: r["outcomes"])
    color = plotting.COLORS[k % len(plotting.COLORS)]
    plotting.plot_theory(ax, [sizes[0], sizes[-1]], [rows[0]["kl_bound"]] * 2, color=color,
                         label="log N − (N−1)/N" if k == 0 else None)
    plotting.plot_measurement(ax, [r["outcomes"] for r in rows], [r["kl_mean"] for r in rows],
                              color=color, label=f"N = {n}", markersize=4)
  ax.set_xscale("log", base=2)
  ax.set_xlabel("outcomes |Y|")
  ax.set_ylabel("KL(BoN ‖ p)  (mean over problems)")
  ax.set_title("(a) best-of-N KL vs the bound")
  ax.legend(fontsize=7, loc="lower right")
  s = results["summary"]
  plotting.annotate_gap(ax, f"max deficit at |Y|={sizes[-1]}:\n"
                        f"{s['bon_max_relative_deficit_at_largest_outcome_space']:.1e} (relative)")

  tok = results["tables"]["token"]
  L = [r["L"] for r in tok]
  t = s["token"]
  ax = axes[0, 1]
  plotting.plot_theory(ax, [L[0], L[-1]], [t["q_lambda"]] * 2, color=plotting.COLORS[0],
                       label="Λ'(λ) = q_λ (tilted)")
  plotting.plot_measurement(ax, L, [r["bon_reward_per_token"] for r in tok], color=plotting.COLORS[0],
                            label="BoN reward / L")
  plotting.plot_theory(ax, [L[0], L[-1]], [t["delta"]] * 2, color=plotting.COLORS[1],
                       label="Δ (tilted KL / L)")
  plotting.plot_measurement(ax, L, [r["bon_kl_to_ref_per_token"] for r in tok],
                            color=plotting.COLORS[1], label="KL(BoN ‖ p) / L")
  ax.set_xscale("log")
  ax.set_xlabel("tokens L  (N = exp(LΔ))")
  ax.set_ylabel("per token")
  ax.set_title(f"(b) BoN vs KL-RL, Bernoulli({t['q']}), Δ = {t['delta']}")
  ax.legend(fontsize=7)

  ax = axes[1, 0]
  kl = np.array([r["bon_kl_to_tilt"] for r in tok])
  Ls = np.array(L, dtype=float)
  c = float(np.mean(kl[len(kl) // 2:] - 0.5 * np.log(Ls[len(kl) // 2:])))
  grid = np.geomspace(Ls[0], Ls[-1], 200)
  ref = 0.5 * np.log(grid) + c
  keep = (ref > 0) & (grid >= 30)  # an asymptotic line: drawn from L = 30 on
  plotting.plot_theory(ax, grid[keep], ref[keep], label="½ log L + c (slope derived, c fitted)")
  plotting.plot_theory(ax, grid[keep], ref[keep] / grid[keep], color="0.5", label="(½ log L + c) / L")
  plotting.plot_measurement(ax, L, kl, color=plotting.COLORS[2], label="KL(BoN ‖ φ_Δ)")
  plotting.plot_measurement(ax, L, kl / Ls, color=plotting.COLORS[3], label="KL(BoN ‖ φ_Δ) / L",
                            marker="s")
  ax.set_xscale("log")
  ax.set_yscale("log")
  ax.set_xlabel("tokens L")
  ax.set_title("(c) distance from BoN to the tilted optimum")
  ax.legend(fontsize=7, loc="center right")
  plotting.annotate_gap(ax, f"per token at L = {L[-1]}: {kl[-1] / Ls[-1]:.1e}\n"
                        f"log-L slope {s['bon_kl_to_tilt_log_L_slope']:.3f} (theory ½)",
                        loc="lower left")

  ax = axes[1, 1]
  plotting.plot_theory(ax, [L[0], L[-1]], [t["rate"]] * 2, label="I_λ(x)")
  plotting.plot_theory(ax, L, [r["bahadur_rao_exponent"] for r in tok], color="0.5",
                       label="I_λ + Bahadur–Rao / L")
  plotting.plot_measurement(ax, L, [r["ldp_exponent"] for r in tok], color=plotting.COLORS[4],
                            label="−(1/L) log P_φ(R_L ≥ x)")
  ax.set_xscale("log")
  ax.set_xlabel("tokens L")
  ax.set_title(f"(d) large deviations of R_L under φ_Δ, x = {t['x']}")
  ax.legend(fontsize=7, loc="center right")
  g = results["gap"]
  plotting.annotate_gap(ax, f"relative gap at L = {L[-1]}:\n{g['value']:.1e} (tol {g['tolerance']:.1e})",
                        loc="upper right")
  fig.suptitle("Asymptotics of alignment: best-of-N, the tilted optimum and its LDP", fontsize=11)
  return fig
