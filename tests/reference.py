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


def run(name, score, sched, y, z=None, to=1, jac=None):
    """``jac(abar, x)``: the score Jacobian, (n, d, d); only ``ddpm-cov`` uses it."""
    beta, alpha, ab = _arrays(sched)
    T = len(beta) - 1
    lam = lambda a: 0.5 * math.log(a / (1 - a))
    eps = lambda a, x: -math.sqrt(1 - a) * score(a, x)
    x0 = lambda a, x: (x + (1 - a) * score(a, x)) / math.sqrt(a)
    prev = None
    hist, last = [], None      # multistep model outputs (newest first), UniPC's last corrected sample
    for t in range(T, to, -1):
        b, a, A, Ap = beta[t], alpha[t], ab[t], ab[t - 1]
        b1 = beta[t + 1] if t < T else beta[T]
        a1 = 1 - b1
        A1 = A * a1
        if name == "ddim-li":
            y = (y + b / 2 * score(A, y)) / math.sqrt(a)
        elif name == "ddpm-li":
            y = (y + b * score(A, y) + math.sqrt(b) * z(t, 0)) / math.sqrt(a)
        elif name == "ddpm-cov":
            y = _ddpm_cov(y, b, a, score(A, y), jac(A, y), z(t, 0))
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
        elif name in ("dpmpp-3m", "dpmpp-3m-corrected"):
            y, hist = _dpmpp3m(y, t, T, ab, lam, x0, hist, 2.0 if name.endswith("corrected") else 1.0)
        elif name in ("unipc-2", "unipc-3"):
            y, hist, last = _unipc(y, t, T, ab, lam, x0, hist, last, int(name[-1]))
        elif name in ("deis-2", "deis-3"):
            y, hist = _deis(y, t, T, ab, eps, hist, int(name[-1]))
        elif name.startswith("randmid-ode"):
            seed = int(name.split("@")[1]) if "@" in name else 0
            y = _randmid(y, t, ab, score, seed)
        else:
            raise KeyError(name)
    return y


def _dpmpp3m(x, t, T, ab, lam, x0, hist, c3):
    """LuChengTHU/dpm-solver dpm_solver_first_update / multistep_dpm_solver_second_update
    (solver_type 'dpmsolver') / multistep_dpm_solver_third_update, algorithm 'dpmsolver++', in
    the code's variables; step orders of diffusers' DPMSolverMultistepScheduler (run ending at
    sigma = 0); ``c3`` multiplies the code's ``- alpha_t phi_3 D2`` (1: as written)."""
    s0, tt = ab[t], ab[t - 1]
    model_prev_0 = x0(s0, x)
    hist = [model_prev_0] + hist[:2]
    if tt == 1.0:
        return model_prev_0, hist                      # first order to sigma = 0: the data prediction
    order = min(3, len(hist))
    if T < 15 and t == 2:
        order = min(order, 2)
    alpha_t, sigma_t, sigma_prev_0 = math.sqrt(tt), math.sqrt(1 - tt), math.sqrt(1 - s0)
    lambda_t, lambda_prev_0 = lam(tt), lam(s0)
    h = lambda_t - lambda_prev_0
    phi_1 = math.expm1(-h)
    if order == 1:
        return sigma_t / sigma_prev_0 * x - alpha_t * phi_1 * model_prev_0, hist
    model_prev_1, lambda_prev_1 = hist[1], lam(ab[t + 1])
    h_0 = lambda_prev_0 - lambda_prev_1
    r0 = h_0 / h
    D1_0 = (1.0 / r0) * (model_prev_0 - model_prev_1)
    if order == 2:
        return sigma_t / sigma_prev_0 * x - (alpha_t * phi_1) * model_prev_0 - 0.5 * (alpha_t * phi_1) * D1_0, hist
    model_prev_2, lambda_prev_2 = hist[2], lam(ab[t + 2])
    h_1 = lambda_prev_1 - lambda_prev_2
    r1 = h_1 / h
    D1_1 = (1.0 / r1) * (model_prev_1 - model_prev_2)
    D1 = D1_0 + (r0 / (r0 + r1)) * (D1_0 - D1_1)
    D2 = (1.0 / (r0 + r1)) * (D1_0 - D1_1)
    phi_2 = phi_1 / h + 1.0
    phi_3 = phi_2 / h - 0.5
    x_t = (sigma_t / sigma_prev_0) * x - (alpha_t * phi_1) * model_prev_0 + (alpha_t * phi_2) * D1 - c3 * (alpha_t * phi_3) * D2
    return x_t, hist


def _unipc_bh2(x, m0, ms, lam_nodes, lam_t, lam_s0, a_t, s_t, s_s0, order, corrector, model_t=None):
    """One UniP (``corrector=False``) or UniC update of diffusers' multistep_uni_{p,c}_bh_update
    with predict_x0, bh2: ``ms``/``lam_nodes`` the older outputs and their log-SNRs."""
    h = lam_t - lam_s0
    rks, D1s = [], []
    for i in range(1, order):
        rk = (lam_nodes[i - 1] - lam_s0) / h
        rks.append(rk)
        D1s.append((ms[i - 1] - m0) / rk)
    rks = np.array(rks + [1.0])
    hh = -h
    h_phi_1 = math.expm1(hh)
    h_phi_k = h_phi_1 / hh - 1
    factorial_i = 1
    B_h = math.expm1(hh)
    R, b = [], []
    for i in range(1, order + 1):
        R.append(rks ** (i - 1))
        b.append(h_phi_k * factorial_i / B_h)
        factorial_i *= i + 1
        h_phi_k = h_phi_k / hh - 1 / factorial_i
    R, b = np.array(R), np.array(b)
    x_t_ = s_t / s_s0 * x - a_t * h_phi_1 * m0
    if not corrector:
        if order == 1:
            return x_t_
        rhos_p = np.array([0.5]) if order == 2 else np.linalg.solve(R[:-1, :-1], b[:-1])
        return x_t_ - a_t * B_h * sum(r * d for r, d in zip(rhos_p, D1s, strict=True))
    rhos_c = np.array([0.5]) if order == 1 else np.linalg.solve(R, b)
    corr_res = sum((r * d for r, d in zip(rhos_c[:-1], D1s, strict=True)), 0.0 * m0)
    return x_t_ - a_t * B_h * (corr_res + rhos_c[-1] * (model_t - m0))


def _unipc(x, t, T, ab, lam, x0, hist, last, p):
    """diffusers UniPCMultistepScheduler.step (solver_order p, bh2, predict_x0, lower_order_final,
    final_sigmas_type 'zero'): the corrector of this sample with the model output at it, then the
    predictor.  this_order = min(p, steps left in a run ending at abar = 1, steps taken + 1)."""
    model_t = x0(ab[t], x)
    if hist:   # UniC with the previous step's order, nodes t+1, t+2, ...
        k = min(p, t + 1, T - t)
        x = _unipc_bh2(last, hist[0], hist[1:], [lam(ab[t + 1 + i]) for i in range(1, k)], lam(ab[t]),
                       lam(ab[t + 1]), math.sqrt(ab[t]), math.sqrt(1 - ab[t]), math.sqrt(1 - ab[t + 1]), k, True, model_t)
    hist = [model_t] + hist[: p - 1]
    if ab[t - 1] == 1.0:
        return model_t, hist, x
    k = min(p, t, T - t + 1)
    out = _unipc_bh2(x, model_t, hist[1:], [lam(ab[t + i]) for i in range(1, k)], lam(ab[t - 1]), lam(ab[t]),
                     math.sqrt(ab[t - 1]), math.sqrt(1 - ab[t - 1]), math.sqrt(1 - ab[t]), k, False)
    return out, hist, x


_GL = np.polynomial.legendre.leggauss(40)


def _deis(x, t, T, ab, eps, hist, p):
    """diffusers DEISMultistepScheduler (logrho): x_{t-1} = alpha_{t-1} (x_t/alpha_t + sum_j C_j eps_j),
    C_j = int_{rho_t}^{rho_{t-1}} l_j(log rho) d rho, here by 40-point Gauss-Legendre in u = log rho."""
    e = eps(ab[t], x)
    hist = [e] + hist[: p - 1]
    order = min(p, len(hist))
    if T - 1 < 15 and t == 2:
        order = 1
    if T - 1 < 15 and t == 3:
        order = min(order, 2)
    a_t, a_prev = math.sqrt(ab[t]), math.sqrt(ab[t - 1])
    if order == 1 or ab[t - 1] == 1.0:   # DDIM: x0 from eps, renoised to t-1
        return a_prev * (x - math.sqrt(1 - ab[t]) * e) / a_t + math.sqrt(1 - ab[t - 1]) * e, hist
    logrho = lambda A: math.log(math.sqrt((1 - A) / A))
    nodes = [logrho(ab[t + j]) for j in range(order)]
    u0, u1 = logrho(ab[t]), logrho(ab[t - 1])
    gx, gw = _GL
    u = 0.5 * (u1 - u0) * gx + 0.5 * (u1 + u0)
    out = x / a_t
    for j in range(order):
        lj = np.prod([(u - nodes[m]) / (nodes[j] - nodes[m]) for m in range(order) if m != j], axis=0)
        out = out + 0.5 * (u1 - u0) * float(np.sum(gw * lj * np.exp(u))) * hist[j]
    return a_prev * out, hist


def _randmid(y, t, ab, score, seed):
    """Gupta-Cai-Chen randomized midpoint in OU time: tau = -log(abar)/2, step h = tau_t - tau_{t-1}."""
    from accnum.noise import uniforms

    tau = lambda A: -0.5 * math.log(A)
    h = tau(ab[t]) - tau(ab[t - 1])
    alpha_u = float(uniforms(seed, t, 2**32 - 1, 1, 1)[0, 0])
    x_mid = math.exp(alpha_u * h) * y + (math.exp(alpha_u * h) - 1) * score(ab[t], y)
    ab_mid = min(1.0, math.exp(-2 * (tau(ab[t]) - alpha_u * h)))
    return math.exp(h) * y + h * math.exp(h - alpha_u * h) * score(ab_mid, x_mid)


def _ddpm_cov(y, b, a, s, J, z):
    """Y_{t-1} = (Y_t + b s + sqrt(b) R z) / sqrt(a), R = (I + b J)^(1/2) the symmetric square root,
    written out sample by sample: sqrt(m) in 1-D; in 2-D, for an SPD matrix M with
    sigma = sqrt(det M) and tau = sqrt(tr M + 2 sigma), sqrt(M) = (M + sigma I) / tau."""
    n, d = y.shape
    out = np.empty_like(y)
    for i in range(n):
        M = [[(1.0 if p == q else 0.0) + b * 0.5 * (J[i][p][q] + J[i][q][p]) for q in range(d)] for p in range(d)]
        if d == 1:
            R = [[math.sqrt(M[0][0])]]
        elif d == 2:
            sig = math.sqrt(M[0][0] * M[1][1] - M[0][1] * M[1][0])
            tau = math.sqrt(M[0][0] + M[1][1] + 2 * sig)
            R = [[(M[p][q] + (sig if p == q else 0.0)) / tau for q in range(2)] for p in range(2)]
        else:
            raise NotImplementedError("reference ddpm-cov is written for d <= 2")
        for p in range(d):
            out[i][p] = (y[i][p] + b * s[i][p] + math.sqrt(b) * sum(R[p][q] * z[i][q] for q in range(d))) / math.sqrt(a)
    return out
