"""The report's figures (rewardscope.figures): drawn without pyplot, the VAE's latent figures, one colour
wheel, arrows with shafts, scale bars, legends, number words."""

import numpy as np
import pytest

from rewardscope import figures
from rewardscope.workflow import analyze


@pytest.fixture(scope="module")
def analysis(request):
    stripes = request.getfixturevalue("stripes")
    return analyze(stripes.image, n_trials=3, descriptors=("polarization",), progress=False)


def test_analyze_with_a_vae_learner_writes_latent_figures(stripes, tmp_path):
    analysis = analyze(
        stripes.image,
        out=tmp_path / "out",
        n_trials=2,
        learners=("rvae",),
        descriptors=("patch",),
        epochs=5,
        progress=False,
    )
    assert analysis.config.learner == "rvae" and analysis.config.descriptor == "patch"
    assert (tmp_path / "out" / "latents.png").is_file() and (tmp_path / "out" / "traversal.png").is_file()
    assert 'src="latents.png"' in (tmp_path / "out" / "report.html").read_text()
    # Latents on a grid of readable panels (not a strip), their cell grids with j downward like every map.
    latents = figures.latents_figure(analysis)
    width, height = latents.get_size_inches()
    assert width / height < 4
    grid_axes = [ax for ax in latents.axes if ax.get_ylabel() == "j"]
    assert grid_axes and all(ax.yaxis_inverted() for ax in grid_axes)
    # The traversal's patches stand apart, each tick a latent value.
    ax = figures.traversal_figure(analysis.model).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()][0] == "-2.0"
    assert np.ma.getmaskarray(ax.images[0].get_array()).any()  # the gaps between the patches


def test_writing_a_report_leaves_matplotlib_as_the_user_set_it(stripes, tmp_path):
    """A notebook's backend and its pyplot figures are the user's: the report draws on Figures of its own."""
    import matplotlib
    import matplotlib.pyplot as plt

    backend = matplotlib.get_backend()
    matplotlib.use("svg")
    try:
        plt.figure()  # the user's own figure
        before = plt.get_fignums()
        analyze(stripes.image, out=tmp_path / "out", n_trials=2, progress=False)
        assert matplotlib.get_backend() == "svg"
        assert plt.get_fignums() == before
        assert (tmp_path / "out" / "classes.png").stat().st_size > 0
    finally:
        plt.close("all")
        matplotlib.use(backend)


def test_one_colour_wheel_gives_every_figure_its_direction_colours(analysis):
    p = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
    wheel = figures.direction_colours(p)
    # The cell maps' hue is the wheel's, darkened with |P| only.
    maps = figures.polarization_colours(p * 2.0)
    np.testing.assert_allclose(maps / maps.max(axis=1, keepdims=True), wheel, atol=1e-9)
    fig = figures.polarization_figure(analysis)
    quiver = next(c for c in fig.axes[0].collections if hasattr(c, "U"))
    b = (analysis.result.columns.sublattice == "B") & np.all(
        np.isfinite(analysis.result.lattice.polarization), 1
    )
    expected = figures.direction_colours(analysis.result.lattice.polarization[b])
    np.testing.assert_allclose(quiver.get_facecolors()[:, :3], expected, atol=1e-6)

    def wheels(fig):  # the wheel is drawn as the legend, in an inset of the map
        return [inset for ax in fig.axes for inset in ax.child_axes if inset.get_title() == "P direction"]

    assert wheels(fig) and wheels(figures.cell_maps_figure(analysis))


def test_arrows_have_shafts_and_a_reference_in_pm(analysis):
    fig = figures.polarization_figure(analysis)
    quiver = next(c for c in fig.axes[0].collections if hasattr(c, "U"))
    lengths = np.hypot(quiver.U, quiver.V)
    head = quiver.headlength * quiver.width  # the head's length in data units (units="xy")
    assert np.median(lengths) > 2 * head  # a shaft longer than the head: not a wedge
    (key,) = [c for c in fig.axes[0].get_children() if type(c).__name__ == "QuiverKey"]
    assert key.text.get_text().endswith(" pm") and key.U == pytest.approx(np.percentile(lengths, 90))


def test_images_have_a_scale_bar_in_nm_and_class_maps_a_legend(analysis):
    assert analysis.image.pixel_size == 25.0
    for fig in (figures.polarization_figure(analysis), figures.classes_figure(analysis)):
        assert any(t.get_text().endswith(" nm") for ax in fig.axes for t in ax.texts)
    data = analysis.image.data
    uncalibrated = figures.columns_figure(data, analysis.result.columns, None)
    assert not any(t.get_text().endswith(" nm") for t in uncalibrated.axes[0].texts)
    for fig in (figures.classes_figure(analysis), figures.walls_figure(analysis)):
        labels = [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]
        assert labels and all(name["name"][:20] in " ".join(labels) for name in analysis.classes)
    n = analysis.result.walls.n_segments
    title = figures.walls_figure(analysis).axes[0].get_title()
    assert title.startswith(f"{n} wall segment{'s' if n != 1 else ''};")
    assert "pm" in " ".join(ax.get_title() for ax in figures.cell_maps_figure(analysis).axes)
