namespace RnnStreams.Core.Tests;

public class ModelFileTests
{
    private const string Demo = """
        { "name": "demo", "cell": "rnn_tanh", "inputSize": 1, "hiddenSize": 1, "outputSize": 1,
          "output": "linear",
          "layers": [ { "W_xh": [[0.5]], "W_hh": [[0.3]], "b_h": [0.1] } ],
          "W_hy": [[0.4]], "b_y": [0.2] }
        """;

    private const string TwoByThree = """
        { "name": "m", "cell": "rnn_relu", "inputSize": 3, "hiddenSize": 2, "outputSize": 1, "output": "sigmoid",
          "layers": [ { "W_xh": [[1,2,3],[4,5,6]], "W_hh": [[1,0],[0,1]], "b_h": [0.5, -0.5] },
                      { "W_xh": [[1,0],[0,1]], "W_hh": [[0,0],[0,0]], "b_h": [0, 0] } ],
          "W_hy": [[1, -1]], "b_y": [0] }
        """;

    [Fact]
    public void Parse_DesignExample_ReadsEveryField()
    {
        var model = ModelFile.Parse(Demo);
        Assert.Equal("demo", model.Name);
        Assert.Equal(CellType.RnnTanh, model.Cell);
        Assert.Equal(OutputHead.Linear, model.Output);
        Assert.Equal((1, 1, 1, 1), (model.InputSize, model.HiddenSize, model.OutputSize, model.LayerCount));
        Assert.Equal([0.5], model.Layers[0].Wxh.ToArray());
        Assert.Equal([0.3], model.Layers[0].Whh.ToArray());
        Assert.Equal([0.1], model.Layers[0].Bh.ToArray());
        Assert.Equal([0.4], model.Why.ToArray());
        Assert.Equal([0.2], model.By.ToArray());
    }

    [Fact]
    public void Parse_MatricesAreRowsByColumns()
    {
        var model = ModelFile.Parse(TwoByThree);
        Assert.Equal([1, 2, 3, 4, 5, 6], model.Layers[0].Wxh.ToArray());
        Assert.Equal(2, model.LayerCount);
        Assert.Equal(CellType.RnnRelu, model.Cell);
        Assert.Equal(OutputHead.Sigmoid, model.Output);
    }

    [Fact]
    public void ToJson_RoundTripsEveryBit()
    {
        var model = TestModels.Random(5, 3, 7, 2, layers: 2, output: OutputHead.Softmax);
        var again = ModelFile.Parse(ModelFile.ToJson(model));
        Assert.Equal(model.ToString(), again.ToString());
        for (var k = 0; k < model.LayerCount; k++)
        {
            Assert.Equal(model.Layers[k].Wxh.ToArray(), again.Layers[k].Wxh.ToArray());
            Assert.Equal(model.Layers[k].Whh.ToArray(), again.Layers[k].Whh.ToArray());
            Assert.Equal(model.Layers[k].Bh.ToArray(), again.Layers[k].Bh.ToArray());
        }

        Assert.Equal(model.Why.ToArray(), again.Why.ToArray());
        Assert.Equal(model.By.ToArray(), again.By.ToArray());
    }

    public static TheoryData<string, string, string> Invalid() => new()
    {
        // description, JSON, expected start of the message (field: detail)
        { "not JSON", "{ nope", "file: not valid JSON" },
        { "array", "[1,2]", "file: expected a JSON object, got an array" },
        { "wrong W_xh shape", Demo.Replace("\"W_xh\": [[0.5]]", "\"W_xh\": [[0.5, 1]]"), "layers[0].W_xh: expected 1×1 (hiddenSize × inputSize), but row 0 has 2 columns" },
        { "wrong W_hh rows", Demo.Replace("\"W_hh\": [[0.3]]", "\"W_hh\": [[0.3],[0.1]]"), "layers[0].W_hh: expected 1×1 (hiddenSize × hiddenSize), got 2×1" },
        { "wrong b_h", Demo.Replace("\"b_h\": [0.1]", "\"b_h\": [0.1, 2]"), "layers[0].b_h: expected 1 numbers (hiddenSize), got 2" },
        { "wrong W_hy", Demo.Replace("\"W_hy\": [[0.4]]", "\"W_hy\": [[0.4]], \"x\": 1"), "x: unknown field" },
        { "missing W_hh", Demo.Replace("\"W_hh\": [[0.3]], ", string.Empty), "layers[0].W_hh: missing field" },
        { "missing b_y", Demo.Replace(", \"b_y\": [0.2]", string.Empty), "b_y: missing field" },
        { "missing cell", Demo.Replace("\"cell\": \"rnn_tanh\", ", string.Empty), "cell: missing field" },
        { "unknown cell", Demo.Replace("rnn_tanh", "transformer"), "cell: unknown cell 'transformer'" },
        { "unknown output", Demo.Replace("\"linear\"", "\"argmax\""), "output: unknown output 'argmax'" },
        { "empty layers", Demo.Replace("[ { \"W_xh\": [[0.5]], \"W_hh\": [[0.3]], \"b_h\": [0.1] } ]", "[]"), "layers: a model needs at least one layer" },
        { "overflowing number", Demo.Replace("[[0.4]]", "[[1e999]]"), "W_hy[0][0]: 1e999 is not a finite double" },
        { "NaN as string", Demo.Replace("[0.2]", "[\"NaN\"]"), "b_y[0]: expected a number, got \"NaN\"" },
        { "negative size", Demo.Replace("\"hiddenSize\": 1", "\"hiddenSize\": -3"), "hiddenSize: must be between 1" },
        { "fractional size", Demo.Replace("\"inputSize\": 1", "\"inputSize\": 1.5"), "inputSize: expected a whole number" },
        { "layer 1 wrong input", TwoByThree.Replace("{ \"W_xh\": [[1,0],[0,1]]", "{ \"W_xh\": [[1,0,0],[0,1,0]]"), "layers[1].W_xh: expected 2×2 (hiddenSize × hiddenSize), but row 0 has 3 columns" },
        { "bad name", Demo.Replace("\"demo\"", "\"no spaces allowed\""), "name: 'no spaces allowed' is not a valid model name" },
        { "gru with Elman fields", Gru.Replace("\"W_ih\"", "\"W_xh\""), "layers[0].W_xh: unknown field; expected one of W_ih, W_hh, b_ih, b_hh" },
        { "gru W_ih with H rows", Gru.Replace("\"W_ih\": [[0.5], [0.25], [1]]", "\"W_ih\": [[0.5]]"), "layers[0].W_ih: expected 3×1 (3·hiddenSize × inputSize), got 1×1" },
        { "lstm with a GRU's 3H rows", Gru.Replace("\"gru\"", "\"lstm\""), "layers[0].W_ih: expected 4×1 (4·hiddenSize × inputSize), got 3×1" },
        { "gru missing b_hh", Gru.Replace(", \"b_hh\": [0, 0.1, 0.2]", string.Empty), "layers[0].b_hh: missing field" },
        { "gru b_ih of H", Gru.Replace("\"b_ih\": [0.1, 0, -0.1]", "\"b_ih\": [0.1]"), "layers[0].b_ih: expected 3 numbers (3·hiddenSize), got 1" },
        { "scaling std 0", Scaled("[1]", "[0]", "true"), "scaling.inputStd[0]: 0 is not a finite number above 0" },
        { "scaling wrong length", Scaled("[1, 2]", "[1, 1]", "true"), "scaling.inputMean: expected 1 numbers (inputSize), got 2" },
        { "scaling residual not boolean", Scaled("[1]", "[2]", "\"yes\""), "scaling.residual: expected true or false" },
        { "scaling on softmax", Scaled("[1]", "[2]", "false").Replace("\"linear\"", "\"softmax\""), "scaling: output scaling applies to a linear head" },
        { "scaling missing field", Demo.Replace("\"b_y\": [0.2]", "\"b_y\": [0.2], \"scaling\": { \"inputMean\": [1] }"), "scaling.inputStd: missing field" },
        { "scaling unknown field", Scaled("[1]", "[2]", "true").Replace("\"residual\"", "\"resid\""), "scaling.resid: unknown field" },
        { "gru NaN in W_hh", Gru.Replace("[[0.3], [0.2], [0.6]]", "[[0.3], [\"NaN\"], [0.6]]"), "layers[0].W_hh[1][0]: expected a number" },
    };

    private static string Scaled(string mean, string std, string residual) => Demo.Replace(
        "\"b_y\": [0.2]",
        $"\"b_y\": [0.2], \"scaling\": {{ \"inputMean\": {mean}, \"inputStd\": {std}, \"outputMean\": [0], \"outputStd\": [1], \"residual\": {residual} }}");

    [Fact]
    public void Scaling_IsAppliedAroundTheNetwork_AndRoundTrips()
    {
        var model = ModelFile.Parse(Scaled("[10]", "[2]", "true"));
        var plain = ModelFile.Parse(Demo);
        var state = new double[1];
        var scaledY = new double[1];
        var plainState = new double[1];
        var plainY = new double[1];
        model.Step([14], state, scaledY);
        plain.Step([2], plainState, plainY); // (14 - 10) / 2
        Assert.Equal(plainY[0] + 14, scaledY[0], 1e-15); // residual: y = y' * 1 + 0 + x
        Assert.Equal(plainState, state);
        var again = ModelFile.Parse(ModelFile.ToJson(model));
        Assert.Equal(model.Scaling!.InputStd.ToArray(), again.Scaling!.InputStd.ToArray());
        Assert.True(again.Scaling.Residual);
    }

    private const string Gru = """
        { "name": "g", "cell": "gru", "inputSize": 1, "hiddenSize": 1, "outputSize": 1, "output": "linear",
          "layers": [ { "W_ih": [[0.5], [0.25], [1]], "W_hh": [[0.3], [0.2], [0.6]], "b_ih": [0.1, 0, -0.1], "b_hh": [0, 0.1, 0.2] } ],
          "W_hy": [[0.4]], "b_y": [0.2] }
        """;

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Parse_ThrowsNamingTheField(string description, string json, string expected)
    {
        var e = Assert.Throws<ModelValidationException>(() => ModelFile.Parse(json));
        Assert.True(e.Message.StartsWith(expected, StringComparison.Ordinal), $"{description}: got '{e.Message}'");
    }

    [Fact]
    public void Load_MissingFile_ThrowsNamingTheFile()
    {
        var e = Assert.Throws<ModelValidationException>(() => ModelFile.Load("/nonexistent/model.json"));
        Assert.Equal("file", e.Field);
        Assert.Contains("does not exist", e.Message);
    }

    [Fact]
    public void Parse_NoName_UsesDefaultName()
    {
        var model = ModelFile.Parse(Demo.Replace("\"name\": \"demo\", ", string.Empty), "from-file");
        Assert.Equal("from-file", model.Name);
    }

    [Fact]
    public void Parse_DtypeFloat32_ReadsEachNumberAsTheNearestFloat()
    {
        // 1.00000017881393432617187499 is just under the midpoint between two floats: the nearest float is 1 + 2^-23, but
        // rounding it to the nearest double first lands on the midpoint, which then rounds (to even) to 1 + 2^-22.
        var model = ModelFile.Parse(Gru.Replace("\"output\": \"linear\"", "\"output\": \"linear\", \"dtype\": \"float32\"")
            .Replace("[[0.3], [0.2], [0.6]]", "[[0.3], [1.00000017881393432617187499], [0.6]]"));
        Assert.Equal(ModelPrecision.Float32, model.Precision);
        Assert.Equal([0.5, 0.25, 1], model.Layers[0].Wxh.ToArray());
        Assert.Equal(new[] { (double)0.3f, 1 + Math.Pow(2, -23), (double)0.6f }, model.Layers[0].Whh.ToArray());
        Assert.Equal([(double)0.4f], model.Why.ToArray());
        Assert.Equal(ModelPrecision.Float64, ModelFile.Parse(Demo.Replace("\"output\": \"linear\"", "\"output\": \"linear\", \"dtype\": \"float64\"")).Precision);
    }

    [Fact]
    public void ToJson_Float32_WritesTheDtypeAndShortestFloats_AndRoundTrips()
    {
        var model = ModelFile.Parse(Scaled("[0.1]", "[3]", "false").Replace("\"linear\"", "\"linear\", \"dtype\": \"float32\""));
        var json = ModelFile.ToJson(model);
        Assert.Contains("\"dtype\": \"float32\"", json);
        Assert.Contains("\"W_hh\": [\n        [0.3]\n      ]", json); // 0.3f, not 0.30000001192092896
        Assert.Contains("\"inputMean\": [0.1]", json); // scaling stays double
        var again = ModelFile.Parse(json);
        Assert.Equal((ModelPrecision.Float32, model.ToString()), (again.Precision, again.ToString()));
        Assert.Equal(model.Layers[0].Whh.ToArray(), again.Layers[0].Whh.ToArray());
        Assert.Equal(json, ModelFile.ToJson(again));
    }

    [Fact]
    public void ToJson_Float64_WritesNoDtype_SoExistingFilesStayTheSame()
    {
        var json = ModelFile.ToJson(ModelFile.Parse(Demo.Replace("\"output\": \"linear\"", "\"output\": \"linear\", \"dtype\": \"float64\"")));
        Assert.DoesNotContain("dtype", json);
        Assert.Equal(ModelFile.ToJson(ModelFile.Parse(Demo)), json);
    }

    [Theory]
    [InlineData("\"float16\"", "[[0.4]]", "dtype: unknown dtype 'float16'; expected float32 or float64")]
    [InlineData("\"Float32\"", "[[0.4]]", "dtype: unknown dtype 'Float32'; expected float32 or float64")]
    [InlineData("32", "[[0.4]]", "dtype: expected a string, got a number")]
    [InlineData("\"float32\"", "[[1e39]]", "W_hy[0][0]: 1e39 is not a finite float32 (the model's dtype)")]
    public void Parse_BadDtype_ThrowsNamingTheField(string dtype, string why, string expected)
    {
        var json = Demo.Replace("\"output\": \"linear\"", $"\"output\": \"linear\", \"dtype\": {dtype}").Replace("[[0.4]]", why);
        Assert.Equal(expected, Assert.Throws<ModelValidationException>(() => ModelFile.Parse(json)).Message);
    }
}
