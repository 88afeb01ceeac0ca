"""Virtual patient populations: cohort files (:mod:`.cohort_file`, :mod:`.distributions`,
:mod:`.targets`), a cohort's runs and drawn events (:mod:`.cohort_run`, :mod:`.outcomes`) on Dask
(:mod:`.cohort`), population statistics and survival (:mod:`.cohort_stats`, :mod:`.survival`),
and calibration against published targets (:mod:`.calibration_file`, :mod:`.calibration`)."""
