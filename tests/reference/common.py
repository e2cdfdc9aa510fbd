"""What the make_torch_*.py generators share: the reference files' JSON layout, the run that builds and writes them, the
PyTorch module of a cell, and the closeness check of numpy's numbers against PyTorch's.

{generator, torch, dtype, cases}, one case per line (compact but diff-friendly); json writes repr(float), the shortest
round-trip representation, and refuses NaN. write_reference returns the file as read back, checked to be an exact round
trip; generate builds the cases first and says what it wrote; finish checks the file's size. Importing it fixes torch's
settings for reproducible bits: float64 by default, one thread (a fixed reduction order), deterministic algorithms.
"""
import json
import os

import numpy as np
import torch

torch.set_default_dtype(torch.float64)
torch.set_num_threads(1)  # fixed reduction order -> reproducible bits
torch.use_deterministic_algorithms(True)


def write_reference(path, doc):
    dump = lambda o: json.dumps(o, allow_nan=False, separators=(",", ":"))
    parts = ['{"generator":' + dump(doc["generator"]),
             '"torch":' + dump(doc["torch"]),
             '"dtype":' + dump(doc["dtype"]),
             '"cases":[\n' + ",\n".join(dump(c) for c in doc["cases"]) + "\n]}"]
    with open(path, "w") as fh:
        fh.write(",\n".join(parts) + "\n")
    with open(path) as fh:
        loaded = json.load(fh)
    assert loaded == json.loads(json.dumps(doc))  # exact round trip
    assert list(loaded) == ["generator", "torch", "dtype", "cases"]
    return loaded


def generate(path, generator, specs, build_case, dtype="float64"):
    """Builds a case per spec (build_case(index, spec) -> (case, stats); a spec's first item is its name), writes them
    (write_reference) and prints the versions and the file written. Returns the file as read back and the stats by name."""
    cases, stats = [], {}
    for i, spec in enumerate(specs):
        case, stats[spec[0]] = build_case(i, spec)
        cases.append(case)
    loaded = write_reference(path, {"generator": generator, "torch": torch.__version__, "dtype": dtype, "cases": cases})
    assert [c["name"] for c in loaded["cases"]] == [spec[0] for spec in specs]
    print(f"torch {torch.__version__}, numpy {np.__version__}")
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")
    return loaded, stats


def finish(path, max_bytes=2 * 1024 * 1024):
    """The last check of every generator: the file stays small enough to commit."""
    size = os.path.getsize(path)
    assert size < max_bytes, size
    print("all checks passed")


def make_module(cell, D, H, layers):
    """PyTorch's module of a cell (gru, lstm, rnn_tanh, rnn_relu), biases on, time first, initialised from torch's RNG."""
    if cell in ("rnn_tanh", "rnn_relu"):
        return torch.nn.RNN(D, H, num_layers=layers, nonlinearity=cell[4:])
    return {"gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[cell](D, H, num_layers=layers)


def check_close(name, what, ref, got, rel_tol=1e-12, abs_floor=1e-15):
    """Asserts every number of got within rel_tol of ref (plus abs_floor, for values that are ~0: tanh near 0, softmax
    underflow); returns the largest absolute and relative differences."""
    ref, got = np.asarray(ref), np.asarray(got)
    assert ref.shape == got.shape, (name, what, ref.shape, got.shape)
    assert np.all(np.isfinite(ref)) and np.all(np.isfinite(got)), (name, what)
    err = np.abs(ref - got)
    bound = rel_tol * np.maximum(np.abs(ref), np.abs(got)) + abs_floor
    bad = err > bound
    assert not bad.any(), (name, what, float(err.max()), np.argwhere(bad)[:5])
    scale = np.maximum(np.abs(ref), np.abs(got))
    rel = np.where(scale > 0, err / np.where(scale > 0, scale, 1), 0.0)
    return float(err.max()), float(rel.max())
