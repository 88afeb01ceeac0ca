"""The model as pure rate laws: numbers and numpy arrays in, numbers and arrays out.

No meshes, no solvers, no files: ``primary`` (growth, plasma factors, shedding), ``oxygen``
(hypoxia response), ``factors`` (tissue sources and sinks of the diffusing species and the
responses to them), ``stroma`` (LOX, stiffness, niche), ``dtc`` (DTC fate) and ``interventions``
(therapy windows as multipliers).
"""
