"""f-divergence generators against independent oracles (NumPy/mpmath formulas, scipy sups).

Every value check runs in float64 (``jax.enable_x64``). The oracles are the textbook formulas of the
module docstring written again here: plain NumPy for the built-ins, mpmath (40 digits) for the
α-family, whose closed form cancels catastrophically near α = 0 and α = 1 in float64.
"""

import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest
from jax.test_util import check_grads
from scipy import optimize

from divjax.divergences import generators as G

# A private 40-digit context (the global mpmath precision is left alone).
MP = mpmath.MPContext()
MP.dps = 40

# ---------------------------------------------------------------------------------------------------
# Oracles. Each takes ``u`` and a math module ``m`` (``np`` on float64 arrays, ``MP`` on mpf scalars).


def kl_f(u, m):
  return u * m.log(u)


def reverse_kl_f(u, m):
  return -m.log(u)


def js_f(u, m):
  return 0.5 * (u * m.log(u) - (u + 1) * m.log((u + 1) / 2))


def tv_f(u, m):
  return 0.5 * abs(u - 1)


def hellinger_f(u, m):
  return 0.5 * (m.sqrt(u) - 1)**2


def pearson_f(u, m):
  return (u - 1)**2


def neyman_f(u, m):
  return (u - 1)**2 / u


def jeffreys_f(u, m):
  return (u - 1) * m.log(u)


def alpha_f(alpha):
  """(u^α − αu − (1−α)) / (α(α−1)), with the α → 0, 1 limits; mpmath only."""
  a = MP.mpf(alpha)

  def f(u, m):
    assert m is MP
    u = MP.mpf(u)
    if a == 0:
      return -MP.log(u) + u - 1
    if a == 1:
      return u * MP.log(u) - u + 1
    return (u**a - a * u - (1 - a)) / (a * (a - 1))

  return f


class Case(NamedTuple):
  id: str
  make: Callable[[], G.FGenerator]  # called inside the float64 context
  f: Callable  # oracle f(u, m)
  uses_mpmath: bool
  domain_end: float  # f*(t) < inf for t < domain_end and = +inf for t > domain_end (= f'(∞))


def _alpha_case(alpha):
  domain_end = 1.0 / (1.0 - alpha) if alpha < 1 else math.inf
  return Case(f"alpha={alpha!r}", lambda: G.alpha_generator(alpha), alpha_f(alpha), True, domain_end)


BUILTIN_CASES = [
    Case("kl", lambda: G.KL, kl_f, False, math.inf),
    Case("reverse_kl", lambda: G.REVERSE_KL, reverse_kl_f, False, 0.0),
    Case("jensen_shannon", lambda: G.JENSEN_SHANNON, js_f, False, 0.5 * math.log(2.0)),
    Case("total_variation", lambda: G.TOTAL_VARIATION, tv_f, False, 0.5),
    Case("squared_hellinger", lambda: G.SQUARED_HELLINGER, hellinger_f, False, 0.5),
    Case("pearson_chi2", lambda: G.PEARSON_CHI2, pearson_f, False, math.inf),
    Case("neyman_chi2", lambda: G.NEYMAN_CHI2, neyman_f, False, 1.0),
    Case("jeffreys", lambda: G.JEFFREYS, jeffreys_f, False, math.inf),
]
ALPHAS = [-1.0, 0.0, 1e-7, 0.5, 1.0, 1.0 - 1e-7, 2.0, 3.0]
ALPHA_CASES = [_alpha_case(a) for a in ALPHAS]
CASES = BUILTIN_CASES + ALPHA_CASES
INVERTIBLE_CASES = [c for c in CASES if c.id != "total_variation"]
BOUNDED_DOMAIN_CASES = [c for c in CASES if math.isfinite(c.domain_end)]

by_case = pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)

def conjugate_cases(cases):
  return [pytest.param(c, id=c.id) for c in cases]


# Log-spaced, 60 points: u = 1 (where f = f' = 0 for most generators and TV has its kink) is not on it.
U_GRID = np.logspace(-3.0, 3.0, 60)


def oracle_f(case, u):
  """The oracle f on a float64 array."""
  u = np.asarray(u, dtype=np.float64)
  if case.uses_mpmath:
    return np.vectorize(lambda x: float(case.f(MP.mpf(float(x)), MP)))(u)
  return case.f(u, np)


def oracle_limit(case, u):
  """The oracle f at an mpf ``u`` far outside the float64 range (to read off limits)."""
  return case.f(u, MP)


TINY_U = MP.mpf(10)**(-10**12)
HUGE_U = MP.mpf(10)**(10**12)
# A limit above this at TINY_U / HUGE_U is a blow-up: the finite limits here are all <= 1e7, while
# the slowest blow-up (log u) already reaches 2.3e12 there.
BLOW_UP = 1e11


def conjugate_oracle(case, t):
  """sup_{u>=0} (t u − f(u)) by a grid search over s = log u ∈ [−40, 25] refined with scipy.

  The point u = 1e-300 stands in for the boundary value −f(0) (the sup over u ≥ 0 includes it).
  """
  s_grid = np.linspace(-40.0, 25.0, 131)
  u_grid = np.exp(s_grid)
  values = t * u_grid - oracle_f(case, u_grid)
  i = int(np.argmax(values))
  lo, hi = s_grid[max(i - 1, 0)], s_grid[min(i + 1, len(s_grid) - 1)]
  result = optimize.minimize_scalar(
      lambda s: -(t * np.exp(s) - float(oracle_f(case, np.exp(s)))),
      bounds=(lo, hi),
      method="bounded",
      options={"xatol": 1e-12})
  tiny = 1e-300
  at_zero = t * tiny - float(oracle_f(case, tiny))
  return max(float(values[i]), -float(result.fun), at_zero)


def inside_domain_points(case):
  """A few t with a finite conjugate whose maximiser u* lies well inside [e^-40, e^25]."""
  ts = [t for t in (-4.0, -1.5, -0.3, 0.0, 0.3, 1.0, 2.0) if t < case.domain_end - 0.02]
  if case.domain_end < 3.0:
    ts.append(case.domain_end - 0.02)
  return np.array(ts)


@pytest.fixture
def x64():
  with jax.enable_x64(True):
    yield


# ---------------------------------------------------------------------------------------------------
# f, f', h against the oracle.


@by_case
def test_f_vanishes_at_one(x64, case):
  np.testing.assert_allclose(case.make().f(1.0), 0.0, atol=1e-15)


@by_case
def test_f_matches_oracle_on_log_grid(x64, case):
  got = np.asarray(case.make().f(U_GRID))
  np.testing.assert_allclose(got, oracle_f(case, U_GRID), rtol=1e-12, atol=1e-14)


@by_case
def test_f_prime_matches_central_differences_of_oracle(x64, case):
  h = 1e-5 * U_GRID  # truncation ~1e-10, round-off ~1e-11 relative
  expected = (oracle_f(case, U_GRID + h) - oracle_f(case, U_GRID - h)) / (2 * h)
  got = np.asarray(case.make().f_prime(U_GRID))
  np.testing.assert_allclose(got, expected, rtol=1e-7, atol=1e-8)


@by_case
def test_h_is_u_squared_times_second_difference_of_oracle(x64, case):
  u = U_GRID
  h = 2e-3 * u  # truncation h² f''''/12 <= ~4e-6 relative for these generators
  f_minus, f_0, f_plus = (oracle_f(case, v) for v in (u - h, u, u + h))
  expected = u**2 * (f_plus - 2 * f_0 + f_minus) / h**2
  got = np.asarray(case.make().h(u))
  # The absolute slack is the second difference's round-off, u² · eps |f| / h² (TV has h = 0).
  tolerance = 2e-5 * np.abs(expected) + 1e-9 * (1 + np.abs(f_0))
  worst = float(np.max(np.abs(got - expected) / tolerance))
  assert worst <= 1.0, f"error is {worst:.3g} x the tolerance"


@by_case
def test_f_is_convex(x64, case):
  g = case.make()
  assert np.all(np.asarray(g.h(U_GRID)) >= 0)
  u = np.logspace(-3.0, 3.0, 401)
  values = np.asarray(g.f(u))
  slopes = np.diff(values) / np.diff(u)
  assert np.all(np.diff(slopes) >= -1e-9 * (1 + np.abs(slopes[1:])))


@pytest.mark.parametrize("case", INVERTIBLE_CASES, ids=lambda c: c.id)
def test_f_prime_inverse_inverts_f_prime(x64, case):
  g = case.make()
  np.testing.assert_allclose(g.f_prime_inverse(g.f_prime(U_GRID)), U_GRID, rtol=1e-9)


def test_total_variation_f_prime_inverse_raises():
  with pytest.raises(ValueError, match="'total_variation' generator has no invertible derivative"):
    G.TOTAL_VARIATION.f_prime_inverse(0.0)


# One-sided limits f'(0+), derived by hand: −inf where f has infinite slope at 0, else finite.
F_PRIME_AT_ZERO = [
    pytest.param(lambda: G.KL, -math.inf, id="kl"),
    pytest.param(lambda: G.REVERSE_KL, -math.inf, id="reverse_kl"),
    pytest.param(lambda: G.JENSEN_SHANNON, -math.inf, id="jensen_shannon"),
    pytest.param(lambda: G.TOTAL_VARIATION, -0.5, id="total_variation"),
    pytest.param(lambda: G.SQUARED_HELLINGER, -math.inf, id="squared_hellinger"),
    pytest.param(lambda: G.PEARSON_CHI2, -2.0, id="pearson_chi2"),
    pytest.param(lambda: G.NEYMAN_CHI2, -math.inf, id="neyman_chi2"),
    pytest.param(lambda: G.JEFFREYS, -math.inf, id="jeffreys"),
    pytest.param(lambda: G.alpha_generator(0.5), -math.inf, id="alpha=0.5"),
    pytest.param(lambda: G.alpha_generator(2.0), -1.0, id="alpha=2"),
]


@pytest.mark.parametrize("make, expected", F_PRIME_AT_ZERO)
def test_f_prime_at_zero_is_one_sided_limit(x64, make, expected):
  np.testing.assert_array_equal(make().f_prime(0.0), expected)


# ---------------------------------------------------------------------------------------------------
# The convex conjugate.


@pytest.mark.parametrize("case", conjugate_cases(CASES))
def test_conjugate_matches_numerical_sup_inside_domain(x64, case):
  ts = inside_domain_points(case)
  expected = np.array([conjugate_oracle(case, t) for t in ts])
  got = np.asarray(case.make().conjugate(ts))
  np.testing.assert_allclose(got, expected, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("case", BOUNDED_DOMAIN_CASES, ids=lambda c: c.id)
def test_conjugate_is_inf_outside_domain(x64, case):
  ts = case.domain_end + np.array([0.01, 1.0, 100.0])
  # The oracle's objective t u − f(u) is unbounded: already large at u = e^25 and still growing.
  for t in ts:
    objective = [t * u - float(oracle_f(case, u)) for u in (math.exp(20.0), math.exp(25.0))]
    assert objective[1] > max(objective[0], 1e6)
  np.testing.assert_array_equal(case.make().conjugate(ts), np.inf)


# At an exactly representable end of the domain the sup is the u → ∞ limit of t u − f(u):
#   reverse KL, t = 0:   log u → inf;           TV, t = ½:              ½ for all u >= 1;
#   Hellinger, t = ½:    √u − ½ → inf;          Neyman, t = 1:          2 − 1/u → 2;
#   α = 0, t = 1:        log u + 1 → inf;       α = ½, t = 2:           4√u − 2 → inf;
#   α = −1, t = ½:       1 − 1/(2u) → 1.
CONJUGATE_AT_DOMAIN_END = [
    pytest.param(lambda: G.REVERSE_KL, 0.0, math.inf, id="reverse_kl"),
    pytest.param(lambda: G.TOTAL_VARIATION, 0.5, 0.5, id="total_variation"),
    pytest.param(lambda: G.SQUARED_HELLINGER, 0.5, math.inf, id="squared_hellinger"),
    pytest.param(lambda: G.NEYMAN_CHI2, 1.0, 2.0, id="neyman_chi2"),
    pytest.param(lambda: G.alpha_generator(0.0), 1.0, math.inf, id="alpha=0"),
    pytest.param(lambda: G.alpha_generator(0.5), 2.0, math.inf, id="alpha=0.5"),
    pytest.param(lambda: G.alpha_generator(-1.0), 0.5, 1.0, id="alpha=-1"),
]


@pytest.mark.parametrize("make, t, expected", CONJUGATE_AT_DOMAIN_END)
def test_conjugate_at_domain_end_is_the_sup(x64, make, t, expected):
  np.testing.assert_allclose(make().conjugate(t), expected, rtol=1e-12)


@pytest.mark.parametrize("case", conjugate_cases(CASES))
def test_fenchel_young_equality_at_f_prime(x64, case):
  g = case.make()
  u = U_GRID
  slope = np.asarray(g.f_prime(u))
  expected = u * slope - oracle_f(case, u)
  got = np.asarray(g.conjugate(slope))
  scale = 1 + np.abs(u * slope) + np.abs(oracle_f(case, u))  # the cancellation in u f' − f
  worst = float(np.max(np.abs(got - expected) / scale))
  assert worst <= 1e-10, f"scaled error {worst:.3g}"


# ---------------------------------------------------------------------------------------------------
# Boundary values f(0) and f'(∞).


@by_case
def test_f_at_zero_is_limit_of_f(x64, case):
  got = float(case.make().f_at_zero())
  limit = float(oracle_limit(case, TINY_U))  # f at u = 10^(−10^12)
  if limit > BLOW_UP:
    assert got == math.inf
  else:
    np.testing.assert_allclose(got, limit, rtol=1e-9)


@by_case
def test_f_at_zero_argument_is_f_at_zero(x64, case):
  g = case.make()
  np.testing.assert_array_equal(g.f(0.0), g.f_at_zero())


@by_case
def test_f_prime_at_infinity_is_limit_of_f_over_u(x64, case):
  got = float(case.make().f_prime_at_infinity())
  limit = float(oracle_limit(case, HUGE_U) / HUGE_U)  # f(u)/u at u = 10^(10^12)
  if limit > BLOW_UP:
    assert got == math.inf
  else:
    np.testing.assert_allclose(got, limit, rtol=1e-9, atol=1e-300)


# ---------------------------------------------------------------------------------------------------
# The α-family.


def kl_limit_np(u):
  return u * np.log(u) - u + 1


def reverse_kl_limit_np(u):
  return -np.log(u) + u - 1


@pytest.mark.parametrize("delta", [1e-6, -1e-6, 1e-9, -1e-9])
def test_alpha_near_one_approaches_kl_limit(x64, delta):
  got = np.asarray(G.alpha_generator(1.0 + delta).f(U_GRID))
  # f_{1+δ} − f_1 = δ ∂_α f_1 + O(δ²), and |∂_α f_1| <= 4 f_1 on this grid.
  np.testing.assert_allclose(got, kl_limit_np(U_GRID), rtol=5 * abs(delta), atol=1e-15)


@pytest.mark.parametrize("delta", [1e-6, -1e-6, 1e-9, -1e-9])
def test_alpha_near_zero_approaches_reverse_kl_limit(x64, delta):
  got = np.asarray(G.alpha_generator(delta).f(U_GRID))
  np.testing.assert_allclose(got, reverse_kl_limit_np(U_GRID), rtol=5 * abs(delta), atol=1e-15)


@pytest.mark.parametrize("alpha", [1 + 1e-6, 1 - 1e-6, 1 + 1e-9, 1 - 1e-9, 1e-6, -1e-6, 1e-9, -1e-9,
                                   1.0005, 1e-3])
def test_alpha_f_has_no_cancellation_near_limits(x64, alpha):
  # The naive formula loses ~eps/|α(α−1)| relative accuracy here (1e-7 at |δ| = 1e-9); the oracle is
  # the same formula in 40-digit arithmetic. 1.0005 and 1e-3 straddle the series switch of φ.
  got = np.asarray(G.alpha_generator(alpha).f(U_GRID))
  np.testing.assert_allclose(got, oracle_f(_alpha_case(alpha), U_GRID), rtol=1e-9)


SPECIAL_ORDERS = [
    # (α, the named generator it equals, the closed form written from the module docstring)
    (0.5, lambda: 4.0 * G.SQUARED_HELLINGER, lambda u: 2 * (np.sqrt(u) - 1)**2),
    (2.0, lambda: 0.5 * G.PEARSON_CHI2, lambda u: 0.5 * (u - 1)**2),
    (-1.0, lambda: 0.5 * G.NEYMAN_CHI2, lambda u: 0.5 * (u - 1)**2 / u),
]
SPECIAL_ORDER_IDS = ["hellinger", "pearson", "neyman"]


@pytest.mark.parametrize("alpha, named, closed_form", SPECIAL_ORDERS, ids=SPECIAL_ORDER_IDS)
def test_alpha_special_order_matches_closed_form(x64, alpha, named, closed_form):
  np.testing.assert_allclose(G.alpha_generator(alpha).f(U_GRID), closed_form(U_GRID), rtol=1e-12)


@pytest.mark.parametrize("alpha, named, closed_form", SPECIAL_ORDERS, ids=SPECIAL_ORDER_IDS)
def test_alpha_special_order_matches_scaled_named_generator(x64, alpha, named, closed_form):
  g, ref = G.alpha_generator(alpha), named()
  np.testing.assert_allclose(g.f(U_GRID), ref.f(U_GRID), rtol=1e-12)
  np.testing.assert_allclose(g.f_prime(U_GRID), ref.f_prime(U_GRID), rtol=1e-12, atol=1e-15)
  np.testing.assert_allclose(g.h(U_GRID), ref.h(U_GRID), rtol=1e-12)
  ts = np.array([-10.0, -1.0, -0.2, 0.0, 0.3, 0.49, 0.6, 2.5])  # some outside the domain (+inf)
  np.testing.assert_allclose(g.conjugate(ts), ref.conjugate(ts), rtol=1e-12, atol=1e-15)
  slopes = np.asarray(ref.f_prime(U_GRID))
  np.testing.assert_allclose(g.f_prime_inverse(slopes), ref.f_prime_inverse(slopes), rtol=1e-10)
  np.testing.assert_allclose(g.f_at_zero(), ref.f_at_zero(), rtol=1e-12)
  np.testing.assert_allclose(g.f_prime_at_infinity(), ref.f_prime_at_infinity(), rtol=1e-12)


def test_alpha_f_is_accurate_in_float32_near_one():
  alpha = 1.0 - 1e-4
  u = U_GRID.astype(np.float32)
  got = G.alpha_generator(alpha).f(jnp.asarray(u))
  assert got.dtype == jnp.float32
  # Oracle: the closed form in float64, at the float32-rounded α and u the library actually sees;
  # its cancellation costs eps64/|α(α−1)| ~ 2e-12, far below the tolerance. u = 1 ± 0.1 is left out
  # (not on U_GRID): there f ≈ (u−1)²/2 and even u log u − u + 1 cancels in float32.
  a, u64 = float(np.float32(alpha)), u.astype(np.float64)
  expected = (u64**a - a * u64 - (1 - a)) / (a * (a - 1))
  np.testing.assert_allclose(np.asarray(got, dtype=np.float64), expected, rtol=1e-5)


@pytest.mark.parametrize("alpha", [1e-5, -1e-5])
def test_alpha_conjugate_is_accurate_in_float32_near_zero(alpha):
  ts = np.array([-5.0, -1.0, -0.3, 0.3, 0.8], dtype=np.float32)
  got = np.asarray(G.alpha_generator(alpha).conjugate(jnp.asarray(ts)), dtype=np.float64)
  a = MP.mpf(float(np.float32(alpha)))
  expected = [float(((1 + (a - 1) * MP.mpf(float(t)))**(a / (a - 1)) - 1) / a) for t in ts]
  np.testing.assert_allclose(got, expected, rtol=1e-4)


# ---------------------------------------------------------------------------------------------------
# Scaling.


@pytest.mark.parametrize("scale", [lambda: 2.0 * G.KL, lambda: G.KL * 2.0, lambda: 2 * G.KL],
                         ids=["rmul", "mul", "int"])
def test_scaled_kl_matches_closed_form(x64, scale):
  g = scale()
  u = U_GRID
  ts = np.array([-3.0, 0.0, 1.0, 4.0])
  np.testing.assert_allclose(g.f(u), 2 * u * np.log(u), rtol=1e-12)
  np.testing.assert_allclose(g.f_prime(u), 2 * (np.log(u) + 1), rtol=1e-12)
  # sup_u t u − 2 u log u: u* = e^{t/2 − 1}, value 2 u*.
  np.testing.assert_allclose(g.conjugate(ts), 2 * np.exp(ts / 2 - 1), rtol=1e-12)
  np.testing.assert_allclose(g.f_prime_inverse(ts), np.exp(ts / 2 - 1), rtol=1e-12)
  np.testing.assert_allclose(g.h(u), 2 * u, rtol=1e-12)
  assert float(g.f_at_zero()) == 0.0
  assert float(g.f_prime_at_infinity()) == math.inf


@pytest.mark.parametrize("case", BUILTIN_CASES, ids=lambda c: c.id)
def test_scaled_conjugate_matches_numerical_sup(x64, case):
  c = 3.0
  scaled = Case(case.id, lambda: c * case.make(), lambda u, m: c * case.f(u, m), False,
                c * case.domain_end)
  ts = inside_domain_points(scaled)
  expected = np.array([conjugate_oracle(scaled, t) for t in ts])
  np.testing.assert_allclose(scaled.make().conjugate(ts), expected, rtol=1e-8, atol=1e-10)


def test_scaled_generator_keeps_the_factor_as_a_parameter_leaf():
  # The factor is a leaf (not part of the static name), so generators scaled by different
  # constants share one jit trace.
  scaled = 2.0 * G.KL
  assert scaled.name == "scaled_kl"
  assert float(jax.tree_util.tree_leaves(scaled)[0]) == 2.0
  assert (jax.tree_util.tree_structure(2.0 * G.JENSEN_SHANNON) ==
          jax.tree_util.tree_structure(0.5 * G.JENSEN_SHANNON))


@pytest.mark.parametrize("c", [0, 0.0, -1.0, -0.5])
def test_scaling_by_non_positive_number_raises(c):
  with pytest.raises(ValueError, match="can only be scaled by a finite positive Python number"):
    c * G.KL  # pylint: disable=pointless-statement


def test_scaling_by_array_raises():
  with pytest.raises(ValueError, match="can only be scaled by a finite positive Python number"):
    G.KL * jnp.asarray(2.0)  # pylint: disable=pointless-statement


def test_scaling_by_nan_raises():
  with pytest.raises(ValueError, match="can only be scaled by a finite positive Python number"):
    float("nan") * G.KL  # pylint: disable=pointless-statement


# ---------------------------------------------------------------------------------------------------
# Pytrees and transformations.


@pytest.mark.parametrize("case", BUILTIN_CASES, ids=lambda c: c.id)
def test_builtin_generator_has_no_leaves(case):
  assert jax.tree_util.tree_leaves(case.make()) == []


def test_alpha_generator_has_alpha_as_only_leaf():
  leaves = jax.tree_util.tree_leaves(G.alpha_generator(0.3))
  assert len(leaves) == 1
  np.testing.assert_allclose(leaves[0], 0.3, rtol=1e-7)


@by_case
def test_generator_passes_through_jit(x64, case):
  g = case.make()
  ts = inside_domain_points(case)
  f, conjugate = jax.jit(lambda gen, u, t: (gen.f(u), gen.conjugate(t)))(g, U_GRID, ts)
  np.testing.assert_allclose(f, g.f(U_GRID), rtol=1e-13)
  np.testing.assert_allclose(conjugate, g.conjugate(ts), rtol=1e-13)


def test_jit_does_not_retrace_for_a_new_alpha():
  traces = []

  @jax.jit
  def f(gen, u):
    traces.append(None)
    return gen.f(u)

  u = jnp.asarray(U_GRID, dtype=jnp.float32)
  f(G.alpha_generator(0.3), u)
  got = f(G.alpha_generator(0.7), u)
  assert len(traces) == 1
  np.testing.assert_allclose(got, G.alpha_generator(0.7).f(u), rtol=1e-6)


def test_vmap_over_alpha_matches_loop(x64):
  alphas = jnp.array([-1.0, 0.0, 0.3, 0.5, 1.0 - 1e-7, 1.0, 2.0])  # both branches and both limits
  got = jax.vmap(lambda a: G.alpha_generator(a).f(U_GRID))(alphas)
  expected = np.stack([np.asarray(G.alpha_generator(float(a)).f(U_GRID)) for a in alphas])
  np.testing.assert_allclose(got, expected, rtol=1e-13)


def _oracle_f_at(u, alpha):
  return alpha_f(alpha)(MP.mpf(u), MP)


@pytest.mark.parametrize("alpha0", [0.0, 1.0])
@pytest.mark.parametrize("u", [0.1, 3.0, 50.0])
def test_grad_wrt_alpha_at_limit_matches_one_sided_differences(x64, alpha0, u):
  got = float(jax.grad(lambda a: G.alpha_generator(a).f(u))(alpha0))
  assert math.isfinite(got)
  # One-sided differences of the exact oracle: error δ |∂²_α f| / 2, ~1e-6 relative for δ = 1e-6.
  delta = 1e-6
  at = _oracle_f_at(u, alpha0)
  right = float((_oracle_f_at(u, alpha0 + delta) - at) / delta)
  left = float((at - _oracle_f_at(u, alpha0 - delta)) / delta)
  np.testing.assert_allclose(got, right, rtol=1e-5)
  np.testing.assert_allclose(got, left, rtol=1e-5)


# Gradient checks over α batch the orders with vmap: one compilation checks all of them.
GRAD_ALPHAS = np.array([-1.0, 0.0, 0.5, 1.0, 2.0])  # both limits, both branches of the symmetry


def test_f_gradients_wrt_alpha_pass_check_grads(x64):
  u = jnp.array([0.05, 0.7, 3.0, 40.0])
  f = jax.jit(jax.vmap(lambda a: G.alpha_generator(a).f(u)))
  check_grads(f, (jnp.asarray(GRAD_ALPHAS),), order=1, modes=["fwd", "rev"])


@pytest.mark.parametrize("alpha0", [0.0, 1e-7])
def test_grad_of_conjugate_wrt_alpha_near_zero_matches_oracle(x64, alpha0):
  t = -2.0
  got = float(jax.grad(lambda a: G.alpha_generator(a).conjugate(t))(alpha0))

  def conjugate_oracle_at(alpha):  # ((1 + (α−1)t)^{α/(α−1)} − 1)/α
    a = MP.mpf(alpha)
    return ((1 + (a - 1) * t)**(a / (a - 1)) - 1) / a

  delta = 1e-5
  expected = float((conjugate_oracle_at(alpha0 + delta) - conjugate_oracle_at(alpha0 - delta)) /
                   (2 * delta))
  np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_grad_of_conjugate_wrt_alpha_passes_check_grads(x64):
  alphas = jnp.array([0.5, 1.0, 2.0])  # |α| < 1e-6 is broken: see the test above
  ts = jnp.array([-2.0, -0.3, 0.4])
  conjugate = jax.jit(jax.vmap(lambda a: G.alpha_generator(a).conjugate(ts)))
  check_grads(conjugate, (alphas,), order=1, modes=["fwd", "rev"])


@pytest.mark.parametrize("case", BUILTIN_CASES, ids=lambda c: c.id)
def test_f_gradients_wrt_u_pass_check_grads(x64, case):
  u = jnp.array([0.4, 2.5, 30.0])  # away from TV's kink at u = 1
  check_grads(case.make().f, (u,), order=1, modes=["fwd", "rev"], eps=1e-5)


def test_alpha_f_gradients_wrt_u_pass_check_grads(x64):
  u = jnp.array([0.4, 2.5, 30.0])
  f = jax.jit(lambda u: jax.vmap(lambda a: G.alpha_generator(a).f(u))(GRAD_ALPHAS))
  check_grads(f, (u,), order=1, modes=["fwd", "rev"], eps=1e-5)


@pytest.mark.parametrize("case", BUILTIN_CASES, ids=lambda c: c.id)
def test_conjugate_gradients_wrt_t_pass_check_grads(x64, case):
  ts = inside_domain_points(case)
  ts = ts[ts < case.domain_end - 0.1]  # f* is steep right below the end of its domain
  if case.id == "total_variation":
    ts = np.array([-2.0, -0.2, 0.3])  # away from the kinks at t = ±1/2
  check_grads(jax.jit(case.make().conjugate), (jnp.asarray(ts),), order=1, modes=["fwd", "rev"],
              eps=1e-6)


def test_alpha_conjugate_gradients_wrt_t_pass_check_grads(x64):
  ts = jnp.array([-2.0, -0.3, 0.2])  # inside every domain: t < 1/(1 − α) for α < 1
  conjugate = jax.jit(lambda t: jax.vmap(lambda a: G.alpha_generator(a).conjugate(t))(GRAD_ALPHAS))
  check_grads(conjugate, (ts,), order=1, modes=["fwd", "rev"], eps=1e-6)


# ---------------------------------------------------------------------------------------------------
# The registry.


def test_generators_maps_each_builtin_name_to_it():
  builtins = [case.make() for case in BUILTIN_CASES]
  assert set(G.GENERATORS) == {
      "kl", "reverse_kl", "jensen_shannon", "total_variation", "squared_hellinger", "pearson_chi2",
      "neyman_chi2", "jeffreys"
  }
  for g in builtins:
    assert G.GENERATORS[g.name] is g
