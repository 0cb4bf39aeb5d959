r"""How fast the MLE approaches the information projection: the risk to order n⁻² and the p–n criterion.

Model: an exponential family :math:`p(x\mid\theta) = h(x)\exp(\theta\cdot T(x) - \psi(\theta))` with p
natural parameters, fitted by maximum likelihood to n iid draws from a true g that may lie outside it.
The MLE :math:`\hat\theta` converges to the information projection :math:`\theta^* = \arg\min_\theta
\mathrm{KL}(g\|p_\theta)` (moment matching, :math:`\nabla\psi(\theta^*) = \mathbb E_g T`), and Sheena (2021)
measures the distance by the risk

.. math::  R_n = \mathbb E_g\,\mathrm{KL}(p_{\theta^*}\,\|\,p_{\hat\theta})
               = \frac{R_1}{n} + \frac{R_2}{n^2} + O(n^{-3}),
           \qquad R_1 = \tfrac12\,\mathrm{tr}(G^{-1}K) = \tfrac12\,p_\mathrm{eff},

with G the Fisher information at θ*, K = Cov_g(T), and R₂ a contraction of ψ's 3rd/4th derivatives with
K and the third cumulant κ of T under g (``divjax.expfam.risk_expansion``). For a correct model
:math:`p_\mathrm{eff} = p` and :math:`nR_n \to p/2` (stated by Sheena); the paper's theorem text was not
available, so the n⁻² coefficient is derived in divjax, see docs/theory/mle_info_projection.md.

The experiment has four parts.

(a) n·R_n against n for seven (model, g) pairs: exact finite-n risks for the exponential model on
    Gamma(k) data (:math:`\psi_0(nk) - \log nk + 1/(nk-1)`), the normal model on normal data, the
    categorical model on its own data (exact enumeration over the event "all cells > 0"; the boundary
    probability is reported) and the Poisson model on negative-binomial data (exact sum over S = ΣXᵢ > 0);
    Monte-Carlo risks (``vmap``-ed, sharded over devices by the harness, ±2 SE) for the normal model on
    Laplace, Uniform and Gamma(4) data, whose K and κ come from g's closed-form raw moments.
(b) The relative error of R₁/n and of R₁/n + R₂/n² against the exact risks: it falls like n⁻¹ and n⁻²; the
    fitted log–log slope of the second-order error for n ≥ 50 is recorded.
(c) The criterion. A sufficient condition for :math:`\mathbb E[\mathrm{BE}(p_{\theta^*}, p_{\hat\theta})] \ge
    \tfrac12 - \varepsilon` (BE the Bayes error of telling two densities apart, Pinsker /
    Bretagnolle–Huber + Jensen) is
    :math:`R_n \le D^*(\varepsilon) = \max(8\varepsilon^2, -\log(1-4\varepsilon^2))` (derived in divjax,
    see docs/theory/mle_info_projection.md), so
    :math:`n_\min/p_\mathrm{eff} = 1/(2D^*(\varepsilon))` to first order, and
    :math:`n_\min = [R_1 + \sqrt{R_1^2 + 4D^*R_2}]/(2D^*)` with the n⁻² term; the smallest n at which the
    *exact* risk reaches D* is shown beside it. The bound on E[BE] is checked on the Monte-Carlo fits, where
    the Bayes error between two normals is computed in closed form.
(d) The multivariate normal model on the standardised continuous columns of three scikit-learn datasets
    (wine, diabetes without the binary 'sex' column, breast cancer): p = d + d(d+1)/2,
    :math:`\hat p_\mathrm{eff} = d + (\hat b_2 - d)/2` from Mardia's kurtosis :math:`\hat b_2`, n_min at
    ε = 0.05, the verdict, and the greedy model compression (drop the variable that lowers p̂_eff most)
    until the criterion accepts. Before that, the p_eff formula is validated by Monte Carlo on
    multivariate Student-t data (ν = 10, known :math:`\beta_2 = d(d+2)(\nu-2)/(\nu-4)`), both through the
    risk itself and through the plug-in estimator.

The paper's own datasets (wine quality, abalone) are not shipped with scikit-learn and its tables were not
available; the numbers here are a reproduction of the method, not of the paper's values.

References:
  Y. Sheena, *MLE convergence speed to information projection of exponential family: criterion for
  model dimension and sample size — complete proof version*, arXiv:2105.08947 (2021–2025); journal
  version *Convergence of estimative density: criterion for model complexity and sample size*,
  Statistical Papers (2022), doi:10.1007/s00362-022-01309-9.
  I. Csiszár, *I-divergence geometry of probability distributions and minimization problems*,
  Ann. Probab. 3 (1975).
  K. Takeuchi, *Distribution of information statistics and validity criteria of models* (1976) (TIC,
  p_eff = tr(G⁻¹K)).
  K. V. Mardia, *Measures of multivariate skewness and kurtosis with applications*, Biometrika 57 (1970).
  A. B. Tsybakov, *Introduction to Nonparametric Estimation* (2009), Lemma 2.5 and (2.25).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from scipy import optimize, special

from divjax import divergences as dv
from divjax import expfam as ef
from divjax import plotting
from experiments._harness import Timer, sweep

NAME = "mle_risk"
DESCRIPTION = ("MLE risk E KL(p_θ*‖p_θ̂) vs n against R₁/n + R₂/n² (Sheena 2021): exact and Monte-Carlo "
               "cases, error slopes, the p–n criterion, sklearn datasets")

#: plotting.COLORS with its 7th colour (yellow, too pale for thin lines) replaced by wine red.
_PALETTE = (*plotting.COLORS[:6], "#882255", *plotting.COLORS[7:])


@dataclasses.dataclass(frozen=True)
class Config:
  """Configuration of the mle_risk experiment.

  Attributes:
    n_values: sample sizes of the risk curves (a) and error curves (b).
    gamma_shape: k of the Gamma(k, 1) data for the exponential model (exact case).
    categorical_probs: cell probabilities of the correct categorical model (exact case).
    nb_mean, nb_size: mean and size r of the negative-binomial data for the Poisson model (exact).
    mc_replications: Monte-Carlo replications per (g, n) (rounded up to a multiple of mc_batches).
    mc_batches: the sweep axis (replication batches, sharded over devices).
    t_dim, t_df: dimension and (even) degrees of freedom of the Student-t data validating p_eff.
    t_n_values: sample sizes of the Student-t Monte Carlo.
    t_replications: Monte-Carlo replications per t sample size.
    eps_range, eps_points: the ε grid of panel (c); eps_table: the ε values of the n_min/p_eff table of
      docs/theory/mle_info_projection.md.
    dataset_eps: ε of the dataset verdicts.
    datasets: scikit-learn loaders (``load_<name>``).
    slope_min_n: smallest n of the fitted error slope.
    ratio_min_n: smallest n of the "second-order error < 0.3 × first-order error" check.
    boundary_tol: exact cases whose boundary probability exceeds this are left out of the ratio check
      (the risk restricted to the interior is not the risk there).
  """

  n_values: tuple[int, ...] = (10, 20, 50, 100, 200, 500, 1000)
  gamma_shape: float = 0.5
  categorical_probs: tuple[float, ...] = (0.2, 0.3, 0.5)
  nb_mean: float = 3.0
  nb_size: float = 2.0
  mc_replications: int = 20_000
  mc_batches: int = 8
  t_dim: int = 3
  t_df: int = 10
  t_n_values: tuple[int, ...] = (100, 1000)
  t_replications: int = 16_000
  eps_range: tuple[float, float] = (0.01, 0.2)
  eps_points: int = 60
  eps_table: tuple[float, ...] = (0.01, 0.02, 0.05, 0.10, 0.15, 0.20)
  dataset_eps: float = 0.05
  datasets: tuple[str, ...] = ("wine", "diabetes", "breast_cancer")
  slope_min_n: int = 50
  ratio_min_n: int = 20
  boundary_tol: float = 1e-3

  @classmethod
  def quick(cls) -> "Config":
    """About 40 s on a 2-core CPU (2×10⁴ replications per Monte-Carlo point)."""
    return cls()

  @classmethod
  def paper(cls) -> "Config":
    """A finer n grid up to 2000, 1.3×10⁵ replications per point."""
    return cls(n_values=(10, 15, 20, 30, 50, 70, 100, 150, 200, 300, 500, 700, 1000, 2000),
               mc_replications=131_072, t_n_values=(100, 300, 1000, 3000), t_replications=131_072,
               eps_points=120)


# ---------------------------------------------------------------------------------------------------
# Moments of polynomial sufficient statistics from raw moments of g (closed forms).


def polynomial_moments(exponents: np.ndarray,
                       raw_moment: Callable[[tuple[int, ...]], float]) -> ef.Moments:
  r"""Mean, covariance and third cumulant of :math:`T_a(x) = \prod_i x_i^{\alpha_{ai}}` under g.

  Args:
    exponents: ``[p, d]`` multi-indices α_a of the monomials making up T.
    raw_moment: ``α -> E_g[∏ x_i^{α_i}]`` (exact).

  Returns:
    :class:`divjax.expfam.Moments` in float64 (numpy).
  """
  E = np.asarray(exponents, dtype=int)
  p = E.shape[0]
  m = lambda *idx: float(raw_moment(tuple(int(v) for v in sum(E[i] for i in idx))))
  eta = np.array([m(a) for a in range(p)])
  M2 = np.array([[m(a, b) for b in range(p)] for a in range(p)])
  M3 = np.array([[[m(a, b, c) for c in range(p)] for b in range(p)] for a in range(p)])
  K = M2 - np.outer(eta, eta)
  kappa = (M3 - np.einsum("a,bc->abc", eta, M2) - np.einsum("b,ac->abc", eta, M2) -
           np.einsum("c,ab->abc", eta, M2) + 2.0 * np.einsum("a,b,c->abc", eta, eta, eta))
  return ef.Moments(eta, K, kappa)


def _double_factorial_odd(k: int) -> float:
  """(k − 1)!! for even k ≥ 0: the k-th moment of N(0, 1)."""
  return float(np.prod(np.arange(k - 1, 0, -2))) if k > 0 else 1.0


#: Univariate data distributions for the misspecified normal fits: raw moments E[X^k] and samplers.
def _laplace_moment(k: int) -> float:
  return float(math.factorial(k)) if k % 2 == 0 else 0.0


def _uniform_moment(k: int) -> float:
  return 1.0 / (k + 1)


def _gamma4_moment(k: int) -> float:
  return float(np.prod(np.arange(4, 4 + k))) if k > 0 else 1.0


def _laplace_sampler(key, shape):
  return jax.random.laplace(key, shape, dtype=jnp.float64)


def _uniform_sampler(key, shape):
  return jax.random.uniform(key, shape, dtype=jnp.float64)


def _gamma4_sampler(key, shape):
  # Gamma(4, 1) = the sum of four Exp(1): −log of a product of four uniforms on (0, 1].
  u = 1.0 - jax.random.uniform(key, (4, *shape), dtype=jnp.float64)
  return -jnp.log(jnp.prod(u, axis=0))


#: name → (label, raw moment k ↦ E X^k, sampler (key, shape) ↦ draws).
MC_CASES: dict[str, tuple[str, Callable[[int], float], Callable[..., Any]]] = {
    "normal_laplace": ("normal fit, Laplace data (MC)", _laplace_moment, _laplace_sampler),
    "normal_uniform": ("normal fit, Uniform data (MC)", _uniform_moment, _uniform_sampler),
    "normal_gamma4": ("normal fit, Gamma(4) data (MC)", _gamma4_moment, _gamma4_sampler),
}
EXACT_CASES = ("exponential_gamma", "normal_normal", "categorical", "poisson_negbin")


def student_t_moment(alpha: tuple[int, ...], df: int) -> float:
  r"""E[∏ x_i^{α_i}] for the standard multivariate t: :math:`x = z\sqrt{\nu/W}`, z ~ N(0, I), W ~ χ²_ν.

  Equal to :math:`\mathbb E[(\nu/W)^{|\alpha|/2}]\prod_i(\alpha_i-1)!!` (zero if some α_i is odd), with
  :math:`\mathbb E(\nu/W)^k = \nu^k/\prod_{j=1}^k(\nu-2j)` (finite for 2k < ν).
  """
  if any(a % 2 for a in alpha):
    return 0.0
  k = sum(alpha) // 2
  if 2 * k >= df:
    raise ValueError(f"the moment of order {2 * k} of a t({df}) does not exist.")
  scale = float(df)**k / float(np.prod([df - 2 * j for j in range(1, k + 1)])) if k else 1.0
  return scale * float(np.prod([_double_factorial_odd(a) for a in alpha]))


def mvn_exponents(d: int) -> np.ndarray:
  """Multi-indices of T(x) = (x, vech(xxᵀ)) in the order of ``divjax.expfam.multivariate_normal(d)``."""
  rows, cols = np.tril_indices(d)
  eye = np.eye(d, dtype=int)
  return np.concatenate([eye, eye[rows] + eye[cols]], axis=0)


def student_t_p_eff(d: int, df: float) -> float:
  r"""p_eff of the d-variate normal model on t_ν data: :math:`d + (\beta_2-d)/2`,
  :math:`\beta_2 = d(d+2)(\nu-2)/(\nu-4)`."""
  beta2 = d * (d + 2) * (df - 2.0) / (df - 4.0)
  return d + (beta2 - d) / 2.0


# ---------------------------------------------------------------------------------------------------
# The d-variate normal family with ψ written by cofactors, and the jitted coefficient computation.
# LAPACK-free small-matrix algebra: on CPU, jaxlib 0.10.2 can deadlock when two *batched* LAPACK kernels
# (potrf/getrf/trsm, which split their batch over the intra-op thread pool) run concurrently on a 2-core
# machine; vmapped Mardia inverses and jacfwd through ``multivariate_normal``'s Cholesky produce exactly
# that. For the d ≤ a-few matrices here, cofactor formulas are exact and cheap (the Gaussian KL comes
# from ``divjax.divergences.gaussian_kl_divergence``, which makes no LAPACK call for d ≤ 8).


def _det(m):
  """Determinant of a small matrix given as nested lists of scalars (Laplace expansion)."""
  if not m:
    return 1.0
  if len(m) == 1:
    return m[0][0]
  if len(m) == 2:
    return m[0][0] * m[1][1] - m[0][1] * m[1][0]
  return sum((-1)**j * m[0][j] * _det([row[:j] + row[j + 1:] for row in m[1:]]) for j in range(len(m)))


def _adjugate(m):
  """The adjugate adj(m) (cofactors, transposed) of a small matrix given as nested lists of scalars."""
  n = len(m)
  return [[(-1)**(i + j) * _det([row[:i] + row[i + 1:] for k, row in enumerate(m) if k != j])
           for j in range(n)] for i in range(n)]


def small_inverse(A):
  """A⁻¹ = adj(A)/det(A) of small matrices ``[..., d, d]`` by cofactors (no LAPACK kernel)."""
  d = A.shape[-1]
  m = [[A[..., i, j] for j in range(d)] for i in range(d)]
  adj = jnp.stack([jnp.stack(row, axis=-1) for row in _adjugate(m)], axis=-2)
  return adj / _det(m)[..., None, None]


def _mvn_cofactor(d: int) -> ef.ExponentialFamily:
  r"""``divjax.expfam.multivariate_normal(d)`` with the same T, θ and ψ, but ψ written with cofactors:
  :math:`\psi = 	frac12 h^	op\mathrm{adj}(P)h/\det P - 	frac12\log\det P` (P = Σ⁻¹ from θ, Θ by
  Sylvester's criterion). A rational function, so its 4th derivatives by autodiff involve no LAPACK
  kernel (see the note above) and compile faster than an unrolled Cholesky."""
  ref = ef.multivariate_normal(d)
  rows, cols = np.tril_indices(d)
  pos = {}
  for k, (r, c) in enumerate(zip(rows, cols)):
    pos[(r, c)] = pos[(c, r)] = k

  def psi(th):
    lam = th[d:]
    P = [[-2.0 * lam[pos[(i, j)]] if i == j else -lam[pos[(i, j)]] for j in range(d)]
         for i in range(d)]
    det = _det(P)
    inside = jnp.all(jnp.stack([_det([row[:k] for row in P[:k]]) > 0 for k in range(1, d + 1)]))
    adj = _adjugate(P)
    h = th[:d]
    quad = sum(h[i] * adj[i][j] * h[j] for i in range(d) for j in range(d))
    safe = jnp.where(inside, det, 1.0)
    return jnp.where(inside, 0.5 * quad / safe - 0.5 * jnp.log(safe), jnp.nan)

  return ef.custom(f"mvn{d}_cofactor", ref.dim, ref.sufficient_statistic, psi, ref.log_base_measure,
                   event_shape=(d,), initial_natural=ref.initial_natural)


@functools.partial(jax.jit, static_argnums=0)
def _expansions(family, theta, cov, third):
  """R₁, R₂ in both coordinate forms at θ* (one program)."""
  nat = ef.risk_expansion(family, theta, cov, third, coordinates="natural")
  exp_ = ef.risk_expansion(family, theta, cov, third, coordinates="expectation")
  return nat, exp_


@functools.partial(jax.jit, static_argnums=0)
def _projection(family, mean):
  return ef.information_projection(family, ef.Moments(mean))


# ---------------------------------------------------------------------------------------------------
# Monte-Carlo kernels. One replication batch per sweep element (the harness vmaps and shards the
# batches); inside, every replication of the batch draws ``block`` observations per loop step and
# accumulates the power sums it needs, so the sample size n is a runtime value (one compiled program
# for every n and every g) and memory does not grow with n.


def _normal_fit_from_tbar(tbar):
  """(mean, variance) of the normal with mean parameters T̄ = (E x, E x²)."""
  return tbar[0], tbar[1] - tbar[0]**2


@functools.lru_cache(maxsize=None)
def _normal_mc_batch(reps: int, block: int):
  """``(case_index, theta_star, n, key) -> {kl, be}`` for ``reps`` normal fits to n draws from g."""
  family = ef.normal()
  samplers = [functools.partial(case[2], shape=(reps, block)) for case in MC_CASES.values()]

  def batch(case_index, theta_star, n, key):
    def body(i, sums):
      x = jax.lax.switch(case_index, samplers, jax.random.fold_in(key, i))
      return sums + jnp.stack([x.sum(1), (x * x).sum(1)], axis=-1)

    sums = jax.lax.fori_loop(0, n // block, body, jnp.zeros((reps, 2), jnp.float64))
    tbar = sums / n
    theta_hat = jax.vmap(family.natural_from_mean)(tbar)
    kl = jax.vmap(lambda th: ef.bregman_kl_divergence(family, theta_star, th))(theta_hat)
    m_star, v_star = _normal_fit_from_tbar(ef.mean_parameters(family, theta_star))
    m_hat, v_hat = _normal_fit_from_tbar(tbar.T)
    return {"kl": kl, "be": ef.normal_bayes_error(m_star, v_star, m_hat, v_hat)}

  return batch


def mardia_from_moments(m1, m2, m3, m4):
  r"""Mardia's b₂ from the raw moment tensors :math:`M_k = \frac1n\sum_i x_i^{\otimes k}` (k ≤ 4):
  :math:`b_2 = P_{ij}P_{kl}C_{ijkl}` with C the central 4th-moment tensor and P = S⁻¹ (1/n covariance)."""
  mu = m1
  P = small_inverse(m2 - jnp.outer(mu, mu))
  c4 = (m4 - jnp.einsum("i,jkl->ijkl", mu, m3) - jnp.einsum("j,ikl->ijkl", mu, m3) -
        jnp.einsum("k,ijl->ijkl", mu, m3) - jnp.einsum("l,ijk->ijkl", mu, m3) +
        jnp.einsum("i,j,kl->ijkl", mu, mu, m2) + jnp.einsum("i,k,jl->ijkl", mu, mu, m2) +
        jnp.einsum("i,l,jk->ijkl", mu, mu, m2) + jnp.einsum("j,k,il->ijkl", mu, mu, m2) +
        jnp.einsum("j,l,ik->ijkl", mu, mu, m2) + jnp.einsum("k,l,ij->ijkl", mu, mu, m2) -
        3.0 * jnp.einsum("i,j,k,l->ijkl", mu, mu, mu, mu))
  return jnp.einsum("ij,kl,ijkl->", P, P, c4)


def mvn_raw_moments(t_mean, tt_mean, d: int):
  """Raw moment tensors M₁…M₄ of x from the means of T = (x, vech xxᵀ) and of T Tᵀ (leading axes
  are batch axes)."""
  rows, cols = np.tril_indices(d)
  vech = np.zeros((d, d), dtype=int)
  vech[rows, cols] = np.arange(len(rows))
  vech[cols, rows] = np.arange(len(rows))
  q = d + vech  # position of x_i x_j in T
  m1 = t_mean[..., :d]
  m2 = t_mean[..., q]
  m3 = tt_mean[..., np.arange(d)[:, None, None], q[None]]
  m4 = tt_mean[..., q[:, :, None, None], q[None, None]]
  return m1, m2, m3, m4


@functools.lru_cache(maxsize=None)
def _student_t_mc_batch(reps: int, block: int, d: int, df: int):
  """``(mu_star, sigma_star, n, key) -> {kl, p_eff_hat}``: the d-variate normal fitted to n draws of t_ν.

  Each replication accumulates ΣT and ΣTTᵀ (T = (x, vech xxᵀ), the family's statistic): the first gives
  the MLE (μ̂, Σ̂), the second holds every raw moment of x up to order 4, hence Mardia's b₂ and the plug-in
  p̂_eff. The KL is ``divjax.divergences.gaussian_kl_divergence`` on (μ, Σ) (independent of the
  library's Bregman form in θ; no LAPACK kernel for d ≤ 8).
  """
  family = ef.multivariate_normal(d)
  p = family.dim
  rows, cols = np.tril_indices(d)

  def batch(mu_star, sigma_star, n, key):
    def body(i, sums):
      kz, kw = jax.random.split(jax.random.fold_in(key, i))
      z = jax.random.normal(kz, (reps, block, d), dtype=jnp.float64)
      # W ~ χ²_ν = 2·Gamma(ν/2) = −2 log of a product of ν/2 uniforms on (0, 1] (ν even).
      u = 1.0 - jax.random.uniform(kw, (df // 2, reps, block), dtype=jnp.float64)
      x = z * jnp.sqrt(df / (-2.0 * jnp.sum(jnp.log(u), axis=0)))[..., None]
      t = jax.vmap(jax.vmap(family.sufficient_statistic))(x)  # [reps, block, p]
      s_t, s_tt = sums
      return s_t + t.sum(1), s_tt + jnp.einsum("rba,rbc->rac", t, t)

    zeros = (jnp.zeros((reps, p), jnp.float64), jnp.zeros((reps, p, p), jnp.float64))
    s_t, s_tt = jax.lax.fori_loop(0, n // block, body, zeros)
    m1, m2, m3, m4 = mvn_raw_moments(s_t / n, s_tt / n, d)
    mu_hat = m1
    sigma_hat = m2 - jnp.einsum("ri,rj->rij", m1, m1)
    kl = dv.gaussian_kl_divergence(mu_star, sigma_star, mu_hat, sigma_hat)
    b2 = jax.vmap(mardia_from_moments)(m1, m2, m3, m4)
    return {"kl": kl, "p_eff_hat": d + (b2 - d) / 2.0}

  return batch


def _mc_layout(config: Config, replications: int) -> int:
  """Replications per sweep element (the total is rounded up to a multiple of ``mc_batches``)."""
  return -(-replications // config.mc_batches)


def _block(n_values) -> int:
  """Observations drawn per loop step: the largest divisor of every n that is at most 50."""
  g = functools.reduce(math.gcd, (int(n) for n in n_values))
  return max(b for b in range(1, min(g, 50) + 1) if g % b == 0)


def _mean_se(v: np.ndarray) -> tuple[float, float]:
  return float(np.mean(v)), float(np.std(v, ddof=1) / math.sqrt(v.size))


# ---------------------------------------------------------------------------------------------------
# Datasets.


def load_dataset(name: str) -> tuple[np.ndarray, list[str]]:
  """Standardised continuous columns of ``sklearn.datasets.load_<name>`` (no network)."""
  from sklearn import datasets
  bunch = getattr(datasets, f"load_{name}")()
  x = np.asarray(bunch.data, dtype=np.float64)
  names = list(bunch.feature_names)
  keep = [j for j in range(x.shape[1]) if len(np.unique(x[:, j])) > 2]  # drops diabetes' 'sex'
  x = x[:, keep]
  x = (x - x.mean(0)) / x.std(0)
  return x, [names[j] for j in keep]


# ---------------------------------------------------------------------------------------------------
# The experiment.


def _log_slope(n: np.ndarray, err: np.ndarray) -> float:
  ok = np.isfinite(err) & (err > 0)
  if ok.sum() < 2:
    return math.nan
  return float(np.polyfit(np.log(n[ok]), np.log(err[ok]), 1)[0])


def _exact_n_min(risk_fn: Callable[[float], float], d_star: float, lower: float) -> float:
  """The real n at which the exact (decreasing) risk equals D*."""
  hi = lower + 1.0
  while risk_fn(hi) > d_star:
    hi *= 2.0
  return float(optimize.brentq(lambda n: risk_fn(n) - d_star, lower * (1 + 1e-9) + 1e-9, hi,
                               xtol=1e-10, rtol=1e-12))


def run(config: Config, *, seed: int = 0) -> dict[str, Any]:
  """Runs parts (a)–(d) in float64; returns tables, summary, gap, checks and timings."""
  with jax.enable_x64(True):
    return _run(config, seed)


def _run(config: Config, seed: int) -> dict[str, Any]:
  timer = Timer()
  key = jax.random.PRNGKey(seed)
  n_values = np.asarray(config.n_values, dtype=np.int64)

  # --- Risk-expansion coefficients from the generic autodiff code (both coordinate forms).
  cases: dict[str, dict[str, Any]] = {}

  def add_case(name, label, family, moments, method, *, closed=None, expansion_family=None):
    mean, cov, third = (jnp.asarray(m, jnp.float64) for m in moments)
    proj = _projection(family, mean)
    if not bool(proj.converged):
      raise RuntimeError(f"the information projection of {name} did not converge: {proj}.")
    nat, exp_ = _expansions(expansion_family or family, proj.theta, cov, third)
    cases[name] = {"case": name, "label": label, "model": family.name, "method": method,
                   "p": family.dim, "theta_star": np.asarray(proj.theta), "R1": float(nat.R1),
                   "R2": float(nat.R2), "R2_expectation_form": float(exp_.R2),
                   "R2_reverse": float(nat.R2_reverse), "p_eff": float(nat.p_eff),
                   "R1_closed_form": None if closed is None else closed[0],
                   "R2_closed_form": None if closed is None else closed[1]}

  k = config.gamma_shape
  gamma_raw = lambda a: float(special.gamma(k + a[0]) / special.gamma(k))
  add_case("exponential_gamma", f"exponential fit, Gamma({k:g}) data", ef.exponential(),
           polynomial_moments([[1]], gamma_raw), "exact",
           closed=(1 / (2 * k), 11 / (12 * k**2)))
  normal_raw = lambda a: _double_factorial_odd(a[0]) if a[0] % 2 == 0 else 0.0
  add_case("normal_normal", "normal fit, normal data (correct)", ef.normal(),
           polynomial_moments([[1], [2]], normal_raw), "exact", closed=(1.0, 61 / 12))
  probs = np.asarray(config.categorical_probs, dtype=np.float64)
  kc = len(probs)
  pmf = ef.Pmf(jnp.arange(kc, dtype=jnp.float64), jnp.asarray(probs))
  cat_family = ef.categorical(kc)
  add_case("categorical", f"categorical {tuple(float(v) for v in probs)} (correct, cells>0)",
           cat_family, ef.target_moments(cat_family, pmf), "exact",
           closed=((kc - 1) / 2, (5 * np.sum(1 / probs) - 6 * kc + 1) / 12))
  lam, r = config.nb_mean, config.nb_size
  nb_moments = ef.Moments(np.array([lam]), np.array([[lam + lam**2 / r]]),
                          np.array([[[lam + 3 * lam**2 / r + 2 * lam**3 / r**2]]]))
  add_case("poisson_negbin", f"Poisson fit, NegBin(mean {lam:g}, size {r:g}) data", ef.poisson(),
           nb_moments, "exact")
  for name, (label, raw, _) in MC_CASES.items():
    moments = polynomial_moments([[1], [2]], lambda a, raw=raw: raw(a[0]))
    add_case(name, label, ef.normal(), moments, "monte_carlo")

  # --- (a) exact risks.
  rows: list[dict[str, Any]] = []

  def exact_risk(name, n):
    if name == "exponential_gamma":
      return ef.exact_risk_exponential_gamma(k, n), 0.0
    if name == "normal_normal":
      return ef.exact_risk_normal(n), 0.0
    if name == "categorical":
      return ef.exact_risk_categorical(probs, int(n))
    return ef.exact_risk_poisson_negative_binomial(lam, r, int(n))

  for name in EXACT_CASES:
    c = cases[name]
    for n in n_values:
      risk, boundary = exact_risk(name, int(n))
      first, second = c["R1"] / n, c["R1"] / n + c["R2"] / n**2
      rows.append({"case": name, "label": c["label"], "method": "exact", "n": int(n), "risk": risk,
                   "risk_se": 0.0, "n_risk": n * risk, "n_risk_se": 0.0, "boundary_prob": boundary,
                   "R1": c["R1"], "R2": c["R2"], "first_order": first, "second_order": second,
                   "rel_err_first": abs(first / risk - 1), "rel_err_second": abs(second / risk - 1)})

  # --- (a) Monte-Carlo risks (normal fits to non-normal data): one compiled program for every g and
  # n (the case index, θ* and n are passed unbatched); replication batches are the sharded sweep axis.
  reps = _mc_layout(config, config.mc_replications)
  block = _block(config.n_values)
  mc_reps = config.mc_batches * reps
  for ci, name in enumerate(MC_CASES):
    c = cases[name]
    for n in n_values:
      keys = jax.random.split(jax.random.fold_in(jax.random.fold_in(key, ci), int(n)),
                              config.mc_batches)
      out = sweep(_normal_mc_batch(reps, block), keys,
                  shared=(jnp.int32(ci), jnp.asarray(c["theta_star"]), jnp.int32(n)), timer=timer)
      kl = np.asarray(out["kl"], dtype=np.float64).reshape(-1)
      be = np.asarray(out["be"], dtype=np.float64).reshape(-1)
      risk, se = _mean_se(kl)
      be_mean, be_se = _mean_se(be)
      first, second = c["R1"] / n, c["R1"] / n + c["R2"] / n**2
      rows.append({"case": name, "label": c["label"], "method": "monte_carlo", "n": int(n),
                   "risk": risk, "risk_se": se, "n_risk": n * risk, "n_risk_se": n * se,
                   "boundary_prob": 0.0, "R1": c["R1"], "R2": c["R2"], "first_order": first,
                   "second_order": second, "rel_err_first": abs(first / risk - 1),
                   "rel_err_second": abs(second / risk - 1),
                   "z_second_order": (risk - second) / se, "be_mean": be_mean, "be_se": be_se,
                   "be_lower_bound": float(ef.bayes_error_lower_bound(risk)),
                   "replications": int(kl.size)})

  # --- (b) errors of the predictions against the exact risks, and their slopes.
  error_rows, slopes = [], {}
  for name in EXACT_CASES:
    rs = [row for row in rows if row["case"] == name]
    for row in rs:
      error_rows.append({"case": name, "n": row["n"], "order": "first", "rel_err": row["rel_err_first"],
                         "boundary_prob": row["boundary_prob"]})
      error_rows.append({"case": name, "n": row["n"], "order": "second",
                         "rel_err": row["rel_err_second"], "boundary_prob": row["boundary_prob"]})
    big = [row for row in rs if row["n"] >= config.slope_min_n]
    nn = np.array([row["n"] for row in big], dtype=np.float64)
    slopes[name] = {
        "second": _log_slope(nn, np.array([row["rel_err_second"] for row in big])),
        "first": _log_slope(nn, np.array([row["rel_err_first"] for row in big])),
    }
  ratio_rows = [row for row in rows if row["method"] == "exact" and row["n"] >= config.ratio_min_n]
  ratio_used = [row for row in ratio_rows if row["boundary_prob"] <= config.boundary_tol]
  ratio_left_out = [{"case": row["case"], "n": row["n"], "boundary_prob": row["boundary_prob"],
                     "ratio": row["rel_err_second"] / row["rel_err_first"]}
                    for row in ratio_rows if row["boundary_prob"] > config.boundary_tol]
  max_ratio = max(row["rel_err_second"] / row["rel_err_first"] for row in ratio_used)
  big_exact = [row for row in rows if row["method"] == "exact" and row["n"] >= config.slope_min_n]
  gap_row = max(big_exact, key=lambda row: row["rel_err_second"])

  # --- Student-t validation of p_eff for the d-variate normal model.
  d, df = config.t_dim, config.t_df
  if df % 2 or df <= 6:
    raise ValueError(f"t_df must be an even integer > 6 (6th moments for R₂), got {df}.")
  mvn = ef.multivariate_normal(d)
  t_moments = polynomial_moments(mvn_exponents(d), lambda a: student_t_moment(a, df))
  mvn_twin = _mvn_cofactor(d)
  add_case("mvn_student_t", f"{d}-variate normal fit, t_{df} data (MC)", mvn, t_moments, "monte_carlo",
           expansion_family=mvn_twin)
  ct = cases["mvn_student_t"]
  theta_t = jnp.asarray(ct["theta_star"])
  # The twin must be the same family: ψ and ∇ψ at θ* and at a second point of Θ.
  twin_psi_err = 0.0
  for th in (theta_t, theta_t + 0.01 * jnp.arange(1, mvn.dim + 1) / mvn.dim):
    twin_psi_err = max(twin_psi_err, abs(float(mvn.log_partition(th) - mvn_twin.log_partition(th))),
                       float(jnp.max(jnp.abs(ef.mean_parameters(mvn, th) -
                                             ef.mean_parameters(mvn_twin, th)))))
  eta_t = np.asarray(ef.mean_parameters(mvn, theta_t))
  sigma_t = np.zeros((d, d))
  rr, cc = np.tril_indices(d)
  sigma_t[rr, cc] = eta_t[d:]
  sigma_t = sigma_t + np.tril(sigma_t, -1).T - np.outer(eta_t[:d], eta_t[:d])
  p_eff_formula = student_t_p_eff(d, df)
  t_reps = _mc_layout(config, config.t_replications)
  t_block = _block(config.t_n_values)
  t_rows = []
  for n in config.t_n_values:
    keys = jax.random.split(jax.random.fold_in(jax.random.fold_in(key, 1000), int(n)),
                            config.mc_batches)
    out = sweep(_student_t_mc_batch(t_reps, t_block, d, df), keys,
                shared=(jnp.asarray(eta_t[:d]), jnp.asarray(sigma_t), jnp.int32(n)), timer=timer)
    kl = np.asarray(out["kl"], dtype=np.float64).reshape(-1)
    pe_hat = np.asarray(out["p_eff_hat"], dtype=np.float64).reshape(-1)
    risk, se = _mean_se(kl)
    pe_mean, pe_se = _mean_se(pe_hat)
    second = ct["R1"] / n + ct["R2"] / n**2
    t_rows.append({"n": int(n), "d": d, "df": df, "p": mvn.dim, "risk": risk, "risk_se": se,
                   "n_risk": n * risk, "n_risk_se": n * se, "R1": ct["R1"], "R2": ct["R2"],
                   "second_order": second, "z_second_order": (risk - second) / se,
                   "p_eff_formula": p_eff_formula, "p_eff_expansion": ct["p_eff"],
                   "p_eff_from_risk": 2 * (n * risk - ct["R2"] / n), "p_eff_from_risk_se": 2 * n * se,
                   "p_eff_hat_mean": pe_mean, "p_eff_hat_se": pe_se,
                   "p_eff_hat_sd": float(np.std(pe_hat, ddof=1)), "replications": int(kl.size)})
  t_last = t_rows[-1]
  t_gap = abs(t_last["p_eff_from_risk"] / p_eff_formula - 1)

  # --- (c) the criterion.
  eps = np.geomspace(*config.eps_range, config.eps_points)
  eps_all = np.unique(np.concatenate([eps, np.asarray(config.eps_table)]))
  d_star = np.asarray(ef.critical_risk(jnp.asarray(eps_all)), dtype=np.float64)
  crit_rows = []
  for e, ds in zip(eps_all, d_star):
    crit_rows.append({"eps": float(e), "curve": "first order 1/(2D*)", "case": "any",
                      "d_star": float(ds), "n_min": math.nan, "n_min_over_p_eff": 1.0 / (2.0 * ds)})
  # n_min/p_eff as tabulated with the derivation on docs/theory/mle_info_projection.md (the rows keep
  # their historical curve name, which the tests select on).
  table_values = {0.01: 625.0, 0.02: 156.25, 0.05: 25.0, 0.10: 6.25, 0.15: 2.78, 0.20: 1.56}
  table_check = []
  for e in config.eps_table:
    crit = ef.pn_criterion(0.5, 0.0, e)  # p_eff = 1: n_min/p_eff
    got = float(crit.n_min_first_order)
    want = table_values.get(round(e, 2), math.nan)
    table_check.append(abs(got - want) <= 0.005 * want + 0.005 if math.isfinite(want) else True)
    crit_rows.append({"eps": float(e), "curve": "spec §3.2 table", "case": "any",
                      "d_star": float(crit.d_star), "n_min": math.nan, "n_min_over_p_eff": want,
                      "library_first_order": got})
  exact_fns = {"exponential_gamma": (lambda n: float(special.digamma(n * k) - math.log(n * k) +
                                                    1.0 / (n * k - 1.0)), 1.0 / k),
               "normal_normal": (lambda n: float(0.5 * (special.digamma((n - 1) / 2) + math.log(2 / n))
                                                 + 2.0 / (n - 3)), 3.0)}
  n_min_rows = []
  for name in ("exponential_gamma", "normal_normal", "categorical"):
    c = cases[name]
    crit = ef.pn_criterion(c["R1"], c["R2"], jnp.asarray(eps_all))
    for e, ds, nm in zip(eps_all, d_star, np.asarray(crit.n_min)):
      crit_rows.append({"eps": float(e), "curve": "second order", "case": name, "d_star": float(ds),
                        "n_min": float(nm), "n_min_over_p_eff": float(nm) / c["p_eff"]})
    if name in exact_fns:
      fn, lower = exact_fns[name]
      for e in config.eps_table:
        ds = float(ef.critical_risk(e))
        n_exact = _exact_n_min(fn, ds, lower)
        nm2 = float(ef.pn_criterion(c["R1"], c["R2"], e).n_min)
        crit_rows.append({"eps": float(e), "curve": "exact risk = D*", "case": name, "d_star": ds,
                          "n_min": n_exact, "n_min_over_p_eff": n_exact / c["p_eff"]})
        n_min_rows.append({"case": name, "eps": float(e), "n_min_exact": n_exact,
                           "n_min_second_order": nm2, "n_min_first_order": c["p_eff"] / (2 * ds)})

  # --- (d) datasets.
  d_star_data = float(ef.critical_risk(config.dataset_eps))
  data_rows, path_rows, library_match = [], [], []
  for ds_name in config.datasets:
    x, names = load_dataset(ds_name)
    n, dd = x.shape
    steps = ef.compress_normal_model(x, config.dataset_eps)
    path = [{"variables": s.variables, "d": len(s.variables), "p": s.p,
             "b2": 2.0 * (s.p_eff - len(s.variables)) + len(s.variables), "p_eff": s.p_eff,
             "n_min": s.n_min, "accepted": bool(s.accepted)} for s in steps]
    # The search runs on the host in NumPy; the JAX p_eff of the full model must agree with it.
    p_eff_jax = float(ef.normal_model_p_eff(jnp.asarray(x)))
    library_match.append(abs(p_eff_jax - path[0]["p_eff"]) <= 1e-8 * abs(p_eff_jax))
    for i, s in enumerate(path):
      path_rows.append({"dataset": ds_name, "step": i, "n": n, **{k_: v for k_, v in s.items()
                                                                  if k_ != "variables"},
                        "variables": ";".join(names[j] for j in s["variables"])})
    for stage, s in (("full", path[0]), ("compressed", path[-1])):
      crit = ef.pn_criterion(s["p_eff"] / 2.0, 0.0, config.dataset_eps, n)
      data_rows.append({"dataset": ds_name, "stage": stage, "n": n, "d": s["d"], "p": s["p"],
                        "b2": s["b2"], "b2_normal": s["d"] * (s["d"] + 2), "p_eff": s["p_eff"],
                        "p_eff_over_p": s["p_eff"] / s["p"], "n_min": float(crit.n_min),
                        "n_over_n_min": n / float(crit.n_min), "accepted": bool(crit.accepted),
                        "eps": config.dataset_eps, "d_star": d_star_data,
                        "variables": ";".join(names[j] for j in s["variables"])})

  # --- Checks.
  tol_coef = 1e-10
  coef_ok = all(abs(c["R1"] - c["R1_closed_form"]) <= tol_coef * max(1, abs(c["R1_closed_form"])) and
                abs(c["R2"] - c["R2_closed_form"]) <= tol_coef * max(1, abs(c["R2_closed_form"]))
                for c in cases.values() if c["R1_closed_form"] is not None)
  forms_ok = all(abs(c["R2"] - c["R2_expectation_form"]) <= 1e-9 * max(1.0, abs(c["R2"]))
                 for c in cases.values())
  correct = [row for row in rows if row["case"] in ("normal_normal", "categorical")
             and row["n"] == int(n_values.max())]
  correct_dev = max(abs(row["n_risk"] / (cases[row["case"]]["p"] / 2) - 1) for row in correct)
  mc_rows = [row for row in rows if row["method"] == "monte_carlo"]
  mc_last = [row for row in mc_rows if row["n"] == int(n_values.max())]
  mc_z_max = max(abs(row["z_second_order"]) for row in mc_last)
  be_margin = min(row["be_mean"] - 2 * row["be_se"] - row["be_lower_bound"] for row in mc_rows)
  laplace20 = [row for row in mc_rows if row["case"] == "normal_laplace" and row["n"] == 20]
  checks = {
      "coefficients_match_closed_forms": bool(coef_ok),
      "R2_natural_form_equals_expectation_form": bool(forms_ok),
      "second_order_error_below_0.3x_first_order_for_n_ge_20": bool(max_ratio < 0.3),
      "second_order_error_slope_is_-2_for_n_ge_50": bool(
          all(abs(s["second"] + 2) <= 0.6 for s in slopes.values())),
      "correct_model_n_risk_tends_to_p_over_2_within_2pct": bool(correct_dev < 0.02),
      "mc_misspecified_fits_match_second_order_within_4se_at_largest_n": bool(mc_z_max < 4),
      "bayes_error_bound_holds": bool(be_margin >= 0),
      "criterion_table_matches_1_over_2dstar": bool(all(table_check)),
      # The n⁻³ remainder is large for t₁₀ data at small n (8th moments of x enter it), so the MC is
      # compared with R₁/n + R₂/n² at the largest n only, like the misspecified normal fits.
      "p_eff_formula_validated_on_student_t": bool(
          abs(ct["p_eff"] - p_eff_formula) <= 1e-9 * p_eff_formula and twin_psi_err < 1e-10 and
          abs(t_last["z_second_order"]) < 4 and t_gap < 0.02),
      "host_and_jax_p_eff_agree": bool(all(library_match)),
      "compressed_models_accepted": bool(all(row["accepted"] for row in data_rows
                                             if row["stage"] == "compressed")),
  }

  coef_rows = [{k_: (v.tolist() if isinstance(v, np.ndarray) else v) for k_, v in c.items()}
               for c in cases.values()]
  summary = {
      "coefficients": {c["case"]: {"R1": c["R1"], "R2": c["R2"], "p": c["p"], "p_eff": c["p_eff"]}
                       for c in cases.values()},
      "max_rel_err_second_order_n_ge_50": {"value": gap_row["rel_err_second"], "case": gap_row["case"],
                                           "n": gap_row["n"]},
      "max_ratio_second_to_first_n_ge_20": max_ratio,
      "ratio_check_left_out_boundary": ratio_left_out,
      "second_order_error_slopes_n_ge_50": {k_: v["second"] for k_, v in slopes.items()},
      "first_order_error_slopes_n_ge_50": {k_: v["first"] for k_, v in slopes.items()},
      "correct_model_n_risk_at_largest_n": {row["case"]: row["n_risk"] for row in correct},
      "correct_model_max_rel_dev_from_p_over_2": correct_dev,
      "categorical_boundary_prob": {str(row["n"]): row["boundary_prob"] for row in rows
                                    if row["case"] == "categorical"},
      "mc_replications": mc_reps,
      "mc_z_at_largest_n": {row["case"]: row["z_second_order"] for row in mc_last},
      "bayes_error_laplace_n20": ({"mean": laplace20[0]["be_mean"], "se": laplace20[0]["be_se"],
                                   "bound": laplace20[0]["be_lower_bound"]} if laplace20 else None),
      "bayes_error_min_margin": be_margin,
      "student_t": {"d": d, "df": df, "p": mvn.dim, "p_eff_formula": p_eff_formula,
                    "cofactor_twin_max_abs_err": twin_psi_err,
                    "p_eff_expansion": ct["p_eff"], "R2": ct["R2"],
                    "p_eff_from_risk": t_last["p_eff_from_risk"],
                    "p_eff_from_risk_se": t_last["p_eff_from_risk_se"], "p_eff_rel_gap": t_gap,
                    "estimator_rel_bias": {str(row["n"]): row["p_eff_hat_mean"] / p_eff_formula - 1
                                           for row in t_rows}},
      "criterion_n_min": n_min_rows,
      "datasets": {row["dataset"] + "/" + row["stage"]: {
          k_: row[k_] for k_ in ("n", "d", "p", "p_eff", "n_min", "accepted", "variables")}
          for row in data_rows},
  }
  return {
      "tables": {"risk_curves": rows, "errors": error_rows, "coefficients": coef_rows,
                 "criterion": crit_rows, "student_t": t_rows, "datasets": data_rows,
                 "compression_path": path_rows},
      "summary": summary,
      "gap": {"metric": "max rel. error of R₁/n+R₂/n² vs exact risk, n ≥ 50",
              "value": gap_row["rel_err_second"], "tolerance": 0.01},
      "checks": checks,
      "timings": timer.as_dict(),
  }


# ---------------------------------------------------------------------------------------------------
# Figure.


def _color(i: int) -> str:
  return _PALETTE[i % len(_PALETTE)]


def plot(results: dict[str, Any]):
  """(a) n·R_n vs n; (b) relative errors vs n; (c) n_min/p_eff vs ε; (d) datasets."""
  tables = results["tables"]
  rows = tables["risk_curves"]
  case_names = list(dict.fromkeys(row["case"] for row in rows))
  fig, axes = plotting.new_figure(2, 2, width=5.6, height=4.2)
  ax_a, ax_b, ax_c, ax_d = axes[0, 0], axes[0, 1], axes[1, 0], axes[1, 1]

  # (a) n·R_n.
  for i, name in enumerate(case_names):
    rs = sorted((row for row in rows if row["case"] == name), key=lambda row: row["n"])
    n = np.array([row["n"] for row in rs], dtype=float)
    color = _color(i)
    nn = np.geomspace(n.min(), n.max(), 200)
    R1, R2 = rs[0]["R1"], rs[0]["R2"]
    plotting.plot_theory(ax_a, nn, R1 + R2 / nn, color=color, label=None, linewidth=1.1)
    ax_a.plot(nn, np.full_like(nn, R1), ":", color=color, linewidth=1.0)
    mc = rs[0]["method"] == "monte_carlo"
    plotting.plot_measurement(
        ax_a, n, [row["n_risk"] for row in rs],
        yerr=[2 * row["n_risk_se"] for row in rs] if mc else None, color=color, filled=not mc,
        marker="s" if mc else "o", label=rs[0]["label"])
  ax_a.plot([], [], "--", color="0.3", label="theory R₁ + R₂/n (second order)")
  ax_a.plot([], [], ":", color="0.3", label="theory R₁ (first order)")
  ax_a.set_xscale("log")
  ax_a.set_xlabel("sample size n")
  ax_a.set_ylabel("n · R_n   (R_n = E KL(p_θ* ‖ p_θ̂))")
  ax_a.set_title("(a) risk of the MLE: filled = exact, hollow = MC ± 2 SE", fontsize=10)
  ax_a.legend(fontsize=6.5, ncol=2, loc="upper right", frameon=False)
  top = max(row["n_risk"] + 2 * row["n_risk_se"] for row in rows)
  ax_a.set_ylim(0.4, top * 1.45)

  # (b) relative errors, exact cases.
  errors = tables["errors"]
  exact = list(dict.fromkeys(e["case"] for e in errors))
  all_n = np.array(sorted({e["n"] for e in errors}), dtype=float)
  for name in exact:
    i = case_names.index(name)
    for order, filled, style in (("first", False, ":"), ("second", True, "-")):
      es = sorted((e for e in errors if e["case"] == name and e["order"] == order),
                  key=lambda e: e["n"])
      plotting.plot_measurement(ax_b, [e["n"] for e in es], [e["rel_err"] for e in es],
                                color=_color(i), filled=filled, linestyle=style,
                                label=name if order == "second" else None)
  nn = np.geomspace(all_n.min(), all_n.max(), 50)
  first_err = [e["rel_err"] for e in errors if e["order"] == "first" and e["n"] == all_n.min()]
  second_err = [e["rel_err"] for e in errors if e["order"] == "second" and e["n"] == 50]
  a1 = max(first_err) * 1.5
  a2 = (max(second_err) if second_err else 1e-2) * 1.5 * (50 / all_n.min())**2
  plotting.plot_theory(ax_b, nn, a1 * (nn / nn[0])**-1.0, label="slope n⁻¹ (reference)")
  plotting.plot_theory(ax_b, nn, a2 * (nn / nn[0])**-2.0, label="slope n⁻² (reference)",
                       color="0.45")
  ax_b.plot([], [], ":", marker="o", markerfacecolor="white", color="0.3", label="first order R₁/n")
  ax_b.plot([], [], "-", marker="o", color="0.3", label="second order R₁/n+R₂/n²")
  ax_b.set_xscale("log")
  ax_b.set_yscale("log")
  ax_b.set_xlabel("sample size n")
  ax_b.set_ylabel("|prediction / exact risk − 1|")
  ax_b.set_title("(b) relative error of the expansion (exact cases)", fontsize=10)
  slopes = results["summary"]["second_order_error_slopes_n_ge_50"]
  gap = results["gap"]
  plotting.annotate_gap(
      ax_b, "fitted slope, 2nd order, n ≥ 50:\n" +
      "\n".join(f"  {k}: {v:+.2f}" for k, v in slopes.items()) +
      f"\nmax 2nd-order error n ≥ 50: {gap['value']:.2%}", loc="lower left")
  ax_b.set_ylim(min(e["rel_err"] for e in errors if e["rel_err"] > 0) / 30, 3.0)
  ax_b.legend(fontsize=6.5, loc="upper right", frameon=False)

  # (c) the criterion.
  crit = tables["criterion"]
  first = sorted((c for c in crit if c["curve"] == "first order 1/(2D*)"), key=lambda c: c["eps"])
  plotting.plot_theory(ax_c, [c["eps"] for c in first], [c["n_min_over_p_eff"] for c in first],
                       label="first order n_min/p_eff = 1/(2D*(ε))")
  table = [c for c in crit if c["curve"] == "spec §3.2 table"]
  ax_c.plot([c["eps"] for c in table], [c["n_min_over_p_eff"] for c in table], "s", color="black",
            markerfacecolor="none", markersize=8, label="derived table (docs/theory)", zorder=5)
  for name in dict.fromkeys(c["case"] for c in crit if c["curve"] == "second order"):
    i = case_names.index(name)
    cs = sorted((c for c in crit if c["curve"] == "second order" and c["case"] == name),
                key=lambda c: c["eps"])
    ax_c.plot([c["eps"] for c in cs], [c["n_min_over_p_eff"] for c in cs], "-.", color=_color(i),
              linewidth=1.1, label=f"with R₂/n²: {name}")
    ex = sorted((c for c in crit if c["curve"] == "exact risk = D*" and c["case"] == name),
                key=lambda c: c["eps"])
    if ex:
      plotting.plot_measurement(ax_c, [c["eps"] for c in ex], [c["n_min_over_p_eff"] for c in ex],
                                color=_color(i), linestyle="none", marker="x",
                                label=f"exact R_n = D*: {name}")
  ax_c.set_xscale("log")
  ax_c.set_yscale("log")
  ax_c.set_xlabel("ε   (require E[Bayes error] ≥ ½ − ε)")
  ax_c.set_ylabel("n_min / p_eff")
  ax_c.set_title("(c) p–n criterion: R₁/n + R₂/n² ≤ D*(ε)", fontsize=10)
  ax_c.legend(fontsize=6.5, loc="upper right", frameon=False)

  # (d) datasets before / after compression.
  data = tables["datasets"]
  names = list(dict.fromkeys(r["dataset"] for r in data))
  width = 0.2
  bars = (("full", "p_eff_over_p", _PALETTE[0], False, "p̂_eff / p, full"),
          ("compressed", "p_eff_over_p", _PALETTE[0], True, "p̂_eff / p, compressed"),
          ("full", "n_over_n_min", _PALETTE[1], False, "n / n_min, full"),
          ("compressed", "n_over_n_min", _PALETTE[1], True, "n / n_min, compressed"))
  for j, (stage, key, color, solid, label) in enumerate(bars):
    xs = np.arange(len(names)) + (j - 1.5) * width
    vals = [next(r[key] for r in data if r["dataset"] == nm and r["stage"] == stage) for nm in names]
    ax_d.bar(xs, vals, width, color=color if solid else "white", edgecolor=color, hatch=None if solid
             else "///", label=label)
    for x_, v in zip(xs, vals):
      ax_d.text(x_, v * 1.08, f"{v:.2f}" if v >= 0.1 else f"{v:.2g}", ha="center", va="bottom",
                fontsize=6)
  ax_d.axhline(1.0, color="black", linestyle="--", linewidth=1.0,
               label="1: accept iff n / n_min ≥ 1")
  ax_d.set_yscale("log")
  labels = []
  for nm in names:
    full = next(r for r in data if r["dataset"] == nm and r["stage"] == "full")
    comp = next(r for r in data if r["dataset"] == nm and r["stage"] == "compressed")
    labels.append(f"{nm}\nn={full['n']}, d {full['d']}→{comp['d']}\np {full['p']}→{comp['p']}")
  ax_d.set_xticks(np.arange(len(names)), labels, fontsize=7.5)
  eps_d = data[0]["eps"]
  ax_d.set_title(f"(d) multivariate normal on sklearn data, ε = {eps_d:g}", fontsize=10)
  ax_d.set_ylim(min(r["n_over_n_min"] for r in data) / 3, 2e3)
  ax_d.legend(fontsize=6.5, loc="upper right", frameon=False)
  st = results["summary"]["student_t"]
  plotting.annotate_gap(
      ax_d, f"p_eff formula check on t_{st['df']} data,\nd = {st['d']} (p = {st['p']}): Monte Carlo\n"
      f"{st['p_eff_from_risk']:.2f} ± {2 * st['p_eff_from_risk_se']:.2f} vs\n"
      f"d + (β₂ − d)/2 = {st['p_eff_formula']:.2f}", loc="upper left")

  fig.suptitle("MLE → information projection: risk to O(n⁻²) and the p–n criterion "
               "(Sheena, arXiv:2105.08947)", fontsize=11)
  return fig
