"""What the engine tests share: comparisons of variables and trees, and an interrupted batch."""

from __future__ import annotations

import sys

import numpy as np


def close(a: np.ndarray, b: np.ndarray) -> float:
    """max|a - b| / max|a| over a variable (norm-wise relative difference: a field that spans
    ten decades differs by round-off relative to its own scale, not to its smallest values);
    NaN where and only where the other has NaN."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert np.array_equal(np.isnan(a), np.isnan(b))
    ok = ~np.isnan(a)
    if not ok.any():
        return 0.0
    scale = float(np.max(np.abs(a[ok])))
    diff = float(np.max(np.abs(a[ok] - b[ok])))
    return diff / scale if scale > 0.0 else diff


def identical(a, b, what: str = "") -> None:
    """Every variable of every node of DataTree ``a`` equals ``b``'s, bit for bit (NaN where NaN)."""
    for node in a.subtree:
        other = b[node.path].dataset
        for name, var in node.dataset.data_vars.items():
            assert np.array_equal(var.values, other[name].values, equal_nan=True), (
                what,
                node.path,
                name,
                close(var.values, other[name].values),
            )


def interrupt_after(monkeypatch, day: float) -> None:
    """Make the next batch raise KeyboardInterrupt once its slowest run passes ``day``."""
    module = sys.modules["fields.engine.loop"]
    real = module.check_site_rows

    def interrupt(name, site, t_new, *args, **kw):
        if float(t_new.min()) > day:
            raise KeyboardInterrupt
        return real(name, site, t_new, *args, **kw)

    monkeypatch.setattr(module, "check_site_rows", interrupt)
