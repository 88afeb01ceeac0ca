"""Diffusion on a uniform grid with zero-flux walls, solved in its eigenbasis: backward-Euler
steps, and the preconditioner of the 3d diffusion-reaction solves.

On a uniform 2d or 3d grid of cells (spacing h) with zero-flux walls, FiPy's finite-volume
Laplacian L (five- or seven-point stencil) is diagonalised by the type-II discrete cosine
transform, with eigenvalues sum over axes of (2 - 2 cos(pi k / n)) / h^2, k = 0..n-1. A backward
Euler step u_new = (I + dt D L)^-1 u_old is then a transform, a division and the inverse
transform: O(n log n) for any dt, with no factorisation to redo when the step changes. It is the
same linear system the sparse LU path solves (tests: 1e-12).
"""

from __future__ import annotations

import numpy as np
from scipy import fft

from fields.core.errors import NumericalError


def laplacian_eigenvalues(shape: tuple[int, ...], couplings: list[float]) -> np.ndarray:
    """Eigenvalues of the zero-flux finite-volume Laplacian on a grid of ``shape`` cells in the
    type-II cosine basis: sum over axes of coupling (2 - 2 cos(pi k / n)), k = 0..n-1."""
    eigen = np.zeros(shape)
    for axis, (n, coupling) in enumerate(zip(shape, couplings, strict=True)):
        values = coupling * (2.0 - 2.0 * np.cos(np.pi * np.arange(n) / n))
        eigen = eigen + values.reshape([n if a == axis else 1 for a in range(len(shape))])
    return eigen


def divide_in_cosine_basis(values: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Transform ``values`` (flat, FiPy cell order) to the cosine basis, divide, transform back."""
    coefficients = fft.dctn(np.reshape(values, denominator.shape), type=2, norm="ortho")
    coefficients /= denominator
    return fft.idctn(coefficients, type=2, norm="ortho").reshape(-1)


class CosineDiffusion:
    """Backward-Euler diffusion steps of every run of a batch at once on a grid of ``shape``
    cells of side ``spacing`` (um), each run with its own diffusivity (``diffusivity``: a number
    or one per run, um^2 per time unit of dt) and step."""

    def __init__(self, shape: tuple[int, ...], spacing: float, diffusivity) -> None:
        self.shape = tuple(int(n) for n in shape)
        self.diffusivity = np.asarray(diffusivity, dtype=float).reshape(-1, 1)
        self.eigenvalues = laplacian_eigenvalues(self.shape, [spacing**-2] * len(self.shape))

    def take(self, keep: np.ndarray) -> None:
        """Keep only the runs ``keep`` (indices)."""
        if self.diffusivity.shape[0] > 1:
            self.diffusivity = self.diffusivity[keep]

    def step(self, values: np.ndarray, dt) -> np.ndarray:
        """u after one step of dt (a number or one per run) from ``values``: (runs, n) in FiPy
        cell order, or (n,) for a single run."""
        single = np.ndim(values) == 1
        grid = np.reshape(values, (-1, *self.shape))
        axes = tuple(range(1, len(self.shape) + 1))
        coefficients = fft.dctn(grid, type=2, norm="ortho", axes=axes)
        scale = (np.asarray(dt, dtype=float).reshape(-1, 1) * self.diffusivity).reshape(
            (-1,) + (1,) * len(self.shape)
        )
        coefficients /= 1.0 + scale * self.eigenvalues
        out = fft.idctn(coefficients, type=2, norm="ortho", axes=axes).reshape(grid.shape[0], -1)
        return out[0] if single else out


class CosineCG:
    """x with A x = b for a symmetric definite A = D L + diag(c) on a uniform grid of ``shape``
    cells with zero-flux walls (FiPy's sign, either way round): conjugate gradients
    preconditioned by the exact inverse of D L + mean(c) in the cosine basis.

    Tissue sinks are small against diffusion on a cell (3d lung, one factor: c at most 2e-4 of
    one coupling D / h^2), so the preconditioned operator is close to the identity and CG reaches
    a relative residual of 1e-12 in a handful of iterations, each two transforms and one product:
    O(n log n), no setup. A solve starts from zero, so it depends only on (A, b), as a
    factorisation would. If CG has not converged after ``max_iterations`` the caller's
    ``fallback`` solve is used.
    """

    tolerance = 1e-12
    max_iterations = 100

    def __init__(self, matrix, shape: tuple[int, ...], fallback=None) -> None:
        self.shape = tuple(int(n) for n in shape)
        self.sign = -1.0 if matrix.diagonal().mean() < 0.0 else 1.0
        self.matrix = (self.sign * matrix).tocsr()
        self.fallback = fallback
        self._fallback_solve = None
        self.iterations = 0  # of the last solve
        # the couplings D/h^2 of each axis, read at the centre cell; the mean sink
        n = self.matrix.shape[0]
        centre = np.ravel_multi_index(tuple(m // 2 for m in self.shape), self.shape)
        strides = np.cumprod((1, *self.shape[::-1][:-1]))[::-1]  # C order
        couplings = [
            -float(self.matrix[centre, min(centre + int(stride), n - 1)]) if m > 1 else 0.0
            for m, stride in zip(self.shape, strides, strict=True)
        ]
        sink = float(np.mean(np.asarray(self.matrix.sum(axis=1)).ravel()))
        self.denominator = laplacian_eigenvalues(self.shape, couplings) + max(sink, 1e-300)

    def _precondition(self, r: np.ndarray) -> np.ndarray:
        return divide_in_cosine_basis(r, self.denominator)

    def solve(self, b: np.ndarray) -> np.ndarray:
        """x with A x = b, to a relative residual of 1e-12 (the fallback beyond that)."""
        norm_b = float(np.linalg.norm(b))
        if norm_b == 0.0 or not np.isfinite(norm_b):
            return np.zeros_like(b) if norm_b == 0.0 else np.full_like(b, np.nan)
        rhs = (self.sign / norm_b) * np.asarray(b, dtype=float)
        x = np.zeros_like(rhs)
        r = rhs.copy()
        z = self._precondition(r)
        p = z.copy()
        rz = float(r @ z)
        for it in range(1, self.max_iterations + 1):
            q = self.matrix @ p
            alpha = rz / float(p @ q)
            x += alpha * p
            r -= alpha * q
            if float(np.linalg.norm(r)) <= self.tolerance:
                r_true = rhs - self.matrix @ x  # the recursion drifts: confirm on the true one
                if float(np.linalg.norm(r_true)) <= 10.0 * self.tolerance:
                    self.iterations = it
                    return norm_b * x
                r = r_true
            z = self._precondition(r)
            rz_new = float(r @ z)
            p = z + (rz_new / rz) * p
            rz = rz_new
        self.iterations = self.max_iterations
        if self.fallback is None:
            raise NumericalError(
                f"cosine-preconditioned CG did not reach {self.tolerance:.0e} in "
                f"{self.max_iterations} iterations"
            )
        if self._fallback_solve is None:
            self._fallback_solve = self.fallback(self.sign * self.matrix)
        return self._fallback_solve.solve(b)
