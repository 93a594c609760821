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

from .bench_plot import plot_bench, plot_blocks
from .feature_grid import feature_grid
from .fpn_diagram import draw_fpn
from .residual_block import draw_residual_block
from .segmentation import plot_freezing, plot_history, plot_samples
from .stage_flow import FLOW_STAGES, plot_stage_flow
from .trainable import plot_trainable

__all__ = ["FLOW_STAGES", "draw_fpn", "draw_residual_block", "feature_grid", "plot_bench", "plot_blocks",
           "plot_stage_flow", "plot_trainable", "plot_freezing", "plot_history", "plot_samples"]
