"""The report's interactive views: Plotly figures written into report.html, plotly.js inlined once.

The page stays one file that works offline, without a server. Three views:

* the image with its columns and classes: zoom, pan, and hover a B column for its cell, class, P in pm
  (px where the image is not calibrated), ``|P|`` and the fit's uncertainty;
* the polarization field: an arrow per cell pointing along P, coloured on the colour wheel of every
  figure (``figures.direction_colours``), its length growing with ``|P|``;
* the trials: the reward of every trial against its number, hover for its setting and why it scored 0.
"""

from __future__ import annotations

import base64
import io

import numpy as np

from .figures import class_colours, direction_colours
from .text import counted

VIEW_SIDE_PX = 640  # the views' height on the page; the image is shown at most this many pixels across


def _image_source(data: np.ndarray) -> str:
    """The image as a PNG data URI (grey, 1st to 99.5th percentile): compact, unlike a heatmap's numbers."""
    from matplotlib.image import imsave

    low, high = np.percentile(data, [1, 99.5])
    buffer = io.BytesIO()
    imsave(buffer, np.clip((data - low) / max(high - low, 1e-12), 0, 1), cmap="gray", format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _image_layout(fig, shape: tuple[int, int], title: str) -> None:
    """Axes in image pixels, y downward, one px as wide as high, the whole frame in view."""
    rows, cols = shape
    fig.update_xaxes(range=[-0.5, cols - 0.5], showgrid=False, zeroline=False, title="x (px)")
    fig.update_yaxes(
        range=[rows - 0.5, -0.5], showgrid=False, zeroline=False, scaleanchor="x", title="y (px)"
    )
    fig.update_layout(
        title=title, height=VIEW_SIDE_PX, margin={"l": 50, "r": 10, "t": 40, "b": 40}, legend={"x": 1.01}
    )


def _p_text(p: np.ndarray, pixel_size: float | None) -> list[str]:
    """Each P in pm (px where uncalibrated), with its magnitude."""
    scale, unit = (pixel_size, "pm") if pixel_size else (1.0, "px")
    return [
        f"P ({x * scale:.1f}, {y * scale:.1f}) {unit}, |P| {np.hypot(x, y) * scale:.1f} {unit}"
        if np.isfinite(x) and np.isfinite(y)
        else "P not measured"
        for x, y in p
    ]


def classes_view(analysis):
    """The image with its columns, the B columns coloured by class; hover one for its cell's figures.

    Parameters
    ----------
    analysis : rewardscope.workflow.Analysis
        The analysis shown.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    import plotly.graph_objects as go

    result, image = analysis.result, analysis.image
    columns, lattice = result.columns, result.lattice
    fig = go.Figure(go.Image(source=_image_source(image.data), x0=0, y0=0, dx=1, dy=1, hoverinfo="skip"))
    a = columns.sublattice == "A"
    fig.add_trace(
        go.Scatter(
            x=columns.xy[a, 0],
            y=columns.xy[a, 1],
            mode="markers",
            name=f"A columns ({int(a.sum())})",
            marker={"size": 4, "color": "rgba(255,165,0,0.6)"},
            hoverinfo="skip",
        )
    )
    p_text = _p_text(lattice.polarization, image.pixel_size)
    colours = class_colours(max(result.config.n_classes, 1))
    for entry in analysis.classes:
        rows = np.flatnonzero(result.labels == entry["label"])
        text = [
            f"cell ({lattice.ij[r, 0]}, {lattice.ij[r, 1]})<br>class {entry['label']}: {entry['name']}<br>"
            f"{p_text[r]}<br>fit uncertainty {columns.uncertainty[r]:.3f} px"
            for r in rows
        ]
        rgb = ",".join(str(int(255 * v)) for v in colours[entry["label"]][:3])
        fig.add_trace(
            go.Scatter(
                x=columns.xy[rows, 0],
                y=columns.xy[rows, 1],
                mode="markers",
                text=text,
                hovertemplate="%{text}<extra></extra>",
                marker={"size": 7, "color": f"rgb({rgb})"},
                name=f"{entry['label']}: {entry['name'][:40]} ({counted(len(rows), 'cell')})",
            )
        )
    _image_layout(fig, image.shape, "columns and classes (hover a B column)")
    return fig


def polarization_view(analysis):
    """An arrow per measured B column along P, coloured on the figures' colour wheel; hover for P.

    Parameters
    ----------
    analysis : rewardscope.workflow.Analysis
        The analysis shown.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    import plotly.graph_objects as go

    result, image = analysis.result, analysis.image
    p = result.lattice.polarization
    rows = np.flatnonzero((result.columns.sublattice == "B") & np.all(np.isfinite(p), axis=1))
    p, xy = p[rows], result.columns.xy[rows]
    magnitude = np.hypot(*p.T) if len(p) else np.zeros(0)
    top = max(float(np.percentile(magnitude, 98)), 1e-12) if len(p) else 1.0
    rgb = [f"rgb({r:.0f},{g:.0f},{b:.0f})" for r, g, b in 255 * direction_colours(p)]
    fig = go.Figure(go.Image(source=_image_source(image.data), x0=0, y0=0, dx=1, dy=1, hoverinfo="skip"))
    fig.add_trace(
        go.Scatter(
            x=xy[:, 0],
            y=xy[:, 1],
            mode="markers",
            text=_p_text(p, image.pixel_size),
            hovertemplate="%{text}<extra></extra>",
            name="P (arrow length grows with |P|)",
            marker={
                "symbol": "arrow",
                "color": rgb,
                "size": 6 + 12 * np.clip(magnitude / top, 0, 1),
                # Plotly turns a marker clockwise from up; on this y-down page P (x, y) points atan2(x, -y).
                "angle": np.degrees(np.arctan2(p[:, 0], -p[:, 1])) if len(p) else [],
                "line": {"width": 0},
            },
        )
    )
    _image_layout(fig, image.shape, "polarization field (colour: direction on the figures' colour wheel)")
    return fig


def trials_view(analysis):
    """The reward of every trial against its number, the best so far; hover for the setting.

    Parameters
    ----------
    analysis : rewardscope.workflow.Analysis
        The analysis shown.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    import plotly.graph_objects as go

    trials = analysis.trials
    numbers = [t["number"] for t in trials]
    rewards = [t["reward"] for t in trials]
    text = [
        "<br>".join(f"{k} {v}" for k, v in t["params"].items())
        + (f"<br>scored 0: {t['refused']}" if t.get("refused") else "")
        for t in trials
    ]
    fig = go.Figure(
        go.Scatter(
            x=numbers,
            y=rewards,
            mode="markers",
            name="trial",
            text=text,
            hovertemplate="trial %{x}: reward %{y:.3f}<br>%{text}<extra></extra>",
        )
    )
    fig.add_trace(go.Scatter(x=numbers, y=np.maximum.accumulate(rewards), mode="lines", name="best so far"))
    fig.update_layout(
        title="trials (hover one for its setting)",
        xaxis_title="trial",
        yaxis_title="combined reward",
        height=380,
        margin={"l": 50, "r": 10, "t": 40, "b": 40},
    )
    return fig


def views_html(analysis) -> str:
    """The interactive views as one HTML fragment: plotly.js inlined with the first, a div for each.

    Parameters
    ----------
    analysis : rewardscope.workflow.Analysis
        The analysis shown.

    Returns
    -------
    str
        HTML for the report's page (about 5 MB: plotly.js is inlined, so the page works offline).
    """
    views = (classes_view(analysis), polarization_view(analysis), trials_view(analysis))
    return "\n".join(
        view.to_html(full_html=False, include_plotlyjs="inline" if n == 0 else False, div_id=f"view-{n}")
        for n, view in enumerate(views)
    )
