#!/usr/bin/python3
"""Generate PyTorch reference vectors for the RnnStreams gated cells (GRU, LSTM).

Run with Debian's interpreter (needs python3-torch, python3-numpy):

    /usr/bin/python3 tests/reference/make_torch_gated_vectors.py

Writes tests/reference/torch_gated_vectors.json next to this script.
Everything is float64 and seeded, so re-running gives the same file
(for the same torch build / CPU).  CI only reads the JSON; it never needs torch.

Layout in the JSON is exactly PyTorch's: per layer k the matrices are
weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k} (as "W_ih", "W_hh",
"b_ih", "b_hh"; the two biases are kept separate because the GRU applies r to
W_hn h + b_hn only).  Gate blocks are stacked row-wise in PyTorch order:
GRU (r, z, n), LSTM (i, f, g, o).  The head is torch.nn.Linear(H, O) applied to
the last layer's h_t at every step, followed by the output function.
"""
import math
import os
import sys

import numpy as np
import torch

from common import check_close, finish, generate, make_module

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "torch_gated_vectors.json")
BASE_SEED = 20240701


# --------------------------------------------------------------------------
# case construction with torch
# --------------------------------------------------------------------------


def build_case(index, name, cell, D, H, O, output, layers=1, T=25,
               w_scale=None, state="zeros", x_scale=None, init_fn=None,
               inputs=None):
    """w_scale: None = torch default init (U(-1/sqrt(H), 1/sqrt(H))),
    otherwise all GRU/LSTM weights and biases are re-drawn from
    U(-w_scale, w_scale).  The head always keeps torch's default init unless
    init_fn changes it.  state: "zeros" -> h0 (and c0) are null in the JSON;
    "random" -> h0 ~ U(-1, 1), c0 ~ U(-2, 2)."""
    torch.manual_seed(BASE_SEED + index)
    rnn = make_module(cell, D, H, layers)
    head = torch.nn.Linear(H, O)
    with torch.no_grad():
        if w_scale is not None:
            for p in rnn.parameters():
                p.uniform_(-w_scale, w_scale)
        if init_fn is not None:
            init_fn(rnn, head)

    if inputs is None:
        x = torch.randn(T, D)
        if x_scale is not None:
            x = x * x_scale
    else:
        x = torch.tensor(inputs, dtype=torch.float64)
        T = x.shape[0]

    is_lstm = cell == "lstm"
    if state == "zeros":
        h0 = torch.zeros(layers, H)
        c0 = torch.zeros(layers, H)
    elif state == "random":
        h0 = torch.empty(layers, H).uniform_(-1.0, 1.0)
        c0 = torch.empty(layers, H).uniform_(-2.0, 2.0)
        if not is_lstm:
            c0 = torch.zeros(layers, H)
    else:
        raise ValueError(state)

    def pack(h, c):
        return (h, c) if is_lstm else h

    with torch.no_grad():
        # (a) step by step through the full multi-layer module.
        h = h0.unsqueeze(1).clone()  # (layers, batch=1, H)
        c = c0.unsqueeze(1).clone()
        outputs, last_h, logits_all = [], [], []
        for t in range(T):
            _, st = rnn(x[t].view(1, 1, D), pack(h, c))
            if is_lstm:
                h, c = st
            else:
                h = st
            last_h.append(h[-1, 0, :].clone())
            logits = head(h[-1, 0, :])
            logits_all.append(logits)
            if output == "softmax":
                y = torch.softmax(logits, dim=0)
            elif output == "sigmoid":
                y = torch.sigmoid(logits)
            else:
                y = logits
            outputs.append(y)
        h_fin = h[:, 0, :].clone()          # (layers, H)
        c_fin = c[:, 0, :].clone()
        outputs = torch.stack(outputs)      # (T, O)
        logits_all = torch.stack(logits_all)
        last_h = torch.stack(last_h)        # (T, H)

        # (b) cross-check: whole sequence in one call ...
        full_out, st = rnn(x.view(T, 1, D), pack(h0.unsqueeze(1), c0.unsqueeze(1)))
        diff_full = (full_out[:, 0, :] - last_h).abs().max().item()
        if is_lstm:
            diff_hn = max((st[0][:, 0, :] - h_fin).abs().max().item(),
                          (st[1][:, 0, :] - c_fin).abs().max().item())
        else:
            diff_hn = (st[:, 0, :] - h_fin).abs().max().item()
        # ... and per-layer GRUCell / LSTMCell runs feeding each other.
        diff_cells = 0.0
        seq = x
        for k in range(layers):
            din = D if k == 0 else H
            cellm = (torch.nn.LSTMCell if is_lstm else torch.nn.GRUCell)(din, H)
            cellm.weight_ih.copy_(getattr(rnn, f"weight_ih_l{k}"))
            cellm.weight_hh.copy_(getattr(rnn, f"weight_hh_l{k}"))
            cellm.bias_ih.copy_(getattr(rnn, f"bias_ih_l{k}"))
            cellm.bias_hh.copy_(getattr(rnn, f"bias_hh_l{k}"))
            hk, ck = h0[k].view(1, H), c0[k].view(1, H)
            outs = []
            for t in range(T):
                if is_lstm:
                    hk, ck = cellm(seq[t].view(1, din), (hk, ck))
                else:
                    hk = cellm(seq[t].view(1, din), hk)
                outs.append(hk[0])
            seq = torch.stack(outs)
            diff_cells = max(diff_cells, (hk[0] - h_fin[k]).abs().max().item())
            if is_lstm:
                diff_cells = max(diff_cells, (ck[0] - c_fin[k]).abs().max().item())
        diff_cells = max(diff_cells, (seq - last_h).abs().max().item())
        xdiff = max(diff_full, diff_hn, diff_cells)
        assert xdiff <= 1e-12, (name, diff_full, diff_hn, diff_cells)

    def rows(m):
        return [[float(v) for v in r] for r in m.tolist()]

    def vec(v):
        return [float(a) for a in v.tolist()]

    model_layers = []
    for k in range(layers):
        model_layers.append({
            "W_ih": rows(getattr(rnn, f"weight_ih_l{k}").detach()),
            "W_hh": rows(getattr(rnn, f"weight_hh_l{k}").detach()),
            "b_ih": vec(getattr(rnn, f"bias_ih_l{k}").detach()),
            "b_hh": vec(getattr(rnn, f"bias_hh_l{k}").detach()),
        })
    model = {
        "name": name, "cell": cell,
        "inputSize": D, "hiddenSize": H, "outputSize": O,
        "output": output,
        "layers": model_layers,
        "W_hy": rows(head.weight.detach()),
        "b_y": vec(head.bias.detach()),
    }
    case = {
        "name": name,
        "model": model,
        "h0": None if state == "zeros" else rows(h0),
        "c0": None if (state == "zeros" or not is_lstm) else rows(c0),
        "inputs": rows(x),
        "hidden": rows(h_fin),
        "cell": rows(c_fin) if is_lstm else None,
        "outputs": rows(outputs),
    }
    stats = {
        "T": T, "layers": layers, "torch_crosscheck_maxdiff": xdiff,
        "logit_range": (logits_all.min().item(), logits_all.max().item()),
    }
    return case, stats


def scalar_gru_init(rnn, head):
    # gate rows: r, z, n
    rnn.weight_ih_l0.copy_(torch.tensor([[0.5], [0.25], [1.0]]))
    rnn.weight_hh_l0.copy_(torch.tensor([[0.3], [0.2], [0.6]]))
    rnn.bias_ih_l0.copy_(torch.tensor([0.1, 0.0, -0.1]))
    rnn.bias_hh_l0.copy_(torch.tensor([0.0, 0.1, 0.2]))
    head.weight.fill_(0.4)
    head.bias.fill_(0.2)


def scalar_lstm_init(rnn, head):
    # gate rows: i, f, g, o
    rnn.weight_ih_l0.copy_(torch.tensor([[0.5], [0.25], [1.0], [0.75]]))
    rnn.weight_hh_l0.copy_(torch.tensor([[0.3], [0.2], [0.6], [-0.4]]))
    rnn.bias_ih_l0.copy_(torch.tensor([0.1, 0.0, -0.1, 0.2]))
    rnn.bias_hh_l0.copy_(torch.tensor([0.0, 0.1, 0.2, 0.0]))
    head.weight.fill_(0.4)
    head.bias.fill_(0.2)


# name, kwargs.  The case index (position) selects the seed, so cases are
# independent of each other.
def _family(cell):
    return [
        (f"{cell}_1layer", dict(cell=cell, D=3, H=5, O=2, output="linear",
                                w_scale=1.0)),
        (f"{cell}_1layer_state", dict(cell=cell, D=3, H=5, O=2,
                                      output="linear", w_scale=1.0,
                                      state="random")),
        (f"{cell}_2layer_state", dict(cell=cell, D=4, H=6, O=3,
                                      output="softmax", layers=2,
                                      w_scale=1.0, state="random")),
        (f"{cell}_saturating", dict(cell=cell, D=3, H=5, O=2,
                                    output="linear", w_scale=3.0,
                                    x_scale=20.0)),
        (f"{cell}_odd_sizes", dict(cell=cell, D=7, H=13, O=1,
                                   output="sigmoid")),
        (f"{cell}_T1000", dict(cell=cell, D=2, H=8, O=1, output="linear",
                               T=1000)),
    ]


CASES = _family("gru") + _family("lstm") + [
    ("scalar_gru", dict(cell="gru", D=1, H=1, O=1, output="linear",
                        init_fn=scalar_gru_init,
                        inputs=[[1.0], [2.0], [3.0]])),
    ("scalar_lstm", dict(cell="lstm", D=1, H=1, O=1, output="linear",
                         init_fn=scalar_lstm_init,
                         inputs=[[1.0], [2.0], [3.0]])),
]


# --------------------------------------------------------------------------
# independent numpy re-computation, from the JSON as written
# --------------------------------------------------------------------------
def np_sigmoid(a):
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-a))


def np_run(model, h0, c0, inputs, gate_log=None):
    """Plain PyTorch equations.  Returns (final h per layer, final c per layer
    or None, y_t for every t).  gate_log, if a dict, collects sigmoid gate and
    tanh values for saturation statistics."""
    cell = model["cell"]
    H = model["hiddenSize"]
    nl = len(model["layers"])
    L = [(np.array(l["W_ih"]), np.array(l["W_hh"]),
          np.array(l["b_ih"]), np.array(l["b_hh"])) for l in model["layers"]]
    W_hy, b_y = np.array(model["W_hy"]), np.array(model["b_y"])
    h = [np.zeros(H) for _ in range(nl)] if h0 is None else [np.array(v) for v in h0]
    c = [np.zeros(H) for _ in range(nl)] if c0 is None else [np.array(v) for v in c0]
    sig_vals, tanh_vals = [], []
    Y = []
    for x in inputs:
        inp = np.array(x)
        for k, (Wi, Wh, bi, bh) in enumerate(L):
            gi = Wi @ inp + bi
            gh = Wh @ h[k] + bh
            if cell == "gru":
                r = np_sigmoid(gi[0:H] + gh[0:H])
                z = np_sigmoid(gi[H:2 * H] + gh[H:2 * H])
                n = np.tanh(gi[2 * H:3 * H] + r * gh[2 * H:3 * H])
                h[k] = (1.0 - z) * n + z * h[k]
                sig_vals += [r, z]
                tanh_vals += [n]
            elif cell == "lstm":
                a = gi + gh
                i = np_sigmoid(a[0:H])
                f = np_sigmoid(a[H:2 * H])
                g = np.tanh(a[2 * H:3 * H])
                o = np_sigmoid(a[3 * H:4 * H])
                c[k] = f * c[k] + i * g
                tc = np.tanh(c[k])
                h[k] = o * tc
                sig_vals += [i, f, o]
                tanh_vals += [g, tc]
            else:
                raise ValueError(cell)
            inp = h[k]
        zy = W_hy @ inp + b_y
        if model["output"] == "softmax":
            e = np.exp(zy - zy.max())
            y = e / e.sum()
        elif model["output"] == "sigmoid":
            y = np_sigmoid(zy)
        elif model["output"] == "linear":
            y = zy
        else:
            raise ValueError(model["output"])
        Y.append(y)
    if gate_log is not None:
        gate_log["sig"] = np.concatenate(sig_vals)
        gate_log["tanh"] = np.concatenate(tanh_vals)
    return np.array(h), (np.array(c) if cell == "lstm" else None), np.array(Y)




def validate_shapes(c):
    m = c["model"]
    D, H, O = m["inputSize"], m["hiddenSize"], m["outputSize"]
    G = {"gru": 3, "lstm": 4}[m["cell"]]
    assert m["name"] == c["name"]
    assert m["output"] in ("linear", "softmax", "sigmoid")
    for k, l in enumerate(m["layers"]):
        din = D if k == 0 else H
        assert len(l["W_ih"]) == G * H and all(len(r) == din for r in l["W_ih"])
        assert len(l["W_hh"]) == G * H and all(len(r) == H for r in l["W_hh"])
        assert len(l["b_ih"]) == G * H and len(l["b_hh"]) == G * H
    assert len(m["W_hy"]) == O and all(len(r) == H for r in m["W_hy"])
    assert len(m["b_y"]) == O
    nl = len(m["layers"])
    for key in ("h0", "c0"):
        if c[key] is not None:
            assert len(c[key]) == nl and all(len(r) == H for r in c[key])
    if m["cell"] == "gru":
        assert c["c0"] is None and c["cell"] is None
    else:
        assert len(c["cell"]) == nl and all(len(r) == H for r in c["cell"])
    assert len(c["hidden"]) == nl and all(len(r) == H for r in c["hidden"])
    T = len(c["inputs"])
    assert all(len(r) == D for r in c["inputs"])
    assert len(c["outputs"]) == T and all(len(r) == O for r in c["outputs"])


def sensitivity(c, eps=1e-9):
    """How much a perturbation of h0 is amplified by the end of the sequence
    (>>1 would mean the case is chaotic and only loosely testable)."""
    m = c["model"]
    nl, H = len(m["layers"]), m["hiddenSize"]
    h0 = c["h0"] if c["h0"] is not None else [[0.0] * H for _ in range(nl)]
    H1, _, Y1 = np_run(m, h0, c["c0"], c["inputs"])
    h0p = [[v + eps for v in r] for r in h0]
    H2, _, Y2 = np_run(m, h0p, c["c0"], c["inputs"])
    return float(max(np.abs(H1 - H2).max(), np.abs(Y1 - Y2).max()) / eps)


def scalar_closed_form(cell, xs=(1.0, 2.0, 3.0)):
    """The scalar cases written out with math.* on plain floats."""
    s = lambda a: 1.0 / (1.0 + math.exp(-a))
    h, c, hs, cs, ys = 0.0, 0.0, [], [], []
    for x in xs:
        if cell == "gru":
            r = s(0.5 * x + 0.1 + 0.3 * h + 0.0)
            z = s(0.25 * x + 0.0 + 0.2 * h + 0.1)
            n = math.tanh(1.0 * x - 0.1 + r * (0.6 * h + 0.2))
            h = (1.0 - z) * n + z * h
        else:
            i = s(0.5 * x + 0.1 + 0.3 * h + 0.0)
            f = s(0.25 * x + 0.0 + 0.2 * h + 0.1)
            g = math.tanh(1.0 * x - 0.1 + 0.6 * h + 0.2)
            o = s(0.75 * x + 0.2 - 0.4 * h + 0.0)
            c = f * c + i * g
            h = o * math.tanh(c)
        hs.append(h)
        cs.append(c)
        ys.append(0.4 * h + 0.2)
    return hs, cs, ys


def main():
    loaded, stats = generate(OUT, "tests/reference/make_torch_gated_vectors.py", CASES, lambda i, spec: build_case(i, spec[0], **spec[1]))
    worst_abs, worst_rel = 0.0, 0.0
    for c in loaded["cases"]:
        validate_shapes(c)
        log = {}
        Hn, Cn, Yn = np_run(c["model"], c["h0"], c["c0"], c["inputs"], log)
        errs = [check_close(c["name"], "outputs", Yn, c["outputs"]),
                check_close(c["name"], "hidden", Hn, c["hidden"])]
        if Cn is not None:
            errs.append(check_close(c["name"], "cell", Cn, c["cell"]))
        ea = max(e[0] for e in errs)
        er = max(e[1] for e in errs)
        worst_abs, worst_rel = max(worst_abs, ea), max(worst_rel, er)
        m, s = c["model"], stats[c["name"]]
        sig, th = log["sig"], log["tanh"]
        sat = (f"sig==1:{(sig == 1.0).mean():.2f} sig==0:{(sig == 0.0).mean():.2f} "
               f"sig<1e-16:{(sig < 1e-16).mean():.2f} "
               f"|tanh|==1:{(np.abs(th) == 1.0).mean():.2f}")
        print(f"  {c['name']:<18} {m['cell']:<4} D={m['inputSize']:<2} "
              f"H={m['hiddenSize']:<2} O={m['outputSize']} L={len(m['layers'])} "
              f"T={len(c['inputs']):<4} {m['output']:<7} "
              f"h0={'y' if c['h0'] is not None else '-'}"
              f"c0={'y' if c['c0'] is not None else '-'} "
              f"logits=[{s['logit_range'][0]:.4g},{s['logit_range'][1]:.4g}] "
              f"np-vs-torch abs={ea:.2e} rel={er:.2e} "
              f"torch-xcheck={s['torch_crosscheck_maxdiff']:.1e} "
              f"h0-gain={sensitivity(c):.3g} {sat}")
    print(f"max numpy-vs-torch: abs={worst_abs:.3e} rel={worst_rel:.3e}")

    # ---- saturating cases really saturate ----
    for name in ("gru_saturating", "lstm_saturating"):
        c = next(c for c in loaded["cases"] if c["name"] == name)
        log = {}
        np_run(c["model"], c["h0"], c["c0"], c["inputs"], log)
        assert (log["sig"] == 1.0).mean() > 0.2, name
        assert (log["sig"] < 1e-16).mean() > 0.2, name
        assert (np.abs(log["tanh"]) == 1.0).mean() > 0.2, name

    # ---- scalar cases: hand-checkable numbers ----
    for name, cell in (("scalar_gru", "gru"), ("scalar_lstm", "lstm")):
        c = next(c for c in loaded["cases"] if c["name"] == name)
        hs, cs, ys = scalar_closed_form(cell)
        y = [r[0] for r in c["outputs"]]
        assert np.allclose(y, ys, rtol=1e-14, atol=0), (name, y, ys)
        assert np.allclose(c["hidden"][0][0], hs[-1], rtol=1e-14, atol=0)
        if cell == "lstm":
            assert np.allclose(c["cell"][0][0], cs[-1], rtol=1e-14, atol=0)
        print(f"  {name}: h={['%.6f' % v for v in hs]} "
              + (f"c={['%.6f' % v for v in cs]} " if cell == "lstm" else "")
              + f"y={['%.6f' % v for v in y]}")

    finish(OUT)


if __name__ == "__main__":
    sys.exit(main())
