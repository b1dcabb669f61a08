"""Independent, literal re-implementations of every sampler, for the tests.

Written from the papers' formulas (exponentials of log-SNR steps, Song's eq. (12),
Karras' sigma form ...) rather than from accnum's rearranged ones, with their own
schedule arithmetic.  ``score(abar, x)`` is any score function; ``z(t, j)`` the normals.
"""

import math

import numpy as np


def _arrays(sched):
    beta = np.array(sched.beta)
    ab = np.cumprod(1 - beta)
    return beta, 1 - beta, ab


def run(name, score, sched, y, z=None, to=1):
    beta, alpha, ab = _arrays(sched)
    T = len(beta) - 1
    lam = lambda a: 0.5 * math.log(a / (1 - a))
    eps = lambda a, x: -math.sqrt(1 - a) * score(a, x)
    x0 = lambda a, x: (x + (1 - a) * score(a, x)) / math.sqrt(a)
    prev = None
    for t in range(T, to, -1):
        b, a, A, Ap = beta[t], alpha[t], ab[t], ab[t - 1]
        b1 = beta[t + 1] if t < T else beta[T]
        a1 = 1 - b1
        A1 = A * a1
        if name == "ddim-li":
            y = (y + b / 2 * score(A, y)) / math.sqrt(a)
        elif name == "ddpm-li":
            y = (y + b * score(A, y) + math.sqrt(b) * z(t, 0)) / math.sqrt(a)
        elif name == "accel-ode":
            s = score(A, y)
            ym = math.sqrt(a1) * (y - b1 / 2 * s)
            y = (y + b / 2 * s + b**2 / (4 * b1) * (s - math.sqrt(a1) * score(A1, ym))) / math.sqrt(a)
        elif name == "accel-ode-reuse":
            s = score(A, y)
            corr = 0 if prev is None else b**2 / (4 * b1) * (s - math.sqrt(a1) * prev)
            y, prev = (y + b / 2 * s + corr) / math.sqrt(a), s
        elif name == "accel-ode-eps":
            e = eps(A, y)
            new = y / math.sqrt(a) + (math.sqrt(1 - Ap) - math.sqrt(1 - A) / math.sqrt(a)) * e
            if prev is not None:
                c = math.sqrt(Ap) / (A - A1) * (
                    A * math.sqrt(1 - Ap) / math.sqrt(Ap) + math.asin(math.sqrt(Ap))
                    - A * math.sqrt(1 - A) / math.sqrt(A) - math.asin(math.sqrt(A)))
                new = new + c * (prev - e)
            y, prev = new, e
        elif name in ("accel-sde", "accel-sde-readme"):
            yp = y + math.sqrt(b / 2) * z(t, 0)
            if name == "accel-sde":
                y = (yp + b * score(A, yp) + math.sqrt(b / 2) * z(t, 1)) / math.sqrt(a)
            else:
                y = (yp + b * score(A, yp)) / math.sqrt(a) + math.sqrt(b / 2) * z(t, 1)
        elif name == "ddim":  # Song et al. eq. (12), eta = 0
            e = eps(A, y)
            y = math.sqrt(Ap) * (y - math.sqrt(1 - A) * e) / math.sqrt(A) + math.sqrt(1 - Ap) * e
        elif name == "ddpm":  # Ho et al. Algorithm 2
            var = (1 - Ap) / (1 - A) * b
            y = (y - b / math.sqrt(1 - A) * eps(A, y)) / math.sqrt(a) + math.sqrt(var) * z(t, 0)
        elif name == "dpm-solver-2":
            h = lam(Ap) - lam(A)
            ls = lam(A) + h / 2
            As = 1 / (1 + math.exp(-2 * ls))
            u = math.sqrt(As / A) * y - math.sqrt(1 - As) * (math.exp(h / 2) - 1) * eps(A, y)
            y = math.sqrt(Ap / A) * y - math.sqrt(1 - Ap) * (math.exp(h) - 1) * eps(As, u)
        elif name == "dpmpp-2m":
            h = lam(Ap) - lam(A)
            d = x0(A, y)
            D = d
            if prev is not None:
                r = (lam(A) - lam(A1)) / h
                D = (1 + 1 / (2 * r)) * d - 1 / (2 * r) * prev
            y, prev = math.sqrt(1 - Ap) / math.sqrt(1 - A) * y - math.sqrt(Ap) * (math.exp(-h) - 1) * D, d
        elif name == "heun-edm":  # Karras et al. Algorithm 1 in x~ = x / sqrt(abar)
            sg, sgp = math.sqrt((1 - A) / A), math.sqrt((1 - Ap) / Ap)
            xt = y / math.sqrt(A)
            D = lambda xx, a_, s_: x0(a_, xx * math.sqrt(a_))
            d = (xt - D(xt, A, sg)) / sg
            xn = xt + (sgp - sg) * d
            d2 = (xn - D(xn, Ap, sgp)) / sgp
            y = math.sqrt(Ap) * (xt + (sgp - sg) * (d + d2) / 2)
        else:
            raise KeyError(name)
    return y
