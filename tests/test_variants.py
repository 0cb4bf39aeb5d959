"""One public function of every area, called eagerly and under ``jax.jit`` (``chex.variants``).

Each case is checked against an independent oracle written plainly in NumPy (float64), so a
variant that changes the value (a check that behaves differently on tracers, a Python branch on a
concrete value) fails in the variant it breaks.
"""

import chex
import jax.numpy as jnp
import numpy as np
from absl.testing import parameterized
from scipy.special import logsumexp

from divjax import alignment, divergences, games, ib, kde, ot
from divjax import expfam


def _np_kl(p, q):
  return float(np.sum(p * np.log(p / q)))


class VariantsTest(chex.TestCase):
  """Eager and jitted calls agree with the same NumPy oracle."""

  @chex.variants(with_jit=True, without_jit=True)
  def test_kl_divergence_from_probabilities(self):
    p, q = np.array([0.2, 0.3, 0.5]), np.array([0.4, 0.4, 0.2])
    got = self.variant(divergences.kl_divergence)(jnp.asarray(p), jnp.asarray(q))
    np.testing.assert_allclose(got, _np_kl(p, q), rtol=1e-5)

  @chex.variants(with_jit=True, without_jit=True)
  def test_kl_divergence_from_logits(self):
    lp, lq = np.array([2.0, 0.0, -1.0]), np.zeros(3)
    p, q = np.exp(lp - logsumexp(lp)), np.full(3, 1 / 3)
    fn = self.variant(lambda a, b: divergences.kl_divergence(a, b, logits=True))
    np.testing.assert_allclose(fn(jnp.asarray(lp), jnp.asarray(lq)), _np_kl(p, q), rtol=1e-5)

  @chex.variants(with_jit=True, without_jit=True)
  def test_gaussian_kl_closed_form(self):
    m1, m2 = np.array([0.0, 1.0]), np.array([0.5, -0.5])
    s1, s2 = np.diag([1.0, 2.0]), np.array([[2.0, 0.3], [0.3, 1.0]])
    s2i = np.linalg.inv(s2)
    expected = 0.5 * (np.trace(s2i @ s1) + (m2 - m1) @ s2i @ (m2 - m1) - 2
                      + np.log(np.linalg.det(s2) / np.linalg.det(s1)))
    got = self.variant(divergences.gaussian_kl_divergence)(m1, s1, m2, s2)
    np.testing.assert_allclose(got, expected, rtol=1e-5)

  @chex.variants(with_jit=True, without_jit=True)
  def test_kde_log_density_brute_force(self):
    rng = np.random.default_rng(0)
    data, x, h = rng.normal(size=(50, 3)), rng.normal(size=(4, 3)), 0.7
    sq = ((x[:, None, :] - data[None, :, :]) ** 2).sum(-1)
    expected = logsumexp(-sq / (2 * h**2), axis=1) - np.log(50) - 1.5 * np.log(2 * np.pi * h**2)
    got = self.variant(lambda a, b: kde.log_density(a, b, h))(jnp.asarray(x, jnp.float32),
                                                              jnp.asarray(data, jnp.float32))
    np.testing.assert_allclose(got, expected, atol=1e-4)

  @chex.variants(with_jit=True, without_jit=True)
  def test_exponential_family_kl_normal(self):
    family = expfam.normal()
    mu1, v1, mu2, v2 = 0.3, 1.5, -0.2, 0.8
    theta = lambda mu, v: jnp.array([mu / v, -0.5 / v])
    expected = 0.5 * (np.log(v2 / v1) + (v1 + (mu1 - mu2) ** 2) / v2 - 1)
    got = self.variant(lambda a, b: expfam.bregman_kl_divergence(family, a, b))(theta(mu1, v1),
                                                                                theta(mu2, v2))
    np.testing.assert_allclose(got, expected, rtol=1e-5)

  @chex.variants(with_jit=True, without_jit=True)
  def test_alignment_tilt(self):
    p, r, lam = np.array([0.5, 0.3, 0.2]), np.array([0.0, 1.0, 2.0]), 0.7
    w = p * np.exp(lam * r)
    got = self.variant(alignment.tilt)(jnp.log(jnp.asarray(p)), jnp.asarray(r), lam)
    np.testing.assert_allclose(np.exp(got.log_probs), w / w.sum(), rtol=1e-5)

  @chex.variants(with_jit=True, without_jit=True)
  def test_games_exploitability(self):
    # A 3-action game with a uniform reference: exploitability is beta * KL(pi || BR(pi)), with
    # BR(pi) proportional to ref * exp(P pi / beta), written here in NumPy.
    pref = np.array([[0.5, 0.8, 0.3], [0.2, 0.5, 0.6], [0.7, 0.4, 0.5]])
    beta, pi = 0.3, np.array([0.5, 0.3, 0.2])
    game = games.preference_game(jnp.asarray(pref), beta=beta)
    br = np.exp(pref @ pi / beta)
    br /= br.sum()
    expected = beta * _np_kl(pi, br)
    got = self.variant(games.exploitability)(game, jnp.log(jnp.asarray(pi)))
    np.testing.assert_allclose(got, expected, rtol=1e-4)

  @chex.variants(with_jit=True, without_jit=True)
  def test_ib_gaussian_cs_divergence(self):
    # D_CS = -2 log<p,q> + log<p,p> + log<q,q>, with <N(a,A), N(b,B)> = N(a; b, A + B).
    def log_overlap(a, sa, b, sb):
      s = sa + sb
      diff = a - b
      return -0.5 * (diff @ np.linalg.solve(s, diff) + np.log(np.linalg.det(2 * np.pi * s)))

    m1, m2, s1, s2 = np.zeros(2), np.array([1.0, 0.0]), np.eye(2), np.diag([2.0, 0.5])
    expected = (-2 * log_overlap(m1, s1, m2, s2) + log_overlap(m1, s1, m1, s1)
                + log_overlap(m2, s2, m2, s2))
    got = self.variant(ib.gaussian_cs_divergence)(m1, s1, m2, s2)
    np.testing.assert_allclose(got, expected, rtol=1e-5)

  @chex.variants(with_jit=True, without_jit=True)
  def test_ot_pairwise_cost_l1(self):
    p, q = np.array([[0.2, 0.8], [0.5, 0.5]]), np.array([[0.6, 0.4]])
    expected = np.abs(p[:, None, :] - q[None, :, :]).sum(-1)
    got = self.variant(lambda a, b: ot.pairwise_cost(a, b, ground_cost="l1"))(jnp.asarray(p),
                                                                              jnp.asarray(q))
    np.testing.assert_allclose(got, expected, rtol=1e-6)


if __name__ == "__main__":
  parameterized.absltest.main()
