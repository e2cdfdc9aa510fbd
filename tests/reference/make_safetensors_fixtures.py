#!/usr/bin/python3
"""Write small safetensors fixtures of PyTorch RNN state_dicts, with the
expected values next to each, for the RnnStreams safetensors reader and import.

Regenerate from the repo root with Debian's interpreter (the pyenv python3 that
may come first on PATH cannot see Debian's packages):

    apt-get install -y python3-torch python3-numpy      # Debian 12
    /usr/bin/python3 tests/reference/make_safetensors_fixtures.py

It writes into tests/reference/safetensors/:

    lstm_f32.safetensors      torch.nn.LSTM(3, 4, num_layers=2) as "rnn." and
                              torch.nn.Linear(4, 2) as "fc.", saved in float32
    gru_f64.safetensors       torch.nn.GRU(2, 3) + torch.nn.Linear(3, 2), float64
    rnn_tanh_f64.safetensors  torch.nn.RNN(2, 3) (tanh) + torch.nn.Linear(3, 2),
                              float64

and for each X.safetensors an X.json holding: the cell ("lstm", "gru",
"rnn_tanh"), the sizes, a T=6 float64 input sequence, the last layer's h_t and
the head's (identity output) y_t = fc(h_t) at every step computed by PyTorch in
float64, and every tensor's dtype, shape, data_offsets and values (as float64;
float32 values are widened exactly, so they print as the float64 of the
float32).  For the float32 file the reference run uses the saved float32
weights widened to float64 (model.double() after saving).

The python3-safetensors package is not in Debian 12, so the files are written
here by a small writer of the exact format: an 8-byte little-endian u64 header
length N, N bytes of UTF-8 JSON (compact, "__metadata__" first, tensors in the
order the safetensors library uses, padded with spaces to a multiple of 8),
then the tensors' little-endian bytes back to back.  The script reads every
file back with an independent parser and recomputes the outputs with numpy
before it finishes.

Seeded (one seed per fixture), single-threaded and deterministic: re-running
with the same torch build gives byte-identical files.  CI only reads the
files; it never needs Python or torch.
"""
import json
import os
import struct

import numpy as np
import torch

torch.set_default_dtype(torch.float64)
torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "safetensors")
BASE_SEED = 20250301
T = 6
MAX_BYTES = 50 * 1024

DTYPES = {torch.float32: ("F32", "<f4", 4), torch.float64: ("F64", "<f8", 8)}

# name, cell, D, H, layers, O, torch dtype of the saved weights
FIXTURES = [
    ("lstm_f32", "lstm", 3, 4, 2, 2, torch.float32),
    ("gru_f64", "gru", 2, 3, 1, 2, torch.float64),
    ("rnn_tanh_f64", "rnn_tanh", 2, 3, 1, 2, torch.float64),
]


# --------------------------------------------------------------------------
# writer / reader of the safetensors format
# --------------------------------------------------------------------------
def write_safetensors(path, tensors, metadata):
    """tensors: dict name -> contiguous float32/float64 torch tensor."""
    # The safetensors library orders tensors by alignment (descending), then
    # by name; all tensors here have one dtype, so this is by name.
    order = sorted(tensors, key=lambda k: (-DTYPES[tensors[k].dtype][2], k))
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for name in order:
        t = tensors[name].detach().contiguous()
        dtype, np_dtype, _ = DTYPES[t.dtype]
        blob = t.numpy().astype(np_dtype, copy=False).tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(text)))
        fh.write(text)
        for blob in blobs:
            fh.write(blob)
    return header


def read_safetensors(path):
    """Independent strict-ish reader: returns (metadata, {name: (dtype, shape,
    offsets, float64 ndarray)})."""
    with open(path, "rb") as fh:
        raw = fh.read()
    (n,) = struct.unpack("<Q", raw[:8])
    assert 0 < n <= len(raw) - 8
    text = raw[8:8 + n].decode("utf-8")
    assert text.startswith("{") and text.rstrip(" ") == text.rstrip(" ").strip()
    pairs = json.loads(text, object_pairs_hook=lambda p: p)
    names = [k for k, _ in pairs]
    assert len(names) == len(set(names)), "duplicate names"
    data = raw[8 + n:]
    out, metadata, spans = {}, None, []
    for name, info in pairs:
        if name == "__metadata__":
            metadata = dict(info)
            assert all(isinstance(v, str) for v in metadata.values())
            continue
        info = dict(info)
        assert set(info) == {"dtype", "shape", "data_offsets"}, info
        np_dtype = {"F32": "<f4", "F64": "<f8"}[info["dtype"]]
        b, e = info["data_offsets"]
        shape = tuple(info["shape"])
        values = np.frombuffer(data[b:e], dtype=np_dtype)
        assert values.size == int(np.prod(shape, dtype=np.int64))
        out[name] = (info["dtype"], list(shape), [b, e],
                     values.astype(np.float64).reshape(shape))
        spans.append((b, e))
    spans.sort()
    pos = 0
    for b, e in spans:
        assert b == pos and e >= b
        pos = e
    assert pos == len(data)
    return metadata, out


# --------------------------------------------------------------------------
# the fixtures
# --------------------------------------------------------------------------
def make_rnn(cell, D, H, layers):
    if cell == "lstm":
        return torch.nn.LSTM(D, H, num_layers=layers)
    if cell == "gru":
        return torch.nn.GRU(D, H, num_layers=layers)
    if cell == "rnn_tanh":
        return torch.nn.RNN(D, H, num_layers=layers, nonlinearity="tanh")
    raise ValueError(cell)


class Model(torch.nn.Module):
    def __init__(self, cell, D, H, layers, O):
        super().__init__()
        self.rnn = make_rnn(cell, D, H, layers)
        self.fc = torch.nn.Linear(H, O)

    def forward(self, x):
        out, _ = self.rnn(x.view(x.shape[0], 1, x.shape[1]))
        last_h = out[:, 0, :]
        return last_h, self.fc(last_h)


def np_sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def np_run(cell, layers, tensors, inputs):
    """PyTorch's equations in numpy, from the tensors as read back."""
    W = lambda k: tensors[k][3]
    H = W("rnn.weight_hh_l0").shape[1]
    h = [np.zeros(H) for _ in range(layers)]
    c = [np.zeros(H) for _ in range(layers)]
    hs, ys = [], []
    for x in inputs:
        inp = np.array(x)
        for k in range(layers):
            gi = W(f"rnn.weight_ih_l{k}") @ inp + W(f"rnn.bias_ih_l{k}")
            gh = W(f"rnn.weight_hh_l{k}") @ h[k] + W(f"rnn.bias_hh_l{k}")
            if cell == "lstm":
                a = gi + gh
                i, f = np_sigmoid(a[0:H]), np_sigmoid(a[H:2 * H])
                g, o = np.tanh(a[2 * H:3 * H]), np_sigmoid(a[3 * H:4 * H])
                c[k] = f * c[k] + i * g
                h[k] = o * np.tanh(c[k])
            elif cell == "gru":
                r = np_sigmoid(gi[0:H] + gh[0:H])
                z = np_sigmoid(gi[H:2 * H] + gh[H:2 * H])
                n = np.tanh(gi[2 * H:] + r * gh[2 * H:])
                h[k] = (1.0 - z) * n + z * h[k]
            else:
                h[k] = np.tanh(gi + gh)
            inp = h[k]
        hs.append(inp)
        ys.append(W("fc.weight") @ inp + W("fc.bias"))
    return np.array(hs), np.array(ys)


def build(index, name, cell, D, H, layers, O, save_dtype):
    torch.manual_seed(BASE_SEED + index)
    model = Model(cell, D, H, layers, O)          # float64 parameters
    x = torch.randn(T, D)                         # float64 inputs

    saved = {k: v.detach().to(save_dtype).contiguous()
             for k, v in model.state_dict().items()}
    path = os.path.join(OUT_DIR, name + ".safetensors")
    write_safetensors(path, saved, {"format": "pt"})

    # The reference runs in float64 from exactly the weights that were saved.
    model = model.to(save_dtype).double()
    with torch.no_grad():
        for k, v in model.state_dict().items():
            assert torch.equal(v, saved[k].double()), k
        last_h, y = model(x)

    metadata, tensors = read_safetensors(path)
    assert metadata == {"format": "pt"}
    assert list(tensors) == sorted(saved), list(tensors)
    for k, v in saved.items():
        dtype, shape, _, values = tensors[k]
        assert dtype == DTYPES[save_dtype][0] and shape == list(v.shape), k
        assert np.array_equal(values, v.double().numpy()), k
    hs, ys = np_run(cell, layers, tensors, x.numpy())
    assert np.allclose(hs, last_h.numpy(), rtol=1e-12, atol=1e-15)
    assert np.allclose(ys, y.numpy(), rtol=1e-12, atol=1e-15)

    flat = lambda a: [float(v) for v in np.asarray(a).reshape(-1)]
    rows = lambda m: [[float(v) for v in r] for r in m.tolist()]
    doc = {
        "generator": "tests/reference/make_safetensors_fixtures.py",
        "torch": torch.__version__,
        "file": name + ".safetensors",
        "cell": cell,
        "dtype": DTYPES[save_dtype][0],
        "input_size": D,
        "hidden_size": H,
        "num_layers": layers,
        "output_size": O,
        "head": "fc = torch.nn.Linear(hidden_size, output_size) on the last "
                "layer's h_t, identity output; h_0 = c_0 = 0",
        "metadata": metadata,
        "inputs": rows(x),
        "hidden": rows(last_h),
        "outputs": rows(y),
        "tensors": {k: {"dtype": d, "shape": s, "data_offsets": o,
                        "values": flat(v)}
                    for k, (d, s, o, v) in tensors.items()},
    }
    dump = lambda o: json.dumps(o, allow_nan=False, separators=(",", ":"))
    lines = [dump(k) + ":" + dump(v) for k, v in doc.items() if k != "tensors"]
    lines.append('"tensors":{\n' + ",\n".join(
        dump(k) + ":" + dump(v) for k, v in doc["tensors"].items()) + "\n}")
    json_path = os.path.join(OUT_DIR, name + ".json")
    with open(json_path, "w") as fh:
        fh.write("{\n" + ",\n".join(lines) + "\n}\n")
    with open(json_path) as fh:
        assert json.load(fh) == doc

    for p in (path, json_path):
        size = os.path.getsize(p)
        assert size < MAX_BYTES, (p, size)
    print(f"{name}: {os.path.getsize(path)} B + {os.path.getsize(json_path)} B json, "
          f"tensors {', '.join(f'{k} {d}{s}' for k, (d, s, _, _) in tensors.items())}")


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    for i, spec in enumerate(FIXTURES):
        build(i, *spec)


if __name__ == "__main__":
    main()
