"""Schedules: their defining properties."""

import math

import numpy as np
import pytest

from accnum import schedules as S


@pytest.mark.parametrize("T", [10, 50, 200, 1600])
def test_li2024_definition(T):
    c0, c1 = 2.0, 4.0
    s = S.li2024(T, c0, c1)
    h = c1 * math.log(T) / T
    assert s.T == T and s.alpha.shape == (T + 1,) and s.alpha_bar.shape == (T + 1,)
    assert s.alpha[0] == 1.0 and s.alpha_bar[0] == 1.0
    assert math.isclose(s.h, h)
    beta = s.beta
    assert math.isclose(beta[1], T ** -c0, rel_tol=1e-12)
    for t in range(1, T):
        expected = h * min(T ** -c0 * (1 + h) ** t, 1.0)
        assert math.isclose(beta[t + 1], expected, rel_tol=1e-10)
    np.testing.assert_allclose(s.alpha_bar[1:], np.cumprod(s.alpha[1:]), rtol=1e-12)
    assert s.alpha_bar_ext(T + 1) == s.alpha_bar[T] * s.alpha[T]


def test_li2024_plateau_and_ramp():
    T = 400
    s = S.li2024(T)
    assert np.isclose(s.beta[-1], s.h)            # plateau reached (c1 > c0)
    assert np.all(np.diff(s.beta[2:]) >= -1e-15)  # ramps up, never down
    s2 = S.li2024(T, c0=5.0, c1=1.0)             # c1 < c0: ramp does not end inside T steps
    assert s2.beta[-1] < s2.h


def test_cosine_matches_nichol_dhariwal():
    T = 100
    s = S.cosine(T)
    f = lambda t: math.cos((t / T + 0.008) / 1.008 * math.pi / 2) ** 2
    for t in (1, 10, 50, 90):
        assert math.isclose(s.alpha_bar[t], f(t) / f(0), rel_tol=1e-12)


def test_edm_grid_and_mapping():
    T = 50
    s = S.edm(T)
    sigma = np.sqrt((1 - s.alpha_bar[1:]) / s.alpha_bar[1:])
    assert math.isclose(sigma[-1], 80.0, rel_tol=1e-10) and math.isclose(sigma[0], 0.002, rel_tol=1e-10)
    # sigma^(1/rho) is linear in the step index
    r = sigma ** (1 / 7)
    np.testing.assert_allclose(np.diff(r, 2), 0.0, atol=1e-12)


def test_linear_respacing():
    s = S.linear(1000)
    np.testing.assert_allclose(s.beta[1:], np.linspace(1e-4, 0.02, 1000), rtol=1e-9)
    s10 = S.linear(10)
    full = np.cumprod(1 - np.linspace(1e-4, 0.02, 1000))
    np.testing.assert_allclose(s10.alpha_bar[1:], full[99::100], rtol=1e-12)


def test_logsnr_uniform_and_interpolation():
    s = S.logsnr_uniform(30)
    lam = S.log_snr(s.alpha_bar[1:])
    np.testing.assert_allclose(np.diff(lam), np.diff(lam)[0], rtol=1e-9)
    a, b = s.alpha_bar[10], s.alpha_bar[9]
    mid = S.interpolate_log_snr(a, b, 0.5)
    assert math.isclose(S.log_snr(mid), 0.5 * (S.log_snr(a) + S.log_snr(b)), rel_tol=1e-12)
    np.testing.assert_allclose(S.alpha_bar_from_log_snr(S.log_snr(np.array([0.1, 0.5, 0.99]))), [0.1, 0.5, 0.99])


@pytest.mark.parametrize("name", S.names())
def test_every_schedule_decreases(name):
    s = S.get(name, 64)
    assert np.all(np.diff(s.alpha_bar) < 0) and s.alpha_bar[-1] > 0 and s.alpha.dtype == np.float64


def test_bad_schedules():
    with pytest.raises(ValueError, match="T must be >= 2"):
        S.li2024(1)
    with pytest.raises(TypeError, match="T must be an integer"):
        S.li2024(2.5)
    with pytest.raises(ValueError, match="too small for c1"):
        S.li2024(3)
    with pytest.raises(ValueError, match="unknown schedule 'nope'; valid: li2024"):
        S.get("nope", 10)
    with pytest.raises(ValueError, match="c0 must be > 0"):
        S.li2024(100, c0=-1)
