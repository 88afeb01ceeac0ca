"""Pages generated from the code at build time: the parameter tables (from the parameter tree),
the bibliography (from ``fields/parameters/data/references.toml``), the coupling diagram, and
copies of the study pages and notebooks (which live beside the code)."""

from __future__ import annotations

import shutil
from pathlib import Path

from sphinx.application import Sphinx

DOCS = Path(__file__).resolve().parents[1]
ROOT = DOCS.parent
OUT = DOCS / "generated"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _source(text: str) -> str:
    """Source text with [key] citations linked to the references page."""
    from fields.parameters.references import CITATION

    return CITATION.sub(lambda m: f"[[{m.group(1)}]](references.md#{m.group(1)})", _cell(text))


def _value(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, float):
        return f"{value:.6g}"
    return _cell(value)


def parameter_page() -> str:
    import fields

    p = fields.Parameters()
    lines = [
        "# Parameter table",
        "",
        "Every default of `fields.Parameters()`, generated from the parameter tree when the",
        "documentation is built. Keys are the dotted paths used in Python, TOML files and",
        "`--set`. *Confidence*: **checked** (read in the cited source), **recalled** (from the",
        "literature, not re-read), **assumed** (a modelling choice; the source says why),",
        "**definition** (a name, switch or unit convention). Bracketed keys link to the",
        "[references](references.md).",
        "",
    ]
    group = None
    for key, value, unit, source, confidence in p.sourced_leaves():
        head = (
            ".".join(key.split(".")[:2])
            if key.split(".")[0] in ("sites", "species")
            else key.split(".")[0]
        )
        if head != group:
            group = head
            lines += [
                "",
                f"## `{group}`",
                "",
                "| key | value | unit | source | confidence |",
                "|---|---|---|---|---|",
            ]
        short = key[len(group) + 1 :]
        lines.append(
            f"| `{short}` | {_value(value)} | {_cell(unit)} | {_source(source)} | {confidence} |"
        )
    return "\n".join(lines) + "\n"


def references_page() -> str:
    from fields.parameters.references import bibliography, full_reference

    lines = [
        "# References",
        "",
        "Every paper a default, a docstring or a page cites, generated from",
        "`fields/parameters/data/references.toml`. A source cites an entry by its key in square",
        "brackets, e.g. `[klein2009] Table 1`. The three papers the model comes from are",
        "[sleeman2012](#sleeman2012), [fidler2015](#fidler2015) and [klein2009](#klein2009).",
        "",
    ]
    for key in sorted(bibliography()):
        entry = bibliography()[key]
        note = f" *({entry['note']})*" if entry.get("note") else ""
        lines += [f"## {key}", "", full_reference(key) + note, ""]
    return "\n".join(lines)


def coupling_figure(path: Path) -> None:
    """The causal chain of the model as boxes and arrows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    boxes = {
        "primary": (0.08, 0.80, "primary tumour\nN(t), TVDT"),
        "plasma": (0.08, 0.48, "plasma factors\nVEGF-A, TGF-beta, ..."),
        "blood": (0.08, 0.16, "shed cells\n(dissemination)"),
        "factors": (0.42, 0.48, "tissue factors\n(diffusion, decay)"),
        "oxygen": (0.42, 0.80, "oxygen\n(capillaries)"),
        "hypoxia": (0.70, 0.80, "hypoxia H(O)"),
        "lox": (0.70, 0.56, "LOX"),
        "stiffness": (0.92, 0.56, "ECM stiffness"),
        "niche": (0.70, 0.32, "niche"),
        "dtc": (0.42, 0.16, "solitary DTCs:\ndormant, activated"),
        "lesions": (0.70, 0.08, "lesions\n(size-structured)"),
        "outgrowth": (0.92, 0.08, "detection,\nrelapse, death"),
    }
    arrows = [
        ("primary", "plasma"),
        ("primary", "blood"),
        ("plasma", "factors"),
        ("blood", "dtc"),
        ("oxygen", "hypoxia"),
        ("hypoxia", "lox"),
        ("lox", "stiffness"),
        ("factors", "stiffness"),
        ("factors", "niche"),
        ("hypoxia", "factors"),
        ("niche", "factors"),
        ("niche", "dtc"),
        ("stiffness", "dtc"),
        ("hypoxia", "dtc"),
        ("factors", "dtc"),
        ("dtc", "outgrowth"),
    ]
    fig, ax = plt.subplots(figsize=(9.0, 5.2))
    ax.set_axis_off()
    for x, y, text in boxes.values():
        ax.add_patch(
            FancyBboxPatch(
                (x - 0.075, y - 0.06),
                0.15,
                0.12,
                boxstyle="round,pad=0.01",
                fc="#eef3fb",
                ec="#335",
            )
        )
        ax.text(x, y, text, ha="center", va="center", fontsize=8)
    for a, b in arrows:
        (xa, ya, _), (xb, yb, _) = boxes[a], boxes[b]
        ax.add_patch(
            FancyArrowPatch(
                (xa, ya),
                (xb, yb),
                arrowstyle="-|>",
                mutation_scale=10,
                shrinkA=28,
                shrinkB=28,
                color="#446",
                lw=0.9,
            )
        )
    ax.text(0.08, 0.97, "systemic (root)", ha="center", fontsize=9, weight="bold")
    ax.text(0.70, 0.97, "each organ site (a tissue patch)", ha="center", fontsize=9, weight="bold")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title("fields: the coupling of the model", fontsize=10)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def _write(path: Path, text: str) -> None:
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def generate(app: Sphinx) -> None:
    OUT.mkdir(exist_ok=True)
    _write(OUT / "parameters.md", parameter_page())
    _write(OUT / "references.md", references_page())
    coupling = OUT / "coupling.png"
    if not coupling.exists():
        coupling_figure(coupling)
    studies = OUT / "studies"
    studies.mkdir(exist_ok=True)
    for page in (ROOT / "studies").glob("*.md"):
        _write(studies / page.name, page.read_text(encoding="utf-8"))
    shutil.copytree(ROOT / "studies" / "figures", studies / "figures", dirs_exist_ok=True)
    notebooks = OUT / "notebooks"
    notebooks.mkdir(exist_ok=True)
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        _write(notebooks / nb.name, nb.read_text(encoding="utf-8"))


def setup(app: Sphinx) -> dict:
    app.connect("builder-inited", generate)
    return {"parallel_read_safe": True, "version": "1"}
