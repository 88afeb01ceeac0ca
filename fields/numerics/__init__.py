"""Numerics: FiPy meshes of tissue patches, the reusable linear-solve fast path (LU, AMG) and
its plain-FiPy reference, and the nonlinear oxygen solve."""
