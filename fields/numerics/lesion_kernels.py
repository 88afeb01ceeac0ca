"""Compiled kernels of the lesion cohorts (numba; :mod:`fields.numerics.kernels` selects
the backend): growth along characteristics, settling, sums and merging. The numpy references
are :mod:`fields.model.lesions` and :mod:`fields.engine.metastases`."""

from __future__ import annotations

import numpy as np

from fields.numerics.kernels import HAVE_NUMBA, backend

if HAVE_NUMBA:
    import numba

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
            # below this log size the switch is not reached within the step (t_hit > dt): no
            # logarithm per cohort; at the boundary both branches give the switch
            if law == 0:
                stays = switch[r] - fast_r * dt[r]
            elif e_fast > 0.0:
                stays = ln_k[r] - (ln_k[r] - switch[r]) / e_fast
            else:
                stays = -np.inf
            for j in range(used[r]):
                s = values[r, j]
                if s < stays:
                    if law == 0:
                        values[r, j] = min(s + fast_r * dt[r], ln_k[r])
                    else:
                        values[r, j] = ln_k[r] - (ln_k[r] - s) * e_fast
                elif s < switch[r]:
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

    @numba.njit(cache=True, inline="always")
    def _settled_size(key, clock, ln_k, law):  # pragma: no cover - compiled
        if law == 0:
            return min(key + clock, ln_k)
        return ln_k - np.exp(key + clock)

    @numba.njit(cache=True, inline="always")
    def _mean_cells(a, b, width_min):  # pragma: no cover - compiled
        if b - a > width_min:
            return np.exp(a) * np.expm1(b - a) / (b - a)
        return np.exp(a)

    @numba.njit(cache=True)
    def _settle_numba(
        lo,
        hi,
        count,
        filled,
        s_lo,
        s_hi,
        s_count,
        s_filled,
        s_total,
        s_best,
        clock,
        ln_k,
        law,
        level,
    ):  # pragma: no cover - compiled
        room_all = s_lo.shape[1]
        for r in range(lo.shape[0]):
            first = -1
            if s_filled[r] < room_all:
                for j in range(filled[r]):
                    if lo[r, j] >= level[r]:
                        first = j
                        break
            if first < 0:  # the usual case: nothing settles in this step
                continue
            m = first
            for j in range(first, filled[r]):
                a, b, n = lo[r, j], hi[r, j], count[r, j]
                if a >= level[r] and s_filled[r] < room_all:
                    k = s_filled[r]
                    if law == 0:
                        s_lo[r, k] = a - clock[r]
                        s_hi[r, k] = b - clock[r]
                        s_best[r] = max(s_best[r], s_hi[r, k])
                    else:
                        s_lo[r, k] = np.log(ln_k[r] - a) - clock[r]
                        s_hi[r, k] = np.log(ln_k[r] - b) - clock[r]
                        s_best[r] = min(s_best[r], s_hi[r, k])
                    s_count[r, k] = n
                    s_total[r] += n
                    s_filled[r] = k + 1
                else:
                    lo[r, m], hi[r, m], count[r, m] = a, b, n
                    m += 1
            for j in range(m, filled[r]):
                lo[r, j], hi[r, j], count[r, j] = 0.0, 0.0, 0.0
            filled[r] = m

    @numba.njit(cache=True)
    def _lesion_sums_numba(
        lo,
        hi,
        count,
        filled,
        detect,
        want_cells,
        width_min,
        only,
        s_lo,
        s_hi,
        s_count,
        s_filled,
        s_total,
        s_best,
        clock,
        ln_k,
        law,
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
            good = np.isfinite(clock[r])
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
                    c += n * _mean_cells(a, b, width_min)
            if want_cells[r]:
                for j in range(s_filled[r]):
                    n = s_count[r, j]
                    if n != 0.0:
                        a = _settled_size(s_lo[r, j], clock[r], ln_k[r], law)
                        b = _settled_size(s_hi[r, j], clock[r], ln_k[r], law)
                        c += n * _mean_cells(a, b, width_min)
            if s_filled[r] > 0:
                big = max(big, _settled_size(s_best[r], clock[r], ln_k[r], law))
            expected[r] = e + s_total[r]
            cells[r] = c
            top[r] = big
            ok[r] = good
        return expected, cells, top, ok


def grow_log_sizes(values, used, dt, support, switch, rate, ln_k, law: int) -> None:
    """Grow ``values[r, :used[r]]`` (ln cells) in place over dt[r] days (compiled only; the
    numpy reference is :func:`fields.model.lesions.grow`)."""
    _grow_numba(values, used, dt, support, switch, rate, ln_k, law)


def lesion_sums(active, settled, detect, want_cells, width_min, only: bool = False):
    """Per run: expected lesions above ``detect``, their cells (where ``want_cells``), the
    largest log size and whether all is finite; ``only``: skip the other rows. ``active`` is
    (lo, hi, count, filled), ``settled`` (lo, hi, count, filled, total, best, clock, ln_k, law)
    (compiled only; the numpy reference is in the engine)."""
    return _lesion_sums_numba(*active, detect, want_cells, width_min, only, *settled)


def settle_rows(active, settled, level) -> None:
    """Move each row's active cohorts wholly at or beyond ``level`` to its settled store, in
    order, while there is room; in place (compiled only; the numpy reference is
    :meth:`fields.engine.metastases.SiteLesions._settle`)."""
    _settle_numba(*active, *settled, level)


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
