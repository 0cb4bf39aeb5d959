"""The three masks of the discrete divergences against optax.losses and plain NumPy.

* ``condition_on``: both distributions renormalised over the kept categories — optax's ``where`` on
  logits that go through ``jax.nn.log_softmax(..., where=mask)`` (what ``softmax_cross_entropy``
  does), and the NumPy divergence between the conditional distributions;
* ``sum_where``: the textbook per-category terms q f(p/q) summed where the mask holds, with p and q
  normalised over all categories — ``optax.losses.kl_divergence(log_q, p, where=mask)``;
* ``row_mask``: padding rows dropped — optax's ``where`` given per row, and NumPy on the real rows.

Oracles: optax 0.2.8's losses (an independent implementation) and NumPy formulas written plainly.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from divjax import divergences as dv

RNG = np.random.default_rng(2024)
LP = RNG.normal(size=(5, 7))            # logits of p, one distribution per row
LQ = RNG.normal(size=(5, 7))
MASK = RNG.random((5, 7)) > 0.4
MASK[:, 0] = True                        # every row keeps a category


@pytest.fixture
def x64():
  with jax.enable_x64(True):
    yield


def softmax(z):
  e = np.exp(z - z.max(-1, keepdims=True))
  return e / e.sum(-1, keepdims=True)


def np_conditional(z, mask):
  """softmax of z restricted to the kept categories (0 elsewhere), in NumPy."""
  e = np.where(mask, np.exp(z - z.max(-1, keepdims=True)), 0.0)
  return e / e.sum(-1, keepdims=True)


def np_kl(p, q):
  with np.errstate(divide="ignore", invalid="ignore"):
    return np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0) / q), 0.0), axis=-1)


# ---------------------------------------------------------------------------------------------------
# condition_on.


def test_condition_on_is_the_kl_of_the_conditionals_numpy(x64):
  got = dv.kl_divergence(LP, LQ, logits=True, condition_on=MASK)
  want = np_kl(np_conditional(LP, MASK), np_conditional(LQ, MASK))
  np.testing.assert_allclose(got, want, rtol=1e-12)


def test_condition_on_matches_optax_with_masked_log_softmax(x64):
  # optax renormalises over ``where`` when the logits go through log_softmax(where=…), as its
  # softmax_cross_entropy does: the same conditioning.
  m = jnp.asarray(MASK)
  want = optax.losses.kl_divergence(jax.nn.log_softmax(LQ, where=m), jax.nn.softmax(LP, where=m),
                                    where=m)
  got = jax.jit(lambda a, b, w: dv.kl_divergence(a, b, logits=True, condition_on=w))(LP, LQ, m)
  np.testing.assert_allclose(got, want, rtol=1e-12)


# ---------------------------------------------------------------------------------------------------
# sum_where.


def test_sum_where_matches_optax_kl_divergence_on_masked_logits(x64):
  # The example: on the same masked logits optax (a partial sum) and divjax's former where
  # (conditioning) disagree; sum_where is optax's semantics, condition_on divjax's.
  m = jnp.asarray(MASK)
  optax_value = optax.losses.kl_divergence(jax.nn.log_softmax(LQ), jax.nn.softmax(LP), where=m)
  np.testing.assert_allclose(dv.kl_divergence(LP, LQ, logits=True, sum_where=m), optax_value,
                             rtol=1e-12)
  conditioned = dv.kl_divergence(LP, LQ, logits=True, condition_on=m)
  assert np.max(np.abs(np.asarray(conditioned) - np.asarray(optax_value))) > 1e-2


def test_sum_where_on_probabilities_matches_optax_and_can_be_negative(x64):
  p, q = np.array([0.5, 0.3, 0.2]), np.array([0.2, 0.3, 0.5])
  keep = np.array([False, True, True])
  want = optax.losses.kl_divergence(jnp.log(q), p, where=keep)
  got = dv.kl_divergence(p, q, sum_where=keep)
  np.testing.assert_allclose(got, want, rtol=1e-12)
  np.testing.assert_allclose(got, 0.2 * np.log(0.2 / 0.5), rtol=1e-12)     # the kept terms, by hand
  assert got < 0


@pytest.mark.parametrize("name, term", [
    ("kl_divergence", lambda p, q: p * np.log(p / q)),
    ("reverse_kl_divergence", lambda p, q: q * np.log(q / p)),
    ("js_divergence", lambda p, q: 0.5 * p * np.log(2 * p / (p + q)) + 0.5 * q * np.log(2 * q / (p + q))),
    ("total_variation", lambda p, q: 0.5 * np.abs(p - q)),
    ("squared_hellinger_distance", lambda p, q: 0.5 * (np.sqrt(p) - np.sqrt(q))**2),
    ("chi2_divergence", lambda p, q: (p - q)**2 / q),
])
def test_sum_where_sums_the_textbook_terms_numpy(x64, name, term):
  p, q = softmax(LP), softmax(LQ)
  got = getattr(dv, name)(p, q, sum_where=MASK)
  want = np.sum(np.where(MASK, term(p, q), 0.0), axis=-1)
  np.testing.assert_allclose(got, want, rtol=1e-10)
  # With every category kept, the partial sum is the divergence itself.
  np.testing.assert_allclose(getattr(dv, name)(p, q, sum_where=np.ones(7, bool)),
                             getattr(dv, name)(p, q), rtol=1e-10)


def test_sum_where_of_alpha_and_f_divergence_sums_q_f_of_ratio(x64):
  p, q = softmax(LP), softmax(LQ)
  a = 0.3
  f = lambda u: (u**a - a * u - (1 - a)) / (a * (a - 1))            # noqa: E731 Cichocki–Amari
  want = np.sum(np.where(MASK, q * f(p / q), 0.0), axis=-1)
  np.testing.assert_allclose(dv.alpha_divergence(p, q, alpha=a, sum_where=MASK), want, rtol=1e-10)
  np.testing.assert_allclose(dv.f_divergence(dv.alpha_generator(a), p, q, sum_where=MASK), want,
                             rtol=1e-10)


def test_sum_where_and_condition_on_compose(x64):
  # Condition on MASK, then sum the terms of the conditionals on a sub-mask.
  sub = MASK & (np.arange(7) % 2 == 0)
  pc, qc = np_conditional(LP, MASK), np_conditional(LQ, MASK)
  want = np.sum(np.where(sub, pc * np.log(np.where(sub, pc, 1.0) / np.where(sub, qc, 1.0)), 0.0), -1)
  got = dv.kl_divergence(LP, LQ, logits=True, condition_on=MASK, sum_where=sub)
  np.testing.assert_allclose(got, want, rtol=1e-10)


def test_functions_without_per_category_terms_have_no_sum_where():
  for name in ("renyi_divergence", "cauchy_schwarz_divergence", "hellinger_distance"):
    with pytest.raises(TypeError, match="sum_where"):
      kwargs = {"alpha": 2.0} if name == "renyi_divergence" else {}
      getattr(dv, name)(softmax(LP), softmax(LQ), sum_where=MASK, **kwargs)


# ---------------------------------------------------------------------------------------------------
# row_mask.


def _padded():
  """Three real rows and two padding rows holding what padding holds: zeros and NaN."""
  p, q = softmax(LP[:3]), softmax(LQ[:3])
  pad = np.stack([np.zeros(7), np.full(7, np.nan)])
  return np.concatenate([p, pad]), np.concatenate([q, pad]), np.array([True] * 3 + [False] * 2)


@pytest.mark.parametrize("name", ["kl_divergence", "reverse_kl_divergence", "js_divergence",
                                  "total_variation", "squared_hellinger_distance",
                                  "hellinger_distance", "chi2_divergence", "renyi_divergence",
                                  "alpha_divergence", "cauchy_schwarz_divergence", "f_divergence"])
def test_row_mask_drops_padding_rows_and_keeps_the_real_ones(x64, name):
  p, q, rows = _padded()
  fn = getattr(dv, name)
  if name in ("renyi_divergence", "alpha_divergence"):
    fn = lambda a, b, **k: getattr(dv, name)(a, b, alpha=2.0, **k)   # noqa: E731
  if name == "f_divergence":
    fn = lambda a, b, **k: dv.f_divergence(dv.KL, a, b, **k)          # noqa: E731
  got = fn(p, q, row_mask=rows)                                        # eager: padding is not checked
  np.testing.assert_array_equal(np.asarray(got)[3:], 0.0)
  np.testing.assert_allclose(np.asarray(got)[:3], fn(p[:3], q[:3]), rtol=1e-12)
  np.testing.assert_allclose(jax.jit(lambda a, b, r: fn(a, b, row_mask=r))(p, q, rows), got,
                             rtol=1e-12)


def test_row_mask_gives_padding_a_zero_gradient_and_real_rows_their_own(x64):
  p, q, rows = _padded()
  lp = np.log(np.where(np.isnan(p) | (p == 0), 1.0, p))
  lp[4] = np.nan                                                        # NaN logits in padding
  g = jax.grad(lambda z: jnp.sum(dv.kl_divergence(z, q, logits=True, row_mask=rows)))(lp)
  assert np.all(np.isfinite(g))
  np.testing.assert_array_equal(np.asarray(g)[3:], 0.0)
  g_real = jax.grad(lambda z: jnp.sum(dv.kl_divergence(z, q[:3], logits=True)))(lp[:3])
  np.testing.assert_allclose(np.asarray(g)[:3], g_real, rtol=1e-12)


def test_row_mask_matches_optax_where_given_per_row(x64):
  # optax drops a row when its where-mask is False for every category; the padding rows here hold
  # valid distributions so that optax's value is defined there (0).
  p, q = softmax(LP), softmax(LQ)
  rows = np.array([True, False, True, True, False])
  want = optax.losses.kl_divergence(jnp.log(q), p, where=jnp.asarray(rows)[:, None])
  np.testing.assert_allclose(dv.kl_divergence(p, q, row_mask=rows), want, rtol=1e-12)


def test_row_mask_mean_over_real_rows(x64):
  p, q, rows = _padded()
  d = dv.kl_divergence(p, q, row_mask=rows)
  np.testing.assert_allclose(jnp.mean(d, where=rows), np.mean(np_kl(p[:3], q[:3])), rtol=1e-12)
  np.testing.assert_allclose(jnp.sum(d) / jnp.sum(rows), np.mean(np_kl(p[:3], q[:3])), rtol=1e-12)


def test_row_mask_broadcasts_over_a_batch_and_works_under_vmap(x64):
  p, q = softmax(LP), softmax(LQ)
  rows = np.array([True, False, True, False, True])
  batched = jax.vmap(lambda a, b, r: dv.kl_divergence(a, b, row_mask=r))(p, q, rows)
  np.testing.assert_allclose(batched, np.where(rows, np_kl(p, q), 0.0), rtol=1e-12)
  # A [B, 1] mask of a [B, C, K] input drops whole rows of the [B, C] output.
  p3, q3 = np.stack([p, p[::-1]]), np.stack([q, q])
  got = dv.kl_divergence(p3, q3, row_mask=np.array([[True], [False]]))
  np.testing.assert_allclose(got, np.stack([np_kl(p, q), np.zeros(5)]), rtol=1e-12)


def test_invalid_real_rows_still_raise_with_a_row_mask():
  p, q, rows = _padded()
  p = p.copy()
  p[0] = [0.5, 0.6, 0, 0, 0, 0, 0]
  with pytest.raises(ValueError, match="p must sum to 1"):
    dv.kl_divergence(p, q, row_mask=rows)
  assert np.isnan(jax.jit(lambda a: dv.kl_divergence(a, q, row_mask=rows))(p)[0])


def test_row_mask_errors_name_the_argument():
  p, q = softmax(LP), softmax(LQ)
  with pytest.raises(TypeError, match="row_mask must be a boolean mask"):
    dv.kl_divergence(p, q, row_mask=np.ones(5, int))
  with pytest.raises(ValueError, match=r"row_mask with shape \(7,\) must broadcast to the output"):
    dv.kl_divergence(p, q, row_mask=np.ones(7, bool))


# ---------------------------------------------------------------------------------------------------
# The deprecated where=.


def test_where_is_condition_on_with_a_deprecation_warning(x64):
  with pytest.warns(DeprecationWarning, match=r"condition_on=.*sum_where="):
    old = dv.kl_divergence(LP, LQ, logits=True, where=MASK)
  np.testing.assert_array_equal(old, dv.kl_divergence(LP, LQ, logits=True, condition_on=MASK))
  with pytest.warns(DeprecationWarning, match="condition_on"):
    old = dv.normalized_log_probs(LP, logits=True, where=MASK)
  np.testing.assert_array_equal(old, dv.normalized_log_probs(LP, logits=True, condition_on=MASK))
  with pytest.raises(TypeError, match="pass condition_on= only"):
    dv.kl_divergence(LP, LQ, logits=True, where=MASK, condition_on=MASK)


# ---------------------------------------------------------------------------------------------------
# The eager path: one compiled call, the same values and errors as the traced one.


@pytest.mark.parametrize("name", ["kl_divergence", "js_divergence", "chi2_divergence",
                                  "cauchy_schwarz_divergence"])
def test_eager_and_jit_give_identical_values(name):
  p, q = softmax(LP).astype(np.float32), softmax(LQ).astype(np.float32)
  fn = getattr(dv, name)
  np.testing.assert_array_equal(fn(p, q), jax.jit(fn)(p, q))


@pytest.mark.parametrize("kwargs, match", [
    ({"p": np.array([0.5, 0.6]), "q": np.array([0.5, 0.5])}, "p must sum to 1"),
    ({"p": np.array([0.5, 0.5]), "q": np.array([np.inf, 0.5])}, "q must be finite"),
    ({"p": np.array([0.0, np.inf]), "q": np.zeros(2), "logits": True}, r"p contains \+inf"),
])
def test_eager_errors_are_raised_after_the_compiled_call(kwargs, match):
  with pytest.raises(ValueError, match=match):
    dv.kl_divergence(**kwargs)


@pytest.mark.parametrize("alpha", [0.0, -1.0, np.inf])
def test_invalid_orders_raise_eagerly_and_are_nan_under_jit(alpha):
  p, q = np.array([0.5, 0.5]), np.array([0.3, 0.7])
  with pytest.raises(ValueError, match="alpha"):
    dv.renyi_divergence(p, q, alpha=alpha)
  assert np.isnan(jax.jit(lambda a: dv.renyi_divergence(p, q, alpha=a))(alpha))
