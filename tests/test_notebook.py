"""The example notebook (examples/quickstart.ipynb) runs in a real Jupyter kernel (nbclient)."""

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).parents[1] / "examples" / "quickstart.ipynb"


def outputs(cell, kind):
    return [o for o in cell.outputs if kind in o.get("data", {})]


def test_the_example_notebook_runs_and_keeps_the_users_own_figures(tmp_path):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    ).execute()
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert not [o for cell in code for o in cell.outputs if o.output_type == "error"]
    by_source = {cell.source.strip().splitlines()[0]: cell for cell in code}
    summary = outputs(by_source["analysis"], "text/html")
    assert summary and "<img" in summary[0]["data"]["text/html"]  # the class map inlined
    assert outputs(by_source["analysis.plot.classes()"], "image/png")
    assert outputs(by_source["fig, ax = plt.subplots(figsize=(4, 3))"], "image/png")  # the user's own figure
    # No warning from the progress bar (ipywidgets may be absent): nothing on stderr but the log lines.
    streams = [o for cell in code for o in cell.outputs if o.output_type == "stream" and o.name == "stderr"]
    assert not any("IProgress not found" in o.text or "TqdmWarning" in o.text for o in streams)
    ari = by_source["from rewardscope.metrics import result_accuracy"].outputs[0]["data"]["text/plain"]
    assert float(ari) >= 0.9
