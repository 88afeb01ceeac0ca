"""Compiled inner loops (numba) with pure-numpy twins; the twins are the reference.

``FIELDS_KERNELS=numpy`` (or numba missing) selects the numpy versions; the tests run both and
compare them. Every kernel works on C-contiguous float64 arrays with a leading run axis.
"""

from __future__ import annotations

import os

import numpy as np

from fields.model.dtc import SERIES_X, SMALL_DELTA_T

try:  # numba is a declared dependency; the numpy twins keep the package usable without it
    import numba

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised only where numba cannot be installed
    numba = None
    HAVE_NUMBA = False


def backend() -> str:
    """'numba' or 'numpy', from ``FIELDS_KERNELS`` (default: numba when installed)."""
    wanted = os.environ.get("FIELDS_KERNELS", "numba").strip().lower()
    return "numba" if wanted == "numba" and HAVE_NUMBA else "numpy"


def contiguous(values, shape: tuple[int, ...]) -> np.ndarray:
    """``values`` as a C-contiguous float64 array of ``shape`` (no copy when it already is)."""
    if (
        isinstance(values, np.ndarray)
        and values.shape == shape
        and values.dtype == np.float64
        and values.flags.c_contiguous
    ):
        return values
    return np.ascontiguousarray(np.broadcast_to(values, shape), dtype=float)


# ---------------------------------------------------------------- tridiagonal (Thomas) solve
def thomas_factor_numpy(lower, diag, upper):
    """Forward-elimination factors of tridiagonal systems (runs, n): c' and 1/pivot."""
    runs, n = diag.shape
    cprime = np.zeros((runs, n))
    inv = np.empty((runs, n))
    inv[:, 0] = 1.0 / diag[:, 0]
    for i in range(1, n):
        cprime[:, i - 1] = upper[:, i - 1] * inv[:, i - 1]
        inv[:, i] = 1.0 / (diag[:, i] - lower[:, i - 1] * cprime[:, i - 1])
    return cprime, inv


def thomas_solve_numpy(lower, cprime, inv, b):
    """x with A x = b from :func:`thomas_factor_numpy` (no pivoting: A diagonally dominant)."""
    runs, n = b.shape
    x = np.empty((runs, n))
    x[:, 0] = b[:, 0] * inv[:, 0]
    for i in range(1, n):
        x[:, i] = (b[:, i] - lower[:, i - 1] * x[:, i - 1]) * inv[:, i]
    for i in range(n - 2, -1, -1):
        x[:, i] -= cprime[:, i] * x[:, i + 1]
    return x


if HAVE_NUMBA:

    @numba.njit(cache=True)
    def _thomas_factor_numba(lower, diag, upper):  # pragma: no cover - compiled
        runs, n = diag.shape
        cprime = np.zeros((runs, n))
        inv = np.empty((runs, n))
        for r in range(runs):
            inv[r, 0] = 1.0 / diag[r, 0]
            for i in range(1, n):
                cprime[r, i - 1] = upper[r, i - 1] * inv[r, i - 1]
                inv[r, i] = 1.0 / (diag[r, i] - lower[r, i - 1] * cprime[r, i - 1])
        return cprime, inv

    @numba.njit(cache=True)
    def _thomas_solve_numba(lower, cprime, inv, b):  # pragma: no cover - compiled
        runs, n = b.shape
        x = np.empty((runs, n))
        for r in range(runs):
            x[r, 0] = b[r, 0] * inv[r, 0]
            for i in range(1, n):
                x[r, i] = (b[r, i] - lower[r, i - 1] * x[r, i - 1]) * inv[r, i]
            for i in range(n - 2, -1, -1):
                x[r, i] -= cprime[r, i] * x[r, i + 1]
        return x


def thomas_factor(lower, diag, upper):
    if backend() == "numba":
        return _thomas_factor_numba(lower, diag, upper)
    return thomas_factor_numpy(lower, diag, upper)


def thomas_solve(lower, cprime, inv, b):
    if backend() == "numba":
        return _thomas_solve_numba(lower, cprime, inv, b)
    return thomas_solve_numpy(lower, cprime, inv, b)


# ----------------------------------------------------------- the DTC (Q, P) exact step
if HAVE_NUMBA:

    @numba.njit(cache=True)
    def _dtc_update_numba(a11, a12, a21, a22, b1, b2, x1, x2, t):  # pragma: no cover
        runs, n = x1.shape
        y1 = np.empty((runs, n))
        y2 = np.empty((runs, n))
        for r in range(runs):
            for i in range(n):
                m11, m12, m21, m22 = a11[r, i], a12[r, i], a21[r, i], a22[r, i]
                tt = t[r, i]
                mu = 0.5 * (m11 + m22)
                delta = np.sqrt(max(0.25 * (m11 - m22) ** 2 + m12 * m21, 0.0))
                z = delta * tt
                lp, lm = (mu + delta) * tt, (mu - delta) * tt
                if z < SMALL_DELTA_T:  # nearly equal eigenvalues: the reference's series
                    em = np.exp(mu * tt)
                    ch = em * np.cosh(z)
                    sh = em * tt * (1.0 + z * z / 6.0)
                    plus, minus = _phi1_one(lp), _phi1_one(lm)
                    i2 = tt * tt * _dphi1_one(mu * tt)
                else:  # e^{Mt} from the two eigenvalues' exponentials: two instead of five
                    ep, en = np.exp(lp), np.exp(lm)
                    ch = 0.5 * (ep + en)  # e^{mu t} cosh(delta t)
                    sh = 0.5 * (ep - en) / delta  # e^{mu t} sinh(delta t) / delta
                    plus = _phi1_from(ep, lp)
                    minus = _phi1_from(en, lm)
                    i2 = 0.5 * tt * (plus - minus) / delta
                i1 = 0.5 * tt * (plus + minus)
                n11, n22 = m11 - mu, m22 - mu
                p1, p2 = x1[r, i], x2[r, i]
                c1, c2 = b1[r, i], b2[r, i]
                nx1 = n11 * p1 + m12 * p2
                nx2 = m21 * p1 + n22 * p2
                nb1 = n11 * c1 + m12 * c2
                nb2 = m21 * c1 + n22 * c2
                y1[r, i] = max(ch * p1 + sh * nx1 + i1 * c1 + i2 * nb1, 0.0)
                y2[r, i] = max(ch * p2 + sh * nx2 + i1 * c2 + i2 * nb2, 0.0)
        return y1, y2

    @numba.njit(cache=True, inline="always")
    def _phi1_from(e, x):  # pragma: no cover - compiled
        """(e^x - 1)/x given e = e^x, as :func:`fields.model.dtc._phi1_from`."""
        if abs(x) < SERIES_X:
            return 1.0 + x * (0.5 + x * (1.0 / 6.0 + x / 24.0))
        return (e - 1.0) / x

    @numba.njit(cache=True, inline="always")
    def _phi1_one(x):  # pragma: no cover - compiled
        if abs(x) < 1e-6:
            return 1.0 + x / 2.0 + x * x / 6.0
        return np.expm1(x) / x

    @numba.njit(cache=True, inline="always")
    def _dphi1_one(x):  # pragma: no cover - compiled
        if abs(x) < 1e-2:
            return 0.5 + x * (1.0 / 3.0 + x * (1.0 / 8.0 + x * (1.0 / 30.0 + x / 144.0)))
        return (x * np.exp(x) - np.expm1(x)) / (x * x)


def dtc_update(a11, a12, a21, a22, b1, b2, x1, x2, t):
    """:func:`fields.model.dtc.update`'s exact 2x2 step, clipped at 0 (compiled only)."""
    # np.broadcast, not np.broadcast_shapes: the latter keeps ~112 bytes per call for its first
    # few thousand calls (measured), which a long run's memory test sees as growth
    shape = np.broadcast(a11, a12, a21, a22, b1, b2, x1, x2, t).shape
    full = [contiguous(v, shape) for v in (a11, a12, a21, a22, b1, b2, x1, x2, t)]
    return _dtc_update_numba(*full)


# ------------------------------------------------------------------ bounds of the site state
if HAVE_NUMBA:

    @numba.njit(cache=True)
    def _mark_out_of_bounds(a, kind, po2, base, bad):  # pragma: no cover - compiled
        """Set bad[r] where row r of one field ``a`` leaves its kind's bounds."""
        for r in range(a.shape[0]):
            if bad[r]:
                continue
            for i in range(a.shape[1]):
                v = a[r, i]
                if (
                    not np.isfinite(v)
                    or v < -1e-9
                    or (kind == 1 and v > 1.0 + 1e-9)
                    or (kind == 2 and v > po2[r] * (1 + 1e-9))
                    or (kind == 3 and v < base[r] * (1 - 1e-9))
                ):
                    bad[r] = True
                    break


def rows_out_of_bounds_numpy(fields, kinds, po2, base) -> np.ndarray:
    """Rows with a value of any field not finite or below -1e-9, or beyond its kind's bound:
    1 at most 1, 2 at most ``po2[r]``, 3 at least ``base[r]`` (relative slack 1e-9)."""
    stack = np.stack(fields)  # (fields, runs, cells)
    low, high = stack.min(axis=2), stack.max(axis=2)
    kind = np.asarray(kinds)[:, None]
    out = ~(np.isfinite(low) & np.isfinite(high)) | (low < -1e-9)
    out |= (kind == 1) & (high > 1.0 + 1e-9)
    out |= (kind == 2) & (high > po2 * (1 + 1e-9))
    out |= (kind == 3) & (low < base * (1 - 1e-9))
    return out.any(axis=0)


def rows_out_of_bounds(fields, kinds, po2, base) -> np.ndarray:
    """:func:`rows_out_of_bounds_numpy` in compiled passes without temporaries."""
    if backend() != "numba":
        return rows_out_of_bounds_numpy(fields, kinds, po2, base)
    shape = fields[0].shape
    po2, base = contiguous(po2, shape[:1]), contiguous(base, shape[:1])
    bad = np.zeros(shape[0], dtype=np.bool_)
    for values, kind in zip(fields, kinds, strict=True):  # one call per field: no copies
        _mark_out_of_bounds(contiguous(values, shape), int(kind), po2, base, bad)
    return bad
