"""The model as data (riskmodel/artifact.py): round trip, and no load path runs stored code."""

import hashlib
import io
import json
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from commands.main import main
from riskmodel import ArtifactError, Registry, artifact, load_model


def test_a_model_round_trips_exactly_and_gives_the_same_bytes_twice(trained, plans):
    from riskmodel import validate_campaigns

    _, result = trained
    model = result.model
    files = artifact.dump(model)
    assert files == artifact.dump(model)  # reproducible: no time stamp in the zip
    again = artifact.load(files)
    batch = validate_campaigns(plans).batch
    assert np.array_equal(again.predict_proba(batch), model.predict_proba(batch))
    assert np.array_equal(again.compiled_.raw(again._inputs(batch)),
                          model.compiled_.raw(model._inputs(batch)))
    assert again.factors == model.factors and again.interactions == model.interactions
    assert again.calibration_ == model.calibration_ and again.bands_ == model.bands_
    assert again.solver_ is None  # the fitting tool is not part of the model's data


def test_bad_model_files_are_refused_with_what_is_wrong(trained):
    _, result = trained
    files = artifact.dump(result.model)
    doc = json.loads(files["model.json"])
    cases = {
        "is missing": {"model.json": files["model.json"]},
        "not valid JSON": dict(files, **{"model.json": b"{"}),
        "format 7; this riskmodel reads format 2": dict(
            files, **{"model.json": json.dumps(dict(doc, format=7)).encode()}),
        "names class 'Pipeline'": dict(
            files, **{"model.json": json.dumps(dict(doc, **{"class": "Pipeline"})).encode()}),
        "cannot be read as numeric arrays": dict(files, **{"model.npz": b"PK not a zip"}),
    }
    for message, broken in cases.items():
        with pytest.raises(ArtifactError, match=message):
            artifact.load(broken)


# ---------------------------------------------------------------- code in a version folder

class _RunsCode:
    """Unpickling this runs a shell command that leaves a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _evil_versions(root: Path, marker: Path) -> list[str]:
    """Two versions whose checksums are all correct and whose loading would run code: the
    old format's model.joblib, and the data format with a pickled object array in
    model.npz; plus CURRENT naming the first."""
    good = Path(__file__).resolve().parents[1] / "artifacts"
    shutil.copytree(good, root)
    shipped = (good / "CURRENT").read_text().strip()
    payload = pickle.dumps(_RunsCode(marker))
    pickle.loads  # noqa: B018  (never called on payload here: it would run the command)

    legacy = "v20000101-000000-pickle01"
    folder = root / "models" / legacy
    folder.mkdir()
    (folder / "model.joblib").write_bytes(payload)
    manifest = json.loads((good / "models" / shipped / "manifest.json").read_text())
    manifest.update(format=1, version=legacy,
                    files={"model.joblib": hashlib.sha256(payload).hexdigest()})
    (folder / "manifest.json").write_text(json.dumps(manifest))

    data = "v20000101-000000-npzobj01"
    folder = root / "models" / data
    shutil.copytree(root / "models" / shipped, folder)
    buffer = io.BytesIO()
    np.savez(buffer, coef_=np.array([_RunsCode(marker)], dtype=object), allow_pickle=True)
    (folder / "model.npz").write_bytes(buffer.getvalue())
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["version"] = data
    manifest["files"]["model.npz"] = hashlib.sha256(buffer.getvalue()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (root / "CURRENT").write_text(legacy + "\n")
    return [legacy, data]


def test_no_load_path_runs_code_stored_in_a_version(tmp_path, runner, plans_csv):
    """Every way a version is loaded: the Python API, the registry (load, verify, promote),
    the service (at start and on a swap), the command line (score, promote, show). The
    marker file the pickles would create never appears."""
    from service import create_app

    root, marker = tmp_path / "art", tmp_path / "ran-code"
    versions = _evil_versions(root, marker)
    reg = Registry(root)
    args = ["--artifacts", str(root)]
    for version in versions:
        for attempt in (lambda v: load_model(v, root=root), reg.load, reg.verify,
                        lambda v: reg.promote(v, by="test", reason="test")):
            with pytest.raises(ArtifactError):
                attempt(version)
        for command in (["score", "--in", str(plans_csv), "--out", str(tmp_path / "o.csv"),
                         "--model", version],
                        ["models", "promote", version], ["models", "show", version]):
            result = runner.invoke(main, [*command, *args])
            assert result.exit_code == 1, result.output
            assert version in result.output
            assert "old pickle format" in result.output or "Object arrays" in result.output

    # the service: CURRENT names the pickle at start; then each version on a swap
    client = create_app({"artifacts": str(root), "reload_interval": 3600.0}).test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert "old pickle format" in ready.get_json()["reason"]
    holder = client.application.extensions["riskmodel.holder"]
    shipped = (Path(__file__).resolve().parents[1] / "artifacts" / "CURRENT").read_text()
    (root / "CURRENT").write_text(shipped)
    holder.check(force=True)
    assert client.get("/readyz").status_code == 200
    (root / "CURRENT").write_text(versions[1] + "\n")  # a swap to the other one
    holder.check(force=True)
    body = client.get("/readyz").get_json()
    assert body["model_version"] == shipped.strip()  # the old version keeps serving
    assert body["last_refused"]["version"] == versions[1]
    assert not marker.exists()
    # the test can fail: unpickling the payload does leave the marker
    pickle.loads(pickle.dumps(_RunsCode(marker)))
    assert marker.exists()
