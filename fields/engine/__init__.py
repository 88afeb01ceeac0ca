"""The engine: one organ-site patch and its update (``site``), the coupled time loop (``loop``),
the recorder, checkpoints and numerical guards. It returns a
:class:`~fields.engine.recorder.RunRecord`; the io layer turns that into the output DataTree."""
