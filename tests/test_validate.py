"""Argument checks: valid inputs pass unchanged, each documented failure raises a message naming the
argument, and value checks are skipped for tracers while static shape checks still run under jit."""

import gc
import os
import re
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from divjax import _validate

INF, NAN = np.inf, np.nan

# ---------------------------------------------------------------------------------------------------
# is_concrete


@pytest.mark.parametrize("x", [np.ones(3), 1.5, 2, jnp.ones(3), {"a": jnp.ones(2), "b": 1.0}],
                         ids=["numpy", "float", "int", "jax", "pytree"])
def test_is_concrete_is_true_for_values(x):
  assert _validate.is_concrete(x) is True


def test_is_concrete_is_false_inside_jit():
  seen = []
  jax.jit(lambda x: seen.append(_validate.is_concrete(x)) or x)(jnp.ones(3))
  assert seen == [False]


def test_is_concrete_is_false_inside_vmap_and_grad():
  seen = []

  def f(x):
    seen.append(_validate.is_concrete(x))
    return x.sum()

  jax.vmap(f)(jnp.ones((2, 3)))
  jax.grad(f)(jnp.ones(3))
  assert seen == [False, False]


def test_is_concrete_is_false_for_pytree_holding_a_tracer():
  seen = []
  jax.jit(lambda x: seen.append(_validate.is_concrete({"a": 1.0, "b": x})) or x)(jnp.ones(3))
  assert seen == [False]


# ---------------------------------------------------------------------------------------------------
# array


@pytest.mark.parametrize(
    "x", [np.ones(3), np.arange(3), 1.5, 3, np.float32(2.0), jnp.ones((2, 2)), jnp.arange(3)],
    ids=["numpy-float", "numpy-int", "float", "int", "numpy-scalar", "jax-float", "jax-int"])
def test_array_returns_numeric_input_unchanged(x):
  assert _validate.array("x", x) is x


@pytest.mark.parametrize("x", [[1.0, 2.0], (1, 2), [[1.0], [2.0]]], ids=["list", "tuple", "nested"])
def test_array_returns_sequences_unchanged(x):
  assert _validate.array("x", x) is x


@pytest.mark.parametrize("x", [True, np.array([True, False]), jnp.array([True])],
                         ids=["python", "numpy", "jax"])
def test_array_rejects_bool(x):
  with pytest.raises(TypeError, match=r"^weights must be a real numeric array, got dtype bool\.$"):
    _validate.array("weights", x)


@pytest.mark.parametrize("x, type_name", [("1.0", "str"), (b"1.0", "bytes"), (None, "NoneType")])
def test_array_rejects_string_bytes_and_none(x, type_name):
  with pytest.raises(TypeError, match=rf"^weights must be a numeric array, got {type_name}\.$"):
    _validate.array("weights", x)


@pytest.mark.parametrize("x", [1 + 2j, np.array([1j]), np.array(["a"]), np.array([object()])],
                         ids=["complex", "complex-array", "unicode-array", "object-array"])
def test_array_rejects_non_real_dtypes(x):
  with pytest.raises(TypeError, match=r"^weights must be a real numeric array, got dtype"):
    _validate.array("weights", x)


# ---------------------------------------------------------------------------------------------------
# ndim, last_dim, same_shape, broadcastable (static shape checks)


def test_ndim_returns_input_with_allowed_rank():
  x = np.ones((2, 3))
  assert _validate.ndim("x", x, 2) is x
  assert _validate.ndim("x", x, (1, 2)) is x


def test_ndim_rejects_wrong_rank():
  with pytest.raises(ValueError, match=r"^samples must have 2 dimension\(s\), got shape \(3,\)\.$"):
    _validate.ndim("samples", np.ones(3), 2)


def test_ndim_lists_all_allowed_ranks():
  with pytest.raises(ValueError, match=r"^samples must have 1 or 2 dimension\(s\), got shape \(\)\."):
    _validate.ndim("samples", 1.0, (1, 2))


def test_ndim_raises_at_trace_time_under_jit():
  with pytest.raises(ValueError, match=r"^samples must have 2 dimension\(s\), got shape \(3,\)"):
    jax.jit(lambda x: _validate.ndim("samples", x, 2))(jnp.ones(3))


def test_last_dim_returns_input_with_right_size():
  x = np.ones((4, 3))
  assert _validate.last_dim("x", x, 3) is x


@pytest.mark.parametrize("x, shape", [(np.ones((4, 2)), r"\(4, 2\)"), (np.float64(1.0), r"\(\)")])
def test_last_dim_rejects_wrong_size_or_scalar(x, shape):
  with pytest.raises(ValueError, match=rf"^mean must have last dimension 3, got shape {shape}\.$"):
    _validate.last_dim("mean", x, 3)


def test_last_dim_message_says_what_the_size_is():
  with pytest.raises(ValueError, match=r"^mean must have last dimension 3 \(the data dimension\), "):
    _validate.last_dim("mean", np.ones(2), 3, what="the data dimension")


def test_last_dim_raises_at_trace_time_under_jit():
  with pytest.raises(ValueError, match=r"^mean must have last dimension 3, got shape \(2,\)"):
    jax.jit(lambda x: _validate.last_dim("mean", x, 3))(jnp.ones(2))


def test_same_shape_accepts_equal_shapes():
  assert _validate.same_shape("p", np.ones((2, 3)), "q", jnp.ones((2, 3))) is None


def test_same_shape_rejects_different_shapes_naming_both():
  with pytest.raises(ValueError, match=r"^p and q must have the same shape, got \(2, 3\) and \(3,\)\.$"):
    _validate.same_shape("p", np.ones((2, 3)), "q", np.ones(3))


def test_same_shape_raises_under_jit():
  with pytest.raises(ValueError, match="p and q must have the same shape"):
    jax.jit(lambda a, b: _validate.same_shape("p", a, "q", b))(jnp.ones(2), jnp.ones(3))


def test_broadcastable_returns_broadcast_shape():
  assert _validate.broadcastable("p", np.ones((4, 1, 3)), "q", np.ones((2, 3))) == (4, 2, 3)
  assert _validate.broadcastable("p", 1.0, "q", np.ones(3)) == (3,)


def test_broadcastable_rejects_incompatible_shapes_naming_both():
  with pytest.raises(
      ValueError, match=r"^p with shape \(2, 3\) does not broadcast against q with shape \(2,\)\.$"):
    _validate.broadcastable("p", np.ones((2, 3)), "q", np.ones(2))


# ---------------------------------------------------------------------------------------------------
# not_nan, finite, positive, positive_scalar, nonnegative


def test_not_nan_returns_input_and_allows_infinities():
  x = np.array([1.0, INF, -INF])
  assert _validate.not_nan("x", x) is x


@pytest.mark.parametrize("x", [np.array([1.0, NAN]), NAN, jnp.array([[0.0], [jnp.nan]])],
                         ids=["numpy", "scalar", "jax"])
def test_not_nan_rejects_nan(x):
  with pytest.raises(ValueError, match=r"^scores contains NaN\.$"):
    _validate.not_nan("scores", x)


def test_not_nan_rejects_bool():
  with pytest.raises(TypeError, match="scores must be a real numeric array"):
    _validate.not_nan("scores", np.array([True]))


def test_finite_returns_input():
  x = jnp.array([-1.0, 0.0, 2.0])
  assert _validate.finite("x", x) is x


def test_finite_rejects_nan():
  with pytest.raises(ValueError, match=r"^samples contains NaN\.$"):
    _validate.finite("samples", np.array([0.0, NAN]))


@pytest.mark.parametrize("bad", [INF, -INF])
def test_finite_rejects_infinities(bad):
  with pytest.raises(ValueError, match=r"^samples must be finite, got an infinite value\.$"):
    _validate.finite("samples", np.array([0.0, bad]))


def test_finite_under_jit_gives_nan_for_an_infinite_entry_and_passes_finite_values():
  out = jax.jit(lambda v: _validate.finite("samples", v))(jnp.array([1.0, jnp.inf]))
  assert np.isnan(np.asarray(out)).all()
  x = jnp.array([1.0, -2.0])
  np.testing.assert_array_equal(jax.jit(lambda v: _validate.finite("samples", v))(x), x)


def test_positive_returns_input():
  x = np.array([1e-30, 2.0])
  assert _validate.positive("x", x) is x


@pytest.mark.parametrize("x, got", [(np.array([1.0, 0.0]), "0.0"), (np.array([-2.0, 1.0]), "-2.0")])
def test_positive_rejects_zero_and_negative(x, got):
  with pytest.raises(ValueError, match=rf"^bandwidth must be positive, got min .*{re.escape(got)}"):
    _validate.positive("bandwidth", x)


def test_positive_rejects_nan_and_inf():
  with pytest.raises(ValueError, match=r"^bandwidth contains NaN\."):
    _validate.positive("bandwidth", np.array([NAN]))
  with pytest.raises(ValueError, match=r"^bandwidth must be finite"):
    _validate.positive("bandwidth", np.array([INF]))


@pytest.mark.parametrize("x", [0.5, np.float32(0.1), jnp.asarray(2.0), np.array(3.0)],
                         ids=["float", "numpy-scalar", "jax", "numpy-0d"])
def test_positive_scalar_returns_input(x):
  assert _validate.positive_scalar("epsilon", x) is x


def test_positive_scalar_rejects_arrays():
  with pytest.raises(ValueError, match=r"^epsilon must be a scalar, got shape \(1,\)\.$"):
    _validate.positive_scalar("epsilon", np.array([0.1]))


@pytest.mark.parametrize("x", [0.0, -1.0, 0])
def test_positive_scalar_rejects_non_positive(x):
  with pytest.raises(ValueError, match=r"^epsilon must be positive"):
    _validate.positive_scalar("epsilon", x)


@pytest.mark.parametrize("x, match", [(NAN, r"^epsilon contains NaN"), (INF, r"^epsilon must be finite")])
def test_positive_scalar_rejects_nan_and_inf(x, match):
  with pytest.raises(ValueError, match=match):
    _validate.positive_scalar("epsilon", x)


def test_positive_scalar_rejects_bool():
  with pytest.raises(TypeError, match=r"^epsilon must be a real numeric array, got dtype bool"):
    _validate.positive_scalar("epsilon", True)


def test_positive_scalar_shape_check_raises_under_jit_value_check_gives_nan():
  assert np.isnan(jax.jit(lambda x: _validate.positive_scalar("epsilon", x))(jnp.asarray(-1.0)))
  with pytest.raises(ValueError, match=r"^epsilon must be a scalar"):
    jax.jit(lambda x: _validate.positive_scalar("epsilon", x))(jnp.ones(2))


def test_nonnegative_returns_input_and_allows_zero():
  x = np.array([0.0, 1.0])
  assert _validate.nonnegative("x", x) is x


def test_nonnegative_rejects_negative():
  with pytest.raises(ValueError, match=r"^counts must be non-negative, got min .*-0\.001"):
    _validate.nonnegative("counts", np.array([1.0, -1e-3]))


def test_nonnegative_rejects_inf():
  with pytest.raises(ValueError, match=r"^counts must be finite"):
    _validate.nonnegative("counts", np.array([INF]))


def test_value_checks_give_nan_under_vmap_and_grad():
  x = jnp.array([[-1.0, 2.0]])
  out = jax.vmap(lambda v: _validate.nonnegative("counts", v))(x)
  assert np.isnan(np.asarray(out)).all()
  value, g = jax.value_and_grad(lambda v: _validate.positive("counts", v).sum())(jnp.array([-1.0]))
  assert np.isnan(value)  # the value is NaN; the gradient of the NaN branch is 0, not NaN
  np.testing.assert_array_equal(g, [0.0])


# ---------------------------------------------------------------------------------------------------
# integer


@pytest.mark.parametrize("x", [3, np.int64(3), np.int32(3), np.uint8(3)])
def test_integer_returns_python_int(x):
  got = _validate.integer("num_steps", x)
  assert got == 3 and type(got) is int


@pytest.mark.parametrize("x, type_name",
                         [(3.0, "float"), (True, "bool"), (np.float64(3.0), "float64"),
                          (np.array(3), "ndarray"), (jnp.asarray(3), "ArrayImpl"), ("3", "str")])
def test_integer_rejects_non_integers(x, type_name):
  with pytest.raises(TypeError, match=rf"^num_steps must be an integer, got {type_name}\.$"):
    _validate.integer("num_steps", x)


def test_integer_accepts_inclusive_bounds():
  assert _validate.integer("num_steps", 1, minimum=1, maximum=5) == 1
  assert _validate.integer("num_steps", 5, minimum=1, maximum=5) == 5


def test_integer_rejects_below_minimum():
  with pytest.raises(ValueError, match=r"^num_steps must be >= 1, got 0\.$"):
    _validate.integer("num_steps", 0, minimum=1)


def test_integer_rejects_above_maximum():
  with pytest.raises(ValueError, match=r"^num_steps must be <= 5, got 6\.$"):
    _validate.integer("num_steps", np.int64(6), maximum=5)


# ---------------------------------------------------------------------------------------------------
# probabilities


@pytest.mark.parametrize("p", [
    np.array([0.2, 0.3, 0.5]),
    np.array([[1.0, 0.0], [0.5, 0.5]]),
    jax.nn.softmax(jnp.arange(5.0)),  # float32: sums to 1 only within ~1e-7
    np.array([0.5, 0.5 + 5e-5]),  # within the default tolerance 1e-4
])
def test_probabilities_returns_input(p):
  assert _validate.probabilities("p", p) is p


def test_probabilities_rejects_row_summing_to_1_01():
  with pytest.raises(ValueError, match=r"^p must sum to 1 along axis -1 \(within 0\.0001\), but a sum is "
                     r"off by 0\.01\."):
    _validate.probabilities("p", np.array([[0.5, 0.5], [0.5, 0.51]]))


def test_probabilities_tolerance_is_configurable():
  p = np.array([0.5, 0.51])
  assert _validate.probabilities("p", p, atol=0.02) is p


def test_probabilities_checks_the_given_axis():
  p = np.array([[0.2, 0.6], [0.8, 0.4]])  # columns sum to 1, rows do not
  assert _validate.probabilities("p", p, axis=0) is p
  with pytest.raises(ValueError, match=r"^p must sum to 1 along axis -1"):
    _validate.probabilities("p", p)


def test_probabilities_rejects_negative_entries():
  with pytest.raises(ValueError, match=r"^p must be non-negative"):
    _validate.probabilities("p", np.array([1.2, -0.2]))


@pytest.mark.parametrize("bad, match", [(NAN, r"^p contains NaN"), (INF, r"^p must be finite")])
def test_probabilities_rejects_nan_and_inf(bad, match):
  with pytest.raises(ValueError, match=match):
    _validate.probabilities("p", np.array([bad, 0.0]))


def test_probabilities_rejects_scalar():
  with pytest.raises(ValueError, match=r"^p must have at least one dimension \(the category axis\)"):
    _validate.probabilities("p", 1.0)


@pytest.mark.parametrize("p", [[0.5, 0.6], [1.5, -0.5], [0.5, jnp.nan]])
def test_probabilities_under_jit_give_nan_for_values_that_are_not_a_distribution(p):
  out = jax.jit(lambda v: _validate.probabilities("p", v))(jnp.array(p))
  assert np.isnan(np.asarray(out)).all()


def test_probabilities_under_jit_pass_a_distribution_unchanged():
  p = jnp.array([[0.25, 0.75], [1.0, 0.0]])
  np.testing.assert_array_equal(jax.jit(lambda v: _validate.probabilities("p", v))(p), p)


def test_probabilities_rank_check_runs_under_jit():
  with pytest.raises(ValueError, match=r"^p must have at least one dimension"):
    jax.jit(lambda v: _validate.probabilities("p", v))(jnp.asarray(1.0))


def test_probabilities_accepts_a_list():
  p = [0.25, 0.75]
  assert _validate.probabilities("p", p) is p


# ---------------------------------------------------------------------------------------------------
# logits


def test_logits_returns_input_and_allows_minus_inf():
  x = np.array([[0.0, -INF, 3.0], [-INF, 1.0, -INF]])
  assert _validate.logits("x", x) is x


def test_logits_rejects_nan():
  with pytest.raises(ValueError, match=r"^scores contains NaN\.$"):
    _validate.logits("scores", np.array([0.0, NAN]))


def test_logits_rejects_plus_inf():
  with pytest.raises(ValueError, match=r"^scores contains \+inf; logits must be finite or -inf"):
    _validate.logits("scores", np.array([0.0, INF]))


def test_logits_rejects_row_of_minus_inf():
  with pytest.raises(ValueError,
                     match=r"^scores is -inf for every category along axis -1: not a distribution\.$"):
    _validate.logits("scores", np.array([[0.0, 1.0], [-INF, -INF]]))


def test_logits_checks_the_given_axis():
  x = np.array([[0.0, -INF], [1.0, -INF]])  # every row has a finite entry, column 1 does not
  assert _validate.logits("scores", x) is x
  with pytest.raises(ValueError, match=r"^scores is -inf for every category along axis 0"):
    _validate.logits("scores", x, axis=0)


def test_logits_rejects_scalar():
  with pytest.raises(ValueError, match=r"^scores must have at least one dimension"):
    _validate.logits("scores", 0.0)


@pytest.mark.parametrize("x", [[jnp.inf, 0.0], [jnp.nan, 0.0], [-jnp.inf, -jnp.inf]])
def test_logits_under_jit_give_nan_for_invalid_logits(x):
  out = jax.jit(lambda v: _validate.logits("scores", v))(jnp.array(x))
  assert np.isnan(np.asarray(out)).all()


def test_logits_under_jit_pass_minus_inf_entries_unchanged():
  x = jnp.array([0.0, -jnp.inf])
  np.testing.assert_array_equal(jax.jit(lambda v: _validate.logits("scores", v))(x), x)


# ---------------------------------------------------------------------------------------------------
# mask


def test_mask_none_is_none():
  assert _validate.mask("where", None, (2, 3)) is None


# np.result_type(jax.Array) warns (see test_mask_of_jax_array_does_not_warn); that is tested there.
IGNORE_DTYPE_CONVERSION = pytest.mark.filterwarnings(
    "ignore:Implicit conversion of an array to a dtype:DeprecationWarning")


@IGNORE_DTYPE_CONVERSION
@pytest.mark.parametrize("where", [np.array([[True, False, True], [False, True, False]]),
                                   np.array([True, False, False]), jnp.array([True, True, False]),
                                   np.bool_(True)],
                         ids=["full", "broadcast-row", "jax", "scalar"])
def test_mask_returns_valid_mask(where):
  assert _validate.mask("where", where, (2, 3)) is where


@IGNORE_DTYPE_CONVERSION
@pytest.mark.parametrize("where", [np.array([1, 0, 1]), np.array([1.0, 0.0, 1.0]), jnp.array([1, 0, 1])],
                         ids=["int", "float", "jax-int"])
def test_mask_rejects_non_boolean(where):
  with pytest.raises(TypeError, match=r"^where must be a boolean mask, got dtype"):
    _validate.mask("where", where, (2, 3))


def test_mask_rejects_unbroadcastable_shape():
  with pytest.raises(ValueError, match=r"^where with shape \(2,\) does not broadcast against the inputs' "
                     r"shape \(2, 3\)\.$"):
    _validate.mask("where", np.array([True, False]), (2, 3))


def test_mask_with_extra_batch_dimensions_broadcasts_jointly():
  # A mask may carry batch dimensions of its own: inputs and mask broadcast together.
  where = np.ones((4, 2, 3), dtype=bool)
  assert _validate.mask("where", where, (2, 3)) is where


def test_mask_that_does_not_broadcast_is_rejected_naming_argument():
  with pytest.raises(ValueError, match=r"^where with shape \(4, 2, 4\) does not broadcast"):
    _validate.mask("where", np.ones((4, 2, 4), dtype=bool), (2, 3))


def test_mask_accepts_a_list_of_bools():
  where = [True, False, True]
  assert _validate.mask("where", where, (2, 3)) is where


def test_mask_of_jax_array_does_not_warn():
  with warnings.catch_warnings():
    warnings.simplefilter("error")
    where = jnp.array([True, False, True])
    assert _validate.mask("where", where, (2, 3)) is where


def test_mask_rejects_masking_a_whole_row():
  with pytest.raises(ValueError, match=r"^where masks out every category of some distribution\.$"):
    _validate.mask("where", np.array([[True, False], [False, False]]), (2, 2))


def test_mask_rejects_masking_everything_after_broadcasting():
  with pytest.raises(ValueError, match=r"^where masks out every category"):
    _validate.mask("where", np.array([False, False, False]), (2, 3))


def test_mask_checks_the_given_axis():
  where = np.array([[True, False], [True, False]])  # every row keeps a category, column 1 none
  assert _validate.mask("where", where, (2, 2)) is where
  with pytest.raises(ValueError, match=r"^where masks out every category"):
    _validate.mask("where", where, (2, 2), axis=0)


def test_mask_value_checks_are_skipped_under_jit_shape_check_is_not():
  out = jax.jit(lambda w: _validate.mask("where", w, (2, 3)))(jnp.zeros((2, 3), dtype=bool))
  assert out.shape == (2, 3)
  with pytest.raises(ValueError, match=r"^where with shape \(2,\) does not broadcast"):
    jax.jit(lambda w: _validate.mask("where", w, (2, 3)))(jnp.ones(2, dtype=bool))


# ---------------------------------------------------------------------------------------------------
# covariance


SPD = np.array([[2.0, 0.5], [0.5, 1.0]])


@pytest.mark.parametrize("cov", [SPD, jnp.asarray(SPD), np.stack([SPD, np.eye(2)]),
                                 SPD + np.array([[0.0, 1e-7], [0.0, 0.0]])],
                         ids=["numpy", "jax", "batch", "asymmetric-within-tolerance"])
def test_covariance_returns_valid_input(cov):
  assert _validate.covariance("cov", cov) is cov


def test_covariance_accepts_matching_dim():
  assert _validate.covariance("cov", SPD, dim=2) is SPD


@pytest.mark.parametrize("cov, shape", [(np.ones((2, 3)), r"\(2, 3\)"), (np.ones(3), r"\(3,\)"),
                                        (np.ones((2, 3, 2)), r"\(2, 3, 2\)")])
def test_covariance_rejects_non_square(cov, shape):
  with pytest.raises(ValueError, match=rf"^sigma must have shape \[\.\.\., d, d\], got {shape}\.$"):
    _validate.covariance("sigma", cov)


def test_covariance_rejects_dim_mismatch():
  with pytest.raises(ValueError, match=r"^sigma must be 3x3 to match the mean, got shape \(2, 2\)\.$"):
    _validate.covariance("sigma", SPD, dim=3)


def test_covariance_rejects_non_symmetric():
  with pytest.raises(ValueError, match=r"^sigma must be symmetric\.$"):
    _validate.covariance("sigma", np.array([[2.0, 0.5], [0.4, 1.0]]))


@pytest.mark.parametrize("cov, eig", [(np.array([[1.0, 2.0], [2.0, 1.0]]), "-1"),
                                      (np.array([[1.0, 1.0], [1.0, 1.0]]), "")],
                         ids=["indefinite", "singular"])
def test_covariance_rejects_non_positive_definite(cov, eig):
  with pytest.raises(ValueError,
                     match=rf"^sigma must be positive definite, got smallest eigenvalue {eig}"):
    _validate.covariance("sigma", cov)


def test_covariance_rejects_one_bad_matrix_in_a_batch():
  with pytest.raises(ValueError, match=r"^sigma must be positive definite"):
    _validate.covariance("sigma", np.stack([SPD, -np.eye(2)]))


@pytest.mark.parametrize("bad, match", [(NAN, r"^sigma contains NaN"), (INF, r"^sigma must be finite")])
def test_covariance_rejects_nan_and_inf(bad, match):
  with pytest.raises(ValueError, match=match):
    _validate.covariance("sigma", np.array([[1.0, bad], [bad, 1.0]]))


@pytest.mark.parametrize("cov", [[[1.0, 2.0], [0.0, 1.0]], [[-1.0, 0.0], [0.0, 1.0]],
                                 [[1.0, jnp.inf], [jnp.inf, 1.0]]])
def test_covariance_under_jit_gives_nan_when_asymmetric_non_finite_or_with_a_bad_diagonal(cov):
  out = jax.jit(lambda c: _validate.covariance("sigma", c))(jnp.array(cov))
  assert np.isnan(np.asarray(out)).all()


def test_covariance_under_jit_passes_a_positive_definite_matrix_unchanged():
  cov = jnp.array([[2.0, 0.5], [0.5, 1.0]])
  np.testing.assert_array_equal(jax.jit(lambda c: _validate.covariance("sigma", c))(cov), cov)


def test_covariance_shape_check_runs_under_jit():
  with pytest.raises(ValueError, match=r"^sigma must have shape \[\.\.\., d, d\], got \(2, 3\)"):
    jax.jit(lambda c: _validate.covariance("sigma", c))(jnp.ones((2, 3)))


# ---------------------------------------------------------------------------------------------------
# squares_overflow


def test_squares_overflow_at_the_dtype_range():
  # float32's largest value is 3.4e38: (1e19)² = 1e38 fits, 4·1e38 does not; float64 holds both.
  assert not _validate.squares_overflow(1e19, np.float32)
  assert _validate.squares_overflow(1e19, np.float32, 4)
  assert _validate.squares_overflow(1e20, np.float32)
  assert not _validate.squares_overflow(1e20, np.float64, 4)
  assert _validate.squares_overflow(1e160, np.float64)


# ---------------------------------------------------------------------------------------------------
# Traced checks: NaN, checkify mode, kernels.


def test_traced_check_nan_is_per_vmapped_example_and_gradients_pass_through():
  f = jax.vmap(lambda v: _validate.positive("h", v))
  out = np.asarray(f(jnp.array([[1.0, 2.0], [-1.0, 2.0]])))
  np.testing.assert_array_equal(out[0], [1.0, 2.0])
  assert np.isnan(out[1]).all()
  g = jax.grad(lambda v: jnp.sum(_validate.positive("h", v) ** 2))(jnp.array([1.0, 3.0]))
  np.testing.assert_allclose(g, [2.0, 6.0])


def test_traced_checks_leave_integer_tracers_alone():
  out = jax.jit(lambda v: _validate.finite("k", v))(jnp.array([1, 2]))
  assert out.dtype == jnp.int32 and out.tolist() == [1, 2]


def test_bool_dtype_is_a_type_error_under_jit_too():
  with pytest.raises(TypeError, match=r"^mask must be a real numeric array, got dtype bool"):
    jax.jit(lambda v: _validate.finite("mask", v))(jnp.array([True]))


def test_checkify_mode_emits_the_named_message():
  from jax.experimental import checkify

  def f(v):
    with _validate.checking("checkify"):
      return _validate.positive("bandwidth", v)

  err, out = jax.jit(checkify.checkify(f))(jnp.array([-1.0]))
  assert np.isnan(out).all()
  assert "bandwidth must be positive and finite" in err.get()
  err, _ = jax.jit(checkify.checkify(f))(jnp.array([1.0]))
  assert err.get() is None


def test_a_kernel_traces_without_checks_so_one_cache_entry_serves_both_modes():
  from jax.experimental import checkify

  @jax.jit
  @_validate.kernel
  def inner(v):
    return _validate.positive("v", v) + 1.0

  def checked(v):
    with _validate.checking("checkify"):
      return inner(v)

  err, out = checkify.checkify(checked)(jnp.array([-1.0]))  # traced first in checkify mode
  assert err.get() is None and float(out[0]) == 0.0  # the kernel trusts its input
  assert float(inner(jnp.array([-1.0]))[0]) == 0.0  # and the cached trace runs unchecked


def test_checking_rejects_an_unknown_mode():
  with pytest.raises(ValueError, match=r"^mode must be 'nan', 'checkify' or 'off', got 'loud'"):
    with _validate.checking("loud"):
      pass


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="needs Linux /proc")
def test_clearing_jax_caches_frees_the_mappings_of_compiled_programs():
  # The premise of tests/conftest.py's guard: compiled programs hold mappings until the caches drop.
  from tests.conftest import mappings
  jax.clear_caches()
  gc.collect()
  before = mappings()
  f = jax.jit(lambda x: jnp.sin(x) * 2 + x.sum())
  for n in range(1, 41):
    f(jnp.ones(n)).block_until_ready()
  grown = mappings()
  assert grown > before + 40       # about a dozen per executable on XLA:CPU
  jax.clear_caches()
  gc.collect()
  assert mappings() < before + (grown - before) // 4
