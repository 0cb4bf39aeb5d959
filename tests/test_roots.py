"""divjax._roots: the shared root finder against scipy.optimize.brentq, and its implicit gradient.

Oracles: scipy's Brent solver on the same equations (float64), the closed-form derivative of each root
with respect to its parameter, and central finite differences of the public functions that use it.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import optimize

from divjax import _roots
from divjax import alignment as al
from divjax import divergences as dv
from divjax.kde import theory as T


@pytest.fixture
def x64():
  with jax.enable_x64(True):
    yield

# (g, its derivative, bracket) for increasing g with one root inside the bracket.
EQUATIONS = {
    "cubic": (lambda x: x**3 + x - 3.0, lambda x: 3 * x**2 + 1.0, (0.0, 2.0)),
    "exp": (lambda x: math.exp(x) - 5.0, math.exp, (-3.0, 10.0)),
    "tanh": (lambda x: math.tanh(x) - 0.3, lambda x: 1.0 - math.tanh(x)**2, (-20.0, 20.0)),
    "log1p_kink": (lambda x: math.log1p(x) - 0.5 * x / (1 + x) - 1.2,
                   lambda x: 1 / (1 + x) - 0.5 / (1 + x)**2, (0.0, 1e6)),
}
JAX_EQUATIONS = {
    "cubic": lambda x: x**3 + x - 3.0,
    "exp": lambda x: jnp.exp(x) - 5.0,
    "tanh": lambda x: jnp.tanh(x) - 0.3,
    "log1p_kink": lambda x: jnp.log1p(x) - 0.5 * x / (1 + x) - 1.2,
}


@pytest.mark.parametrize("name", list(EQUATIONS))
def test_newton_with_bisection_matches_brentq(x64, name):
  f, _, (lo, hi) = EQUATIONS[name]
  want = optimize.brentq(f, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps)
  got = _roots.increasing_root(_roots.autodiff_slope(JAX_EQUATIONS[name]), lo, hi, num_iters=100)
  np.testing.assert_allclose(float(got), want, rtol=1e-13)


@pytest.mark.parametrize("name", list(EQUATIONS))
def test_zero_slope_is_plain_bisection_and_still_converges(x64, name):
  f, _, (lo, hi) = EQUATIONS[name]
  want = optimize.brentq(f, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps)
  bisect = lambda x: (JAX_EQUATIONS[name](x), jnp.zeros_like(x))
  # Each step halves the bracket: 80 halvings of a width ≤ 1e6 reach 1e6·2⁻⁸⁰ ≈ 1e-18.
  got = _roots.increasing_root(bisect, lo, hi, num_iters=80)
  np.testing.assert_allclose(float(got), want, rtol=1e-13, atol=1e-15)


def test_a_bad_slope_never_leaves_the_bracket(x64):
  # A slope 1000× too small sends every Newton step outside the bracket: bisection takes over.
  g = lambda x: (x**3 + x - 3.0, 1e-3 * (3 * x**2 + 1.0))
  got = _roots.increasing_root(g, 0.0, 2.0, num_iters=80)
  want = optimize.brentq(lambda x: x**3 + x - 3.0, 0.0, 2.0, xtol=1e-15)
  np.testing.assert_allclose(float(got), want, rtol=1e-13)


def test_roots_are_elementwise_under_jit_and_vmap(x64):
  targets = np.array([0.1, 0.3, 0.7, -0.9])
  want = np.arctanh(targets)
  solve = lambda t: _roots.increasing_root(_roots.autodiff_slope(lambda x: jnp.tanh(x) - t), -20.0, 20.0,
                                           num_iters=60)
  np.testing.assert_allclose(np.asarray(jax.jit(solve)(jnp.asarray(targets))), want, rtol=1e-13)
  np.testing.assert_allclose(np.asarray(jax.jit(jax.vmap(solve))(jnp.asarray(targets))), want,
                             rtol=1e-13)


def test_implicit_root_has_the_implicit_function_derivative(x64):
  # x*(t) solves x³ + x = t, so dx*/dt = 1/(3x*² + 1).
  def root(t):
    g = lambda x: x**3 + x - t
    x = _roots.increasing_root(_roots.autodiff_slope(g), 0.0, 10.0, num_iters=60)
    return _roots.implicit_root(x, g, 3 * x**2 + 1.0)

  t = 3.0
  x = optimize.brentq(lambda x: x**3 + x - t, 0.0, 10.0, xtol=1e-15)
  np.testing.assert_allclose(float(jax.grad(root)(t)), 1.0 / (3 * x**2 + 1.0), rtol=1e-12)
  np.testing.assert_allclose(np.asarray(jax.vmap(jax.grad(root))(jnp.array([1.0, 3.0, 30.0]))),
                             [1.0 / (3 * r**2 + 1.0) for r in
                              (optimize.brentq(lambda x, s=s: x**3 + x - s, 0.0, 10.0, xtol=1e-15)
                               for s in (1.0, 3.0, 30.0))], rtol=1e-10)


def test_iteration_without_implicit_root_has_no_gradient(x64):
  # Why implicit_root exists: the comparisons of the bracket carry no derivative.
  root = lambda t: _roots.increasing_root(lambda x: (x - t, jnp.zeros_like(x)), -5.0, 5.0, num_iters=60)
  assert float(jax.grad(root)(1.0)) == 0.0


# ---------------------------------------------------------------------------------------------------
# The callers: gradients that the shared solver now gets right.


def central_difference(f, x, h=1e-6):
  return (float(f(x + h)) - float(f(x - h))) / (2 * h)


@pytest.mark.parametrize("alpha", [0.05, 0.2, 1.5])
def test_h_var_gradient_matches_finite_differences(x64, alpha):
  np.testing.assert_allclose(float(jax.grad(T.h_var)(alpha)), central_difference(T.h_var, alpha),
                             rtol=1e-6)


def test_general_thresholds_gradient_matches_finite_differences(x64):
  v = jnp.array([0.5, 1.0, 2.0])
  f = lambda a: T.general_thresholds(a, v).h_g
  np.testing.assert_allclose(float(jax.grad(f)(0.2)), central_difference(f, 0.2), rtol=1e-6)
  fv = lambda s: T.general_thresholds(0.2, v.at[0].set(s)).h_star
  np.testing.assert_allclose(float(jax.grad(fv)(0.5)), central_difference(fv, 0.5), rtol=1e-6)


@pytest.mark.parametrize("generator", [dv.REVERSE_KL, dv.JENSEN_SHANNON])
def test_fdpo_policy_gradient_matches_finite_differences(x64, generator):
  lp = jnp.log(jnp.array([0.2, 0.5, 0.3]))
  reward = jnp.array([0.0, 1.0, 0.4])
  f = lambda s: al.fdpo_policy(lp, reward.at[2].set(s), beta=0.7, generator=generator).log_probs[0]
  np.testing.assert_allclose(float(jax.grad(f)(0.4)), central_difference(f, 0.4), rtol=1e-6)
  fb = lambda b: al.fdpo_policy(lp, reward, beta=b, generator=generator).log_probs[1]
  np.testing.assert_allclose(float(jax.grad(fb)(0.7)), central_difference(fb, 0.7), rtol=1e-6)


def test_implicit_root_keeps_the_value_when_the_residual_is_huge():
  # A root clamped at the end of its bracket (the equation has none inside) leaves a residual whose
  # ratio to the slope overflows float32; the value must stay the clamped root, not NaN.
  x = jnp.float32(1e12)
  got = _roots.implicit_root(x, lambda g: jnp.log1p(g) - jnp.float32(1e30), 1.0 / (1.0 + x))
  assert float(got) == float(x)
  assert float(T.g_star(1e30)) == pytest.approx(1e12, rel=1e-5)  # the end of g*'s bracket
