using System.Text.Json;
using RnnStreams.Core.Training;

namespace RnnStreams.Core.Tests.Training;

/// <summary>
/// Backpropagation through time against PyTorch's autograd (tests/reference/torch_gradients.json, from
/// make_torch_gradients.py): the loss and every gradient of a 2-layer GRU, an LSTM and a 2-layer Elman RNN from a
/// non-zero initial state.
/// </summary>
public class TorchGradientTests
{
    private static readonly Lazy<JsonDocument> Vectors = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Reference", "torch_gradients.json"))));

    [Theory]
    [InlineData("grad_gru_2layer")]
    [InlineData("grad_lstm_1layer")]
    [InlineData("grad_rnn_tanh_2layer")]
    public void LossAndGradients_MatchAutograd(string name)
    {
        var c = Vectors.Value.RootElement.GetProperty("cases").EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);
        var model = ModelFile.Parse(c.GetProperty("model").GetRawText());
        var network = Network.FromModel(model);
        var state = new double[network.StateSize];
        Flat(c.GetProperty("h0")).CopyTo(state, 0);
        if (c.GetProperty("c0").ValueKind == JsonValueKind.Array)
        {
            Flat(c.GetProperty("c0")).CopyTo(state, model.CellStateOffset);
        }

        var gradient = new double[network.Parameters.Length];
        var loss = network.Loss(Rows(c.GetProperty("inputs")), Rows(c.GetProperty("targets")), state, gradient);
        Assert.Equal(c.GetProperty("loss").GetDouble(), loss, 1e-12);

        var expected = c.GetProperty("gradients");
        var gated = model.Cell.IsGated();
        var layers = expected.GetProperty("layers").EnumerateArray().ToArray();
        for (var k = 0; k < model.LayerCount; k++)
        {
            Close(Flat(layers[k].GetProperty(gated ? "W_ih" : "W_xh")), network.LayerPart(gradient, k, 0), $"{name} layers[{k}] W_ih");
            Close(Flat(layers[k].GetProperty("W_hh")), network.LayerPart(gradient, k, 1), $"{name} layers[{k}] W_hh");
            Close(Flat(layers[k].GetProperty(gated ? "b_ih" : "b_h")), network.LayerPart(gradient, k, 2), $"{name} layers[{k}] b_ih");
            if (gated)
            {
                Close(Flat(layers[k].GetProperty("b_hh")), network.LayerPart(gradient, k, 3), $"{name} layers[{k}] b_hh");
            }
        }

        var (why, by) = network.HeadParts(gradient);
        Close(Flat(expected.GetProperty("W_hy")), why, $"{name} W_hy");
        Close(Flat(expected.GetProperty("b_y")), by, $"{name} b_y");
    }

    private static void Close(double[] expected, ReadOnlySpan<double> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-12 + (1e-9 * Math.Abs(expected[i])), $"{what}[{i}]: autograd {expected[i]:R}, ours {actual[i]:R}");
        }
    }

    private static double[][] Rows(JsonElement rows) =>
        [.. rows.EnumerateArray().Select(row => row.ValueKind == JsonValueKind.Array ? row.EnumerateArray().Select(v => v.GetDouble()).ToArray() : [row.GetDouble()])];

    private static double[] Flat(JsonElement value) => value.ValueKind == JsonValueKind.Array ? [.. Rows(value).SelectMany(r => r)] : [value.GetDouble()];
}
