"""The engine: one time loop for a batch of runs (``loop``; a single run is a batch of one), one
organ site for every run (``site``) with its lesions (``metastases``), what a batch keeps
(``record``), checkpoints and numerical guards. It returns a :class:`~fields.engine.record.Record`;
the io layer turns a run of it into the output DataTree."""
