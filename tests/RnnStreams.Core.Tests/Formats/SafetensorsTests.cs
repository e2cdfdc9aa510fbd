using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using RnnStreams.Core.Formats;

namespace RnnStreams.Core.Tests.Formats;

public class SafetensorsTests
{
    private static readonly string FixtureDir = Path.Combine(AppContext.BaseDirectory, "Reference", "safetensors");

    private static string FixturePath(string name) => Path.Combine(FixtureDir, name + ".safetensors");

    private static JsonElement Expected(string name) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(FixtureDir, name + ".json"))).RootElement;

    // ---------------------------------------------------------------- fixtures

    [Theory]
    [InlineData("lstm_f32", "lstm", "F32")]
    [InlineData("gru_f64", "gru", "F64")]
    [InlineData("rnn_tanh_f64", "rnn_tanh", "F64")]
    public void Read_Fixture_MatchesPyTorch(string name, string cell, string dtype)
    {
        var expected = Expected(name);
        Assert.Equal(cell, expected.GetProperty("cell").GetString());
        Assert.Equal(dtype, expected.GetProperty("dtype").GetString());

        var tensors = Safetensors.Read(FixturePath(name));

        var expectedTensors = expected.GetProperty("tensors").EnumerateObject().ToList();
        Assert.Equal(expectedTensors.Select(p => p.Name).Order(StringComparer.Ordinal), tensors.Keys.Order(StringComparer.Ordinal));
        foreach (var property in expectedTensors)
        {
            var tensor = tensors[property.Name];
            Assert.Equal(property.Name, tensor.Name);
            Assert.Equal(dtype, tensor.DType);
            Assert.Equal(property.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()), tensor.Shape);
            var values = property.Value.GetProperty("values").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            Assert.Equal(tensor.Shape.Aggregate(1, (a, b) => a * b), tensor.Values.Length);
            Assert.Equal(values, tensor.Values); // exact: the JSON holds repr() of the same doubles
        }
    }

    [Fact]
    public void Read_LstmFixture_HasPyTorchNamesAndShapes()
    {
        var tensors = Safetensors.Read(FixturePath("lstm_f32"));
        var expected = new Dictionary<string, int[]>
        {
            ["rnn.weight_ih_l0"] = [16, 3],
            ["rnn.weight_hh_l0"] = [16, 4],
            ["rnn.bias_ih_l0"] = [16],
            ["rnn.bias_hh_l0"] = [16],
            ["rnn.weight_ih_l1"] = [16, 4],
            ["rnn.weight_hh_l1"] = [16, 4],
            ["rnn.bias_ih_l1"] = [16],
            ["rnn.bias_hh_l1"] = [16],
            ["fc.weight"] = [2, 4],
            ["fc.bias"] = [2],
        };
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), tensors.Keys.Order(StringComparer.Ordinal));
        foreach (var (key, shape) in expected)
        {
            Assert.Equal(shape, tensors[key].Shape);
            Assert.Equal("F32", tensors[key].DType);
        }
    }

    [Fact]
    public void Read_GruAndElmanFixtures_HavePyTorchNames()
    {
        string[] names = ["fc.bias", "fc.weight", "rnn.bias_hh_l0", "rnn.bias_ih_l0", "rnn.weight_hh_l0", "rnn.weight_ih_l0"];
        var gru = Safetensors.Read(FixturePath("gru_f64"));
        var elman = Safetensors.Read(FixturePath("rnn_tanh_f64"));
        Assert.Equal(names, gru.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(names, elman.Keys.Order(StringComparer.Ordinal));
        Assert.Equal([9, 2], gru["rnn.weight_ih_l0"].Shape);
        Assert.Equal([3, 2], elman["rnn.weight_ih_l0"].Shape);
        Assert.Equal([2, 3], elman["fc.weight"].Shape);
    }

    [Fact]
    public void Read_F32_WidensExactly()
    {
        var bytes = File.ReadAllBytes(FixturePath("lstm_f32"));
        var tensors = Safetensors.Read(FixturePath("lstm_f32"));
        var headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        var offsets = Expected("lstm_f32").GetProperty("tensors");
        foreach (var tensor in tensors.Values)
        {
            var begin = offsets.GetProperty(tensor.Name).GetProperty("data_offsets")[0].GetInt32();
            for (var i = 0; i < tensor.Values.Length; i++)
            {
                var single = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(8 + headerLength + begin + (4 * i)));
                Assert.Equal((double)single, tensor.Values[i]);
                Assert.Equal(tensor.Values[i], (double)(float)tensor.Values[i]);
            }
        }

        // An F32 value that has no short decimal form stays exactly the float's value.
        var third = 1f / 3f;
        var parsed = Safetensors.Parse(Build("""{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", F32(third)), "x");
        Assert.Equal((double)third, parsed["w"].Values[0]);
        Assert.NotEqual(1.0 / 3.0, parsed["w"].Values[0]);
    }

    [Fact]
    public void Parse_EqualsRead()
    {
        var path = FixturePath("gru_f64");
        var read = Safetensors.Read(path);
        var parsed = Safetensors.Parse(File.ReadAllBytes(path), path);
        Assert.Equal(read.Keys.Order(StringComparer.Ordinal), parsed.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, tensor) in read)
        {
            Assert.Equal(tensor.Shape, parsed[name].Shape);
            Assert.Equal(tensor.Values, parsed[name].Values);
        }
    }

    [Fact]
    public void Fixtures_JsonHoldsTheReferenceRun()
    {
        foreach (var (name, layers) in new[] { ("lstm_f32", 2), ("gru_f64", 1), ("rnn_tanh_f64", 1) })
        {
            var expected = Expected(name);
            Assert.Equal(layers, expected.GetProperty("num_layers").GetInt32());
            Assert.Equal(6, expected.GetProperty("inputs").GetArrayLength());
            Assert.Equal(6, expected.GetProperty("outputs").GetArrayLength());
            Assert.All(expected.GetProperty("outputs").EnumerateArray(), row => Assert.Equal(expected.GetProperty("output_size").GetInt32(), row.GetArrayLength()));
            Assert.True(new FileInfo(FixturePath(name)).Length < 50 * 1024);
        }
    }

    [Fact]
    public void Fixture_ElmanOutputs_RecomputedFromTheTensors()
    {
        // y_t = fc(h_t), h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh): the read tensors give PyTorch's outputs.
        var expected = Expected("rnn_tanh_f64");
        var t = Safetensors.Read(FixturePath("rnn_tanh_f64"));
        var (wi, wh, bi, bh, wy, by) = (t["rnn.weight_ih_l0"].Values, t["rnn.weight_hh_l0"].Values, t["rnn.bias_ih_l0"].Values,
            t["rnn.bias_hh_l0"].Values, t["fc.weight"].Values, t["fc.bias"].Values);
        const int D = 2, H = 3, O = 2;
        var h = new double[H];
        var outputs = expected.GetProperty("outputs").EnumerateArray().ToList();
        var step = 0;
        foreach (var row in expected.GetProperty("inputs").EnumerateArray())
        {
            var x = row.EnumerateArray().Select(e => e.GetDouble()).ToArray();
            var next = new double[H];
            for (var j = 0; j < H; j++)
            {
                var a = bi[j] + bh[j];
                for (var k = 0; k < D; k++)
                {
                    a += wi[(j * D) + k] * x[k];
                }

                for (var k = 0; k < H; k++)
                {
                    a += wh[(j * H) + k] * h[k];
                }

                next[j] = Math.Tanh(a);
            }

            h = next;
            for (var o = 0; o < O; o++)
            {
                var y = by[o];
                for (var k = 0; k < H; k++)
                {
                    y += wy[(o * H) + k] * h[k];
                }

                var want = outputs[step][o].GetDouble();
                Assert.True(Math.Abs(y - want) <= (1e-12 * Math.Abs(want)) + 1e-15, $"step {step} output {o}: {y} vs {want}");
            }

            step++;
        }
    }

    // ---------------------------------------------------------------- valid edge cases

    [Fact]
    public void Parse_EmptyHeader_NoTensors()
    {
        Assert.Empty(Safetensors.Parse(Build("{}", []), "x"));
    }

    [Fact]
    public void Parse_PaddingMetadataScalarAndEmptyTensor_AreAccepted()
    {
        var header = """{"__metadata__":{"format":"pt","note":"ok"},"s":{"dtype":"F64","shape":[],"data_offsets":[0,8]},"e":{"dtype":"F32","shape":[2,0],"data_offsets":[8,8]}}""" + "       ";
        var tensors = Safetensors.Parse(Build(header, F64(-2.5)), "x");
        Assert.Equal([-2.5], tensors["s"].Values);
        Assert.Empty(tensors["s"].Shape);
        Assert.Equal([2, 0], tensors["e"].Shape);
        Assert.Empty(tensors["e"].Values);
        Assert.Equal(2, tensors.Count);
    }

    [Fact]
    public void Parse_OffsetsInAnyHeaderOrder_AreAccepted()
    {
        var tensors = Safetensors.Parse(Build(
            """{"b":{"dtype":"F64","shape":[1],"data_offsets":[8,16]},"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}""",
            F64(1, 2)), "x");
        Assert.Equal([1.0], tensors["a"].Values);
        Assert.Equal([2.0], tensors["b"].Values);
    }

    // ---------------------------------------------------------------- malformed

    public static TheoryData<string, string, string> MalformedHeaders() => new()
    {
        // header JSON
        { "{\"a\":", "", "header is not valid JSON" },
        { "{\"a\" 1}", "", "header is not valid JSON" },
        { "nonsense", "", "header is not valid JSON" },
        { "[1,2]", "", "header is not a JSON object" },
        { "\"text\"", "", "header is not a JSON object" },
        { " {}", "", "header must start with '{'" },
        { "{}\n", "", "1 bytes after the JSON object that are not space padding" },
        { "{} {}", "", "after the JSON object that are not space padding" },
        // entries
        { """{"w":[1]}""", "", "tensor 'w': entry is an array, not an object" },
        { """{"w":{"dtype":"F64","shape":[1]}}""", "0", "tensor 'w': missing field 'data_offsets'" },
        { """{"w":{"shape":[1],"data_offsets":[0,8]}}""", "0", "tensor 'w': missing field 'dtype'" },
        { """{"w":{"dtype":"F64","shape":[1],"data_offsets":[0,8],"x":1}}""", "0", "tensor 'w': unexpected field 'x'" },
        { """{"w":{"dtype":"F64","dtype":"F64","shape":[1],"data_offsets":[0,8]}}""", "0", "tensor 'w': field 'dtype' appears twice" },
        { """{"w":{"dtype":64,"shape":[1],"data_offsets":[0,8]}}""", "0", "tensor 'w': dtype is a number, not a string" },
        { """{"w":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}}""", "", "tensor 'w': dtype 'BF16' is not supported (only F32 and F64 are read)" },
        { """{"w":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}""", "0", "tensor 'w': dtype 'I64' is not supported (only F32 and F64 are read)" },
        { """{"w":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}""", "", "dtype 'F16' is not supported" },
        { """{"w":{"dtype":"f64","shape":[1],"data_offsets":[0,8]}}""", "0", "dtype 'f64' is not supported" },
        // shape
        { """{"w":{"dtype":"F64","shape":[2,-1],"data_offsets":[0,8]}}""", "0", "tensor 'w': shape dimension 1 is -1, not a non-negative integer" },
        { """{"w":{"dtype":"F64","shape":[1.5],"data_offsets":[0,8]}}""", "0", "tensor 'w': shape dimension 0 is 1.5, not a non-negative integer" },
        { """{"w":{"dtype":"F64","shape":["1"],"data_offsets":[0,8]}}""", "0", "tensor 'w': shape dimension 0 is a string, not a non-negative integer" },
        { """{"w":{"dtype":"F64","shape":3,"data_offsets":[0,8]}}""", "0", "tensor 'w': shape is a number, not an array" },
        { """{"w":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}}""", "0", "tensor 'w': shape [4294967296, 4294967296] has more than 2147483647 elements" },
        { """{"w":{"dtype":"F64","shape":[65536,65536],"data_offsets":[0,8]}}""", "0", "has more than 2147483647 elements" },
        { """{"w":{"dtype":"F64","shape":[0,4294967296],"data_offsets":[0,0]}}""", "", "tensor 'w': shape [0, 4294967296] has a dimension over 2147483647" },
        { """{"w":{"dtype":"F64","shape":[99999999999999999999],"data_offsets":[0,8]}}""", "0", "shape dimension 0 is 99999999999999999999, not a non-negative integer" },
        // data_offsets
        { """{"w":{"dtype":"F64","shape":[1],"data_offsets":[8,0]}}""", "0", "tensor 'w': data_offsets [8, 0] are reversed" },
        { """{"w":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}}""", "0", "tensor 'w': data_offsets end 16 is past the end of the data section (8 bytes)" },
        { """{"w":{"dtype":"F64","shape":[1],"data_offsets":[0,18446744073709551615]}}""", "0", "past the end of the data section" },
        { """{"w":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}}""", "0", "tensor 'w': data_offsets [0, 8] span 8 bytes but shape [2] of F64 needs 16" },
        { """{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}}""", "0", "span 8 bytes but shape [1] of F32 needs 4" },
        { """{"w":{"dtype":"F64","shape":[1],"data_offsets":[0]}}""", "0", "tensor 'w': data_offsets is not an array of two non-negative integers" },
        { """{"w":{"dtype":"F64","shape":[1],"data_offsets":[0,8,8]}}""", "0", "data_offsets is not an array of two non-negative integers" },
        { """{"w":{"dtype":"F64","shape":[1],"data_offsets":[-8,0]}}""", "0", "data_offsets is not an array of two non-negative integers" },
        { """{"w":{"dtype":"F64","shape":[1],"data_offsets":["0","8"]}}""", "0", "data_offsets is not an array of two non-negative integers" },
        { """{"w":{"dtype":"F64","shape":[1],"data_offsets":{"begin":0}}}""", "0", "data_offsets is not an array of two non-negative integers" },
        // coverage of the data section
        { """{"a":{"dtype":"F64","shape":[2],"data_offsets":[0,16]},"b":{"dtype":"F64","shape":[2],"data_offsets":[8,24]}}""", "0,0,0", "tensor 'b': data_offsets [8, 24] overlap tensor 'a'" },
        { """{"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"b":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}""", "0", "overlap tensor" },
        { """{"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"b":{"dtype":"F64","shape":[1],"data_offsets":[16,24]}}""", "0,0,0", "gap: data bytes [8, 16) after tensor 'a' belong to no tensor" },
        { """{"b":{"dtype":"F64","shape":[1],"data_offsets":[8,16]}}""", "0,0", "gap: data bytes [0, 8) at the start of the data section" },
        { """{"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}""", "0,0", "gap: data bytes [8, 16) after the last tensor 'a' belong to no tensor" },
        { "{}", "0", "data section has 8 bytes but there are no tensors" },
        // names
        { """{"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"a":{"dtype":"F64","shape":[1],"data_offsets":[8,16]}}""", "0,0", "duplicate tensor name 'a'" },
        { """{"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"\u0061":{"dtype":"F64","shape":[1],"data_offsets":[8,16]}}""", "0,0", "duplicate tensor name 'a'" },
        // metadata
        { """{"__metadata__":{"format":1}}""", "", "__metadata__ is not an object of strings: 'format' is a number" },
        { """{"__metadata__":"pt"}""", "", "__metadata__ is not an object of strings" },
        { """{"__metadata__":{"a":"x","a":"y"}}""", "", "__metadata__ has the key 'a' twice" },
        { """{"__metadata__":{},"__metadata__":{}}""", "", "duplicate __metadata__" },
    };

    [Theory]
    [MemberData(nameof(MalformedHeaders))]
    public void Parse_MalformedHeader_Throws(string header, string data, string message)
    {
        var values = data.Length == 0 ? [] : data.Split(',').Select(double.Parse).ToArray();
        var bytes = Build(header, F64(values));
        var e = Assert.Throws<DataFileException>(() => Safetensors.Parse(bytes, "bad.safetensors"));
        Assert.StartsWith("bad.safetensors: ", e.Message);
        Assert.Contains(message, e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Equal(0, e.Line);
    }

    [Fact]
    public void Parse_InvalidUtf8Header_Throws()
    {
        byte[] header = [.. "{\"w"u8, 0xFF, .. "\":{}}"u8];
        var bytes = Build(header, []);
        Assert.Contains("header is not valid UTF-8", Assert.Throws<DataFileException>(() => Safetensors.Parse(bytes, "x")).Message);
    }

    [Fact]
    public void Parse_ControlCharactersInNames_StayOnOneLine()
    {
        var e = Assert.Throws<DataFileException>(() => Safetensors.Parse(Build("""{"a\nb":1}""", []), "x"));
        Assert.Contains("tensor 'a\\u000ab': entry is a number", e.Message);
    }

    [Theory]
    [InlineData(double.NaN, "tensor 'w': value at flat index 2 is NaN (weights must be finite)")]
    [InlineData(double.PositiveInfinity, "tensor 'w': value at flat index 2 is +Infinity")]
    [InlineData(double.NegativeInfinity, "tensor 'w': value at flat index 2 is -Infinity")]
    public void Parse_NonFiniteF64_Throws(double bad, string message)
    {
        var bytes = Build("""{"w":{"dtype":"F64","shape":[2,2],"data_offsets":[0,32]}}""", F64(1, 2, bad, 4));
        Assert.Contains(message, Assert.Throws<DataFileException>(() => Safetensors.Parse(bytes, "x")).Message);
    }

    [Fact]
    public void Parse_NonFiniteF32_Throws()
    {
        var bytes = Build("""{"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"w":{"dtype":"F32","shape":[3],"data_offsets":[8,20]}}""",
            [.. F64(0), .. F32(1, float.NaN, 3)]);
        Assert.Contains("tensor 'w': value at flat index 1 is NaN", Assert.Throws<DataFileException>(() => Safetensors.Parse(bytes, "x")).Message);
    }

    [Fact]
    public void Read_NaNInFixtureData_Throws()
    {
        var bytes = File.ReadAllBytes(FixturePath("gru_f64"));
        BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(bytes.Length - 8), double.NaN); // the last tensor's last value
        var path = WriteTemp(bytes);
        try
        {
            var e = Assert.Throws<DataFileException>(() => Safetensors.Read(path));
            Assert.Equal(path, e.Path);
            Assert.Contains("tensor 'rnn.weight_ih_l0': value at flat index 17 is NaN", e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Parse_Truncated_Throws()
    {
        var bytes = File.ReadAllBytes(FixturePath("gru_f64"));
        var headerEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        (int Length, string Message)[] cuts =
        [
            (0, "file is 0 bytes, shorter than the 8-byte header length"),
            (4, "file is 4 bytes, shorter than the 8-byte header length"),
            (7, "shorter than the 8-byte header length"),
            (8, $"header length {headerEnd - 8} runs past the end of the file (8 bytes)"),
            (9, "runs past the end of the file (9 bytes)"),
            (headerEnd - 1, "runs past the end of the file"),
            (headerEnd, "is past the end of the data section (0 bytes)"),
            (headerEnd + 5, "is past the end of the data section (5 bytes)"),
            (bytes.Length - 1, $"tensor 'rnn.weight_ih_l0': data_offsets end {bytes.Length - headerEnd} is past the end of the data section"),
        ];
        foreach (var (length, message) in cuts)
        {
            var e = Assert.Throws<DataFileException>(() => Safetensors.Parse(bytes.AsSpan(0, length), "cut"));
            Assert.Contains(message, e.Message);
        }
    }

    [Fact]
    public void Parse_TrailingByte_Throws()
    {
        byte[] bytes = [.. File.ReadAllBytes(FixturePath("gru_f64")), 0];
        Assert.Contains("after the last tensor 'rnn.weight_ih_l0' belong to no tensor",
            Assert.Throws<DataFileException>(() => Safetensors.Parse(bytes, "x")).Message);
    }

    [Theory]
    [InlineData("{\n  \"name\": \"demo\", \"cell\": \"gru\"\n}", "it starts with text ('{\\n  \"nam'…): a JSON file (a model file? publish it with `models put --file`)")]
    [InlineData("timestamp,value\n1959-01,315.42\n", "it starts with text ('timestam'…)")]
    public void Read_AFileThatIsNotSafetensors_SaysWhatItLooksLike(string content, string expected)
    {
        var path = Path.Combine(Path.GetTempPath(), $"not-safetensors-{Guid.NewGuid():N}.bin");
        File.WriteAllText(path, content);
        try
        {
            var e = Assert.Throws<DataFileException>(() => Safetensors.Read(path));
            Assert.True(e.Message.Contains("not a safetensors file: " + expected, StringComparison.Ordinal), e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(0UL, "header length is 0")]
    [InlineData(100UL * 1024 * 1024 + 1, "header length 104857601 is over the 104857600-byte limit")]
    [InlineData(1UL << 40, "header length 1099511627776 is over the 104857600-byte limit")]
    [InlineData(ulong.MaxValue, "header length 18446744073709551615 is over the 104857600-byte limit")]
    [InlineData(1017UL, "header length 1017 runs past the end of the file (1024 bytes)")]
    [InlineData(1016UL, "header is not valid UTF-8")] // the data read as header
    [InlineData(400UL, "header is not valid JSON")] // the real header is 448 bytes
    public void Parse_LyingHeaderLength_ThrowsQuicklyWithoutAllocating(ulong headerLength, string message)
    {
        var bytes = File.ReadAllBytes(FixturePath("gru_f64"));
        Assert.Equal(1024, bytes.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, headerLength);
        Assert.Throws<DataFileException>(() => Safetensors.Parse(bytes, "warm-up"));

        var watch = Stopwatch.StartNew();
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<DataFileException>(() => Safetensors.Parse(bytes, "lie"));
        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
        watch.Stop();

        Assert.Contains(message, e.Message);
        Assert.True(allocated < 64 * 1024, $"allocated {allocated} bytes");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"took {watch.Elapsed}");
    }

    [Fact]
    public void Parse_HeaderClaimingHugeTensors_AllocatesNoMoreThanTheFile()
    {
        // A valid-looking header whose tensors would need 16 GB: refused on the offsets before any values exist.
        var bytes = Build("""{"w":{"dtype":"F64","shape":[2147483647],"data_offsets":[0,17179869176]}}""", F64(1));
        Assert.Throws<DataFileException>(() => Safetensors.Parse(bytes, "warm-up"));
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<DataFileException>(() => Safetensors.Parse(bytes, "x"));
        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
        Assert.Contains("data_offsets end 17179869176 is past the end of the data section (8 bytes)", e.Message);
        Assert.True(allocated < 64 * 1024, $"allocated {allocated} bytes");
    }

    [Fact]
    public void Read_FileClaimingTerabyteHeader_ThrowsQuickly()
    {
        var bytes = File.ReadAllBytes(FixturePath("lstm_f32"));
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 1UL << 40);
        var path = WriteTemp(bytes);
        try
        {
            var watch = Stopwatch.StartNew();
            var e = Assert.Throws<DataFileException>(() => Safetensors.Read(path));
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"took {watch.Elapsed}");
            Assert.StartsWith($"{path}: not a safetensors file: ", e.Message);
            Assert.Contains("header length 1099511627776 is over the 104857600-byte limit", e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Read_FileOverTheSizeLimit_IsRefusedBeforeReading()
    {
        var path = Path.Combine(Path.GetTempPath(), $"safetensors-test-{Guid.NewGuid():N}.safetensors");
        try
        {
            using (var stream = File.Create(path))
            {
                stream.SetLength(Safetensors.MaxFileBytes + 1); // sparse: takes no disk space
            }

            var watch = Stopwatch.StartNew();
            var e = Assert.Throws<DataFileException>(() => Safetensors.Read(path));
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"took {watch.Elapsed}");
            Assert.Equal($"{path}: file is 2147483649 bytes, over the 2147483648-byte limit", e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Read_TruncatedFile_Throws()
    {
        var bytes = File.ReadAllBytes(FixturePath("lstm_f32"));
        foreach (var length in new[] { 0, 3, 8, 100, bytes.Length - 4 })
        {
            var path = WriteTemp(bytes[..length]);
            try
            {
                Assert.Throws<DataFileException>(() => Safetensors.Read(path));
            }
            finally
            {
                File.Delete(path);
            }
        }
    }

    [Fact]
    public void Read_MissingFile_Throws()
    {
        var path = Path.Combine(Path.GetTempPath(), $"missing-{Guid.NewGuid():N}.safetensors");
        var e = Assert.Throws<DataFileException>(() => Safetensors.Read(path));
        Assert.StartsWith($"{path}: cannot read:", e.Message);
    }

    // ---------------------------------------------------------------- fuzz

    [Fact]
    public void Parse_RandomMutations_ParseOrThrowDataFileException()
    {
        var original = File.ReadAllBytes(FixturePath("lstm_f32"));
        var headerEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(original);
        var random = new Random(20250301);
        byte[] interesting = [.. "{}[]\",:-.0123456789 eE\\"u8, 0x00, 0x7F, 0x80, 0xC0, 0xFF];
        int parsed = 0, refused = 0;
        for (var i = 0; i < 2000; i++)
        {
            var bytes = (byte[])original.Clone();
            var length = bytes.Length;
            string what;
            if (i % 5 == 4)
            {
                length = random.Next(bytes.Length);
                what = $"truncated to {length}";
            }
            else
            {
                // Mostly the prefix and the header, where the structure is; sometimes the data.
                var position = random.Next(4) == 0 ? random.Next(bytes.Length) : random.Next(headerEnd);
                var value = random.Next(2) == 0 ? interesting[random.Next(interesting.Length)] : (byte)random.Next(256);
                bytes[position] = value;
                what = $"byte {position} set to 0x{value:X2}";
            }

            try
            {
                Safetensors.Parse(bytes.AsSpan(0, length), "fuzz");
                parsed++;
            }
            catch (DataFileException e)
            {
                Assert.DoesNotContain('\n', e.Message);
                refused++;
            }
            catch (Exception e)
            {
                Assert.Fail($"mutation {i} ({what}) threw {e.GetType().Name}: {e.Message}");
            }
        }

        Assert.True(parsed > 0 && refused > 0, $"parsed {parsed}, refused {refused}");
    }

    // ---------------------------------------------------------------- helpers

    private static byte[] Build(string header, byte[] data) => Build(Encoding.UTF8.GetBytes(header), data);

    private static byte[] Build(byte[] header, byte[] data)
    {
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        return bytes;
    }

    private static byte[] F64(params double[] values)
    {
        var bytes = new byte[8 * values.Length];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(8 * i), values[i]);
        }

        return bytes;
    }

    private static byte[] F32(params float[] values)
    {
        var bytes = new byte[4 * values.Length];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * i), values[i]);
        }

        return bytes;
    }

    private static string WriteTemp(byte[] bytes)
    {
        var path = Path.Combine(Path.GetTempPath(), $"safetensors-test-{Guid.NewGuid():N}.safetensors");
        File.WriteAllBytes(path, bytes);
        return path;
    }
}
