"""examples/learn_and_forget.ipynb: committed without outputs, and executed top to bottom (a
failing cell fails the test). Needs the notebook extra (pip install -e ".[notebook]")."""
import json
import os
import signal

import pytest

NOTEBOOK = os.path.join(os.path.dirname(__file__), "..", "examples", "learn_and_forget.ipynb")


def test_committed_without_outputs():
    nb = json.load(open(NOTEBOOK, encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert len(code) >= 8
    for c in code:
        assert c["outputs"] == [] and c["execution_count"] is None, "".join(c["source"])[:80]


def _kernel_signals():
    # set explicitly: a kernel started from a background job would inherit SIGINT ignored
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL)


def test_runs_top_to_bottom(tmp_path):
    nbformat = pytest.importorskip("nbformat", reason="the notebook extra is not installed")
    nbclient = pytest.importorskip("nbclient", reason="the notebook extra is not installed")
    pytest.importorskip("ipykernel", reason="the notebook extra is not installed")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    # the notebook writes under tempfile's directory: here, this test's own
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    client.execute(cwd=str(tmp_path), env=env,
                   preexec_fn=_kernel_signals)   # raises on a failing cell
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    html = "".join(o.get("data", {}).get("text/html", "") for o in outputs)
    # songs, rounds, temperatures, the study, its trajectory (3 stages x 3 points x 3 temperatures)
    assert html.count("data:audio/wav;base64") >= 4 + 4 + 4 + 9 + 27
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 5
    text = "".join(o.get("text", "") for o in outputs)
    assert "cumulative: accuracy after each stage" in text and "sequential: accuracy" in text
    assert "longest run" in text and "fragment share" in text          # every render's verdict
    assert any(p.startswith("learn-and-forget-") for p in os.listdir(tmp_path))   # wrote only there
