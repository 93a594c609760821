"""Chapter 2: how height and channels change through ResNet's stem and stages."""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure

from backbones_tutorial.checks import check_choice
from backbones_tutorial.models.resnet import STAGES
from backbones_tutorial.shapes.claims import CLAIMS
from backbones_tutorial.shapes.measure import check_claim, find_claim

__all__ = ["FLOW_STAGES", "plot_stage_flow"]

FLOW_STAGES: tuple[str, ...] = ("conv1", "maxpool", *STAGES)  # the stem's two subsampling layers, then the stages


def plot_stage_flow(
    model_names: list[str] | str, input_shape: tuple[int, int, int] = (3, 224, 224)
) -> Figure:
    """Height and channel count after the stem and each stage, one line per network.

    The numbers come from the claims record and each claim is measured first
    (``measure_claims.check_claim``), so the figure cannot show a shape the model does not
    produce. The first point is the input itself; both y axes are log2, so each halving is one
    step. The figure is not registered with pyplot: leave it as a cell's last value to show it.
    """
    names = [model_names] if isinstance(model_names, str) else list(model_names)
    if not names:
        raise ValueError("model_names is empty; give one network name, e.g. 'resnet34', or a list of them")
    networks = sorted({c.model for c in CLAIMS if set(FLOW_STAGES) <= {s.name for s in c.stages}})
    for name in names:  # validate every name before building any model
        check_choice(name, networks, "network for plot_stage_flow")
    claims = [find_claim(name, input_shape) for name in names]
    for claim in claims:
        check_claim(claim)

    labels = ["input", *FLOW_STAGES]
    fig = Figure(figsize=(10, 4), layout="constrained")
    ax_h, ax_c = fig.subplots(1, 2)
    markers = "osD^v<>"
    for i, claim in enumerate(claims):
        shapes = [claim.input_shape] + [next(s.shape for s in claim.stages if s.name == n) for n in FLOW_STAGES]
        style: dict[str, Any] = dict(marker=markers[i % len(markers)], linestyle=("-", "--", ":")[i % 3],
                                     label=claim.model)
        ax_h.plot(labels, [shape[1] for shape in shapes], **style)  # H of (C, H, W)
        ax_c.plot(labels, [shape[0] for shape in shapes], **style)  # C of (C, H, W)

    for ax, title in ((ax_h, "spatial size H"), (ax_c, "channels C")):
        values = sorted({int(v) for line in ax.lines for v in line.get_ydata()})
        ax.set_yscale("log", base=2)
        ax.set_yticks(values, [str(v) for v in values])
        ax.minorticks_off()
        ax.set_title(title)
        ax.set_xlabel("output of")
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.suptitle(f"Stage flow for one input of {' x '.join(map(str, input_shape))} (checked with torchinfo)")
    return fig
