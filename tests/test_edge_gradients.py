"""Gradients at the edges are finite wherever the value is.

The edges: zeros in probability vectors, −inf logits, identical distributions (the minimum of every
divergence, where square roots and ratios meet 0/0), tiny KDE bandwidths, small Sinkhorn ε,
coincident samples in the Cauchy–Schwarz estimators and degenerate rewards in the alignment maps.
Each test asserts the value is finite and every gradient entry is finite; where the exact gradient is
known (a minimum of a smooth divergence), it asserts it too.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special

from divjax import alignment, divergences as dv, ib, kde, ot

P_ZERO = jnp.array([0.0, 0.5, 0.5])
Q = jnp.array([0.2, 0.3, 0.5])
P = jnp.array([0.3, 0.3, 0.4])

DISCRETE = ["kl_divergence", "reverse_kl_divergence", "js_divergence", "total_variation",
            "squared_hellinger_distance", "hellinger_distance", "chi2_divergence",
            "cauchy_schwarz_divergence"]


def _finite_value_and_grads(fn, *args, argnums=None):
  argnums = tuple(range(len(args))) if argnums is None else argnums
  value, grads = jax.value_and_grad(fn, argnums=argnums)(*args)
  assert np.isfinite(np.asarray(value)).all(), f"value {value}"
  for g in jax.tree_util.tree_leaves(grads):
    assert np.isfinite(np.asarray(g)).all(), f"gradient {g}"
  return value, grads


def _assert_matches_central_differences(fn, x, grad, step=1e-6):
  """``grad`` against float64 central differences of ``fn`` at ``x`` (an independent oracle)."""
  with jax.enable_x64(True):
    x64 = np.asarray(x, np.float64)
    fd = np.array([(float(fn(jnp.asarray(x64 + step * e))) - float(fn(jnp.asarray(x64 - step * e))))
                   / (2 * step) for e in np.eye(x64.size)])
  # float32 gradients of O(1) values carry a few ulp (~1e-6); float64 central differences with this
  # step are good to ~1e-10. Observed agreement: within 1e-6.
  np.testing.assert_allclose(np.asarray(grad), fd, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", [n for n in DISCRETE if n != "reverse_kl_divergence"])
def test_zeros_in_p_give_finite_gradients(name):
  # p has a zero where q > 0: these divergences are finite (KL(q‖p), reverse KL, is +inf), and so
  # must their gradients be. The gradient in q (an interior point) also matches central differences.
  _, (_, gq) = _finite_value_and_grads(getattr(dv, name), P_ZERO, Q)
  if name != "total_variation":  # |p₃ − q₃| sits at its kink (p₃ = q₃ = 0.5): no derivative to match
    _assert_matches_central_differences(lambda q: getattr(dv, name)(P_ZERO, q), Q, gq)


@pytest.mark.parametrize("name", ["reverse_kl_divergence", "js_divergence", "total_variation",
                                  "squared_hellinger_distance", "hellinger_distance",
                                  "cauchy_schwarz_divergence"])
def test_zeros_in_q_give_finite_gradients_where_the_value_is_finite(name):
  # KL(q‖p)-type and bounded divergences stay finite when q has a zero p covers. The gradient in p
  # (an interior point) also matches central differences.
  _, (gp, _) = _finite_value_and_grads(getattr(dv, name), Q, P_ZERO)
  if name != "total_variation":  # |p₃ − q₃| sits at its kink (p₃ = q₃ = 0.5): no derivative to match
    _assert_matches_central_differences(lambda p: getattr(dv, name)(p, P_ZERO), Q, gp)


@pytest.mark.parametrize("name", DISCRETE + ["renyi_divergence", "alpha_divergence"])
def test_identical_distributions_give_a_zero_value_and_finite_gradients(name):
  fn = getattr(dv, name)
  if name in ("renyi_divergence", "alpha_divergence"):
    fn = lambda p, q, f=fn: f(p, q, alpha=0.5)  # noqa: E731
  value, (gp, gq) = _finite_value_and_grads(fn, P, P)
  np.testing.assert_allclose(value, 0.0, atol=1e-6)
  if name not in ("total_variation", "hellinger_distance"):
    # A smooth divergence has its minimum at p = q: the gradient on the simplex is zero there
    # (up to a constant along the category axis, which the simplex ignores).
    for g in (gp, gq):
      np.testing.assert_allclose(g - jnp.mean(g), 0.0, atol=1e-5)


@pytest.mark.parametrize("name", ["kl_divergence", "js_divergence", "reverse_kl_divergence"])
def test_minus_inf_logits_give_finite_gradients(name):
  zp = jnp.array([-jnp.inf, 0.3, -0.2])
  zq = jnp.array([0.1, 0.0, -0.5])
  fn = lambda a, b: getattr(dv, name)(a, b, logits=True)  # noqa: E731
  finite = 1  # the argument without −inf entries: an interior point for central differences
  if name == "reverse_kl_divergence":
    zp, zq = zq, zp  # KL(q‖p) with p's −inf where q > 0 would be +inf: keep the finite direction
    finite = 0
  _, grads = _finite_value_and_grads(fn, zp, zq)
  args = [zp, zq]
  def of_finite(z):
    args_z = list(args)
    args_z[finite] = z
    return fn(*args_z)
  _assert_matches_central_differences(of_finite, args[finite], grads[finite])


def test_gaussian_closed_forms_at_identical_gaussians_have_finite_gradients():
  mean, cov = jnp.array([0.1, -0.3]), jnp.array([[1.0, 0.2], [0.2, 0.7]])
  sym = lambda c: 0.5 * (c + c.T)  # noqa: E731 - differentiate on symmetric matrices
  for fn in (dv.gaussian_kl_divergence, dv.gaussian_hellinger_distance,
             dv.gaussian_squared_wasserstein2, dv.gaussian_cauchy_schwarz_divergence):
    value, _ = _finite_value_and_grads(lambda mp, cp, mq, cq, f=fn: f(mp, sym(cp), mq, sym(cq)),
                                       mean, cov, mean, cov)
    np.testing.assert_allclose(value, 0.0, atol=1e-5)


@pytest.mark.parametrize("h", [1e-3, 1e-2])
def test_kde_at_a_tiny_bandwidth_has_finite_gradients(h):
  # At h = 1e-3 the nearest data point dominates by exp(-|Δ|²/2h²) with |Δ|² ~ 1: the other
  # kernels underflow to exactly 0, and the log-sum-exp must still differentiate cleanly.
  rng = np.random.default_rng(0)
  data = jnp.asarray(rng.normal(size=(20, 3)), jnp.float32)
  x = data[:4] + 0.3
  fn = lambda x, data, h: jnp.sum(kde.log_density(x, data, h))  # noqa: E731
  _, (gx, _, _) = _finite_value_and_grads(fn, x, data, jnp.asarray(h))
  # The nearest data point's kernel dominates: d/dx log p̂(x) = −(x − y_nearest)/h² up to a
  # relative exp(−Δ/2h²) from the others (Δ ≥ 0.05 here: below float32 resolution).
  d2 = ((np.asarray(x)[:, None, :] - np.asarray(data)[None]) ** 2).sum(-1)
  nearest = np.asarray(data)[np.argmin(d2, axis=1)]
  assert np.all(np.sort(d2, axis=1)[:, 1] - d2.min(axis=1) > 0.05)
  np.testing.assert_allclose(gx, -(np.asarray(x) - nearest) / h**2, rtol=1e-4)


def test_kde_at_a_query_on_a_data_point_has_finite_gradients():
  data = jnp.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.5]])
  h = 1e-3
  _, (gx, gh) = _finite_value_and_grads(lambda x, h: jnp.sum(kde.log_density(x, data, h)),
                                        data[:1], jnp.asarray(h))
  # Only the kernel at the query survives: log p̂ = −log 3 − d log h − (d/2) log 2π, so the gradient
  # is 0 in x and −d/h = −2000 in h.
  np.testing.assert_allclose(gx, 0.0, atol=1e-6)
  np.testing.assert_allclose(gh, -2 / h, rtol=1e-5)


@pytest.mark.parametrize("epsilon", [1e-2, 1e-3])
def test_sinkhorn_at_small_epsilon_has_finite_gradients(epsilon):
  rng = np.random.default_rng(1)
  x = jnp.asarray(rng.normal(size=(8, 2)), jnp.float32)
  y = jnp.asarray(rng.normal(size=(7, 2)) + 0.5, jnp.float32)
  fn = lambda x, y: ot.sinkhorn_cost(  # noqa: E731
      x, y, epsilon=epsilon,
      options=ot.SinkhornOptions(threshold=1e-5, max_iterations=5000)).value
  _, (gx, _) = _finite_value_and_grads(fn, x, y)
  if epsilon == 1e-2:  # converged; at 1e-3 5000 iterations do not converge
    # Envelope theorem: ∇_{x_i} OT_ε = Σ_j P_ij ∇_x |x_i − y_j|² = 2 Σ_j P_ij (x_i − y_j), with the
    # optimal plan from a float64 log-domain NumPy Sinkhorn run to 1e-14 marginal error. The solve
    # stops at a marginal error of 1e-5, which moves the plan, and so each gradient entry
    # (|x_i − y_j| ≲ 4), by about 1e-4.
    X, Y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    cost = ((X[:, None] - Y[None]) ** 2).sum(-1)
    f, g = np.zeros(len(X)), np.zeros(len(Y))
    for _ in range(20000):
      f = epsilon * (-np.log(len(X)) - scipy.special.logsumexp((g[None] - cost) / epsilon, axis=1))
      g = epsilon * (-np.log(len(Y)) - scipy.special.logsumexp((f[:, None] - cost) / epsilon, axis=0))
    plan = np.exp((f[:, None] + g[None] - cost) / epsilon)
    np.testing.assert_allclose(plan.sum(1), 1 / len(X), atol=1e-10)
    np.testing.assert_allclose(gx, 2 * (plan.sum(1)[:, None] * X - plan @ Y), atol=1e-4)


def test_sinkhorn_divergence_of_a_cloud_with_itself_has_finite_gradients():
  x = jnp.asarray(np.random.default_rng(2).normal(size=(6, 2)), jnp.float32)
  value, _ = _finite_value_and_grads(
      lambda a, b: ot.sinkhorn_divergence(a, b, epsilon=0.1,
                                        options=ot.SinkhornOptions(threshold=1e-6)).value, x, x)
  np.testing.assert_allclose(value, 0.0, atol=1e-4)


def test_cs_divergence_of_coincident_samples_has_finite_gradients():
  x = jnp.zeros((5, 2))
  value, _ = _finite_value_and_grads(lambda a, b, s: ib.cs_divergence(a, b, sigma=s), x, x,
                                     jnp.asarray(0.5))
  np.testing.assert_allclose(value, 0.0, atol=1e-6)


def test_cs_qmi_normalized_of_a_constant_variable_is_zero_with_finite_gradients():
  x = jnp.asarray(np.random.default_rng(3).normal(size=(8, 1)), jnp.float32)
  value, _ = _finite_value_and_grads(
      lambda a, t: ib.cs_qmi_normalized(a, t, sigma_x=1.0, sigma_t=1.0), x, jnp.zeros((8, 1)))
  assert float(value) == 0.0


def test_tilt_at_lambda_zero_and_with_tied_rewards_has_finite_gradients():
  ref = jnp.log(jnp.array([0.2, 0.3, 0.5]))
  reward = jnp.array([1.0, 1.0, 0.0])  # a tie at the maximum
  fn = lambda r, lam: alignment.tilt(ref, r, lam).kl  # noqa: E731
  value, _ = _finite_value_and_grads(fn, reward, jnp.asarray(0.0))
  np.testing.assert_allclose(value, 0.0, atol=1e-7)


def test_best_of_one_is_the_reference_with_finite_gradients():
  ref = jnp.log(jnp.array([0.2, 0.3, 0.5]))
  fn = lambda r: alignment.best_of_n(ref, r, n=1.0).kl  # noqa: E731
  value, _ = _finite_value_and_grads(fn, jnp.array([0.0, 1.0, 2.0]))
  np.testing.assert_allclose(value, 0.0, atol=1e-6)
