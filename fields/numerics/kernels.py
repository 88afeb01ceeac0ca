"""Compiled inner loops (numba) with pure-numpy twins; the twins are the reference.

``FIELDS_KERNELS=numpy`` (or numba missing) selects the numpy versions; the tests run both and
compare them. Every kernel works on C-contiguous float64 arrays with a leading run axis.
"""

from __future__ import annotations

import os

import numpy as np

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


# ------------------------------------------------------- lesion cohorts along characteristics
# Growth of log sizes s = ln(cells) by law 0 (exponential) or 1 (Gompertz), as
# :func:`fields.model.lesions.grow`: full rate below the avascular limit ``switch``, ``support``
# times the rate above it, crossing exact. Parameters are per run (1D arrays).
if HAVE_NUMBA:

    @numba.njit(cache=True, inline="always")
    def _advance_one(s, rate, dt, ln_k, law):  # pragma: no cover - compiled
        if law == 0:
            return min(s + rate * dt, ln_k)
        return ln_k - (ln_k - s) * np.exp(-rate * dt)

    @numba.njit(cache=True)
    def _grow_numba(values, used, dt, support, switch, rate, ln_k, law):  # pragma: no cover
        runs = values.shape[0]
        for r in range(runs):
            fast_r = rate[r]
            slow_r = rate[r] * support[r]
            e_fast = np.exp(-fast_r * dt[r])  # Gompertz factors (unused when exponential)
            e_slow = np.exp(-slow_r * dt[r])
            for j in range(used[r]):
                s = values[r, j]
                if s < switch[r]:
                    if fast_r > 0.0:
                        if law == 0:
                            t_hit = (switch[r] - s) / fast_r
                        else:
                            t_hit = np.log((ln_k[r] - s) / (ln_k[r] - switch[r])) / fast_r
                    else:
                        t_hit = np.inf
                    if t_hit >= dt[r]:
                        if law == 0:
                            values[r, j] = min(s + fast_r * dt[r], ln_k[r])
                        else:
                            values[r, j] = ln_k[r] - (ln_k[r] - s) * e_fast
                    else:
                        rest = max(dt[r] - t_hit, 0.0)
                        values[r, j] = _advance_one(switch[r], slow_r, rest, ln_k[r], law)
                elif law == 0:
                    values[r, j] = min(s + slow_r * dt[r], ln_k[r])
                else:
                    values[r, j] = ln_k[r] - (ln_k[r] - s) * e_slow

    @numba.njit(cache=True)
    def _lesion_sums_numba(
        lo, hi, count, filled, detect, want_cells, width_min, only
    ):  # pragma: no cover
        runs = lo.shape[0]
        expected = np.zeros(runs)
        cells = np.zeros(runs)
        top = np.full(runs, -np.inf)
        ok = np.ones(runs, dtype=np.bool_)
        for r in range(runs):
            if only and not want_cells[r]:
                continue
            e = 0.0
            c = 0.0
            big = -np.inf
            good = True
            level = detect[r]
            for j in range(filled[r]):
                n = count[r, j]
                a = lo[r, j]
                b = hi[r, j]
                if not (np.isfinite(a) and np.isfinite(b) and np.isfinite(n) and n >= 0.0):
                    good = False
                if b > big:
                    big = b
                if a >= level:
                    e += n
                elif b > level:
                    w = max(b - a, width_min)
                    e += n * (1.0 - min(max((level - a) / w, 0.0), 1.0))
                if want_cells[r] and n != 0.0:
                    if b - a > width_min:
                        c += n * (np.exp(a) * np.expm1(b - a) / (b - a))
                    else:
                        c += n * np.exp(a)
            expected[r] = e
            cells[r] = c
            top[r] = big
            ok[r] = good
        return expected, cells, top, ok

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
                em = np.exp(mu * tt)
                ch = np.cosh(z)
                small = z < 1e-4
                sinhc = 1.0 + z * z / 6.0 if small else np.sinh(z) / z
                plus = _phi1_one((mu + delta) * tt)
                minus = _phi1_one((mu - delta) * tt)
                i1 = 0.5 * tt * (plus + minus)
                i2 = tt * tt * _phi2_one(mu * tt) if small else 0.5 * tt * (plus - minus) / delta
                n11, n22 = m11 - mu, m22 - mu
                p1, p2 = x1[r, i], x2[r, i]
                c1, c2 = b1[r, i], b2[r, i]
                nx1 = n11 * p1 + m12 * p2
                nx2 = m21 * p1 + n22 * p2
                nb1 = n11 * c1 + m12 * c2
                nb2 = m21 * c1 + n22 * c2
                y1[r, i] = max(em * (ch * p1 + tt * sinhc * nx1) + i1 * c1 + i2 * nb1, 0.0)
                y2[r, i] = max(em * (ch * p2 + tt * sinhc * nx2) + i1 * c2 + i2 * nb2, 0.0)
        return y1, y2

    @numba.njit(cache=True, inline="always")
    def _phi1_one(x):  # pragma: no cover - compiled
        if abs(x) < 1e-6:
            return 1.0 + x / 2.0 + x * x / 6.0
        return np.expm1(x) / x

    @numba.njit(cache=True, inline="always")
    def _phi2_one(x):  # pragma: no cover - compiled
        if abs(x) < 1e-4:
            return 0.5 + x / 6.0 + x * x / 24.0
        return (np.expm1(x) - x) / (x * x)


def grow_log_sizes(values, used, dt, support, switch, rate, ln_k, law: int) -> None:
    """Grow ``values[r, :used[r]]`` (ln cells) in place over dt[r] days (compiled only; the
    numpy reference is :func:`fields.model.lesions.grow`)."""
    _grow_numba(values, used, dt, support, switch, rate, ln_k, law)


def lesion_sums(lo, hi, count, filled, detect, want_cells, width_min, only: bool = False):
    """Per run: expected lesions above ``detect``, their cells (where ``want_cells``), the
    largest log size and whether all is finite; ``only``: skip the other rows (compiled only; the
    numpy reference is in the engine)."""
    return _lesion_sums_numba(lo, hi, count, filled, detect, want_cells, width_min, only)


def dtc_update(a11, a12, a21, a22, b1, b2, x1, x2, t):
    """:func:`fields.model.dtc.update`'s exact 2x2 step, clipped at 0 (compiled only)."""
    shape = np.broadcast_shapes(*(np.shape(v) for v in (a11, a12, a21, a22, b1, b2, x1, x2, t)))
    full = [contiguous(v, shape) for v in (a11, a12, a21, a22, b1, b2, x1, x2, t)]
    return _dtc_update_numba(*full)


# ------------------------------------------------------------- merging the closest cohorts
if HAVE_NUMBA:

    @numba.njit(cache=True)
    def _stable_order(x):  # pragma: no cover - compiled
        """np.argsort(x, kind="stable"), in O(n) when only the last value is out of order."""
        n = x.size
        for i in range(n - 2):
            if x[i + 1] < x[i]:
                return np.argsort(x, kind="mergesort")
        last = x[n - 1]
        pos = n - 1
        while pos > 0 and x[pos - 1] > last:  # stable: after every equal value
            pos -= 1
        order = np.empty(n, dtype=np.int64)
        for i in range(pos):
            order[i] = i
        order[pos] = n - 1
        for i in range(pos, n - 1):
            order[i + 1] = i
        return order

    @numba.njit(cache=True)
    def _merge_rows_numba(lo, hi, count, filled, keep):  # pragma: no cover - compiled
        for r in range(lo.shape[0]):
            n = filled[r]
            if n <= keep:
                continue
            order = _stable_order(lo[r, :n])
            a, b, c = lo[r, :n][order], hi[r, :n][order], count[r, :n][order]
            size = n
            if size == keep + 1:  # the usual case: one new cohort, one merge, O(n)
                best = 0
                best_gap = np.inf
                for i in range(size - 1):
                    gap = a[i + 1] - b[i] + (b[i + 1] - a[i + 1]) + (b[i] - a[i])
                    if gap < best_gap:  # the first smallest, as a stable argsort gives
                        best, best_gap = i, gap
                a[best] = min(a[best], a[best + 1])
                b[best] = max(b[best], b[best + 1])
                c[best] = c[best] + c[best + 1]
                a[best + 1 : size - 1] = a[best + 2 : size].copy()
                b[best + 1 : size - 1] = b[best + 2 : size].copy()
                c[best + 1 : size - 1] = c[best + 2 : size].copy()
                size -= 1
            while size > keep:
                gaps = np.empty(size - 1)
                for i in range(size - 1):
                    gaps[i] = a[i + 1] - b[i] + (b[i + 1] - a[i + 1]) + (b[i] - a[i])
                pairs = np.sort(np.argsort(gaps, kind="mergesort")[: size - keep])
                drop = np.zeros(size, dtype=np.bool_)
                for k in range(pairs.size):
                    p = pairs[k]
                    if k > 0 and p - pairs[k - 1] <= 1:
                        continue
                    a[p] = min(a[p], a[p + 1])
                    b[p] = max(b[p], b[p + 1])
                    c[p] = c[p] + c[p + 1]
                    drop[p + 1] = True
                m = 0
                for i in range(size):
                    if not drop[i]:
                        a[m], b[m], c[m] = a[i], b[i], c[i]
                        m += 1
                size = m
            lo[r, :] = 0.0
            hi[r, :] = 0.0
            count[r, :] = 0.0
            lo[r, :size] = a[:size]
            hi[r, :size] = b[:size]
            count[r, :size] = c[:size]
            filled[r] = size


def merge_rows_numpy(lo, hi, count, filled, keep: int, merge) -> None:
    """Each row with more than ``keep`` cohorts merged by ``merge`` (the reference,
    :func:`fields.model.lesions.merge_closest`), in place."""
    for r in np.nonzero(filled > keep)[0]:
        n = filled[r]
        a, b, c = merge(lo[r, :n].copy(), hi[r, :n].copy(), count[r, :n].copy(), keep)
        m = a.size
        lo[r], hi[r], count[r] = 0.0, 0.0, 0.0
        lo[r, :m], hi[r, :m], count[r, :m] = a, b, c
        filled[r] = m


def merge_rows(lo, hi, count, filled, keep: int, merge) -> None:
    """At most ``keep`` cohorts per row, merging the closest neighbours; in place."""
    if backend() == "numba":
        _merge_rows_numba(lo, hi, count, filled, keep)
    else:
        merge_rows_numpy(lo, hi, count, filled, keep, merge)
