#!/usr/bin/python3
"""Generate PyTorch float32 reference vectors for RnnStreams' float32 models.

Run with Debian's interpreter (needs python3-torch, python3-numpy):

    /usr/bin/python3 tests/reference/make_torch_float32_vectors.py

Writes tests/reference/torch_float32_vectors.json next to this script: torch.nn.RNN (tanh, relu), GRU and LSTM
modules made with .float(), 1 and 2 layers, H in {1, 5, 16, 63}, T = 50 (and one LSTM with T = 1000), every case
started from a given h_0 (and c_0), with a torch.nn.Linear head. Every number in the file is a float32 written in
its shortest form: the weights, the inputs, every y_t and the final h (and c) of every layer.

Each case's "model" is an RnnStreams model file with "dtype": "float32". An Elman layer's b_h is
float32(bias_ih + bias_hh) (the sum of two floats rounded once), as `models import` makes it; GRU and LSTM layers keep
PyTorch's four tensors. To keep the file small the weights are PyTorch's default initialisation rounded to two
decimals and the inputs randn rounded to three (so "0.08" rather than "0.08381233"): each is still the float32
nearest to that decimal, a float like any other to the kernels.

Checks before it finishes: PyTorch's step-by-step run against one call over the whole sequence (float32 sums in
another order, so to 1e-5), an independent float64 numpy forward pass from the JSON as written (the equations of
make_torch_vectors.py and make_torch_gated_vectors.py) against PyTorch's float32 numbers, which prints how far float32
is from float64 on the same weights, and that every number written reads back as the same float32. Seeded, single-threaded
and deterministic: re-running with the same torch build gives the same file. CI only reads the JSON.
"""
import os
import sys

import numpy as np
import torch

from make_torch_gated_vectors import np_run as np_run_gated
from make_torch_vectors import np_run as np_run_elman
from common import finish, generate, make_module

torch.set_default_dtype(torch.float32)  # after the imports: the float64 generators set float64
torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "torch_float32_vectors.json")
BASE_SEED = 20261201
MAX_BYTES = 400 * 1024
CROSSCHECK = 1e-5  # step by step against the whole sequence in one call, both float32


def f32(values):
    """Nested lists of the shortest decimal of each float32, as Python floats (json writes them back as that decimal);
    each reads back as the same float32, also through a double as a C# test's GetDouble reads it."""
    a = np.asarray(values, dtype=np.float32)
    shortest = np.array([float(str(v)) for v in a.reshape(-1)]).reshape(a.shape)  # str of a numpy float32: shortest
    assert np.array_equal(shortest.astype(np.float32), a)
    return shortest.tolist()




def build_case(index, name, cell, D, H, O, output, layers, T):
    torch.manual_seed(BASE_SEED + index)
    rnn = make_module(cell, D, H, layers).float()
    head = torch.nn.Linear(H, O).float()
    with torch.no_grad():
        for p in list(rnn.parameters()) + list(head.parameters()):
            p.copy_(torch.round(p * 100) / 100)  # the nearest float32 to k/100
    x = torch.round(torch.randn(T, D) * 1000) / 1000
    h0 = torch.empty(layers, 1, H).uniform_(-1.0, 1.0)
    c0 = torch.empty(layers, 1, H).uniform_(-2.0, 2.0)
    lstm = cell == "lstm"

    with torch.no_grad():
        state = (h0, c0) if lstm else h0
        ys, tops = [], []
        for t in range(T):
            top, state = rnn(x[t].view(1, 1, D), state)
            z = head(top[0, 0])
            ys.append(torch.softmax(z, 0) if output == "softmax" else torch.sigmoid(z) if output == "sigmoid" else z)
            tops.append(top[0, 0])
        h_fin, c_fin = state if lstm else (state, None)
        whole, whole_state = rnn(x.view(T, 1, D), (h0, c0) if lstm else h0)
        xdiff = (whole[:, 0] - torch.stack(tops)).abs().max().item()
        for a, b in zip(whole_state if lstm else (whole_state,), (h_fin, c_fin) if lstm else (h_fin,)):
            xdiff = max(xdiff, (a - b).abs().max().item())
        assert xdiff <= CROSSCHECK, (name, xdiff)

    weights = lambda k, kind: getattr(rnn, f"{kind}_l{k}").detach()
    if lstm or cell == "gru":
        model_layers = [{"W_ih": f32(weights(k, "weight_ih")), "W_hh": f32(weights(k, "weight_hh")),
                         "b_ih": f32(weights(k, "bias_ih")), "b_hh": f32(weights(k, "bias_hh"))}
                        for k in range(layers)]
    else:
        model_layers = [{"W_xh": f32(weights(k, "weight_ih")), "W_hh": f32(weights(k, "weight_hh")),
                         "b_h": f32((weights(k, "bias_ih").double() + weights(k, "bias_hh").double()).float())}
                        for k in range(layers)]
    model = {"name": name, "cell": cell, "dtype": "float32", "inputSize": D, "hiddenSize": H, "outputSize": O,
             "output": output, "layers": model_layers, "W_hy": f32(head.weight.detach()), "b_y": f32(head.bias.detach())}
    case = {"name": name, "model": model, "h0": f32(h0[:, 0]), "c0": f32(c0[:, 0]) if lstm else None,
            "inputs": f32(x), "hidden": f32(h_fin[:, 0]), "cell": f32(c_fin[:, 0]) if lstm else None,
            "outputs": f32(torch.stack(ys))}
    return case, xdiff


def _cases():
    heads = {1: "linear", 5: "softmax", 16: "sigmoid", 63: "linear"}
    cases = []
    for cell in ("rnn_tanh", "rnn_relu", "gru", "lstm"):
        for H in (1, 5, 16, 63):
            layers = 2 if H == 5 or (H == 16 and cell in ("gru", "lstm")) else 1
            O = 3 if heads[H] == "softmax" else 2
            cases.append((f"{cell}_h{H}_{layers}layer", dict(cell=cell, D=3, H=H, O=O, output=heads[H], layers=layers, T=50)))
    cases.append(("lstm_h16_T1000", dict(cell="lstm", D=1, H=16, O=1, output="linear", layers=1, T=1000)))
    return cases


CASES = _cases()


def float64_run(c):
    """The case recomputed in float64 from the JSON: (final h, final c or None, every y_t)."""
    m = c["model"]
    if m["cell"] in ("gru", "lstm"):
        return np_run_gated(m, c["h0"], c["c0"], c["inputs"])
    hidden, ys = np_run_elman(m, c["h0"], c["inputs"])
    return hidden[-1], None, ys


def relative_error(exact, got):
    """max |got − exact| / max(|exact|, 1e-2): relative, and absolute (×100) for values under 1e-2, as the C# tests
    measure (a float sum of terms of size 1 is a few 1e-8 off wherever it lands, a large relative error near 1e-3)."""
    exact, got = np.asarray(exact, dtype=np.float64), np.asarray(got, dtype=np.float64)
    return float((np.abs(got - exact) / np.maximum(np.abs(exact), 1e-2)).max())


def main():
    loaded, crosschecks = generate(OUT, "tests/reference/make_torch_float32_vectors.py", CASES,
                                   lambda i, spec: build_case(i, spec[0], **spec[1]), dtype="float32")
    worst = 0.0
    for c in loaded["cases"]:
        h, cs, ys = float64_run(c)
        errors = [relative_error(ys, c["outputs"]), relative_error(h, c["hidden"])]
        if cs is not None:
            errors.append(relative_error(cs, c["cell"]))
        worst = max(worst, max(errors))
        m = c["model"]
        print(f"  {c['name']:<22} D={m['inputSize']} H={m['hiddenSize']:<2} O={m['outputSize']} L={len(m['layers'])} "
              f"T={len(c['inputs']):<4} {m['output']:<7} step-vs-whole={crosschecks[c['name']]:.1e} "
              f"torch-f32-vs-f64={max(errors):.2e}")
        assert max(errors) < 1e-5, (c["name"], errors)
    print(f"PyTorch float32 against float64 on the same weights: at most {worst:.2e} "
          "(relative; absolute ×100 for values under 1e-2)")
    finish(OUT, MAX_BYTES)


if __name__ == "__main__":
    sys.exit(main())
