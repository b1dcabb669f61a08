"""GaussianMixture: exact scores, Jacobians, forward process, posterior, file format, bad input."""

import json
import math

import numpy as np
import pytest

from accnum import GaussianMixture, targets

RNG = np.random.default_rng(7)


def _full():
    a = RNG.standard_normal((3, 2, 2))
    covs = a @ np.swapaxes(a, 1, 2) + 0.2 * np.eye(2)
    return GaussianMixture([0.2, 0.5, 0.3], RNG.standard_normal((3, 2)), covs)


MIXTURES = {
    "isotropic": lambda: GaussianMixture([0.3, 0.7], [[0.0, 1.0], [2.0, -1.0]], [0.5, 1.5]),
    "diagonal": lambda: GaussianMixture([0.6, 0.4], [[0.0, 1.0], [1.0, -1.0]], [[0.4, 2.0], [1.0, 0.3]]),
    "full": _full,
}


def _fd_grad(f, x, h=1e-5):
    n, d = x.shape
    out = np.empty((n, d) + np.shape(f(x))[1:])
    for j in range(d):
        e = np.zeros(d)
        e[j] = h
        out[:, j] = (f(x + e) - f(x - e)) / (2 * h)
    return out


@pytest.mark.parametrize("kind", MIXTURES)
def test_score_is_gradient_of_logpdf(kind):
    mix = MIXTURES[kind]()
    assert mix.kind == kind
    x = RNG.standard_normal((20, 2)) * 2
    np.testing.assert_allclose(mix.score(x), _fd_grad(mix.logpdf, x), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("kind", MIXTURES)
def test_jacobian_is_gradient_of_score(kind):
    mix = MIXTURES[kind]().diffused(0.6)
    x = RNG.standard_normal((20, 2)) * 2
    fd = np.swapaxes(_fd_grad(mix.score, x), 1, 2)  # fd[:, i, j] = d s_i / d x_j
    jac = mix.score_jacobian(x)
    np.testing.assert_allclose(jac, fd, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(jac, np.swapaxes(jac, 1, 2), atol=1e-12)


def test_single_point_and_one_dimensional_means():
    mix = GaussianMixture([1.0], [0.5], [2.0])
    assert mix.d == 1
    assert math.isclose(mix.logpdf([0.5]), -0.5 * math.log(2 * math.pi * 2.0))
    assert mix.score([1.5]).shape == (1,)
    np.testing.assert_allclose(mix.score([1.5]), [-0.5])


def test_diffused_matches_forward_process_monte_carlo():
    mix = targets.get("aniso2d")
    ab = 0.37
    x0 = mix.sample(200_000, seed=3)
    z = np.random.default_rng(0).standard_normal(x0.shape)
    xt = math.sqrt(ab) * x0 + math.sqrt(1 - ab) * z
    qt = mix.diffused(ab)
    se = np.sqrt(np.diag(qt.covariance()) / x0.shape[0])
    assert np.all(np.abs(xt.mean(0) - qt.mean()) < 5 * se)
    np.testing.assert_allclose(np.cov(xt.T), qt.covariance(), atol=0.02)
    # probability of a half-plane, against the exact cdf in 1-D projections
    assert mix.diffused(1.0) is mix


def test_sample_moments_and_reproducibility():
    mix = targets.get("gmm1d")
    a, b = mix.sample(100_000, seed=1), mix.sample(100_000, seed=1)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, mix.sample(100_000, seed=2))
    assert abs(a.mean() - mix.mean()[0]) < 5 * math.sqrt(mix.covariance()[0, 0] / 1e5)
    # Kolmogorov-Smirnov against the exact cdf
    xs = np.sort(a[:, 0])
    ks = np.max(np.abs(mix.cdf(xs) - np.arange(1, xs.size + 1) / xs.size))
    assert ks < 1.63 / math.sqrt(xs.size)  # 1% level


@pytest.mark.parametrize("kind", MIXTURES)
def test_posterior_is_bayes_rule(kind):
    mix = MIXTURES[kind]()
    a_t, ab_prev = 0.9, 0.5
    prior, qt = mix.diffused(ab_prev), mix.diffused(ab_prev * a_t)
    x = np.array([0.3, -0.7])
    post = mix.posterior(x, a_t, ab_prev)
    ys = RNG.standard_normal((50, 2)) * 1.5
    lik = -0.5 * np.sum((x - math.sqrt(a_t) * ys) ** 2, axis=1) / (1 - a_t) - math.log(2 * math.pi * (1 - a_t))
    bayes = prior.logpdf(ys) + lik - qt.logpdf(x)
    np.testing.assert_allclose(post.logpdf(ys), bayes, rtol=1e-9, atol=1e-9)
    assert len(mix.posterior(np.zeros((3, 2)), a_t, ab_prev)) == 3


@pytest.mark.parametrize("kind", MIXTURES)
def test_json_round_trip(tmp_path, kind):
    mix = MIXTURES[kind]()
    path = tmp_path / "m.json"
    mix.to_json(path)
    back = GaussianMixture.from_json(path)
    x = RNG.standard_normal((5, 2))
    np.testing.assert_allclose(back.logpdf(x), mix.logpdf(x), rtol=1e-14)
    assert back.kind == kind


def test_score_far_out_keeps_full_relative_precision():
    """Far from every component the log-responsibilities are large differences of large
    numbers; the responsibilities are renormalised so the score keeps float64's relative
    precision (it feeds Newton solves at tolerance 1e-11 in the grid TV).  Two equal
    components make the exact score ``-(x - m) / v``."""
    gm = GaussianMixture([0.3, 0.7], [[0.3], [0.3]], [[1.5], [1.5]])
    x = np.array([[300.0], [-250.0], [1e4]])
    exact = -(x - 0.3) / 1.5
    s = gm.score(x)
    assert np.all(np.abs(s - exact) <= 4 * np.finfo(float).eps * np.abs(exact))


def test_extreme_inputs_stay_finite():
    mix = GaussianMixture([1 - 1e-300, 1e-300], [[0.0], [5.0]], [0.1, 0.1])
    x = np.array([[1e6], [-1e6], [0.0]])
    assert np.all(np.isfinite(mix.logpdf(x)))
    assert np.all(np.isfinite(mix.score(x)))
    assert np.all(np.isfinite(mix.score_jacobian(x)))
    assert np.all(np.isfinite(mix.diffused(1e-12).score(x)))


@pytest.mark.parametrize(
    "args, message",
    [
        (([-0.5, 1.5], [[0.0], [1.0]], [1.0, 1.0]), "weights must be non-negative"),
        (([np.nan, 1.0], [[0.0], [1.0]], [1.0, 1.0]), "weights must be finite"),
        (([0.5, 0.6], [[0.0], [1.0]], [1.0, 1.0]), "weights must sum to 1"),
        (([0.5, 0.5], [[0.0], [1.0], [2.0]], [1.0, 1.0]), "means must have 2 rows"),
        (([0.5, 0.5], [[0.0], [1.0]], [1.0, -1.0]), "covariances must be positive"),
        (([1.0], [[0.0, 0.0]], [[[1.0, 0.5], [0.4, 1.0]]]), "covariances[0] is not symmetric"),
        (([1.0], [[0.0, 0.0]], [[[1.0, 2.0], [2.0, 1.0]]]), "covariances[0] is not positive definite"),
        (([1.0], [[0.0, 0.0]], [[1.0, 1.0, 1.0]]), "diagonal covariances must have shape"),
    ],
)
def test_bad_mixtures_name_the_argument(args, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        GaussianMixture(*args)


def test_normalize_and_type_errors():
    mix = GaussianMixture([1.0, 3.0], [[0.0], [1.0]], [1.0, 1.0], normalize=True)
    np.testing.assert_allclose(mix.weights, [0.25, 0.75])
    with pytest.raises(TypeError, match="weights"):
        GaussianMixture("abc", [[0.0]], [1.0])
    with pytest.raises(ValueError, match="x must have 1 columns"):
        mix.score(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="alpha_bar must be <= 1"):
        mix.diffused(1.5)
    with pytest.raises(ValueError, match="n must be >= 1"):
        mix.sample(0)


def test_bad_json_files(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        GaussianMixture.from_json(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        GaussianMixture.from_json(bad)
    bad.write_text(json.dumps({"weights": [1.0], "means": [[0.0]]}))
    with pytest.raises(ValueError, match="missing key 'covariances'"):
        GaussianMixture.from_json(bad)


def test_builtin_targets():
    assert targets.names()[0] == "gmm1d" and targets.DEFAULT == "gmm1d"
    g = targets.get("gmm1d")
    np.testing.assert_allclose(g.weights, [0.3, 0.5, 0.2])
    assert targets.get("ring8").K == 8 and targets.get("ring8").d == 2
    assert targets.resolve("gmm:d=5,K=3").d == 5 and targets.resolve("gmm:d=5,K=3").K == 3
    assert targets.resolve("gauss:d=4").kind == "full"
    with pytest.raises(ValueError, match="unknown target 'nope'; valid: gmm1d"):
        targets.get("nope")
    with pytest.raises(ValueError, match="takes no parameter"):
        targets.resolve("gmm1d:d=3")
