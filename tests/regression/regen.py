"""Regenerate the golden files deliberately: ``make regen-golden``.

Only do this when a model change is intended; say why in the commit message.
"""

from __future__ import annotations

from fields.io import write_netcdf
from tests.regression.golden import DATA, SCENARIOS, run_scenario


def main() -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    for name in SCENARIOS:
        tree = run_scenario(name)
        for node in tree.subtree:  # provenance that changes every run is not part of the golden
            node.attrs.pop("created", None)
        path = write_netcdf(tree, DATA / f"{name}.nc")
        print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
