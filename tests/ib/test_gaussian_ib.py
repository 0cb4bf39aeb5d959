"""divjax.ib.gaussian_ib against the spec's E.3 numbers and NumPy log-det mutual informations.

Oracle: I(T;X) and I(T;Y) of T = AX + ξ computed in NumPy float64 from the joint covariance of
(T, X, Y) as ½ log(det Σ_T det Σ_Y / det Σ_TY), independent of divjax's conditional-covariance form.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from divjax import ib


def np_mi(cov_x, cov_xy, cov_y, a):
  """(I(T;X), I(T;Y)) in float64 from the joint covariances of T = AX + ξ."""
  a = np.asarray(a, np.float64)
  cov_t = a @ cov_x @ a.T + np.eye(len(a))
  ld = lambda m: np.linalg.slogdet(m)[1]
  i_tx = 0.5 * (ld(cov_t) - ld(np.eye(len(a))))  # h(T) − h(T|X), h(T|X) = h(ξ)
  cov_ty = a @ cov_xy
  joint = np.block([[cov_t, cov_ty], [cov_ty.T, cov_y]])
  return i_tx, 0.5 * (ld(cov_t) + ld(cov_y) - ld(joint))


def random_problem(rng, nx, ny):
  m = rng.normal(size=(nx + ny, nx + ny))
  joint = m @ m.T / (nx + ny) + 0.2 * np.eye(nx + ny)
  return joint[:nx, :nx], joint[:nx, nx:], joint[nx:, nx:]


CANON = (np.eye(2), np.diag([0.9, 0.5]), np.eye(2))


def test_canonical_spectrum_and_critical_betas(x64):
  s = ib.gaussian_ib_spectrum(*CANON)
  np.testing.assert_allclose(s.eigenvalues, [0.19, 0.75], atol=1e-12)
  np.testing.assert_allclose(ib.critical_betas(s), [1 / 0.81, 4.0], rtol=1e-12)
  assert float(ib.critical_betas(s)[0]) == pytest.approx(1.2346, abs=1e-4)
  assert float(ib.ib_curve(s, 60.0)) == pytest.approx(0.974207, abs=1e-6)  # → I(X;Y)


def test_eigenvalues_match_numpy_eig_of_the_non_symmetric_matrix(x64):
  rng = np.random.default_rng(0)
  cx, cxy, cy = random_problem(rng, 4, 3)
  s = ib.gaussian_ib_spectrum(cx, cxy, cy)
  m = (cx - cxy @ np.linalg.solve(cy, cxy.T)) @ np.linalg.inv(cx)
  np.testing.assert_allclose(s.eigenvalues, np.sort(np.linalg.eigvals(m).real), atol=1e-10)
  v = np.asarray(s.eigenvectors)
  np.testing.assert_allclose(v @ m, np.asarray(s.eigenvalues)[:, None] * v, atol=1e-10)  # left
  np.testing.assert_allclose(np.einsum("ij,jk,ik->i", v, cx, v), 1.0, atol=1e-10)  # r_i = 1


@pytest.mark.parametrize("beta", [2.0, 4.0, 5.0, 10.0, 100.0])
def test_canonical_closed_forms_match_the_constructed_encoder(x64, beta):
  s = ib.gaussian_ib_spectrum(*CANON)
  a = np.asarray(ib.optimal_encoder(s, beta=beta))
  want = np_mi(*CANON, a)
  np.testing.assert_allclose(ib.ib_point(s, beta=beta), want, atol=1e-10)
  np.testing.assert_allclose(ib.linear_encoder_information(s, a), want, atol=1e-10)
  np.testing.assert_allclose(ib.ib_curve(s, want[0]), want[1], atol=1e-10)
  assert bool(np.any(a[1] != 0)) == (beta > 4.0)  # the second component switches on at β = 4


def test_random_problems_closed_forms_and_optimality(x64):
  rng = np.random.default_rng(1)
  for _ in range(5):
    cx, cxy, cy = random_problem(rng, 4, 3)
    s = ib.gaussian_ib_spectrum(cx, cxy, cy)
    bc = np.asarray(ib.critical_betas(s))
    assert np.isinf(bc[-1])  # n_x > n_y: a λ = 1 component that never activates
    for beta in (1.5 * bc[0], 0.5 * (bc[1] + bc[2]), 3 * bc[2]):
      a = np.asarray(ib.optimal_encoder(s, beta=beta))
      assert np.all(a[-1] == 0)
      i_x, i_y = np_mi(cx, cxy, cy, a)
      np.testing.assert_allclose(ib.ib_point(s, beta=beta), (i_x, i_y), atol=1e-10)
      np.testing.assert_allclose(ib.ib_curve(s, i_x), i_y, atol=1e-10)
      lagrangian = i_x - beta * i_y
      for _ in range(20):  # random perturbations never lower the IB Lagrangian
        p = a + 0.05 * rng.normal(size=a.shape)
        px, py = np_mi(cx, cxy, cy, p)
        assert px - beta * py >= lagrangian - 1e-10


def test_random_encoders_lie_on_or_below_the_curve(x64):
  rng = np.random.default_rng(2)
  cx, cxy, cy = random_problem(rng, 3, 2)
  s = ib.gaussian_ib_spectrum(cx, cxy, cy)
  a = rng.normal(size=(3000, 2, 3)) * rng.exponential(2.0, size=(3000, 1, 1))
  i_x, i_y = jax.jit(jax.vmap(lambda m: ib.linear_encoder_information(s, m)))(a)
  gap = np.asarray(ib.ib_curve(s, i_x) - i_y)
  assert gap.min() >= -1e-9, gap.min()
  # Spot-check against the NumPy oracle.
  for k in range(5):
    np.testing.assert_allclose((i_x[k], i_y[k]), np_mi(cx, cxy, cy, a[k]), atol=1e-10)


def test_curve_is_continuous_increasing_and_concave(x64):
  s = ib.gaussian_ib_spectrum(*CANON)
  grid = np.linspace(0.0, 6.0, 3001)
  c = np.asarray(ib.ib_curve(s, grid))
  assert c[0] == pytest.approx(0.0, abs=1e-14)
  assert np.all(np.diff(c) > 0) and np.all(np.diff(c, 2) < 1e-12)
  # Breakpoint where the second component starts (β = 4): continuity across it.
  bx, _ = ib.ib_point(s, beta=4.0)
  eps = 1e-9
  np.testing.assert_allclose(ib.ib_curve(s, bx - eps), ib.ib_curve(s, bx + eps), atol=1e-8)


def test_below_first_critical_beta_the_encoder_is_zero():
  s = ib.gaussian_ib_spectrum(*CANON)
  for beta in (0.0, 0.5, 1.2):
    assert np.all(np.asarray(ib.optimal_encoder(s, beta=beta)) == 0)
    assert np.allclose(ib.ib_point(s, beta=beta), 0.0)


def test_jit_vmap_and_grad():
  s = ib.gaussian_ib_spectrum(*CANON)
  betas = jnp.array([2.0, 5.0, 50.0])
  batched = jax.jit(jax.vmap(lambda b: ib.ib_point(s, beta=b)))(betas)
  looped = np.array([ib.ib_point(s, beta=float(b)) for b in betas]).T
  np.testing.assert_allclose(np.asarray(batched), looped, rtol=1e-5)
  slope = jax.grad(lambda i: ib.ib_curve(s, i))(1.0)
  # dI_Y/dI_X = 1/β along the curve: at β = 5, I_X = ib_point(...)[0].
  ix5, _ = ib.ib_point(s, beta=5.0)
  np.testing.assert_allclose(jax.grad(lambda i: ib.ib_curve(s, i))(ix5), 0.2, rtol=1e-4)
  assert np.isfinite(float(slope))
  g = jax.grad(lambda a: ib.linear_encoder_information(s, a)[1])(jnp.ones((2, 2)))
  assert np.isfinite(np.asarray(g)).all()


def test_bad_inputs_raise():
  s = ib.gaussian_ib_spectrum(*CANON)
  with pytest.raises(ValueError, match="beta"):
    ib.optimal_encoder(s, beta=-0.1)
  with pytest.raises(ValueError, match="beta"):
    ib.ib_point(s, beta=-1.0)
  with pytest.raises(ValueError, match="i_tx"):
    ib.ib_curve(s, -0.5)
  with pytest.raises(ValueError, match="cov_xy"):
    ib.gaussian_ib_spectrum(np.eye(2), np.zeros((3, 2)), np.eye(2))
  with pytest.raises(ValueError, match="joint covariance"):
    ib.gaussian_ib_spectrum(np.eye(1), np.ones((1, 1)), np.eye(1))  # |ρ| = 1
  with pytest.raises(ValueError, match="a"):
    ib.linear_encoder_information(s, np.ones((2, 3)))
