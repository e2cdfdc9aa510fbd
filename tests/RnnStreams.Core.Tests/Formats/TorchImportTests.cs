using System.Text.Json;
using RnnStreams.Core.Formats;

namespace RnnStreams.Core.Tests.Formats;

/// <summary>PyTorch state_dicts saved as safetensors (tests/reference/safetensors) imported and run against PyTorch's outputs.</summary>
public class TorchImportTests
{
    private static string Fixture(string file) => Path.Combine(AppContext.BaseDirectory, "Reference", "safetensors", file);

    [Theory]
    [InlineData("lstm_f32", CellType.Lstm, 3, 4, 2, 2)]
    [InlineData("gru_f64", CellType.Gru, 2, 3, 1, 2)]
    [InlineData("rnn_tanh_f64", CellType.RnnTanh, 2, 3, 1, 2)]
    public void Import_GivesPyTorchsOutputs(string fixture, CellType cell, int input, int hidden, int layers, int output)
    {
        // Float64 asked for: the fixtures' reference runs are float64 (the F32 fixture's from its floats widened), and so is
        // the comparison; an F32 file left to itself gives a float32 model (below).
        using var expected = JsonDocument.Parse(File.ReadAllText(Fixture(fixture + ".json")));
        var model = TorchImport.ToModel(Safetensors.Read(Fixture(fixture + ".safetensors")), cell, fixture, precision: ModelPrecision.Float64);
        Assert.Equal((cell, input, hidden, layers, output), (model.Cell, model.InputSize, model.HiddenSize, model.LayerCount, model.OutputSize));

        var state = new double[model.StateSize];
        var y = new double[output];
        var inputs = expected.RootElement.GetProperty("inputs").EnumerateArray().ToArray();
        var outputs = expected.RootElement.GetProperty("outputs").EnumerateArray().ToArray();
        Assert.Equal(6, inputs.Length);
        for (var t = 0; t < inputs.Length; t++)
        {
            model.Step(inputs[t].EnumerateArray().Select(v => v.GetDouble()).ToArray(), state, y);
            var torch = outputs[t].EnumerateArray().Select(v => v.GetDouble()).ToArray();
            for (var o = 0; o < output; o++)
            {
                Assert.True(Math.Abs(torch[o] - y[o]) <= Math.Max(1e-12, 1e-9 * Math.Abs(torch[o])), $"{fixture} y[{t + 1}][{o}]: torch {torch[o]:R}, ours {y[o]:R}");
            }
        }

        // The model file written from the import reads back to the same weights.
        var again = ModelFile.Parse(ModelFile.ToJson(model));
        Assert.Equal(model.Layers[0].Whh.ToArray(), again.Layers[0].Whh.ToArray());
    }

    [Fact]
    public void Import_F32Tensors_GiveAFloat32Model_WithPyTorchsFloats()
    {
        var tensors = Safetensors.Read(Fixture("lstm_f32.safetensors"));
        var model = TorchImport.ToModel(tensors, CellType.Lstm, "f32");
        Assert.Equal(ModelPrecision.Float32, model.Precision);
        Assert.Equal(tensors["rnn.weight_hh_l1"].Values, model.Layers[1].Whh.ToArray()); // the same floats, exactly
        Assert.Contains("\"dtype\": \"float32\"", ModelFile.ToJson(model));

        // Against PyTorch's float64 run of the same floats: float32 arithmetic (and the inputs rounded to float) alone.
        using var expected = JsonDocument.Parse(File.ReadAllText(Fixture("lstm_f32.json")));
        var state = new float[model.StateSize];
        var y = new double[model.OutputSize];
        var outputs = expected.RootElement.GetProperty("outputs").EnumerateArray().ToArray();
        var t = 0;
        foreach (var x in expected.RootElement.GetProperty("inputs").EnumerateArray())
        {
            model.Step(x.EnumerateArray().Select(v => v.GetDouble()).ToArray(), state, y);
            var torch = outputs[t++].EnumerateArray().Select(v => v.GetDouble()).ToArray();
            Assert.True(Float32KernelTests.Error(torch, y) < 1e-6, $"y[{t}]: torch {torch[0]:R}, ours {y[0]:R}");
        }
    }

    [Fact]
    public void Import_F64OrMixedTensors_GiveAFloat64Model_UnlessFloat32IsAskedFor()
    {
        var f64 = Safetensors.Read(Fixture("gru_f64.safetensors"));
        Assert.Equal(ModelPrecision.Float64, TorchImport.ToModel(f64, CellType.Gru, "g").Precision);
        var asked = TorchImport.ToModel(f64, CellType.Gru, "g", precision: ModelPrecision.Float32);
        Assert.Equal(ModelPrecision.Float32, asked.Precision);
        Assert.Equal(f64["rnn.weight_ih_l0"].Values.Select(v => (double)(float)v), asked.Layers[0].Wxh.ToArray());

        // An F32 LSTM with an F64 head (and an F64 tensor the import does not read, which does not count).
        var mixed = Safetensors.Read(Fixture("lstm_f32.safetensors")).ToDictionary(p => p.Key, p => p.Value);
        Assert.Equal(ModelPrecision.Float32, TorchImport.ToModel(Extra(mixed), CellType.Lstm, "m").Precision);
        var head = mixed["fc.bias"];
        mixed["fc.bias"] = new SafetensorsTensor(head.Name, "F64", [.. head.Shape], head.Values);
        Assert.Equal(ModelPrecision.Float64, TorchImport.ToModel(mixed, CellType.Lstm, "m").Precision);

        static Dictionary<string, SafetensorsTensor> Extra(Dictionary<string, SafetensorsTensor> tensors) =>
            new(tensors) { ["embedding.weight"] = new SafetensorsTensor("embedding.weight", "F64", [1, 2], [0.5, 0.25]) };
    }

    [Fact]
    public void Import_FindsThePrefix_AndTakesAnotherHeadPrefix()
    {
        var tensors = Safetensors.Read(Fixture("gru_f64.safetensors"));
        var renamed = tensors.ToDictionary(p => p.Key.Replace("rnn.", "encoder.gru.", StringComparison.Ordinal).Replace("fc.", "out.", StringComparison.Ordinal), p => p.Value);
        var model = TorchImport.ToModel(renamed, CellType.Gru, "g", rnnPrefix: null, headPrefix: "out");
        Assert.Equal(3, model.HiddenSize);
        var explicitPrefix = TorchImport.ToModel(renamed, CellType.Gru, "g", rnnPrefix: "encoder.gru", headPrefix: "out");
        Assert.Equal(model.Layers[0].Wxh.ToArray(), explicitPrefix.Layers[0].Wxh.ToArray());
    }

    public static TheoryData<string, string> Refusals() => new()
    {
        { "missing bias_hh", "bias_hh_l0" },
        { "missing head", "fc.weight" },
        { "wrong cell", "multiple of 4" },
        { "bidirectional", "bidirectional" },
        { "projection", "proj_size" },
        { "short W_hh", "expected [9, 3]" },
        { "no recurrent layer", "no tensor name ends in weight_ih_l0" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public void Import_RefusesWhatIsNotAServableModel_NamingTheTensor(string what, string expected)
    {
        var tensors = Safetensors.Read(Fixture("gru_f64.safetensors")).ToDictionary(p => p.Key, p => p.Value);
        var cell = CellType.Gru;
        switch (what)
        {
            case "missing bias_hh":
                tensors.Remove("rnn.bias_hh_l0");
                break;
            case "missing head":
                tensors.Remove("fc.weight");
                break;
            case "wrong cell":
                cell = CellType.Lstm; // 9 rows are not 4·H
                break;
            case "bidirectional":
                tensors["rnn.weight_ih_l0_reverse"] = tensors["rnn.weight_ih_l0"];
                break;
            case "projection":
                tensors["rnn.weight_hr_l0"] = tensors["fc.weight"];
                break;
            case "short W_hh":
                tensors["rnn.weight_hh_l0"] = tensors["rnn.weight_ih_l0"]; // 9×2 instead of 9×3
                break;
            case "no recurrent layer":
                tensors.Remove("rnn.weight_ih_l0");
                break;
        }

        var e = Assert.Throws<ModelValidationException>(() => TorchImport.ToModel(tensors, cell, "m"));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }
}
