"""The report (rewardscope.report): atoms.csv, summary.json, report.html and the notebook view."""

import json

from rewardscope.workflow import analyze


def test_analyze_writes_the_output_contract(stripes, tmp_path):
    out = tmp_path / "result"
    analysis = analyze(stripes.image, out=out, n_trials=5, seed=2, progress=False)
    assert not (tmp_path / "result.partial").exists()
    lines = (out / "atoms.csv").read_text().splitlines()
    assert lines[0].startswith("x,y,sublattice,i,j,label,px,py")
    assert len(lines) == len(analysis.result.columns) + 1
    rows = [line.split(",") for line in lines[1:]]
    assert all(len(r) == len(lines[0].split(",")) for r in rows)
    assert {r[2] for r in rows} == {"A", "B"}
    assert all(r[5] == "-1" and float(r[6]) == 0 for r in rows if r[2] == "A")
    summary = json.loads((out / "summary.json").read_text())
    for key in ("config", "reward", "components", "trials", "timings_s", "versions", "seed"):
        assert key in summary
    assert len(summary["trials"]) == 5
    assert {c["name"] for c in summary["classes"]} == {"polar, P along +a+b", "polar, P along -a+b"}
    assert summary["seed"] == 2
    html = (out / "report.html").read_text()
    for figure in (
        "columns.png",
        "classes.png",
        "walls.png",
        "polarization.png",
        "explained.png",
        "cell_maps.png",
        "trials.png",
        "landscape.png",
    ):
        assert figure in html
        assert (out / figure).stat().st_size > 1000


def test_an_analysis_shows_itself_in_jupyter(stripes):
    analysis = analyze(stripes.image, n_trials=4, progress=False)
    page = analysis._repr_html_()
    assert page.startswith("<div>") and "data:image/png;base64," in page
    assert analysis.phases["statement"] in page
    for entry in analysis.classes:
        assert entry["name"] in page
    assert f"{analysis.config.n_classes} classes" in page


def test_the_trials_table_shows_every_searched_setting(stripes, tmp_path):
    analysis = analyze(
        stripes.image,
        out=tmp_path / "out",
        n_trials=6,
        progress=False,
        descriptors=("patch", "polarization"),
        poolings=(0, 1),
        smoothings=(0.0, 1.0),
    )
    page = (tmp_path / "out" / "report.html").read_text()
    assert "<th>pooling (cells)</th>" in page and "<th>Potts strength</th>" in page
    polar = [t for t in analysis.trials if t["params"].get("descriptor") == "polarization"]
    assert polar and "<td>polarization</td><td>&mdash;</td>" in page  # no window without patches
