#!/usr/bin/python3
"""Generate PyTorch autograd reference gradients for RnnStreams training (BPTT).

Run with Debian's interpreter (needs python3-torch, python3-numpy):

    /usr/bin/python3 tests/reference/make_torch_gradients.py

Writes tests/reference/torch_gradients.json next to this script.
Everything is float64 and seeded, so re-running gives the same file
(for the same torch build / CPU).  CI only reads the JSON; it never needs torch.

Each case is a torch.nn.GRU / LSTM / RNN(nonlinearity="tanh") (batch 1,
batch_first=False) started from a non-zero constant initial state h0 (and c0
for the LSTM), with the head torch.nn.Linear(H, O) applied to the last layer's
h_t at every step and no output function.  The loss is

    loss = mean over all T*O numbers of (y_t - target_t)^2
         = torch.nn.functional.mse_loss(Y, targets, reduction="mean")

and "gradients" holds d loss / d parameter from loss.backward().  The initial
state is a constant (no gradient).  All RNN weights/biases and the head's
weight/bias are drawn from U(-0.8, 0.8).

Layout is exactly PyTorch's.  GRU/LSTM: per layer k "W_ih", "W_hh", "b_ih",
"b_hh" are weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k} (gate
blocks stacked row-wise, GRU (r, z, n), LSTM (i, f, g, o)); the gradients use
the same keys and shapes.  rnn_tanh: the RnnStreams model file has one bias
per layer, so the model holds "W_xh" = weight_ih_l{k}, "W_hh" =
weight_hh_l{k}, "b_h" = bias_ih_l{k} + bias_hh_l{k}, and the gradient "b_h"
is d loss / d bias_ih_l{k} (which equals d loss / d bias_hh_l{k}; asserted).
"W_hy", "b_y" are fc.weight, fc.bias and their gradients.

Before it finishes the script checks:
  * torch.autograd.gradcheck on the whole parameter list (via torch.gru /
    torch.lstm / torch.rnn_tanh) and explicit central differences on every
    single parameter entry of the module agree with autograd;
  * reading the JSON back, a from-scratch numpy forward reproduces "loss" to
    1e-12 relative, and a from-scratch numpy BPTT reproduces every gradient.
"""
import os
import sys

import numpy as np
import torch

from common import finish, generate, make_module

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "torch_gradients.json")
BASE_SEED = 20240801
W_SCALE = 0.8
LOSS_REL_TOL = 1e-12
GRAD_REL_TOL = 1e-11   # numpy BPTT vs autograd, relative to the tensor's max |g|
FD_EPS = 1e-5          # central-difference step
FD_TOL = 1e-8          # |fd - autograd| <= FD_TOL * max(1, |autograd|)

# name, cell, D, H, O, layers, T.  The case index selects the seed.
CASES = [
    ("grad_gru_2layer", "gru", 2, 3, 2, 2, 7),
    ("grad_lstm_1layer", "lstm", 3, 4, 2, 1, 6),
    ("grad_rnn_tanh_2layer", "rnn_tanh", 2, 3, 1, 2, 5),
]


# --------------------------------------------------------------------------
# case construction with torch
# --------------------------------------------------------------------------


def param_names(layers):
    names = []
    for k in range(layers):
        names += [f"weight_ih_l{k}", f"weight_hh_l{k}",
                  f"bias_ih_l{k}", f"bias_hh_l{k}"]
    return names


def torch_loss(rnn, head, cell, x, targets, h0, c0):
    T, D = x.shape
    state = (h0.unsqueeze(1), c0.unsqueeze(1)) if cell == "lstm" else h0.unsqueeze(1)
    out, _ = rnn(x.view(T, 1, D), state)          # (T, 1, H), last layer's h_t
    y = head(out[:, 0, :])                         # (T, O)
    return torch.nn.functional.mse_loss(y, targets, reduction="mean")


def functional_loss(cell, layers, x, targets, h0, c0, *params):
    """Same loss through the functional ops, for torch.autograd.gradcheck.
    params = rnn flat weights (per layer w_ih, w_hh, b_ih, b_hh), W_hy, b_y."""
    T, D = x.shape
    flat, W_hy, b_y = list(params[:-2]), params[-2], params[-1]
    xs = x.view(T, 1, D)
    if cell == "gru":
        out, _ = torch.gru(xs, h0.unsqueeze(1), flat, True, layers, 0.0,
                           False, False, False)
    elif cell == "lstm":
        out, _, _ = torch.lstm(xs, (h0.unsqueeze(1), c0.unsqueeze(1)), flat,
                               True, layers, 0.0, False, False, False)
    else:
        out, _ = torch.rnn_tanh(xs, h0.unsqueeze(1), flat, True, layers, 0.0,
                                False, False, False)
    y = torch.nn.functional.linear(out[:, 0, :], W_hy, b_y)
    return torch.nn.functional.mse_loss(y, targets, reduction="mean")


def build_case(index, name, cell, D, H, O, layers, T):
    torch.manual_seed(BASE_SEED + index)
    rnn = make_module(cell, D, H, layers)
    head = torch.nn.Linear(H, O)
    with torch.no_grad():
        for p in rnn.parameters():
            p.uniform_(-W_SCALE, W_SCALE)
        for p in head.parameters():
            p.uniform_(-W_SCALE, W_SCALE)
    x = torch.randn(T, D)
    targets = torch.randn(T, O)
    h0 = torch.empty(layers, H).uniform_(-0.5, 0.5)
    is_lstm = cell == "lstm"
    c0 = torch.empty(layers, H).uniform_(-1.0, 1.0) if is_lstm else torch.zeros(layers, H)

    names = param_names(layers)
    named = [(n, getattr(rnn, n)) for n in names] + [
        ("fc.weight", head.weight), ("fc.bias", head.bias)]

    # ---- autograd ----
    rnn.zero_grad()
    head.zero_grad()
    loss = torch_loss(rnn, head, cell, x, targets, h0, c0)
    loss.backward()
    loss_value = loss.item()
    grads = {n: p.grad.detach().clone() for n, p in named}

    # ---- gradcheck on everything at once (functional ops) ----
    leaves = tuple(p.detach().clone().requires_grad_(True) for _, p in named)
    ok = torch.autograd.gradcheck(
        lambda *ps: functional_loss(cell, layers, x, targets, h0, c0, *ps),
        leaves, eps=1e-6, atol=1e-7, rtol=1e-6)
    assert ok, name
    # functional ops give the same loss and gradients as the module
    fl = functional_loss(cell, layers, x, targets, h0, c0, *leaves)
    fg = torch.autograd.grad(fl, leaves)
    assert abs(fl.item() - loss_value) <= 1e-14 * abs(loss_value), name
    for (n, _), g in zip(named, fg):
        assert torch.allclose(g, grads[n], rtol=1e-12, atol=1e-15), (name, n)

    # ---- explicit central differences on every single parameter entry ----
    fd_worst = 0.0
    with torch.no_grad():
        for n, p in named:
            flatp, flatg = p.view(-1), grads[n].view(-1)
            for j in range(flatp.numel()):
                old = flatp[j].item()
                flatp[j] = old + FD_EPS
                lp = torch_loss(rnn, head, cell, x, targets, h0, c0).item()
                flatp[j] = old - FD_EPS
                lm = torch_loss(rnn, head, cell, x, targets, h0, c0).item()
                flatp[j] = old
                fd = (lp - lm) / (2.0 * FD_EPS)
                ad = flatg[j].item()
                err = abs(fd - ad)
                assert err <= FD_TOL * max(1.0, abs(ad)), (name, n, j, fd, ad)
                fd_worst = max(fd_worst, err)
        # parameters restored exactly
        assert torch_loss(rnn, head, cell, x, targets, h0, c0).item() == loss_value

    if cell == "rnn_tanh":
        bias_eq_exact = True
        for k in range(layers):
            gi, gh = grads[f"bias_ih_l{k}"], grads[f"bias_hh_l{k}"]
            assert torch.allclose(gi, gh, rtol=1e-14, atol=1e-17), (name, k, gi, gh)
            bias_eq_exact = bias_eq_exact and torch.equal(gi, gh)
    else:
        bias_eq_exact = None

    def rows(m):
        return [[float(v) for v in r] for r in m.tolist()]

    def vec(v):
        return [float(a) for a in v.tolist()]

    model_layers, grad_layers = [], []
    for k in range(layers):
        W_ih = getattr(rnn, f"weight_ih_l{k}").detach()
        W_hh = getattr(rnn, f"weight_hh_l{k}").detach()
        b_ih = getattr(rnn, f"bias_ih_l{k}").detach()
        b_hh = getattr(rnn, f"bias_hh_l{k}").detach()
        if cell == "rnn_tanh":
            model_layers.append({"W_xh": rows(W_ih), "W_hh": rows(W_hh),
                                 "b_h": vec(b_ih + b_hh)})  # float64 add
            grad_layers.append({"W_xh": rows(grads[f"weight_ih_l{k}"]),
                                "W_hh": rows(grads[f"weight_hh_l{k}"]),
                                "b_h": vec(grads[f"bias_ih_l{k}"])})
        else:
            model_layers.append({"W_ih": rows(W_ih), "W_hh": rows(W_hh),
                                 "b_ih": vec(b_ih), "b_hh": vec(b_hh)})
            grad_layers.append({"W_ih": rows(grads[f"weight_ih_l{k}"]),
                                "W_hh": rows(grads[f"weight_hh_l{k}"]),
                                "b_ih": vec(grads[f"bias_ih_l{k}"]),
                                "b_hh": vec(grads[f"bias_hh_l{k}"])})
    model = {
        "name": name, "cell": cell,
        "inputSize": D, "hiddenSize": H, "outputSize": O,
        "output": "linear",
        "layers": model_layers,
        "W_hy": rows(head.weight.detach()),
        "b_y": vec(head.bias.detach()),
    }
    case = {
        "name": name,
        "model": model,
        "h0": rows(h0),
        "c0": rows(c0) if is_lstm else None,
        "inputs": rows(x),
        "targets": rows(targets),
        "loss": float(loss_value),
        "gradients": {
            "layers": grad_layers,
            "W_hy": rows(grads["fc.weight"]),
            "b_y": vec(grads["fc.bias"]),
        },
    }
    stats = {
        "fd_worst": fd_worst,
        "bias_eq_exact": bias_eq_exact,
        "n_params": sum(p.numel() for _, p in named),
        "grad_maxabs": max(g.abs().max().item() for g in grads.values()),
    }
    return case, stats


# --------------------------------------------------------------------------
# independent numpy forward + BPTT, from the JSON as written
# --------------------------------------------------------------------------
def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def np_layers(model):
    """Per layer (W_in, W_hh, b_in, b_hh) in a cell-independent shape; for
    rnn_tanh b_in = b_h and b_hh = 0."""
    out = []
    for l in model["layers"]:
        if model["cell"] == "rnn_tanh":
            out.append((np.array(l["W_xh"]), np.array(l["W_hh"]),
                        np.array(l["b_h"]), np.zeros(len(l["b_h"]))))
        else:
            out.append((np.array(l["W_ih"]), np.array(l["W_hh"]),
                        np.array(l["b_ih"]), np.array(l["b_hh"])))
    return out


def np_forward_backward(case):
    m = case["model"]
    cell, H = m["cell"], m["hiddenSize"]
    L = np_layers(m)
    nl = len(L)
    W_hy, b_y = np.array(m["W_hy"]), np.array(m["b_y"])
    X, Yt = np.array(case["inputs"]), np.array(case["targets"])
    T, O = Yt.shape
    h0 = np.array(case["h0"])
    c0 = np.array(case["c0"]) if case["c0"] is not None else np.zeros((nl, H))

    # forward, keeping everything BPTT needs
    tape = [[None] * T for _ in range(nl)]
    h, c = [h0[k].copy() for k in range(nl)], [c0[k].copy() for k in range(nl)]
    Y, top = np.zeros((T, O)), np.zeros((T, H))
    for t in range(T):
        inp = X[t]
        for k, (Wi, Wh, bi, bh) in enumerate(L):
            gi = Wi @ inp + bi
            gh = Wh @ h[k] + bh
            rec = {"inp": inp, "h_prev": h[k], "c_prev": c[k], "gh": gh}
            if cell == "gru":
                r = sigmoid(gi[0:H] + gh[0:H])
                z = sigmoid(gi[H:2 * H] + gh[H:2 * H])
                n = np.tanh(gi[2 * H:] + r * gh[2 * H:])
                hn = (1.0 - z) * n + z * h[k]
                rec.update(r=r, z=z, n=n)
            elif cell == "lstm":
                a = gi + gh
                i, f = sigmoid(a[0:H]), sigmoid(a[H:2 * H])
                g, o = np.tanh(a[2 * H:3 * H]), sigmoid(a[3 * H:])
                c[k] = f * c[k] + i * g
                tc = np.tanh(c[k])
                hn = o * tc
                rec.update(i=i, f=f, g=g, o=o, tc=tc)
            else:
                hn = np.tanh(gi + gh)
            rec["h"] = hn
            tape[k][t] = rec
            h[k] = hn
            inp = hn
        top[t] = inp
        Y[t] = W_hy @ inp + b_y
    loss = float(np.mean((Y - Yt) ** 2))

    # backward
    dY = 2.0 * (Y - Yt) / (T * O)
    g_Why = dY.T @ top
    g_by = dY.sum(axis=0)
    dh_out = dY @ W_hy                       # (T, H) into the top layer's h_t
    g_layers = [None] * nl
    for k in reversed(range(nl)):
        Wi, Wh, _, _ = L[k]
        gWi, gWh = np.zeros_like(Wi), np.zeros_like(Wh)
        gbi, gbh = np.zeros(Wi.shape[0]), np.zeros(Wh.shape[0])
        dinp = np.zeros((T, Wi.shape[1]))
        dh_next, dc_next = np.zeros(H), np.zeros(H)
        for t in reversed(range(T)):
            rec = tape[k][t]
            dh = dh_out[t] + dh_next
            if cell == "gru":
                r, z, n, gh = rec["r"], rec["z"], rec["n"], rec["gh"]
                dn = dh * (1.0 - z)
                dz = dh * (rec["h_prev"] - n)
                dh_prev = dh * z
                dan = dn * (1.0 - n * n)
                dar = dan * gh[2 * H:] * r * (1.0 - r)
                daz = dz * z * (1.0 - z)
                dgi = np.concatenate([dar, daz, dan])
                dgh = np.concatenate([dar, daz, dan * r])
            elif cell == "lstm":
                i, f, g, o, tc = rec["i"], rec["f"], rec["g"], rec["o"], rec["tc"]
                dc = dc_next + dh * o * (1.0 - tc * tc)
                da = np.concatenate([dc * g * i * (1.0 - i),
                                     dc * rec["c_prev"] * f * (1.0 - f),
                                     dc * i * (1.0 - g * g),
                                     dh * tc * o * (1.0 - o)])
                dc_next = dc * f
                dh_prev = np.zeros(H)
                dgi = dgh = da
            else:
                hn = rec["h"]
                dgi = dgh = dh * (1.0 - hn * hn)
                dh_prev = np.zeros(H)
            gWi += np.outer(dgi, rec["inp"])
            gWh += np.outer(dgh, rec["h_prev"])
            gbi += dgi
            gbh += dgh
            dinp[t] = Wi.T @ dgi
            dh_next = dh_prev + Wh.T @ dgh
        g_layers[k] = (gWi, gWh, gbi, gbh)
        dh_out = dinp
    return loss, g_layers, g_Why, g_by


def check_grad(name, what, ref, got):
    ref, got = np.asarray(ref, dtype=float), np.asarray(got, dtype=float)
    assert ref.shape == got.shape, (name, what, ref.shape, got.shape)
    assert np.all(np.isfinite(ref)) and np.all(np.isfinite(got)), (name, what)
    scale = max(np.abs(ref).max(), np.abs(got).max(), 1e-300)
    err = float(np.abs(ref - got).max())
    assert err <= GRAD_REL_TOL * scale, (name, what, err, scale)
    return err / scale


def validate_shapes(c):
    m = c["model"]
    cell = m["cell"]
    D, H, O = m["inputSize"], m["hiddenSize"], m["outputSize"]
    G = {"gru": 3, "lstm": 4, "rnn_tanh": 1}[cell]
    assert m["name"] == c["name"] and m["output"] == "linear"
    assert list(c) == ["name", "model", "h0", "c0", "inputs", "targets",
                       "loss", "gradients"]
    keys = ["W_xh", "W_hh", "b_h"] if cell == "rnn_tanh" else ["W_ih", "W_hh", "b_ih", "b_hh"]
    nl = len(m["layers"])
    assert len(c["gradients"]["layers"]) == nl
    for k in range(nl):
        din = D if k == 0 else H
        for l in (m["layers"][k], c["gradients"]["layers"][k]):
            assert list(l) == keys
            assert len(l[keys[0]]) == G * H and all(len(r) == din for r in l[keys[0]])
            assert len(l["W_hh"]) == G * H and all(len(r) == H for r in l["W_hh"])
            for b in keys[2:]:
                assert len(l[b]) == G * H
    for w in (m, c["gradients"]):
        assert len(w["W_hy"]) == O and all(len(r) == H for r in w["W_hy"])
        assert len(w["b_y"]) == O
    assert len(c["h0"]) == nl and all(len(r) == H for r in c["h0"])
    if cell == "lstm":
        assert len(c["c0"]) == nl and all(len(r) == H for r in c["c0"])
    else:
        assert c["c0"] is None
    T = len(c["inputs"])
    assert all(len(r) == D for r in c["inputs"])
    assert len(c["targets"]) == T and all(len(r) == O for r in c["targets"])


def main():
    loaded, stats = generate(OUT, "tests/reference/make_torch_gradients.py", CASES, lambda i, spec: build_case(i, *spec))
    for c in loaded["cases"]:
        validate_shapes(c)
        m, s = c["model"], stats[c["name"]]
        loss, g_layers, g_Why, g_by = np_forward_backward(c)
        loss_rel = abs(loss - c["loss"]) / abs(c["loss"])
        assert loss_rel <= LOSS_REL_TOL, (c["name"], loss, c["loss"])
        G = c["gradients"]
        rels = [check_grad(c["name"], "W_hy", g_Why, G["W_hy"]),
                check_grad(c["name"], "b_y", g_by, G["b_y"])]
        for k, (gWi, gWh, gbi, gbh) in enumerate(g_layers):
            gl = G["layers"][k]
            if m["cell"] == "rnn_tanh":
                rels += [check_grad(c["name"], f"W_xh[{k}]", gWi, gl["W_xh"]),
                         check_grad(c["name"], f"W_hh[{k}]", gWh, gl["W_hh"]),
                         check_grad(c["name"], f"b_h[{k}]", gbi, gl["b_h"])]
            else:
                rels += [check_grad(c["name"], f"W_ih[{k}]", gWi, gl["W_ih"]),
                         check_grad(c["name"], f"W_hh[{k}]", gWh, gl["W_hh"]),
                         check_grad(c["name"], f"b_ih[{k}]", gbi, gl["b_ih"]),
                         check_grad(c["name"], f"b_hh[{k}]", gbh, gl["b_hh"])]
        beq = "" if s["bias_eq_exact"] is None else \
            f" b_ih/b_hh grads {'bit-equal' if s['bias_eq_exact'] else 'equal to 1e-14'}"
        print(f"  {c['name']:<22} {m['cell']:<8} D={m['inputSize']} "
              f"H={m['hiddenSize']} O={m['outputSize']} L={len(m['layers'])} "
              f"T={len(c['inputs'])} params={s['n_params']} "
              f"loss={c['loss']!r} np-loss rel={loss_rel:.1e} "
              f"np-BPTT rel={max(rels):.1e} fd-err={s['fd_worst']:.1e} "
              f"max|g|={s['grad_maxabs']:.3g}{beq}")

    finish(OUT)


if __name__ == "__main__":
    sys.exit(main())
