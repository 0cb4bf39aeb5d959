"""Discrete divergences against independent oracles (scipy, plain float64 NumPy), properties, errors."""

import functools

import hypothesis.extra.numpy as hnp
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special as sp
from hypothesis import given
from hypothesis import strategies as st
from jax.test_util import check_grads
from scipy.spatial.distance import jensenshannon
from scipy.stats import entropy

from divjax import divergences as dv

# ---------------------------------------------------------------------------------------------------
# Oracles: plain float64 NumPy formulas, written from the textbook definitions (not from divjax).


def np_kl(p, q):
  return sp.rel_entr(p, q).sum(-1)


def np_js(p, q):
  return jensenshannon(p, q, axis=-1)**2  # scipy returns the square root, natural log by default


def np_tv(p, q):
  return 0.5 * np.abs(p - q).sum(-1)


def np_h2(p, q):
  return 0.5 * ((np.sqrt(p) - np.sqrt(q))**2).sum(-1)


def np_chi2(p, q):
  with np.errstate(divide="ignore", invalid="ignore"):
    t = np.where(q > 0, (p - q)**2 / np.where(q > 0, q, 1), np.where(p > 0, np.inf, 0.0))
  return t.sum(-1)


def np_renyi(p, q, alpha):
  with np.errstate(divide="ignore"):
    return np.log((p**alpha * q**(1 - alpha)).sum(-1)) / (alpha - 1)


def np_alpha(p, q, alpha):
  with np.errstate(divide="ignore"):
    return ((p**alpha * q**(1 - alpha)).sum(-1) - 1) / (alpha * (alpha - 1))


def np_cs(p, q):
  # divjax's (Yu et al. 2024) convention: −log((Σpq)²/(Σp² Σq²)), twice Jenssen et al.'s.
  return -np.log((p * q).sum(-1)**2 / ((p * p).sum(-1) * (q * q).sum(-1)))


def log_space_oracles(lp, lq):
  """Float64 references for extreme logits, evaluated in log space with scipy.special.logsumexp."""
  p, q = np.exp(lp), np.exp(lq)
  return {
      "kl": np.sum(np.where(p > 0, p * (lp - lq), 0.0)),
      "renyi2": sp.logsumexp(2 * lp - lq),
      "renyi_half": -2 * sp.logsumexp(0.5 * (lp + lq)),
      "cs": -2 * sp.logsumexp(lp + lq) + sp.logsumexp(2 * lp) + sp.logsumexp(2 * lq),
  }


def dirichlet_pairs(seed, shape=(5, 7), zeros=True):
  rng = np.random.default_rng(seed)
  p = rng.dirichlet(np.ones(shape[-1]), size=shape[:-1])
  q = rng.dirichlet(np.ones(shape[-1]), size=shape[:-1])
  if zeros:  # a zero of p (0 log 0) in row 0, a common zero in row 1
    p[0, 2] = 0
    p[1, 3] = q[1, 3] = 0
    p /= p.sum(-1, keepdims=True)
    q /= q.sum(-1, keepdims=True)
  return p, q


@pytest.fixture
def x64():
  with jax.enable_x64(True):
    yield


SYMMETRIC = {
    "js": dv.js_divergence,
    "tv": dv.total_variation,
    "h2": dv.squared_hellinger_distance,
    "hellinger": dv.hellinger_distance,
    "cs": dv.cauchy_schwarz_divergence,
}
ALL = {
    "kl": dv.kl_divergence,
    "reverse_kl": dv.reverse_kl_divergence,
    "chi2": dv.chi2_divergence,
    "renyi_0.5": functools.partial(dv.renyi_divergence, alpha=0.5),
    "renyi_2": functools.partial(dv.renyi_divergence, alpha=2.0),
    "alpha_-1": functools.partial(dv.alpha_divergence, alpha=-1.0),
    "alpha_0.3": functools.partial(dv.alpha_divergence, alpha=0.3),
    "alpha_2": functools.partial(dv.alpha_divergence, alpha=2.0),
    **SYMMETRIC,
}

# ---------------------------------------------------------------------------------------------------
# Values against scipy / NumPy, float64.


@pytest.mark.parametrize("name, fn, oracle", [
    ("kl", dv.kl_divergence, np_kl),
    ("reverse_kl", dv.reverse_kl_divergence, lambda p, q: np_kl(q, p)),
    ("js", dv.js_divergence, np_js),
    ("tv", dv.total_variation, np_tv),
    ("h2", dv.squared_hellinger_distance, np_h2),
    ("hellinger", dv.hellinger_distance, lambda p, q: np.sqrt(np_h2(p, q))),
    ("chi2", dv.chi2_divergence, np_chi2),
    ("cs", dv.cauchy_schwarz_divergence, np_cs),
])
def test_matches_float64_oracle_with_zeros(x64, name, fn, oracle):
  p, q = dirichlet_pairs(0)
  np.testing.assert_allclose(jax.jit(fn)(p, q), oracle(p, q), rtol=1e-12, atol=1e-14)


def test_kl_matches_scipy_entropy(x64):
  p, q = dirichlet_pairs(1, zeros=False)
  np.testing.assert_allclose(dv.kl_divergence(p, q), entropy(p, q, axis=-1), rtol=1e-12)


@pytest.mark.parametrize("alpha", [0.3, 0.5, 0.9, 2.0, 5.0])
def test_renyi_matches_oracle(x64, alpha):
  p, q = dirichlet_pairs(2, zeros=False)
  np.testing.assert_allclose(dv.renyi_divergence(p, q, alpha=alpha), np_renyi(p, q, alpha), rtol=1e-11)


@pytest.mark.parametrize("alpha", [-2.0, -1.0, 0.3, 0.5, 0.7, 2.0, 3.0])
def test_alpha_divergence_matches_oracle(x64, alpha):
  p, q = dirichlet_pairs(3, zeros=False)
  np.testing.assert_allclose(dv.alpha_divergence(p, q, alpha=alpha), np_alpha(p, q, alpha), rtol=1e-11)


@pytest.mark.parametrize("generator, oracle", [
    (dv.KL, np_kl),
    (dv.REVERSE_KL, lambda p, q: np_kl(q, p)),
    (dv.JENSEN_SHANNON, np_js),
    (dv.TOTAL_VARIATION, np_tv),
    (dv.SQUARED_HELLINGER, np_h2),
    (dv.PEARSON_CHI2, np_chi2),
    (dv.NEYMAN_CHI2, lambda p, q: np_chi2(q, p)),
    (dv.JEFFREYS, lambda p, q: np_kl(p, q) + np_kl(q, p)),
    (dv.alpha_generator(2.0), lambda p, q: np_alpha(p, q, 2.0)),
    (dv.alpha_generator(-0.5), lambda p, q: np_alpha(p, q, -0.5)),
])
def test_f_divergence_matches_textbook_formula(x64, generator, oracle):
  p, q = dirichlet_pairs(4, zeros=False)
  np.testing.assert_allclose(dv.f_divergence(generator, p, q), oracle(p, q), rtol=1e-10)


def test_f_divergence_boundary_conventions(x64):
  # q = 0 < p costs p f'(∞); p = 0 < q costs q f(0); both zero costs nothing.
  p = np.array([0.5, 0.5, 0.0, 0.0])
  q = np.array([0.5, 0.0, 0.5, 0.0])
  # TV: f'(∞) = f(0) = ½ → ½(0.5 + 0.5) = 0.5; JS: ½ log 2 each side.
  np.testing.assert_allclose(dv.f_divergence(dv.TOTAL_VARIATION, p, q), 0.5, rtol=1e-12)
  np.testing.assert_allclose(dv.f_divergence(dv.JENSEN_SHANNON, p, q), np_js(p, q), rtol=1e-12)
  assert np.isposinf(dv.f_divergence(dv.KL, p, q))
  assert np.isposinf(dv.f_divergence(dv.REVERSE_KL, p, q))


def test_logits_path_matches_probabilities_of_softmax(x64):
  rng = np.random.default_rng(5)
  a, b = rng.normal(size=(2, 4, 9)) * 2
  p, q = sp.softmax(a, axis=-1), sp.softmax(b, axis=-1)
  for name, fn in ALL.items():
    np.testing.assert_allclose(fn(a, b, logits=True), fn(p, q), rtol=1e-10, err_msg=name)


def test_unnormalised_logits_are_normalised(x64):
  a = np.array([0.3, -1.0, 2.0])
  b = np.array([1.0, 0.0, -0.5])
  np.testing.assert_allclose(dv.kl_divergence(a + 7.0, b - 3.0, logits=True),
                             np_kl(sp.softmax(a), sp.softmax(b)), rtol=1e-12)


# ---------------------------------------------------------------------------------------------------
# Float32 accuracy: nearby distributions and extreme logits.


@pytest.mark.parametrize("name", ["kl", "js", "h2", "tv", "chi2", "cs", "renyi_0.5", "renyi_2"])
def test_float32_relative_accuracy_for_nearby_distributions(name):
  # KL ~ 4e-7 here: a naive float32 Σ p log(p/q) has absolute error ~1e-7·Σ|p log p|, i.e. ~100%
  # relative error; the cancellation-free forms keep ~1e-4 relative accuracy.
  rng = np.random.default_rng(6)
  a = rng.normal(size=50).astype(np.float32)
  b = (a + 1e-3 * rng.normal(size=50)).astype(np.float32)
  p, q = sp.softmax(a.astype(np.float64)), sp.softmax(b.astype(np.float64))
  oracle = {
      "kl": np_kl, "js": np_js, "h2": np_h2, "tv": np_tv, "chi2": np_chi2, "cs": np_cs,
      "renyi_0.5": lambda p, q: np_renyi(p, q, 0.5), "renyi_2": lambda p, q: np_renyi(p, q, 2.0)
  }[name](p, q)
  got = ALL[name](jnp.asarray(a), jnp.asarray(b), logits=True)
  assert got.dtype == jnp.float32
  np.testing.assert_allclose(got, oracle, rtol=2e-3 if name == "tv" else 5e-4)


def test_float32_extreme_logits_are_exact_in_log_space():
  rng = np.random.default_rng(3)
  a = (rng.normal(size=40) * 200).astype(np.float32)
  b = (rng.normal(size=40) * 200).astype(np.float32)
  lp, lq = sp.log_softmax(a.astype(np.float64)), sp.log_softmax(b.astype(np.float64))
  ref = log_space_oracles(lp, lq)
  np.testing.assert_allclose(dv.kl_divergence(a, b, logits=True), ref["kl"], rtol=1e-5)
  np.testing.assert_allclose(dv.renyi_divergence(a, b, alpha=2.0, logits=True), ref["renyi2"], rtol=1e-5)
  np.testing.assert_allclose(dv.renyi_divergence(a, b, alpha=0.5, logits=True), ref["renyi_half"],
                             rtol=1e-5)
  np.testing.assert_allclose(dv.cauchy_schwarz_divergence(a, b, logits=True), ref["cs"], rtol=1e-5)
  np.testing.assert_allclose(dv.js_divergence(a, b, logits=True), np.log(2), rtol=1e-6)
  for name, fn in ALL.items():
    value = fn(a, b, logits=True)
    assert not np.isnan(value), name


# ---------------------------------------------------------------------------------------------------
# Conventions at the edges.


def test_kl_is_infinite_where_q_vanishes_under_p():
  assert np.isposinf(dv.kl_divergence(jnp.array([0.5, 0.5]), jnp.array([1.0, 0.0])))
  assert np.isposinf(dv.chi2_divergence(jnp.array([0.5, 0.5]), jnp.array([1.0, 0.0])))
  assert np.isposinf(dv.renyi_divergence(jnp.array([0.5, 0.5]), jnp.array([1.0, 0.0]), alpha=1.5))


def test_zero_log_zero_is_zero():
  np.testing.assert_allclose(dv.kl_divergence(jnp.array([1.0, 0.0]), jnp.array([0.5, 0.5])), np.log(2),
                             rtol=1e-6)


def test_renyi_below_one_is_finite_on_partial_support(x64):
  p, q = np.array([0.5, 0.5]), np.array([1.0, 0.0])
  np.testing.assert_allclose(dv.renyi_divergence(p, q, alpha=0.5), np_renyi(p, q, 0.5), rtol=1e-12)


def test_disjoint_supports():
  p, q = jnp.array([1.0, 0.0]), jnp.array([0.0, 1.0])
  assert np.isposinf(dv.cauchy_schwarz_divergence(p, q))
  assert np.isposinf(dv.renyi_divergence(p, q, alpha=0.5))
  np.testing.assert_allclose(dv.js_divergence(p, q), np.log(2), rtol=1e-6)
  np.testing.assert_allclose(dv.total_variation(p, q), 1.0, rtol=1e-6)
  np.testing.assert_allclose(dv.squared_hellinger_distance(p, q), 1.0, rtol=1e-6)


def test_gradients_are_finite_with_zero_probabilities():
  p = jnp.array([0.5, 0.5, 0.0, 0.0])
  q = jnp.array([0.2, 0.6, 0.2, 0.0])  # p has a zero where q > 0 and both vanish at the end
  for name, fn in ALL.items():
    if name in ("reverse_kl", "alpha_-1", "alpha_0.3"):
      continue  # these are +inf here (p = 0 < q), their gradient is meaningless
    value = fn(p, q)
    assert np.isfinite(value), name
    gp, gq = jax.grad(fn, argnums=(0, 1))(p, q)
    assert np.isfinite(gp).all() and np.isfinite(gq).all(), name


def test_gradients_are_finite_at_equality():
  p = jnp.array([0.2, 0.3, 0.5])
  for name, fn in ALL.items():
    g = jax.grad(fn)(p, p)
    assert np.isfinite(g).all(), name


@pytest.mark.parametrize("name", sorted(ALL))
def test_logit_gradients_match_finite_differences(x64, name):
  rng = np.random.default_rng(7)
  a, b = rng.normal(size=(2, 6))
  fn = functools.partial(ALL[name], logits=True)
  check_grads(fn, (a, b), order=1, modes=["rev"], atol=1e-6, rtol=1e-6)


def test_grad_wrt_alpha_is_smooth_through_one(x64):
  p, q = dirichlet_pairs(8, shape=(6,), zeros=False)[0][None], dirichlet_pairs(9, shape=(6,),
                                                                               zeros=False)[1][None]
  d_renyi = jax.grad(lambda a: dv.renyi_divergence(p, q, alpha=a)[0])
  d_alpha = jax.grad(lambda a: dv.alpha_divergence(p, q, alpha=a)[0])
  for d in (d_renyi, d_alpha):
    at_one = d(1.0)
    around = 0.5 * (d(1.0 - 1e-4) + d(1.0 + 1e-4))
    assert np.isfinite(at_one)
    np.testing.assert_allclose(at_one, around, rtol=1e-4)


# ---------------------------------------------------------------------------------------------------
# Masks, axes, broadcasting, jit and vmap.


def test_condition_on_restricts_and_renormalises_both_distributions(x64):
  p, q = dirichlet_pairs(10, shape=(3, 6), zeros=False)
  keep = np.array([True, True, False, True, False, True])
  ps = p[:, keep] / p[:, keep].sum(-1, keepdims=True)
  qs = q[:, keep] / q[:, keep].sum(-1, keepdims=True)
  np.testing.assert_allclose(dv.kl_divergence(p, q, condition_on=keep), np_kl(ps, qs), rtol=1e-12)
  np.testing.assert_allclose(dv.js_divergence(np.log(p), np.log(q), condition_on=keep, logits=True),
                             np_js(ps, qs), rtol=1e-12)


def test_axis_argument(x64):
  p, q = dirichlet_pairs(11, shape=(4, 5), zeros=False)
  for name, fn in ALL.items():
    np.testing.assert_allclose(fn(p.T, q.T, axis=0), fn(p, q), rtol=1e-12, err_msg=name)


def test_broadcasting_against_a_single_distribution(x64):
  p, _ = dirichlet_pairs(12, shape=(4, 5), zeros=False)
  q = np.full(5, 0.2)
  np.testing.assert_allclose(dv.kl_divergence(p, q), np_kl(p, np.broadcast_to(q, p.shape)),
                             rtol=1e-12)


def test_vmap_matches_batched_call():
  p, q = (jnp.asarray(x, jnp.float32) for x in dirichlet_pairs(13, shape=(6, 5), zeros=False))
  for name, fn in ALL.items():
    np.testing.assert_allclose(jax.vmap(fn)(p, q), fn(p, q), rtol=1e-5, err_msg=name)


def test_vmap_over_alpha():
  p, q = (jnp.asarray(x, jnp.float32) for x in dirichlet_pairs(14, shape=(5,), zeros=False))
  alphas = jnp.array([0.5, 0.999, 1.0, 2.0])
  got = jax.vmap(lambda a: dv.renyi_divergence(p, q, alpha=a))(alphas)
  want = [dv.renyi_divergence(p, q, alpha=float(a)) for a in alphas]
  np.testing.assert_allclose(got, want, rtol=1e-5)


# ---------------------------------------------------------------------------------------------------
# Properties (hypothesis).

K = 6
simplex = hnp.arrays(np.float64, (K,), elements=st.floats(0.0, 1.0)).filter(
    lambda w: w.sum() > 1e-3).map(lambda w: w / w.sum())
positive_simplex = hnp.arrays(np.float64, (K,), elements=st.floats(0.01, 1.0)).map(
    lambda w: w / w.sum())
stochastic = hnp.arrays(np.float64, (K, 4), elements=st.floats(0.01, 1.0)).map(
    lambda m: m / m.sum(-1, keepdims=True))

_JIT = {name: jax.jit(fn) for name, fn in ALL.items()}


@given(simplex, positive_simplex)
def test_nonnegative(p, q):
  with jax.enable_x64(True):
    for name, fn in ALL.items():
      assert fn(p, q) >= -1e-12, name


@given(positive_simplex)
def test_zero_at_equality(p):
  with jax.enable_x64(True):
    for name, fn in ALL.items():
      assert abs(fn(p, p)) < 1e-12, name


@given(positive_simplex, positive_simplex)
def test_positive_when_different(p, q):
  if np.abs(p - q).max() < 1e-3:
    return
  with jax.enable_x64(True):
    for name, fn in ALL.items():
      assert fn(p, q) > 0, name


@given(positive_simplex, positive_simplex)
def test_symmetric_divergences_are_symmetric(p, q):
  with jax.enable_x64(True):
    for name, fn in SYMMETRIC.items():
      np.testing.assert_allclose(fn(p, q), fn(q, p), rtol=1e-10, atol=1e-15, err_msg=name)


@given(positive_simplex, positive_simplex, stochastic)
def test_data_processing_inequality(p, q, channel):
  # Pushing both distributions through the same Markov kernel cannot increase an f-divergence
  # (nor a Rényi divergence). Cauchy–Schwarz is not an f-divergence and is excluded.
  with jax.enable_x64(True):
    for name, fn in ALL.items():
      if name == "cs":
        continue
      before, after = fn(p, q), fn(p @ channel, q @ channel)
      assert after <= before + 1e-12, name


@given(positive_simplex, positive_simplex)
def test_alpha_family_limits(p, q):
  with jax.enable_x64(True):
    kl_pq, kl_qp = np_kl(p, q), np_kl(q, p)
    np.testing.assert_allclose(dv.alpha_divergence(p, q, alpha=1 - 1e-7), kl_pq, rtol=2e-6, atol=1e-12)
    np.testing.assert_allclose(dv.alpha_divergence(p, q, alpha=1e-7), kl_qp, rtol=2e-6, atol=1e-12)
    np.testing.assert_allclose(dv.renyi_divergence(p, q, alpha=1 + 1e-7), kl_pq, rtol=2e-6, atol=1e-12)
    np.testing.assert_allclose(dv.alpha_divergence(p, q, alpha=0.5), 4 * np_h2(p, q), rtol=1e-10,
                               atol=1e-15)
    np.testing.assert_allclose(dv.alpha_divergence(p, q, alpha=2.0), 0.5 * np_chi2(p, q), rtol=1e-10,
                               atol=1e-15)


@given(positive_simplex, positive_simplex)
def test_renyi_is_nondecreasing_in_order(p, q):
  with jax.enable_x64(True):
    orders = [0.25, 0.5, 1.0, 2.0, 4.0]
    values = [float(dv.renyi_divergence(p, q, alpha=a)) for a in orders]
    assert all(b >= a - 1e-12 for a, b in zip(values, values[1:]))


@given(positive_simplex, positive_simplex)
def test_classical_inequalities(p, q):
  # Pinsker: TV ≤ √(KL/2); H² ≤ TV ≤ √2 H; JS ≤ log 2.
  with jax.enable_x64(True):
    tv, kl = dv.total_variation(p, q), dv.kl_divergence(p, q)
    h2 = dv.squared_hellinger_distance(p, q)
    assert tv <= np.sqrt(kl / 2) + 1e-12
    assert h2 <= tv + 1e-12 and tv <= np.sqrt(2 * h2) + 1e-12
    assert dv.js_divergence(p, q) <= np.log(2) + 1e-12


# ---------------------------------------------------------------------------------------------------
# Errors.


@pytest.mark.parametrize("p, q, kwargs, error, match", [
    ([0.5, 0.6], [0.5, 0.5], {}, ValueError, r"p must sum to 1"),
    ([1.2, -0.2], [0.5, 0.5], {}, ValueError, r"p must be non-negative"),
    ([0.5, 0.5], [np.nan, 1.0], {}, ValueError, r"q contains NaN"),
    ([0.5, 0.5], [0.3, 0.3, 0.4], {}, ValueError, r"does not broadcast"),
    ([0.0, np.inf], [0.0, 0.0], {"logits": True}, ValueError, r"p contains \+inf"),
    ([-np.inf, -np.inf], [0.0, 0.0], {"logits": True}, ValueError, r"p is -inf for every category"),
    ([0.5, 0.5], [0.5, 0.5], {"condition_on": np.array([False, False])}, ValueError,
     r"condition_on masks out"),
    ([0.5, 0.5], [0.5, 0.5], {"condition_on": np.array([1, 0])}, TypeError,
     r"condition_on must be a boolean"),
    ([0.5, 0.5], [0.5, 0.5], {"sum_where": np.array([1, 0])}, TypeError,
     r"sum_where must be a boolean"),
    ([[0.5, 0.5]], [0.5, 0.5], {"row_mask": np.array([True, False])}, ValueError,
     r"row_mask with shape \(2,\) must broadcast to the output's shape \(1,\)"),
    (0.5, 0.5, {}, ValueError, r"p must have at least one dimension"),
    ("ab", [0.5, 0.5], {}, TypeError, r"p must be a numeric array"),
])
def test_invalid_inputs_raise(p, q, kwargs, error, match):
  with pytest.raises(error, match=match):
    dv.kl_divergence(p, q, **kwargs)


@pytest.mark.parametrize("alpha, match", [(0.0, r"alpha must be > 0"), (-1.0, r"alpha must be > 0"),
                                          (np.nan, r"alpha contains NaN"),
                                          (np.array([1.0, 2.0]), r"alpha must be a scalar")])
def test_renyi_order_is_checked(alpha, match):
  with pytest.raises(ValueError, match=match):
    dv.renyi_divergence(jnp.array([0.5, 0.5]), jnp.array([0.5, 0.5]), alpha=alpha)


def test_f_divergence_rejects_non_generators():
  with pytest.raises(TypeError, match=r"generator must be an FGenerator"):
    dv.f_divergence(lambda u: u, jnp.array([0.5, 0.5]), jnp.array([0.5, 0.5]))


@pytest.mark.parametrize("p, logits", [
    ([1.0, 1.0], False),      # unnormalised
    ([-0.2, 1.2], False),     # negative
    ([np.nan, 1.0], False),   # NaN
    ([0.0, np.inf], True),    # +inf logit
    ([np.nan, 0.0], True),    # NaN logit
])
def test_invalid_inputs_under_jit_give_nan_not_a_plausible_number(p, logits):
  # Under jit the values cannot raise; an input that is not a distribution gives NaN (eagerly the
  # same input raises ValueError). Every divergence of the module follows the same rule.
  q = jnp.array([0.0, 0.0]) if logits else jnp.array([0.5, 0.5])
  for name, fn in ALL.items():
    got = jax.jit(lambda a, b: fn(a, b, logits=logits))(jnp.array(p), q)
    assert np.isnan(got), (name, got)
    with pytest.raises(ValueError):
      fn(jnp.array(p), q, logits=logits)
  # A valid input in the same program gives its value.
  valid = jnp.array([0.0, 0.0]) if logits else jnp.array([0.5, 0.5])
  assert float(jax.jit(lambda a, b: dv.kl_divergence(a, b, logits=logits))(valid, q)) == 0.0


def test_traced_static_flag_raises_a_type_error_naming_it():
  p = jnp.array([0.5, 0.5])
  with pytest.raises(TypeError, match=r"logits is a static argument.*static_argnames"):
    jax.jit(dv.kl_divergence)(p, p, logits=True)
  with pytest.raises(TypeError, match=r"axis is a static argument"):
    jax.jit(lambda a, ax: dv.js_divergence(a, a, axis=ax))(p, 0)
  got = jax.jit(dv.kl_divergence, static_argnames="logits")(p, p, logits=True)
  assert float(got) == 0.0


# ---------------------------------------------------------------------------------------------------
# Moderately extreme logits (scales 5–30): distributions far apart but not one-hot, where the
# cancellation-prone and the overflow-prone regimes meet. Oracles are float64 logsumexp formulas.


def _lse_oracles(lp, lq, alpha):
  log_s = sp.logsumexp(alpha * lp + (1 - alpha) * lq)
  return {"renyi": log_s / (alpha - 1), "alpha": np.expm1(log_s) / (alpha * (alpha - 1))}


@pytest.mark.parametrize("dtype, rtol", [(np.float32, 2e-4), (np.float64, 1e-9)])
@pytest.mark.parametrize("scale", [5.0, 30.0])
@pytest.mark.parametrize("alpha", [0.3, 0.9, 3.0])
def test_renyi_and_alpha_far_apart_match_logsumexp_oracle(dtype, rtol, scale, alpha):
  rng = np.random.default_rng(int(scale))
  a, b = (rng.normal(size=(2, 30)) * scale).astype(dtype)
  lp, lq = sp.log_softmax(a.astype(np.float64)), sp.log_softmax(b.astype(np.float64))
  ref = _lse_oracles(lp, lq, alpha)
  with jax.enable_x64(dtype == np.float64):
    renyi = dv.renyi_divergence(a, b, alpha=alpha, logits=True)
    grad = jax.grad(lambda x: dv.renyi_divergence(x, b, alpha=alpha, logits=True))(a)
    np.testing.assert_allclose(renyi, ref["renyi"], rtol=rtol)
    assert np.isfinite(grad).all()
    if np.isfinite(ref["alpha"]) and abs(ref["alpha"]) < 1e30:
      np.testing.assert_allclose(dv.alpha_divergence(a, b, alpha=alpha, logits=True), ref["alpha"],
                                 rtol=rtol)


def test_renyi_below_one_with_nearly_disjoint_supports_float32():
  # Regression: the expm1 form cancels here; the value is 2·20 − 2·log(1 + e^-40) ≈ 38.6137.
  a, b = jnp.array([20.0, -20.0]), jnp.array([-20.0, 20.0])
  lp, lq = sp.log_softmax([20.0, -20.0]), sp.log_softmax([-20.0, 20.0])
  np.testing.assert_allclose(dv.renyi_divergence(a, b, alpha=0.5, logits=True),
                             -2 * sp.logsumexp(0.5 * (lp + lq)), rtol=1e-6)


@pytest.mark.parametrize("scale", [5.0, 20.0])
def test_gradients_are_finite_for_far_apart_logits(scale):
  rng = np.random.default_rng(2)
  a, b = (rng.normal(size=(2, 20)) * scale).astype(np.float32)
  for name, fn in ALL.items():
    value = fn(a, b, logits=True)
    if not np.isfinite(value):
      continue
    g = jax.grad(lambda x: fn(x, b, logits=True))(a)
    assert np.isfinite(g).all(), name


def test_f_divergence_lower_clip_keeps_finite_values():
  # f(0) = +inf generators: a log-ratio beyond float32's range is clipped, not turned into inf.
  a, b = jnp.array([0.0, -95.0]), jnp.array([-95.0, 0.0])
  assert np.isfinite(dv.f_divergence(dv.REVERSE_KL, a, b, logits=True))


def test_mask_keeping_only_empty_categories_raises():
  with pytest.raises(ValueError,
                     match=r"p has no probability mass on the categories kept by condition_on"):
    dv.kl_divergence(jnp.array([0.5, 0.5, 0.0]), jnp.array([0.2, 0.3, 0.5]),
                     condition_on=jnp.array([False, False, True]))


def test_mask_keeping_only_empty_categories_is_nan_under_jit():
  f = jax.jit(lambda p, q, w: jnp.stack([fn(p, q, condition_on=w) for fn in ALL.values()]))
  got = f(jnp.array([0.5, 0.5, 0.0]), jnp.array([0.2, 0.3, 0.5]), jnp.array([False, False, True]))
  assert np.isnan(got).all()


@pytest.mark.parametrize("alpha, match", [(np.nan, r"alpha contains NaN"),
                                          (np.array([0.5, 2.0]), r"alpha must be a scalar")])
def test_alpha_divergence_order_is_checked(alpha, match):
  with pytest.raises(ValueError, match=match):
    dv.alpha_divergence(jnp.array([0.5, 0.5]), jnp.array([0.5, 0.5]), alpha=alpha)


def test_alpha_family_at_exact_limits(x64):
  p, q = dirichlet_pairs(15, zeros=False)
  np.testing.assert_allclose(dv.alpha_divergence(p, q, alpha=1.0), np_kl(p, q), rtol=1e-13)
  np.testing.assert_allclose(dv.alpha_divergence(p, q, alpha=0.0), np_kl(q, p), rtol=1e-13)
  np.testing.assert_allclose(dv.renyi_divergence(p, q, alpha=1.0), np_kl(p, q), rtol=1e-13)
  np.testing.assert_allclose(dv.alpha_divergence(p, q, alpha=1 - 1e-7), np_kl(p, q), rtol=1e-6)


def test_concrete_inputs_inside_an_outer_jit_are_checked_on_the_host():
  # Constants inside a jitted function: the call's output is traced although its inputs are concrete
  # (found when games.run measured the KL of its concrete initial state under jit(vmap)).
  p, q = np.array([0.7, 0.2, 0.1]), np.array([0.2, 0.5, 0.3])
  out = jax.jit(lambda s: s * dv.kl_divergence(p, q))(2.0)
  np.testing.assert_allclose(out, 2 * np.sum(p * np.log(p / q)), rtol=1e-6)
  with pytest.raises(ValueError, match="p"):
    jax.jit(lambda s: s * dv.kl_divergence(np.array([0.5, 0.5, 0.5]), q))(2.0)
