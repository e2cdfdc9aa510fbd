namespace RnnStreams.Core.Training;

/// <summary>
/// A trainable copy of a model's network (no scaling): all weights in one flat array, a forward pass that keeps what the
/// backward pass needs, and the exact gradient over a window (backpropagation through time) of the mean squared error or,
/// for a <see cref="Gaussian"/> network, of the Gaussian negative log-likelihood.
/// Equations and layout are <see cref="RnnModel"/>'s (PyTorch's for GRU and LSTM); an Elman layer has one bias.
/// </summary>
public sealed class Network
{
    private readonly int[] _offsets; // per layer: W_ih, W_hh, b_ih, b_hh (b_hh empty for Elman); then W_hy, b_y

    /// <summary>A network with PyTorch's default initialisation, U(−1/√H, 1/√H) for every weight and bias.</summary>
    public Network(CellType cell, int inputSize, int hiddenSize, int outputSize, int layers, Random random)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(hiddenSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(layers, 1);
        Cell = cell;
        InputSize = inputSize;
        HiddenSize = hiddenSize;
        OutputSize = outputSize;
        Layers = layers;
        var rows = cell.Gates() * hiddenSize;
        var offsets = new List<int>();
        var size = 0;
        for (var k = 0; k < layers; k++)
        {
            var input = k == 0 ? inputSize : hiddenSize;
            foreach (var length in new[] { rows * input, rows * hiddenSize, rows, cell.IsGated() ? rows : 0 })
            {
                offsets.Add(size);
                size += length;
            }
        }

        offsets.Add(size);
        size += outputSize * hiddenSize;
        offsets.Add(size);
        size += outputSize;
        offsets.Add(size);
        _offsets = [.. offsets];
        Parameters = new double[size];
        var bound = 1 / Math.Sqrt(hiddenSize);
        for (var i = 0; i < size; i++)
        {
            Parameters[i] = ((random.NextDouble() * 2) - 1) * bound;
        }
    }

    /// <summary>
    /// The network's outputs are pairs, a Gaussian's mean μ and spread s (σ = softplus(s)) for each of its targets, and its
    /// loss is the negative log-likelihood <c>log σ + (target − μ)² / 2σ²</c> per target and step (without the constant
    /// ½ log 2π).
    /// </summary>
    public bool Gaussian { get; init; }

    /// <summary>A trainable copy of a model's weights (its scaling, if any, is not part of the network).</summary>
    public static Network FromModel(RnnModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.Output != OutputHead.Linear)
        {
            throw new ArgumentException($"training fits a linear head; this model's is {model.Output.ToFileName()}", nameof(model));
        }

        var network = new Network(model.Cell, model.InputSize, model.HiddenSize, model.OutputSize, model.LayerCount, new Random(0));
        for (var k = 0; k < model.LayerCount; k++)
        {
            var layer = model.Layers[k];
            layer.Wxh.CopyTo(network.Part(network.Parameters, k, 0));
            layer.Whh.CopyTo(network.Part(network.Parameters, k, 1));
            layer.Bh.CopyTo(network.Part(network.Parameters, k, 2));
            layer.Bhh.CopyTo(network.Part(network.Parameters, k, 3));
        }

        model.Why.CopyTo(network.Head(network.Parameters));
        model.By.CopyTo(network.HeadBias(network.Parameters));
        return network;
    }

    /// <summary>
    /// One network that computes the mean of <paramref name="members"/>' outputs: their hidden units side by side (K·H),
    /// every recurrent and inter-layer weight block-diagonal so that each member's units see only their own, and the
    /// head's weights divided by K. The members must share cell, sizes and layers.
    /// </summary>
    public static Network Average(IReadOnlyList<Network> members)
    {
        ArgumentNullException.ThrowIfNull(members);
        ArgumentOutOfRangeException.ThrowIfZero(members.Count);
        var first = members[0];
        foreach (var member in members)
        {
            if (member.Cell != first.Cell || member.InputSize != first.InputSize || member.HiddenSize != first.HiddenSize || member.OutputSize != first.OutputSize || member.Layers != first.Layers)
            {
                throw new ArgumentException("the members must share cell, input, hidden and output sizes and layers", nameof(members));
            }
        }

        var count = members.Count;
        var h = first.HiddenSize;
        var wide = count * h;
        var gates = first.Cell.Gates();
        var merged = new Network(first.Cell, first.InputSize, wide, first.OutputSize, first.Layers, new Random(0)) { Gaussian = first.Gaussian };
        Array.Clear(merged.Parameters);
        for (var m = 0; m < count; m++)
        {
            var member = members[m];
            for (var k = 0; k < first.Layers; k++)
            {
                var input = k == 0 ? first.InputSize : h;
                var mergedInput = k == 0 ? first.InputSize : wide;
                var columnOffset = k == 0 ? 0 : m * h;
                for (var g = 0; g < gates; g++)
                {
                    for (var i = 0; i < h; i++)
                    {
                        var row = (g * h) + i;
                        var mergedRow = (g * wide) + (m * h) + i;
                        member.Part(member.Parameters, k, 0).Slice(row * input, input).CopyTo(merged.Part(merged.Parameters, k, 0).Slice((mergedRow * mergedInput) + columnOffset, input));
                        member.Part(member.Parameters, k, 1).Slice(row * h, h).CopyTo(merged.Part(merged.Parameters, k, 1).Slice((mergedRow * wide) + (m * h), h));
                        merged.Part(merged.Parameters, k, 2)[mergedRow] = member.Part(member.Parameters, k, 2)[row];
                        var bhh = member.Part(member.Parameters, k, 3);
                        if (bhh.Length > 0)
                        {
                            merged.Part(merged.Parameters, k, 3)[mergedRow] = bhh[row];
                        }
                    }
                }
            }

            for (var o = 0; o < first.OutputSize; o++)
            {
                for (var j = 0; j < h; j++)
                {
                    merged.Head(merged.Parameters)[(o * wide) + (m * h) + j] = member.Head(member.Parameters)[(o * h) + j] / count;
                }

                merged.HeadBias(merged.Parameters)[o] += member.HeadBias(member.Parameters)[o] / count;
            }
        }

        return merged;
    }

    /// <summary>One tensor of a parameter-shaped array (weights or gradient): layer k's W_ih (0), W_hh (1), b_ih (2), b_hh (3).</summary>
    public ReadOnlySpan<double> LayerPart(double[] values, int layer, int index) => Part(values, layer, index);

    /// <summary>The head's W_hy, then b_y, of a parameter-shaped array.</summary>
    public (double[] Weights, double[] Bias) HeadParts(double[] values) => (Head(values).ToArray(), HeadBias(values).ToArray());

    public CellType Cell { get; }

    public int InputSize { get; }

    public int HiddenSize { get; }

    public int OutputSize { get; }

    public int Layers { get; }

    /// <summary>Every weight and bias, layer by layer (W_ih, W_hh, b_ih, b_hh), then W_hy and b_y.</summary>
    public double[] Parameters { get; }

    /// <summary>Numbers of a sequence's state, as <see cref="RnnModel.StateSize"/>.</summary>
    public int StateSize => (Cell == CellType.Lstm ? 2 : 1) * Layers * HiddenSize;

    private Span<double> Part(double[] values, int layer, int index) =>
        values.AsSpan(_offsets[(layer * 4) + index], _offsets[(layer * 4) + index + 1] - _offsets[(layer * 4) + index]);

    private Span<double> Head(double[] values) => values.AsSpan(_offsets[Layers * 4], OutputSize * HiddenSize);

    private Span<double> HeadBias(double[] values) => values.AsSpan(_offsets[(Layers * 4) + 1], OutputSize);

    /// <summary>The network as a servable model (weights copied).</summary>
    public RnnModel ToModel(string name, Scaling? scaling = null)
    {
        var layers = new RnnLayer[Layers];
        for (var k = 0; k < Layers; k++)
        {
            var input = k == 0 ? InputSize : HiddenSize;
            layers[k] = Cell.IsGated()
                ? new RnnLayer(Cell, input, HiddenSize, Part(Parameters, k, 0), Part(Parameters, k, 1), Part(Parameters, k, 2), Part(Parameters, k, 3), $"layers[{k}]")
                : new RnnLayer(input, HiddenSize, Part(Parameters, k, 0), Part(Parameters, k, 1), Part(Parameters, k, 2), $"layers[{k}]");
        }

        return new RnnModel(name, Cell, OutputHead.Linear, InputSize, HiddenSize, OutputSize, layers, Head(Parameters), HeadBias(Parameters), scaling);
    }

    /// <summary>
    /// Runs the window <paramref name="inputs"/> from <paramref name="state"/> (updated to the state after the window),
    /// and returns the mean over the window of the squared errors against <paramref name="targets"/> (T×O, averaged over
    /// T·O numbers). When <paramref name="gradient"/> is given, adds to it the loss's gradient with respect to
    /// <see cref="Parameters"/>, the state entering the window held constant (truncated backpropagation through time).
    /// </summary>
    public double Loss(double[][] inputs, double[][] targets, double[] state, double[]? gradient = null)
    {
        if (Gaussian && OutputSize % 2 != 0)
        {
            throw new InvalidOperationException("a Gaussian network has two outputs (mean and spread) per target");
        }

        var trace = Run(inputs, state);
        var steps = trace.Length;
        double loss = 0;
        var scale = Gaussian ? 2.0 / (steps * OutputSize) : 1.0 / (steps * OutputSize);
        for (var t = 0; t < steps; t++)
        {
            var step = trace[t];
            step.DOutput = new double[OutputSize];
            if (Gaussian)
            {
                // The loss is the likelihood's; its gradient trains each mean by squared error (so the point forecasts are
                // the squared-error model's) and each spread by likelihood given its mean: d/ds = (1/σ − e²/σ³)·sigmoid(s).
                for (var c = 0; c < OutputSize / 2; c++)
                {
                    var (mean, spread) = (step.Output[2 * c], step.Output[(2 * c) + 1]);
                    var sigma = Math.Max(Forecaster.Softplus(spread), 1e-6);
                    var error = mean - targets[t][c];
                    loss += (Math.Log(sigma) + (error * error / (2 * sigma * sigma))) * scale;
                    step.DOutput[2 * c] = 2 * error;
                    step.DOutput[(2 * c) + 1] = ((1 / sigma) - (error * error / (sigma * sigma * sigma))) / (1 + Math.Exp(-spread));
                }

                continue;
            }

            for (var o = 0; o < OutputSize; o++)
            {
                var error = step.Output[o] - targets[t][o];
                loss += error * error * scale;
                step.DOutput[o] = 2 * error;
            }
        }

        if (gradient is not null)
        {
            Backward(trace, scale, gradient);
        }

        return loss;
    }

    /// <summary>The outputs of the window <paramref name="inputs"/> run from <paramref name="state"/> (updated to the state after it).</summary>
    public double[][] Outputs(double[][] inputs, double[] state) => [.. Run(inputs, state).Select(step => step.Output)];

    /// <summary>The forward pass over a window, keeping what the backward pass needs; <paramref name="state"/> is updated.</summary>
    private Step[] Run(double[][] inputs, double[] state)
    {
        var steps = inputs.Length;
        var h = HiddenSize;
        var trace = new Step[steps];
        var hidden = new double[Layers][];
        var cells = new double[Layers][];
        for (var k = 0; k < Layers; k++)
        {
            hidden[k] = state.AsSpan(k * h, h).ToArray();
            cells[k] = Cell == CellType.Lstm ? state.AsSpan((Layers + k) * h, h).ToArray() : [];
        }

        for (var t = 0; t < steps; t++)
        {
            var step = trace[t] = new Step(Layers);
            double[] input = inputs[t];
            for (var k = 0; k < Layers; k++)
            {
                var cache = step.Layers[k] = Forward(k, input, hidden[k], cells[k]);
                hidden[k] = cache.H;
                cells[k] = cache.C;
                input = cache.H;
            }

            step.Output = new double[OutputSize];
            var why = Head(Parameters);
            var by = HeadBias(Parameters);
            for (var o = 0; o < OutputSize; o++)
            {
                var sum = by[o];
                for (var j = 0; j < h; j++)
                {
                    sum += why[(o * h) + j] * input[j];
                }

                step.Output[o] = sum;
            }
        }

        for (var k = 0; k < Layers; k++)
        {
            hidden[k].CopyTo(state, k * h);
            if (Cell == CellType.Lstm)
            {
                cells[k].CopyTo(state, (Layers + k) * h);
            }
        }

        return trace;
    }

    private sealed class Step(int layers)
    {
        public LayerCache[] Layers { get; } = new LayerCache[layers];

        public double[] Output { get; set; } = [];

        /// <summary>The step's loss differentiated by each output (before the window's 1/steps scale).</summary>
        public double[] DOutput { get; set; } = [];
    }

    /// <summary>What one layer's forward step keeps: its input, h_{t-1} (c_{t-1}), the gates and the results.</summary>
    private sealed class LayerCache
    {
        public required double[] Input { get; init; }

        public required double[] HPrev { get; init; }

        public double[] CPrev { get; init; } = [];

        public required double[] H { get; init; }

        public double[] C { get; init; } = [];

        /// <summary>Elman: nothing; GRU: r, z, n, W_hn h + b_hn (4H); LSTM: i, f, g, o, tanh(c) (5H).</summary>
        public double[] Gates { get; init; } = [];
    }

    private LayerCache Forward(int k, double[] input, double[] hPrev, double[] cPrev)
    {
        var h = HiddenSize;
        var rows = Cell.Gates() * h;
        var wih = Part(Parameters, k, 0);
        var whh = Part(Parameters, k, 1);
        var bih = Part(Parameters, k, 2);
        var bhh = Part(Parameters, k, 3);
        var fromInput = new double[rows];
        var fromH = new double[rows];
        for (var i = 0; i < rows; i++)
        {
            var a = bih[i];
            for (var j = 0; j < input.Length; j++)
            {
                a += wih[(i * input.Length) + j] * input[j];
            }

            var b = bhh.Length == 0 ? 0 : bhh[i];
            for (var j = 0; j < h; j++)
            {
                b += whh[(i * h) + j] * hPrev[j];
            }

            fromInput[i] = a;
            fromH[i] = b;
        }

        var next = new double[h];
        switch (Cell)
        {
            case CellType.Gru:
            {
                var gates = new double[4 * h];
                for (var i = 0; i < h; i++)
                {
                    var r = Sigmoid(fromInput[i] + fromH[i]);
                    var z = Sigmoid(fromInput[h + i] + fromH[h + i]);
                    var hn = fromH[(2 * h) + i];
                    var n = Math.Tanh(fromInput[(2 * h) + i] + (r * hn));
                    next[i] = n + (z * (hPrev[i] - n));
                    (gates[i], gates[h + i], gates[(2 * h) + i], gates[(3 * h) + i]) = (r, z, n, hn);
                }

                return new LayerCache { Input = input, HPrev = hPrev, H = next, Gates = gates };
            }

            case CellType.Lstm:
            {
                var gates = new double[5 * h];
                var c = new double[h];
                for (var i = 0; i < h; i++)
                {
                    var ig = Sigmoid(fromInput[i] + fromH[i]);
                    var f = Sigmoid(fromInput[h + i] + fromH[h + i]);
                    var g = Math.Tanh(fromInput[(2 * h) + i] + fromH[(2 * h) + i]);
                    var o = Sigmoid(fromInput[(3 * h) + i] + fromH[(3 * h) + i]);
                    c[i] = (f * cPrev[i]) + (ig * g);
                    var tc = Math.Tanh(c[i]);
                    next[i] = o * tc;
                    (gates[i], gates[h + i], gates[(2 * h) + i], gates[(3 * h) + i], gates[(4 * h) + i]) = (ig, f, g, o, tc);
                }

                return new LayerCache { Input = input, HPrev = hPrev, CPrev = cPrev, H = next, C = c, Gates = gates };
            }

            default:
                for (var i = 0; i < h; i++)
                {
                    var z = fromInput[i] + fromH[i];
                    next[i] = Cell == CellType.RnnRelu ? Math.Max(z, 0) : Math.Tanh(z);
                }

                return new LayerCache { Input = input, HPrev = hPrev, H = next };
        }
    }

    private void Backward(Step[] trace, double scale, double[] gradient)
    {
        var h = HiddenSize;
        var dHidden = new double[Layers][];
        var dCell = new double[Layers][];
        for (var k = 0; k < Layers; k++)
        {
            dHidden[k] = new double[h];
            dCell[k] = new double[h];
        }

        var why = Head(Parameters);
        var gWhy = Head(gradient);
        var gBy = HeadBias(gradient);
        for (var t = trace.Length - 1; t >= 0; t--)
        {
            var step = trace[t];
            var top = step.Layers[Layers - 1].H;
            var dTop = dHidden[Layers - 1];
            for (var o = 0; o < OutputSize; o++)
            {
                var dy = step.DOutput[o] * scale;
                gBy[o] += dy;
                for (var j = 0; j < h; j++)
                {
                    gWhy[(o * h) + j] += dy * top[j];
                    dTop[j] += dy * why[(o * h) + j];
                }
            }

            for (var k = Layers - 1; k >= 0; k--)
            {
                var dInput = LayerBackward(k, step.Layers[k], dHidden[k], dCell[k], gradient);
                if (k > 0)
                {
                    for (var j = 0; j < h; j++)
                    {
                        dHidden[k - 1][j] += dInput[j];
                    }
                }
            }
        }
    }

    /// <summary>
    /// Backpropagates one layer's step: <paramref name="dH"/> (and <paramref name="dC"/>) hold the loss's gradient with
    /// respect to this step's h (c) on entry and with respect to h_{t-1} (c_{t-1}) on return. Returns the gradient with
    /// respect to the layer's input.
    /// </summary>
    private double[] LayerBackward(int k, LayerCache cache, double[] dH, double[] dC, double[] gradient)
    {
        var h = HiddenSize;
        var rows = Cell.Gates() * h;
        var dFromInput = new double[rows]; // gradient of W_ih a + b_ih
        var dFromH = new double[rows];     // gradient of W_hh h_prev + b_hh
        var dHPrev = new double[h];
        switch (Cell)
        {
            case CellType.Gru:
                for (var i = 0; i < h; i++)
                {
                    var (r, z, n, hn) = (cache.Gates[i], cache.Gates[h + i], cache.Gates[(2 * h) + i], cache.Gates[(3 * h) + i]);
                    var dn = dH[i] * (1 - z);
                    var dz = dH[i] * (cache.HPrev[i] - n);
                    dHPrev[i] = dH[i] * z;
                    var dnPre = dn * (1 - (n * n));
                    var dr = dnPre * hn;
                    var drPre = dr * r * (1 - r);
                    var dzPre = dz * z * (1 - z);
                    dFromInput[i] = drPre;
                    dFromH[i] = drPre;
                    dFromInput[h + i] = dzPre;
                    dFromH[h + i] = dzPre;
                    dFromInput[(2 * h) + i] = dnPre;
                    dFromH[(2 * h) + i] = dnPre * r;
                }

                break;

            case CellType.Lstm:
                for (var i = 0; i < h; i++)
                {
                    var (ig, f, g, o, tc) = (cache.Gates[i], cache.Gates[h + i], cache.Gates[(2 * h) + i], cache.Gates[(3 * h) + i], cache.Gates[(4 * h) + i]);
                    var dO = dH[i] * tc;
                    var dCTotal = dC[i] + (dH[i] * o * (1 - (tc * tc)));
                    var dI = dCTotal * g;
                    var dG = dCTotal * ig;
                    var dF = dCTotal * cache.CPrev[i];
                    dC[i] = dCTotal * f;
                    dFromInput[i] = dI * ig * (1 - ig);
                    dFromInput[h + i] = dF * f * (1 - f);
                    dFromInput[(2 * h) + i] = dG * (1 - (g * g));
                    dFromInput[(3 * h) + i] = dO * o * (1 - o);
                }

                dFromInput.CopyTo(dFromH, 0);
                break;

            default:
                for (var i = 0; i < h; i++)
                {
                    var value = cache.H[i];
                    var derivative = Cell == CellType.RnnRelu ? (value > 0 ? 1 : 0) : 1 - (value * value);
                    dFromInput[i] = dH[i] * derivative;
                }

                dFromInput.CopyTo(dFromH, 0);
                break;
        }

        var wih = Part(Parameters, k, 0);
        var whh = Part(Parameters, k, 1);
        var gWih = Part(gradient, k, 0);
        var gWhh = Part(gradient, k, 1);
        var gBih = Part(gradient, k, 2);
        var gBhh = Part(gradient, k, 3);
        var input = cache.Input;
        var dInput = new double[input.Length];
        for (var i = 0; i < rows; i++)
        {
            var a = dFromInput[i];
            var b = dFromH[i];
            gBih[i] += a;
            if (gBhh.Length > 0)
            {
                gBhh[i] += b;
            }

            for (var j = 0; j < input.Length; j++)
            {
                gWih[(i * input.Length) + j] += a * input[j];
                dInput[j] += a * wih[(i * input.Length) + j];
            }

            for (var j = 0; j < h; j++)
            {
                gWhh[(i * h) + j] += b * cache.HPrev[j];
                dHPrev[j] += b * whh[(i * h) + j];
            }
        }

        dHPrev.CopyTo(dH, 0);
        return dInput;
    }

    private static double Sigmoid(double v) => 1 / (1 + Math.Exp(-v));
}
