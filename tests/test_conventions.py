"""One vocabulary across divjax's areas (docs/conventions.md), checked against plain NumPy.

* Cauchy–Schwarz: one pair of Gaussians through every CS function of divjax — the two Gaussian closed
  forms (divergences, ib), the discrete divergence on a fine grid of the densities, the Gram estimator
  of ib on large fixed-seed samples — gives one value, that of an independent NumPy evaluation of
  Yu et al.'s D_CS = −log((∫pq)² / (∫p² ∫q²)).
* "forward_kl": in knowledge distillation (``ot.kd_divergence``) and in f-DPO
  (``alignment.fdpo_generator``) it is KL(target ‖ model) — teacher ‖ student, reference ‖ policy —
  and "reverse_kl" is KL(model ‖ target); the α of both families is Cichocki–Amari's α of
  D_α(target ‖ model).
"""

from __future__ import annotations

import jax
import numpy as np
import pytest
from scipy import stats

from divjax import alignment, ib, ot
from divjax import divergences as dv

MEAN_P, COV_P = np.array([0.0, 0.0]), np.array([[1.0, 0.3], [0.3, 0.8]])
MEAN_Q, COV_Q = np.array([1.0, -0.5]), np.array([[1.5, -0.2], [-0.2, 0.6]])


@pytest.fixture
def x64():
  with jax.enable_x64(True):
    yield


def np_log_overlap(m1, c1, m2, c2):
  """log ∫ N(x; m1, c1) N(x; m2, c2) dx = log N(m1; m2, c1 + c2), with scipy."""
  return stats.multivariate_normal(m2, c1 + c2).logpdf(m1)


def np_gaussian_cs(m1, c1, m2, c2):
  """Yu et al.'s convention: −2 log∫pq + log∫p² + log∫q²."""
  return (-2 * np_log_overlap(m1, c1, m2, c2) + np_log_overlap(m1, c1, m1, c1)
          + np_log_overlap(m2, c2, m2, c2))


# ---------------------------------------------------------------------------------------------------
# Cauchy–Schwarz: one convention.


def test_every_gaussian_cs_closed_form_agrees_with_numpy(x64):
  want = np_gaussian_cs(MEAN_P, COV_P, MEAN_Q, COV_Q)
  for got in (dv.gaussian_cauchy_schwarz_divergence(MEAN_P, COV_P, MEAN_Q, COV_Q),
              ib.gaussian_cs_divergence(MEAN_P, COV_P, MEAN_Q, COV_Q)):
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_discrete_cs_of_the_densities_on_a_fine_grid_is_the_gaussian_value(x64):
  # Masses p_i ∝ density at grid point i: the grid spacing cancels from the ratio, and the Riemann
  # sums of these smooth, rapidly decaying integrands are accurate far beyond 1e-8 on [−9, 9]².
  g = np.linspace(-9.0, 9.0, 361)
  xx = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
  p = stats.multivariate_normal(MEAN_P, COV_P).pdf(xx)
  q = stats.multivariate_normal(MEAN_Q, COV_Q).pdf(xx)
  got = dv.cauchy_schwarz_divergence(p / p.sum(), q / q.sum())
  np.testing.assert_allclose(got, np_gaussian_cs(MEAN_P, COV_P, MEAN_Q, COV_Q), rtol=1e-8)


def test_gram_estimator_on_large_samples_converges_to_the_smoothed_gaussian_value():
  # ib.cs_divergence with kernel width σ estimates D_CS between the densities smoothed by
  # N(0, σ²/2 I); for Gaussians that adds σ²/2 to both covariances. 10 replicates of n = m = 2000
  # (seed 0); the tolerance is 4 standard errors of their mean. The V-statistic's O(1/n) bias,
  # about 1/(n · E κ) ≈ 1e-3 here, is below one standard error.
  sigma, n, reps = 1.0, 2000, 10
  keys = jax.random.split(jax.random.key(0), reps)

  def one(key):
    kx, ky = jax.random.split(key)
    x = jax.random.multivariate_normal(kx, MEAN_P, COV_P, (n,))
    y = jax.random.multivariate_normal(ky, MEAN_Q, COV_Q, (n,))
    return ib.cs_divergence(x, y, sigma=sigma)

  estimates = np.array([float(jax.jit(one)(k)) for k in keys])
  se = estimates.std(ddof=1) / np.sqrt(reps)
  smooth = 0.5 * sigma**2 * np.eye(2)
  want = np_gaussian_cs(MEAN_P, COV_P + smooth, MEAN_Q, COV_Q + smooth)
  assert abs(estimates.mean() - want) < 4 * se, (estimates.mean(), want, se)
  np.testing.assert_allclose(
      ib.gaussian_cs_divergence(MEAN_P, COV_P, MEAN_Q, COV_Q, kernel_width=sigma), want, rtol=1e-5)


def test_cs_qmi_closed_form_is_the_cs_divergence_of_joint_and_product(x64):
  joint = np.array([[1.0, 0.3, 0.5], [0.3, 0.8, -0.2], [0.5, -0.2, 1.2]])
  product = joint * np.array([[1, 1, 0], [1, 1, 0], [0, 0, 1]])
  want = np_gaussian_cs(np.zeros(3), joint, np.zeros(3), product)
  np.testing.assert_allclose(ib.gaussian_cs_qmi(joint, dim_x=2), want, rtol=1e-12)


def test_the_convention_is_kl_at_equal_covariance(x64):
  # The property that picks Yu et al.'s scaling over Jenssen et al.'s (half of it).
  kl = 0.5 * (MEAN_Q - MEAN_P) @ np.linalg.solve(COV_P, MEAN_Q - MEAN_P)
  np.testing.assert_allclose(dv.gaussian_cauchy_schwarz_divergence(MEAN_P, COV_P, MEAN_Q, COV_P),
                             kl, rtol=1e-12)


# ---------------------------------------------------------------------------------------------------
# "forward_kl" and "reverse_kl": KL(target ‖ model) and KL(model ‖ target) in every area.

TARGET = np.array([0.7, 0.2, 0.08, 0.02])     # teacher / reference policy
MODEL = np.array([0.1, 0.2, 0.3, 0.4])        # student / trained policy


def np_kl(a, b):
  return float(np.sum(a * np.log(a / b)))


def np_alpha(a, b, alpha):
  """Cichocki–Amari D_α(a ‖ b) = (Σ a^α b^{1−α} − 1) / (α(α − 1))."""
  return float((np.sum(a**alpha * b**(1 - alpha)) - 1) / (alpha * (alpha - 1)))


def kd(kind, **kwargs):
  """ot.kd_divergence with the model as the student and the target as the teacher."""
  return float(ot.kd_divergence(np.log(MODEL)[None], np.log(TARGET)[None], kind=kind, **kwargs)[0])


def fdpo(name, **kwargs):
  """D_f(π ‖ π_ref) of the f-DPO generator, π the model and π_ref the target (the paper's order)."""
  return float(dv.f_divergence(alignment.fdpo_generator(name, **kwargs), MODEL, TARGET))


def test_forward_kl_is_kl_of_target_to_model_in_distillation_and_in_fdpo(x64):
  want = np_kl(TARGET, MODEL)
  np.testing.assert_allclose(kd("forward_kl"), want, rtol=1e-12)
  np.testing.assert_allclose(fdpo("forward_kl"), want, rtol=1e-12)
  assert abs(want - np_kl(MODEL, TARGET)) > 0.1     # the pair tells the two directions apart


def test_reverse_kl_is_kl_of_model_to_target_in_distillation_and_in_fdpo(x64):
  want = np_kl(MODEL, TARGET)
  np.testing.assert_allclose(kd("reverse_kl"), want, rtol=1e-12)
  np.testing.assert_allclose(fdpo("reverse_kl"), want, rtol=1e-12)


@pytest.mark.parametrize("a", [0.2, 0.5, 0.9])
def test_alpha_of_distillation_and_fdpo_is_cichocki_amari_alpha_of_target_to_model(x64, a):
  # f-DPO writes D_f(π‖π_ref) with alpha_generator(1 − α): the same as D_α(π_ref‖π).
  want = np_alpha(TARGET, MODEL, a)
  np.testing.assert_allclose(kd("alpha", alpha=a), want, rtol=1e-10)
  np.testing.assert_allclose(fdpo("alpha", alpha=a), want, rtol=1e-10)
  np.testing.assert_allclose(dv.alpha_divergence(TARGET, MODEL, alpha=a), want, rtol=1e-10)
