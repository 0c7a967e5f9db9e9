"""The report's interactive views (rewardscope.interactive): Plotly figures, plotly.js inlined once."""

import numpy as np

from rewardscope import interactive
from rewardscope.workflow import analyze


def test_the_views_inline_plotly_once_and_say_p_in_pm(stripes, tmp_path):
    analysis = analyze(
        stripes.image, out=tmp_path / "out", n_trials=2, descriptors=("polarization",), progress=False
    )
    html = interactive.views_html(analysis)
    assert html.count('<div id="view-') == 3
    assert html.count("plotly.js v") == 1  # the library once, for the three views
    page = (tmp_path / "out" / "report.html").read_text()
    assert "Interactive views" in page and 'id="view-0"' in page and "<script src=" not in page  # offline
    view = interactive.classes_view(analysis)
    texts = [t for trace in view.data[2:] for t in trace.text]
    assert len(texts) == int(np.sum(analysis.result.labels >= 0))  # every classified cell answers a hover
    assert all(" pm" in t and "class " in t for t in texts)
    arrows = interactive.polarization_view(analysis).data[1]
    p = analysis.result.lattice.polarization
    measured = (analysis.result.columns.sublattice == "B") & np.all(np.isfinite(p), axis=1)
    first = p[measured][0]
    assert arrows.marker.angle[0] == np.degrees(np.arctan2(first[0], -first[1]))  # clockwise from up, y down
