"""Statistics for experiment results; numpy only (scipy is used by the tests, not here).

Rates: Wilson interval per arm; the comparison on the log risk ratio scale, so the uplift
interval exp(d +- z se) - 1 and the two-sided p-value 2 Phi(-|d|/se) come from the same
estimate and never contradict each other.  Values per person: Welch's t (interval and
p-value on the difference, shown relative to the control mean).  Bayesian chance to beat
control with Beta(1, 1) priors, exact.  Sample-ratio mismatch: chi-square against the
configured weights.  Sequential: mSPRT with a normal mixture (Johari et al. 2017), an
always-valid p-value and interval on the same log risk ratio scale."""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist

import numpy as np

Z95 = NormalDist().inv_cdf(0.975)
ArrayLike = float | np.ndarray | Sequence[float]
_erfc = np.vectorize(math.erfc, otypes=[float])
_N = NormalDist()


def norm_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2))


def wilson(x: float, n: float, z: float = Z95) -> tuple[float, float]:
    if n <= 0:
        return (0.0, 1.0)
    p = x / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (max(0.0, mid - half), min(1.0, mid + half))


def log_rr(x1: float, n1: float, x0: float, n0: float) -> tuple[float, float]:
    """Log risk ratio of arm 1 over arm 0 and its standard error (delta method); 0.5 is
    added to every cell when a count is 0 or equals its n."""
    d, var = log_rr_var(x1, n1, x0, n0)
    return float(d), math.sqrt(float(var))


def log_rr_var(x1: ArrayLike, n1: ArrayLike, x0: ArrayLike, n0: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised log risk ratio and its variance (arrays of counts in, arrays out)."""
    x1, n1, x0, n0 = (np.asarray(v, float) for v in (x1, n1, x0, n0))
    fix = (np.minimum(np.minimum(x1, x0), np.minimum(n1 - x1, n0 - x0)) == 0) * 0.5
    x1, x0, n1, n0 = x1 + fix, x0 + fix, n1 + 2 * fix, n0 + 2 * fix
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.log((x1 / n1) / (x0 / n0))
        var = 1 / x1 - 1 / n1 + 1 / x0 - 1 / n0
    return d, var


def two_sided_p(z: ArrayLike) -> np.ndarray:
    """2 Phi(-|z|), vectorised."""
    return _erfc(np.abs(np.asarray(z, float)) / math.sqrt(2))


def compare_rates(x1: int, n1: int, x0: int, n0: int, z: float = Z95) -> dict[str, float | list[float] | None]:
    """Arm 1 against arm 0 (the control): the uplift is the observed rates' ratio - 1
    (None while the control has no conversion: the ratio is undefined); the interval and
    p-value come from log_rr, whose 0.5 correction of an empty or full cell is for them
    only -- as a point estimate it showed 0/1 against 0/3 as +100 %."""
    d, se = log_rr(x1, n1, x0, n0)
    return {"uplift": (x1 / n1) / (x0 / n0) - 1 if x0 else None,
            "uplift_ci": [math.exp(d - z * se) - 1, math.exp(d + z * se) - 1],
            "p_value": 2 * norm_sf(abs(d) / se)}


def pooled_z_p(x1: int, n1: int, x0: int, n0: int) -> float:
    p = (x1 + x0) / (n1 + n0)
    se = math.sqrt(p * (1 - p) * (1 / n1 + 1 / n0))
    return 2 * norm_sf(abs(x1 / n1 - x0 / n0) / se) if se > 0 else 1.0


# -- special functions ------------------------------------------------------------------------
def betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b) (continued fraction, Numerical Recipes)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    lbt = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x > (a + 1) / (a + b + 2):
        return 1.0 - betainc(b, a, 1 - x)
    qab, qap, qam = a + b, a + 1, a - 1
    c, d = 1.0, 1 - qab * x / qap
    d = 1 / (d if abs(d) > 1e-300 else 1e-300)
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)), -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1 + aa * d
            d = 1 / (d if abs(d) > 1e-300 else 1e-300)
            c = 1 + aa / c
            c = c if abs(c) > 1e-300 else 1e-300
            h *= d * c
        if abs(d * c - 1) < 1e-15:
            break
    return math.exp(lbt) * h / a


def t_sf2(t: float, df: float) -> float:
    """Two-sided tail probability of Student's t."""
    return betainc(df / 2, 0.5, df / (df + t * t))


def t_ppf975(df: float) -> float:
    """The 97.5 % quantile of Student's t (bisection on t_sf2)."""
    lo, hi = 0.0, 50.0
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if t_sf2(mid, df) > 0.05 else (lo, mid)
    return (lo + hi) / 2


def gammaincc(a: float, x: float) -> float:
    """Regularised upper incomplete gamma Q(a, x)."""
    if x <= 0:
        return 1.0
    lg = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1:
        s = term = 1 / a
        ap = a
        for _ in range(1000):
            ap += 1
            term *= x / ap
            s += term
            if abs(term) < abs(s) * 1e-15:
                break
        return 1 - s * math.exp(lg)
    b, c, d = x + 1 - a, 1e300, 1 / (x + 1 - a)
    h = d
    for i in range(1, 1000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = 1 / (d if abs(d) > 1e-300 else 1e-300)
        c = b + an / c
        c = c if abs(c) > 1e-300 else 1e-300
        h *= d * c
        if abs(d * c - 1) < 1e-15:
            break
    return math.exp(lg) * h


# -- comparisons -------------------------------------------------------------------------------
def welch(m1: float, v1: float, n1: int, m0: float, v0: float, n0: int) -> dict[str, float | list[float] | None]:
    """Difference of means (sample variances v), shown relative to the control mean."""
    if n1 < 2 or n0 < 2:
        return {"uplift": None, "uplift_ci": None, "p_value": None}
    a, b = v1 / n1, v0 / n0
    se = math.sqrt(a + b)
    diff = m1 - m0
    if se == 0:
        return {"uplift": None, "uplift_ci": None, "p_value": None}
    df = (a + b) ** 2 / (a * a / (n1 - 1) + b * b / (n0 - 1)) if a + b > 0 else n1 + n0 - 2
    t = diff / se
    q = t_ppf975(df)
    base = m0 if m0 != 0 else float("nan")
    return {"difference": diff, "difference_ci": [diff - q * se, diff + q * se], "df": df,
            "uplift": diff / base, "uplift_ci": [(diff - q * se) / base, (diff + q * se) / base],
            "p_value": t_sf2(t, df)}


def chance_to_beat(x1: int, n1: int, x0: int, n0: int) -> float:
    """P(p1 > p0) for Beta(1 + x, 1 + n - x) posteriors (Evan Miller's exact sum; falls back
    to a normal approximation of the two posteriors when the sum would be too long)."""
    a1, b1, a0, b0 = x1 + 1, n1 - x1 + 1, x0 + 1, n0 - x0 + 1
    if a1 > 200_000:
        m1, m0 = a1 / (a1 + b1), a0 / (a0 + b0)
        s = math.sqrt(a1 * b1 / ((a1 + b1) ** 2 * (a1 + b1 + 1)) + a0 * b0 / ((a0 + b0) ** 2 * (a0 + b0 + 1)))
        return _N.cdf((m1 - m0) / s)
    i = np.arange(a1, dtype=float)

    def lbeta(p: np.ndarray | float, q: np.ndarray | float) -> np.ndarray:
        from math import lgamma
        lg = np.vectorize(lgamma)
        return lg(p) + lg(q) - lg(np.asarray(p) + q)

    terms = lbeta(a0 + i, b0 + b1) - np.log(b1 + i) - lbeta(1 + i, b1) - lbeta(a0, b0)
    total = float(np.exp(terms).sum())
    return min(1.0, max(0.0, total))


def chance_to_beat_normal(diff: float, se: float) -> float:
    return _N.cdf(diff / se) if se > 0 else 0.5


def srm_p_value(counts: Sequence[int], weights: Sequence[float]) -> float | None:
    n = sum(counts)
    total = sum(weights)
    exp = [n * w / total for w in weights]
    if n == 0 or any(e <= 0 for e in exp):
        return None
    chi2 = sum((c - e) ** 2 / e for c, e in zip(counts, exp, strict=True))
    return gammaincc((len(counts) - 1) / 2, chi2 / 2)


def sample_size(p0: float, mde: float, alpha: float = 0.05, power: float = 0.8) -> int | None:
    """Persons per arm to detect a relative change `mde` of a base rate p0 (two-sided)."""
    p1 = p0 * (1 + mde)
    if not 0 < p0 < 1 or not 0 < p1 < 1:
        return None
    z = _N.inv_cdf(1 - alpha / 2) + _N.inv_cdf(power)
    return math.ceil(z * z * (p0 * (1 - p0) + p1 * (1 - p1)) / (p1 - p0) ** 2)


# -- sequential (mSPRT) ----------------------------------------------------------------------
def msprt_lambda(d: np.ndarray | float, var: np.ndarray | float, tau2: float) -> np.ndarray:
    """Mixture likelihood ratio for an estimate d ~ N(theta, var), mixing theta ~ N(0, tau2)."""
    d, var = np.asarray(d, float), np.asarray(var, float)
    return np.sqrt(var / (var + tau2)) * np.exp(tau2 * d * d / (2 * var * (var + tau2)))


def msprt_p_values(d: Sequence[float], var: Sequence[float], tau2: float) -> np.ndarray:
    """Always-valid p-values after each look: running minimum of min(1, 1/Lambda)."""
    lam = msprt_lambda(np.asarray(d, float), np.asarray(var, float), tau2)
    return np.minimum.accumulate(np.minimum(1.0, 1.0 / lam), axis=-1)


def msprt_ci(d: float, var: float, tau2: float, alpha: float = 0.05) -> tuple[float, float]:
    """Always-valid (1 - alpha) interval for theta at this look."""
    half = math.sqrt(var * (var + tau2) / tau2 * (math.log((var + tau2) / var) - 2 * math.log(alpha)))
    return d - half, d + half
