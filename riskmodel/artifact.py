"""The model as data: JSON and numpy arrays, never a pickle.

A model is written as two files:

- ``model.json``: the format version, the model's class name, and its declared JSON state
  (settings, calibration, bands, the factors and every term's description);
- ``model.npz``: its declared arrays (coefficients, knots, value tables...), read with
  ``allow_pickle=False``, so an object array is refused rather than run.

What is saved is what the class declares: ``STATE_ARRAYS`` (numpy arrays), ``STATE_JSON``
(JSON values; lists are read back as tuples) and ``STATE_RECORDS`` (a name -> a dataclass,
for a list of records each saved the same way; a record class without declarations saves
every field as JSON). Loading builds the objects from these values alone and the model
compiles its scoring tables from them, so nothing on a load path runs stored code and no
library release decides whether a version loads: :data:`FORMAT` does.

>>> files = dump(model)                      # doctest: +SKIP
>>> sorted(files)                            # doctest: +SKIP
['model.json', 'model.npz']
>>> load(files).predict_proba(batch)         # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import io
import json
import zipfile
from typing import Any

import numpy as np

from riskmodel.errors import ArtifactError

FORMAT = 2  # 1: a joblib pickle (model.joblib), no longer loaded; 2: this data format
MODEL_JSON = "model.json"
MODEL_ARRAYS = "model.npz"
MODEL_FILES = (MODEL_JSON, MODEL_ARRAYS)


def _classes() -> dict[str, type]:
    """The model classes a file may name (imported when a model is loaded or saved)."""
    from riskmodel.model import AdditiveRiskModel

    return {"AdditiveRiskModel": AdditiveRiskModel}


def dump(model: object) -> dict[str, bytes]:
    """The model's files, ``{name: bytes}``: the same model gives the same bytes."""
    kind = type(model).__name__
    if _classes().get(kind) is not type(model):
        raise ArtifactError(f"cannot save a {kind}: the model format holds "
                            f"{', '.join(_classes())}")
    arrays: dict[str, np.ndarray] = {}
    state = _encode(model, "", arrays)
    doc = {"format": FORMAT, "class": kind, "state": state}
    text = json.dumps(doc, indent=1, sort_keys=True, allow_nan=False) + "\n"
    return {MODEL_JSON: text.encode(), MODEL_ARRAYS: _npz(arrays)}


def load(files: dict[str, bytes]) -> Any:
    """The model from its files' bytes (as :func:`dump` gave them); :class:`ArtifactError`
    names what is missing, malformed or of another format."""
    missing = [name for name in MODEL_FILES if name not in files]
    if missing:
        raise ArtifactError(f"the model's {' and '.join(missing)} "
                            f"{'is' if len(missing) == 1 else 'are'} missing")
    try:
        doc = json.loads(files[MODEL_JSON])
    except (ValueError, UnicodeDecodeError) as e:
        raise ArtifactError(f"{MODEL_JSON} is not valid JSON: {e}") from None
    if not isinstance(doc, dict):
        raise ArtifactError(f"{MODEL_JSON} must hold a JSON object; got {type(doc).__name__}")
    fmt = doc.get("format")
    if fmt != FORMAT:
        raise ArtifactError(f"{MODEL_JSON} is in model format {fmt!r}; this riskmodel reads "
                            f"format {FORMAT}: score it with the riskmodel release that wrote "
                            "it, or retrain")
    cls = _classes().get(doc.get("class"))  # type: ignore[arg-type]
    if cls is None:
        raise ArtifactError(f"{MODEL_JSON} names class {doc.get('class')!r}; expected one of "
                            f"{', '.join(_classes())}")
    arrays = _read_npz(files[MODEL_ARRAYS])
    try:
        return _decode(cls, doc.get("state"), "", arrays)
    except (TypeError, ValueError, KeyError) as e:
        raise ArtifactError(f"the model's files do not describe a {cls.__name__}: {e}") \
            from None


# ---------------------------------------------------------------------- the state as data

def _encode(obj: object, prefix: str, arrays: dict[str, np.ndarray]) -> dict:
    cls = type(obj)
    out: dict[str, Any] = {}
    for name in getattr(cls, "STATE_ARRAYS", ()):
        value = getattr(obj, name)
        if value is not None:  # an absent array is read back as None
            arrays[prefix + name] = np.asarray(value)
    for name in _json_fields(cls):
        out[name] = _jsonable(getattr(obj, name), f"{cls.__name__}.{name}")
    for name in getattr(cls, "STATE_RECORDS", {}):
        out[name] = [_encode(item, f"{prefix}{name}.{i}.", arrays)
                     for i, item in enumerate(getattr(obj, name))]
    return out


def _decode(cls: type, state: object, prefix: str, arrays: dict[str, np.ndarray]) -> Any:
    if not isinstance(state, dict):
        raise ValueError(f"the state of a {cls.__name__} must be a JSON object; got "
                         f"{type(state).__name__}")
    kwargs: dict[str, Any] = {}
    for name in getattr(cls, "STATE_ARRAYS", ()):
        if prefix + name in arrays:  # absent: the field's default
            kwargs[name] = arrays[prefix + name]
    for name in _json_fields(cls):
        if name in state:  # absent: the field's default (a field added since)
            kwargs[name] = _tuples(state[name])
    for name, record in getattr(cls, "STATE_RECORDS", {}).items():
        items = state.get(name, [])
        if not isinstance(items, list):
            raise ValueError(f"{cls.__name__}.{name} must be a list")
        kwargs[name] = [_decode(record, item, f"{prefix}{name}.{i}.", arrays)
                        for i, item in enumerate(items)]
        if isinstance(getattr(cls, name, None), tuple):  # a tuple by default: a tuple
            kwargs[name] = tuple(kwargs[name])
    return cls(**kwargs)


def _json_fields(cls: type) -> tuple[str, ...]:
    if hasattr(cls, "STATE_JSON"):
        return tuple(cls.STATE_JSON)
    return tuple(f.name for f in dataclasses.fields(cls))


def _jsonable(value: object, where: str) -> object:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float | np.floating):
        return float(value)
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, where) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v, where) for k, v in value.items()}
    raise ArtifactError(f"{where} is a {type(value).__name__}, not a JSON value: declare it "
                        "under STATE_ARRAYS or STATE_RECORDS")


def _tuples(value: object) -> object:
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    return value


# ---------------------------------------------------------------------- arrays

def _npz(arrays: dict[str, np.ndarray]) -> bytes:
    """An ``.npz`` of the arrays, byte for byte the same for the same arrays (numpy's own
    ``savez`` stamps the time into the zip)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as z:
        for key in sorted(arrays):
            arr = arrays[key]
            if arr.dtype.hasobject:
                raise ArtifactError(f"array {key} holds Python objects; the model format "
                                    "holds numbers only")
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with z.open(info, "w") as f:
                np.lib.format.write_array(f, arr, allow_pickle=False)
    return buffer.getvalue()


def _read_npz(data: bytes) -> dict[str, np.ndarray]:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:
        # numpy refuses an object array here ("Object arrays cannot be loaded when
        # allow_pickle=False"): nothing stored runs
        raise ArtifactError(f"{MODEL_ARRAYS} cannot be read as numeric arrays: {e}") \
            from None
