"""The report's figures (rewardscope.figures): drawn without pyplot, the VAE's latent figures."""

from rewardscope.workflow import analyze


def test_analyze_with_a_vae_learner_writes_latent_figures(stripes, tmp_path):
    analysis = analyze(
        stripes.image, out=tmp_path / "out", n_trials=2, learners=("rvae",), epochs=5, progress=False
    )
    assert analysis.config.learner == "rvae" and analysis.config.descriptor == "patch"
    assert (tmp_path / "out" / "latents.png").is_file() and (tmp_path / "out" / "traversal.png").is_file()
    assert 'src="latents.png"' in (tmp_path / "out" / "report.html").read_text()


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
