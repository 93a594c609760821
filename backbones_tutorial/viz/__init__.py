"""Figures the chapters draw from the models, with matplotlib: one module per figure.

=========  ======================  ======================
chapter    module                  figure
=========  ======================  ======================
1          ``residual_block.py``   ``draw_residual_block``
2          ``stage_flow.py``       ``plot_stage_flow`` (and ``FLOW_STAGES``)
3          ``feature_grid.py``     ``feature_grid``
4          ``fpn_diagram.py``      ``draw_fpn``
5          ``trainable.py``        ``plot_trainable``
6          ``bench_plot.py``       ``plot_bench``
6          ``bench_plot.py``       ``plot_blocks``
8          ``segmentation.py``     ``plot_samples``, ``plot_history``, ``plot_freezing``
=========  ======================  ======================

``_drawing.py`` holds what the diagrams share (canvas, palette, boxes, arrows). Every function
returns the matplotlib Figure it drew, not registered with pyplot, so a chapter can show it and a
test can inspect it; none of them calls ``plt.show()``.
"""

from __future__ import annotations

from backbones_tutorial.viz.bench_plot import plot_bench, plot_blocks
from backbones_tutorial.viz.feature_grid import feature_grid
from backbones_tutorial.viz.fpn_diagram import draw_fpn
from backbones_tutorial.viz.residual_block import draw_residual_block
from backbones_tutorial.viz.segmentation import plot_freezing, plot_history, plot_samples
from backbones_tutorial.viz.stage_flow import FLOW_STAGES, plot_stage_flow
from backbones_tutorial.viz.trainable import plot_trainable

__all__ = ["FLOW_STAGES", "draw_fpn", "draw_residual_block", "feature_grid", "plot_bench", "plot_blocks",
           "plot_stage_flow", "plot_trainable", "plot_freezing", "plot_history", "plot_samples"]
