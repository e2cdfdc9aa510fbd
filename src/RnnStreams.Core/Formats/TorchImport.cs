using System.Globalization;

namespace RnnStreams.Core.Formats;

/// <summary>
/// Turns a PyTorch <c>state_dict</c> (as read by <see cref="Safetensors"/>) of a <c>torch.nn.RNN</c>, <c>GRU</c> or
/// <c>LSTM</c> plus a <c>torch.nn.Linear</c> head into a model: <c>{rnn}.weight_ih_l{k}</c>, <c>weight_hh_l{k}</c>,
/// <c>bias_ih_l{k}</c>, <c>bias_hh_l{k}</c> for k = 0, 1, … and <c>{head}.weight</c>, <c>{head}.bias</c>. Sizes are
/// read from the shapes and checked against each other; PyTorch's gate order is ours, so rows are taken as they are
/// (an Elman layer's two biases are added into b_h).
/// </summary>
/// <remarks>
/// The model's precision follows the tensors it is built from unless one is asked for: all of them F32 gives a float32
/// model (the very floats PyTorch saved); any F64 among them a float64 model (the F32 ones widened exactly). An Elman
/// layer's <c>b_h</c> is <c>bias_ih + bias_hh</c> added in double and, in a float32 model, rounded to float once.
/// </remarks>
public static class TorchImport
{
    /// <param name="tensors">The tensors by name.</param>
    /// <param name="cell">The recurrent module's cell (PyTorch files do not say it).</param>
    /// <param name="name">The model's name.</param>
    /// <param name="rnnPrefix">The recurrent module's key prefix (e.g. <c>rnn</c>), or null to find the one key ending in <c>weight_ih_l0</c>.</param>
    /// <param name="headPrefix">The head's key prefix (e.g. <c>fc</c>).</param>
    /// <param name="output">The function after the head.</param>
    /// <param name="precision">The model's precision, or null for the tensors' (float32 when every tensor read is F32, else float64).</param>
    /// <exception cref="ModelValidationException">A tensor is missing, has the wrong shape, or is of a kind not served (bidirectional, projections).</exception>
    public static RnnModel ToModel(IReadOnlyDictionary<string, SafetensorsTensor> tensors, CellType cell, string name, string? rnnPrefix = null, string headPrefix = "fc",
        OutputHead output = OutputHead.Linear, ModelPrecision? precision = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var prefix = rnnPrefix is null ? FindPrefix(tensors) : Join(rnnPrefix, string.Empty);
        var reverse = tensors.Keys.FirstOrDefault(k => k.StartsWith(prefix, StringComparison.Ordinal) && k.EndsWith("_reverse", StringComparison.Ordinal));
        if (reverse is not null)
        {
            throw new ModelValidationException(reverse, "a bidirectional module is not a streaming model: a sequence only ever sees the past");
        }

        var projection = tensors.Keys.FirstOrDefault(k => k.StartsWith(prefix + "weight_hr_l", StringComparison.Ordinal));
        if (projection is not null)
        {
            throw new ModelValidationException(projection, "LSTM projections (proj_size) are not supported");
        }

        var gates = cell.Gates();
        var first = Require(tensors, prefix + "weight_ih_l0", 2);
        if (first.Shape[0] % gates != 0)
        {
            throw new ModelValidationException(first.Name, $"a {cell.ToFileName()} stacks {gates} gate blocks, so its rows must be a multiple of {gates}; got {Shape(first)}");
        }

        var hidden = first.Shape[0] / gates;
        var input = first.Shape[1];
        if (hidden < 1 || input < 1)
        {
            throw new ModelValidationException(first.Name, $"empty weights {Shape(first)}");
        }

        var hasBias = tensors.ContainsKey(prefix + "bias_ih_l0") || tensors.ContainsKey(prefix + "bias_hh_l0");
        var dtypes = new HashSet<string>(StringComparer.Ordinal);
        double[] Take(string key, params int[] shape)
        {
            var tensor = Expect(tensors, key, shape);
            dtypes.Add(tensor.DType);
            return tensor.Values;
        }

        // The layers are built once every tensor is read and the precision known.
        var layers = new List<Func<ModelPrecision, RnnLayer>>();
        for (var k = 0; tensors.ContainsKey($"{prefix}weight_ih_l{k}"); k++)
        {
            var layerInput = k == 0 ? input : hidden;
            var rows = gates * hidden;
            var wih = Take($"{prefix}weight_ih_l{k}", rows, layerInput);
            var whh = Take($"{prefix}weight_hh_l{k}", rows, hidden);
            var bih = hasBias ? Take($"{prefix}bias_ih_l{k}", rows) : new double[rows];
            var bhh = hasBias ? Take($"{prefix}bias_hh_l{k}", rows) : new double[rows];
            var field = string.Create(CultureInfo.InvariantCulture, $"layers[{k}]");
            if (cell.IsGated())
            {
                layers.Add(p => new RnnLayer(cell, layerInput, hidden, wih, whh, bih, bhh, field, p));
            }
            else
            {
                var bh = new double[rows];
                for (var i = 0; i < rows; i++)
                {
                    bh[i] = bih[i] + bhh[i];
                }

                layers.Add(p => new RnnLayer(layerInput, hidden, wih, whh, bh, field, p));
            }
        }

        var headWeight = Require(tensors, Join(headPrefix, "weight"), 2);
        var outputSize = headWeight.Shape[0];
        var why = Take(Join(headPrefix, "weight"), outputSize, hidden);
        var by = tensors.ContainsKey(Join(headPrefix, "bias")) ? Take(Join(headPrefix, "bias"), outputSize) : new double[outputSize];
        var chosen = precision ?? (dtypes.All(d => d == "F32") ? ModelPrecision.Float32 : ModelPrecision.Float64);
        return new RnnModel(name, cell, output, input, hidden, outputSize, [.. layers.Select(layer => layer(chosen))], why, by);
    }

    private static string Join(string prefix, string key) => prefix.Length == 0 ? key : $"{prefix.TrimEnd('.')}.{key}";

    private static string FindPrefix(IReadOnlyDictionary<string, SafetensorsTensor> tensors)
    {
        var candidates = tensors.Keys.Where(k => k.EndsWith("weight_ih_l0", StringComparison.Ordinal)).ToList();
        return candidates.Count switch
        {
            1 => candidates[0][..^"weight_ih_l0".Length],
            0 => throw new ModelValidationException("weight_ih_l0", $"no recurrent layer: no tensor name ends in weight_ih_l0 (found {Names(tensors)})"),
            _ => throw new ModelValidationException("weight_ih_l0", $"several recurrent modules ({string.Join(", ", candidates)}); say which with the prefix"),
        };
    }

    private static SafetensorsTensor Require(IReadOnlyDictionary<string, SafetensorsTensor> tensors, string key, int rank)
    {
        if (!tensors.TryGetValue(key, out var tensor))
        {
            throw new ModelValidationException(key, $"missing tensor (found {Names(tensors)})");
        }

        if (tensor.Shape.Count != rank)
        {
            throw new ModelValidationException(key, $"expected {rank} dimensions, got {Shape(tensor)}");
        }

        return tensor;
    }

    private static SafetensorsTensor Expect(IReadOnlyDictionary<string, SafetensorsTensor> tensors, string key, params int[] shape)
    {
        var tensor = Require(tensors, key, shape.Length);
        if (!tensor.Shape.SequenceEqual(shape))
        {
            throw new ModelValidationException(key, $"expected [{string.Join(", ", shape)}], got {Shape(tensor)}");
        }

        return tensor;
    }

    private static string Shape(SafetensorsTensor tensor) => $"[{string.Join(", ", tensor.Shape)}]";

    private static string Names(IReadOnlyDictionary<string, SafetensorsTensor> tensors) =>
        tensors.Count == 0 ? "no tensors" : string.Join(", ", tensors.Keys.Order(StringComparer.Ordinal).Take(12)) + (tensors.Count > 12 ? ", …" : string.Empty);
}
