#!/usr/bin/python3
"""Generate PyTorch reference vectors for the RnnStreams Elman RNN tests.

Run with Debian's interpreter (needs python3-torch, python3-numpy):

    /usr/bin/python3 tests/reference/make_torch_vectors.py

Writes tests/reference/torch_rnn_vectors.json next to this script.
Everything is float64 and seeded, so re-running gives the same file
(for the same torch build / CPU).  CI only reads the JSON; it never needs torch.
"""
import math
import os
import sys

import numpy as np
import torch

from common import check_close, finish, generate

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "torch_rnn_vectors.json")
BASE_SEED = 20240601


# --------------------------------------------------------------------------
# case construction with torch
# --------------------------------------------------------------------------
def build_case(index, name, cell, D, H, O, output, layers=1, T=25,
               w_scale=None, h0_kind="zeros", hy_scale=None, init_fn=None,
               inputs=None):
    """w_scale: None = torch default init (U(-1/sqrt(H), 1/sqrt(H))),
    otherwise all RNN weights/biases are re-drawn from U(-w_scale, w_scale)."""
    torch.manual_seed(BASE_SEED + index)
    nonlin = {"rnn_tanh": "tanh", "rnn_relu": "relu"}[cell]
    rnn = torch.nn.RNN(D, H, num_layers=layers, nonlinearity=nonlin,
                       bias=True, batch_first=False)
    head = torch.nn.Linear(H, O)
    with torch.no_grad():
        if w_scale is not None:
            for p in rnn.parameters():
                p.uniform_(-w_scale, w_scale)
        if hy_scale is not None:
            head.weight.uniform_(-1.0, 1.0)
            head.weight.mul_(hy_scale)
        if init_fn is not None:
            init_fn(rnn, head)

    if inputs is None:
        x = torch.randn(T, D)
    else:
        x = torch.tensor(inputs, dtype=torch.float64)
        T = x.shape[0]

    if h0_kind == "zeros":
        h0 = torch.zeros(layers, H)
    elif h0_kind == "signed":
        h0 = torch.empty(layers, H).uniform_(-1.0, 1.0)
    elif h0_kind == "nonneg":
        h0 = torch.empty(layers, H).uniform_(0.0, 1.0)
    else:
        raise ValueError(h0_kind)

    with torch.no_grad():
        # (a) step by step through the full multi-layer module: h_n holds
        #     every layer's h_t after the step.
        h = h0.unsqueeze(1).clone()  # (layers, batch=1, H)
        hidden, outputs, logits_all = [], [], []
        for t in range(T):
            _, h = rnn(x[t].view(1, 1, D), h)
            hidden.append(h[:, 0, :].clone())
            logits = head(h[-1, 0, :])
            logits_all.append(logits)
            if output == "softmax":
                y = torch.softmax(logits, dim=0)
            elif output == "sigmoid":
                y = torch.sigmoid(logits)
            else:
                y = logits
            outputs.append(y)
        hidden = torch.stack(hidden)        # (T, layers, H)
        outputs = torch.stack(outputs)      # (T, O)
        logits_all = torch.stack(logits_all)

        # (b) cross-check: whole sequence in one call (last layer + h_n) ...
        full_out, full_hn = rnn(x.view(T, 1, D), h0.unsqueeze(1))
        diff_full = (full_out[:, 0, :] - hidden[:, -1, :]).abs().max().item()
        diff_hn = (full_hn[:, 0, :] - hidden[-1]).abs().max().item()
        # ... and per-layer single-layer runs feeding each other.
        diff_layers = 0.0
        seq = x
        for k in range(layers):
            one = torch.nn.RNN(D if k == 0 else H, H, num_layers=1,
                               nonlinearity=nonlin, bias=True)
            one.weight_ih_l0.copy_(getattr(rnn, f"weight_ih_l{k}"))
            one.weight_hh_l0.copy_(getattr(rnn, f"weight_hh_l{k}"))
            one.bias_ih_l0.copy_(getattr(rnn, f"bias_ih_l{k}"))
            one.bias_hh_l0.copy_(getattr(rnn, f"bias_hh_l{k}"))
            o, _ = one(seq.view(T, 1, -1), h0[k].view(1, 1, H))
            seq = o[:, 0, :]
            diff_layers = max(diff_layers,
                              (seq - hidden[:, k, :]).abs().max().item())
        xdiff = max(diff_full, diff_hn, diff_layers)
        assert xdiff <= 1e-12, (name, diff_full, diff_hn, diff_layers)

    def rows(m):
        return [[float(v) for v in r] for r in m.tolist()]

    model_layers = []
    for k in range(layers):
        b_h = (getattr(rnn, f"bias_ih_l{k}").detach()
               + getattr(rnn, f"bias_hh_l{k}").detach())  # float64 add
        model_layers.append({
            "W_xh": rows(getattr(rnn, f"weight_ih_l{k}").detach()),
            "W_hh": rows(getattr(rnn, f"weight_hh_l{k}").detach()),
            "b_h": [float(v) for v in b_h.tolist()],
        })
    model = {
        "name": name, "cell": cell,
        "inputSize": D, "hiddenSize": H, "outputSize": O,
        "output": output,
        "layers": model_layers,
        "W_hy": rows(head.weight.detach()),
        "b_y": [float(v) for v in head.bias.detach().tolist()],
    }
    case = {
        "name": name,
        "model": model,
        "h0": rows(h0),
        "inputs": rows(x),
        "hidden": [rows(hidden[t]) for t in range(T)],
        "outputs": rows(outputs),
    }
    stats = {
        "T": T, "layers": layers, "torch_crosscheck_maxdiff": xdiff,
        "max_abs_h": hidden.abs().max().item(),
        "frac_saturated": (hidden.abs() > 0.99).double().mean().item()
        if cell == "rnn_tanh" else None,
        "logit_range": (logits_all.min().item(), logits_all.max().item()),
    }
    return case, stats


def worked_example_init(rnn, head):
    rnn.weight_ih_l0.fill_(0.5)
    rnn.weight_hh_l0.fill_(0.3)
    rnn.bias_ih_l0.fill_(0.1)
    rnn.bias_hh_l0.fill_(0.0)
    head.weight.fill_(0.4)
    head.bias.fill_(0.2)


# name, kwargs.  The case index (position) selects the seed, so cases are
# independent of each other.
CASES = [
    ("tanh_1layer", dict(cell="rnn_tanh", D=3, H=5, O=2, output="linear",
                         w_scale=1.0)),
    ("relu_1layer", dict(cell="rnn_relu", D=4, H=6, O=3, output="linear")),
    ("tanh_2layer", dict(cell="rnn_tanh", D=3, H=7, O=2, output="linear",
                         layers=2, w_scale=1.0)),
    ("tanh_softmax", dict(cell="rnn_tanh", D=5, H=9, O=4, output="softmax",
                          w_scale=1.0)),
    ("tanh_sigmoid", dict(cell="rnn_tanh", D=2, H=3, O=1, output="sigmoid",
                          w_scale=1.0)),
    ("tanh_h0", dict(cell="rnn_tanh", D=3, H=5, O=2, output="linear",
                     layers=2, h0_kind="signed")),
    ("odd_sizes", dict(cell="rnn_tanh", D=7, H=13, O=3, output="linear")),
    ("relu_2layer_h0", dict(cell="rnn_relu", D=3, H=11, O=2, output="linear",
                            layers=2, h0_kind="nonneg")),
    ("softmax_large_logits", dict(cell="rnn_tanh", D=2, H=4, O=3,
                                  output="softmax", w_scale=1.0,
                                  hy_scale=500.0)),
    ("long_sequence", dict(cell="rnn_tanh", D=2, H=8, O=1, output="linear",
                           T=1000)),
    ("worked_example", dict(cell="rnn_tanh", D=1, H=1, O=1, output="linear",
                            init_fn=worked_example_init,
                            inputs=[[1.0], [2.0], [3.0]])),
]


# --------------------------------------------------------------------------
# independent numpy re-computation, from the JSON as written
# --------------------------------------------------------------------------
def np_run(model, h0, inputs):
    f = np.tanh if model["cell"] == "rnn_tanh" else (lambda z: np.maximum(z, 0.0))
    L = [(np.array(l["W_xh"]), np.array(l["W_hh"]), np.array(l["b_h"]))
         for l in model["layers"]]
    W_hy, b_y = np.array(model["W_hy"]), np.array(model["b_y"])
    h = [np.array(v) for v in h0]
    H_all, Y_all = [], []
    for x in inputs:
        inp = np.array(x)
        for k, (Wx, Wh, b) in enumerate(L):
            h[k] = f(Wx @ inp + Wh @ h[k] + b)
            inp = h[k]
        z = W_hy @ inp + b_y
        if model["output"] == "softmax":
            e = np.exp(z - z.max())
            y = e / e.sum()
        elif model["output"] == "sigmoid":
            y = 1.0 / (1.0 + np.exp(-z))
        else:
            y = z
        H_all.append(np.array(h))
        Y_all.append(y)
    return np.array(H_all), np.array(Y_all)




def validate_shapes(c):
    m = c["model"]
    D, H, O = m["inputSize"], m["hiddenSize"], m["outputSize"]
    assert m["name"] == c["name"]
    for k, l in enumerate(m["layers"]):
        din = D if k == 0 else H
        assert len(l["W_xh"]) == H and all(len(r) == din for r in l["W_xh"])
        assert len(l["W_hh"]) == H and all(len(r) == H for r in l["W_hh"])
        assert len(l["b_h"]) == H
    assert len(m["W_hy"]) == O and all(len(r) == H for r in m["W_hy"])
    assert len(m["b_y"]) == O
    nl = len(m["layers"])
    assert len(c["h0"]) == nl and all(len(r) == H for r in c["h0"])
    T = len(c["inputs"])
    assert all(len(r) == D for r in c["inputs"])
    assert len(c["hidden"]) == T and len(c["outputs"]) == T
    assert all(len(s) == nl and all(len(r) == H for r in s) for s in c["hidden"])
    assert all(len(r) == O for r in c["outputs"])


def sensitivity(model, h0, inputs, eps=1e-9):
    """How much a perturbation of h0 is amplified by the end of the sequence
    (>>1 would mean the case is chaotic and only loosely testable)."""
    H1, _ = np_run(model, h0, inputs)
    h0p = [[v + eps for v in r] for r in h0]
    H2, _ = np_run(model, h0p, inputs)
    return float(np.abs(H1 - H2).max() / eps)


def main():
    loaded, stats = generate(OUT, "tests/reference/make_torch_vectors.py", CASES, lambda i, spec: build_case(i, spec[0], **spec[1]))
    for c in loaded["cases"]:
        validate_shapes(c)
        Hn, Yn = np_run(c["model"], c["h0"], c["inputs"])
        eh, rh = check_close(c["name"], "hidden", Hn, c["hidden"])
        ey, ry = check_close(c["name"], "outputs", Yn, c["outputs"])
        m, s = c["model"], stats[c["name"]]
        sat = "" if s["frac_saturated"] is None else f" sat>0.99={s['frac_saturated']:.2f}"
        print(f"  {c['name']:<22} {m['cell']:<8} D={m['inputSize']:<2} "
              f"H={m['hiddenSize']:<2} O={m['outputSize']} L={len(m['layers'])} "
              f"T={len(c['inputs']):<4} {m['output']:<7} "
              f"max|h|={s['max_abs_h']:.3g}{sat} "
              f"logits=[{s['logit_range'][0]:.4g},{s['logit_range'][1]:.4g}] "
              f"np-vs-torch abs={max(eh, ey):.2e} rel={max(rh, ry):.2e} "
              f"torch-xcheck={s['torch_crosscheck_maxdiff']:.1e} "
              f"h0-gain={sensitivity(m, c['h0'], c['inputs']):.3g}")

    # ---- worked example: hand-checkable numbers ----
    we = next(c for c in loaded["cases"] if c["name"] == "worked_example")
    h = [s[0][0] for s in we["hidden"]]
    y = [r[0] for r in we["outputs"]]
    # the brief quotes 3-decimal values; exact y[1] = 0.54055 (rounds to 0.541),
    # so compare to within 1e-3 rather than half a unit in the last place.
    assert np.allclose(h, [0.537, 0.851, 0.952], atol=1e-3), h
    assert np.allclose(y, [0.415, 0.540, 0.581], atol=1e-3), y
    # and exactly the closed form
    hh, hp = [], 0.0
    for xv in (1.0, 2.0, 3.0):
        hp = math.tanh(0.5 * xv + 0.3 * hp + 0.1)
        hh.append(hp)
    assert np.allclose(h, hh, rtol=1e-14, atol=0), (h, hh)
    print(f"  worked_example h={['%.6f' % v for v in h]} y={['%.6f' % v for v in y]}")

    finish(OUT)


if __name__ == "__main__":
    sys.exit(main())
