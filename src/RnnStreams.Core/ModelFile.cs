using System.Buffers;
using System.Text;
using System.Text.Json;

namespace RnnStreams.Core;

/// <summary>
/// Reads and writes the JSON model file:
/// <code>
/// { "name": "demo", "cell": "rnn_tanh", "inputSize": 1, "hiddenSize": 1, "outputSize": 1, "output": "linear",
///   "layers": [ { "W_xh": [[0.5]], "W_hh": [[0.3]], "b_h": [0.1] } ], "W_hy": [[0.4]], "b_y": [0.2] }
/// </code>
/// Matrices are lists of rows, rows × columns exactly as in the equations (W_xh is H×D). <c>"dtype": "float32"</c> makes
/// a float32 model (every weight read as the nearest float); absent or <c>"float64"</c>, a float64 model. Layers of a <c>gru</c> or
/// <c>lstm</c> model hold PyTorch's tensors instead, gate blocks stacked in PyTorch's order (GRU r, z, n; LSTM i, f, g, o):
/// <code>
///   "layers": [ { "W_ih": [[…] × 3H or 4H rows of D], "W_hh": [[…] × 3H or 4H rows of H], "b_ih": […], "b_hh": […] } ]
/// </code>
/// </summary>
public static class ModelFile
{
    /// <summary>Files larger than this are refused before parsing (64 MiB).</summary>
    public const int MaxBytes = 64 * 1024 * 1024;

    private static readonly string[] TopLevelFields =
        ["name", "cell", "dtype", "inputSize", "hiddenSize", "outputSize", "output", "layers", "W_hy", "b_y", "scaling", "forecaster", "description"];

    private static readonly string[] ForecasterFields = ["season", "log", "targets", "seasonalLags", "calendar", "firstPhase", "distribution", "spreadScale", "profile", "seriesScale"];

    private static readonly string[] ScalingFields = ["inputMean", "inputStd", "outputMean", "outputStd", "residual"];

    private static readonly string[] LayerFields = ["W_xh", "W_hh", "b_h"];

    private static readonly string[] GatedLayerFields = ["W_ih", "W_hh", "b_ih", "b_hh"];

    /// <summary>Reads a model file from disk.</summary>
    /// <exception cref="ModelValidationException">The file is missing, too large, not JSON, or not a valid model.</exception>
    public static RnnModel Load(string path)
    {
        FileInfo info;
        try
        {
            info = new FileInfo(path);
            if (!info.Exists)
            {
                throw new ModelValidationException("file", $"'{path}' does not exist");
            }
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or IOException or UnauthorizedAccessException)
        {
            throw new ModelValidationException("file", $"cannot open '{path}': {e.Message}");
        }

        if (info.Length > MaxBytes)
        {
            throw new ModelValidationException("file", $"'{path}' is {info.Length} bytes; model files are limited to {MaxBytes}");
        }

        try
        {
            return Parse(File.ReadAllBytes(path), Path.GetFileNameWithoutExtension(path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelValidationException("file", $"cannot read '{path}': {e.Message}");
        }
    }

    /// <summary>Parses a model file's text.</summary>
    /// <param name="json">The JSON text.</param>
    /// <param name="defaultName">The name to use when the file has none.</param>
    /// <exception cref="ModelValidationException">Not JSON, or not a valid model; the message names the field.</exception>
    public static RnnModel Parse(string json, string? defaultName = null)
    {
        ArgumentNullException.ThrowIfNull(json);
        return Parse(Encoding.UTF8.GetBytes(json), defaultName);
    }

    /// <summary>Parses a model file's UTF-8 bytes.</summary>
    /// <exception cref="ModelValidationException">Not JSON, or not a valid model; the message names the field.</exception>
    public static RnnModel Parse(ReadOnlyMemory<byte> utf8Json, string? defaultName = null)
    {
        if (utf8Json.Length > MaxBytes)
        {
            throw new ModelValidationException("file", $"{utf8Json.Length} bytes; model files are limited to {MaxBytes}");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8Json, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new ModelValidationException("file", $"not valid JSON: {e.Message}");
        }

        using (document)
        {
            return Read(document.RootElement, defaultName);
        }
    }

    /// <summary>
    /// Writes a model as indented JSON, every number with full round-trip precision: a float64 model's doubles, a float32
    /// model's floats (the shortest text that reads back as the same float) and <c>"dtype": "float32"</c>. A float64 model
    /// gets no <c>dtype</c>, so its file is what it was before float32 models existed.
    /// </summary>
    public static string ToJson(RnnModel served, bool indented = true)
    {
        ArgumentNullException.ThrowIfNull(served);
        var model = served.Network; // a forecaster's file holds its network's sizes and weights, then the forecaster
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = indented }))
        {
            writer.WriteStartObject();
            writer.WriteString("name", model.Name);
            writer.WriteString("cell", model.Cell.ToFileName());
            writer.WriteNumber("inputSize", model.InputSize);
            writer.WriteNumber("hiddenSize", model.HiddenSize);
            writer.WriteNumber("outputSize", model.OutputSize);
            writer.WriteString("output", model.Output.ToFileName());
            if (model.Precision != ModelPrecision.Float64)
            {
                writer.WriteString("dtype", model.Precision.ToFileName());
            }

            var precision = model.Precision;
            writer.WriteStartArray("layers");
            foreach (var layer in model.Layers)
            {
                writer.WriteStartObject();
                if (model.Cell.IsGated())
                {
                    var rows = layer.Gates * layer.HiddenSize;
                    WriteMatrix(writer, "W_ih", layer.Wxh, rows, layer.InputSize, depth: 3, precision);
                    WriteMatrix(writer, "W_hh", layer.Whh, rows, layer.HiddenSize, depth: 3, precision);
                    WriteVector(writer, "b_ih", layer.Bh, precision);
                    WriteVector(writer, "b_hh", layer.Bhh, precision);
                }
                else
                {
                    WriteMatrix(writer, "W_xh", layer.Wxh, layer.HiddenSize, layer.InputSize, depth: 3, precision);
                    WriteMatrix(writer, "W_hh", layer.Whh, layer.HiddenSize, layer.HiddenSize, depth: 3, precision);
                    WriteVector(writer, "b_h", layer.Bh, precision);
                }

                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            WriteMatrix(writer, "W_hy", model.Why, model.OutputSize, model.HiddenSize, depth: 1, precision);
            WriteVector(writer, "b_y", model.By, precision);
            if (model.Scaling is { } scaling)
            {
                writer.WriteStartObject("scaling");
                WriteVector(writer, "inputMean", scaling.InputMean, ModelPrecision.Float64);
                WriteVector(writer, "inputStd", scaling.InputStd, ModelPrecision.Float64);
                WriteVector(writer, "outputMean", scaling.OutputMean, ModelPrecision.Float64);
                WriteVector(writer, "outputStd", scaling.OutputStd, ModelPrecision.Float64);
                writer.WriteBoolean("residual", scaling.Residual);
                writer.WriteEndObject();
            }

            if (served.Forecaster is { } forecaster)
            {
                writer.WriteStartObject("forecaster");
                writer.WriteNumber("season", forecaster.Season);
                writer.WriteBoolean("log", forecaster.Log);
                writer.WritePropertyName("targets");
                writer.WriteRawValue($"[{string.Join(", ", forecaster.Targets.Select(t => $"\"{t.ToFileName()}\""))}]", skipInputValidation: true);
                writer.WriteBoolean("seasonalLags", forecaster.SeasonalLags);
                writer.WriteString("calendar", forecaster.Calendar.ToFileName());
                writer.WriteNumber("firstPhase", forecaster.FirstPhase);
                writer.WriteString("distribution", forecaster.Distribution.ToFileName());
                writer.WriteNumber("spreadScale", forecaster.SpreadScale);
                if (!forecaster.Profile.IsEmpty)
                {
                    WriteVector(writer, "profile", forecaster.Profile, ModelPrecision.Float64);
                }

                if (forecaster.SeriesScale)
                {
                    writer.WriteBoolean("seriesScale", true);
                }

                writer.WriteEndObject();
            }

            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Writes a model file to disk.</summary>
    public static void Save(RnnModel model, string path) => File.WriteAllText(path, ToJson(model) + "\n");

    private static RnnModel Read(JsonElement root, string? defaultName)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new ModelValidationException("file", $"expected a JSON object, got {Describe(root.ValueKind)}");
        }

        RejectUnknown(root, TopLevelFields, string.Empty);

        string name;
        if (root.TryGetProperty("name", out var nameElement))
        {
            name = ReadString(nameElement, "name");
        }
        else
        {
            name = defaultName ?? throw Missing("name");
        }

        var cellName = ReadString(Required(root, "cell"), "cell");
        if (!ModelNames.TryParseCell(cellName, out var cell))
        {
            throw new ModelValidationException("cell", $"unknown cell '{cellName}'; expected rnn_tanh, rnn_relu, gru or lstm");
        }

        var precision = ModelPrecision.Float64;
        if (root.TryGetProperty("dtype", out var dtypeElement))
        {
            var dtype = ReadString(dtypeElement, "dtype");
            if (!ModelNames.TryParsePrecision(dtype, out precision))
            {
                throw new ModelValidationException("dtype", $"unknown dtype '{dtype}'; expected float32 or float64");
            }
        }

        var output = OutputHead.Linear;
        if (root.TryGetProperty("output", out var outputElement))
        {
            var outputName = ReadString(outputElement, "output");
            if (!ModelNames.TryParseHead(outputName, out output))
            {
                throw new ModelValidationException("output", $"unknown output '{outputName}'; expected linear, softmax or sigmoid");
            }
        }

        var inputSize = ReadSize(Required(root, "inputSize"), "inputSize");
        var hiddenSize = ReadSize(Required(root, "hiddenSize"), "hiddenSize");
        var outputSize = ReadSize(Required(root, "outputSize"), "outputSize");

        var layersElement = Required(root, "layers");
        if (layersElement.ValueKind != JsonValueKind.Array)
        {
            throw new ModelValidationException("layers", $"expected an array of layers, got {Describe(layersElement.ValueKind)}");
        }

        var layerCount = layersElement.GetArrayLength();
        if (layerCount == 0)
        {
            throw new ModelValidationException("layers", "a model needs at least one layer, got an empty array");
        }

        var layers = new List<RnnLayer>(layerCount);
        var k = 0;
        foreach (var layerElement in layersElement.EnumerateArray())
        {
            var field = $"layers[{k}]";
            var gated = cell.IsGated();
            if (layerElement.ValueKind != JsonValueKind.Object)
            {
                throw new ModelValidationException(field, $"expected an object with {(gated ? "W_ih, W_hh, b_ih and b_hh" : "W_xh, W_hh and b_h")}, got {Describe(layerElement.ValueKind)}");
            }

            RejectUnknown(layerElement, gated ? GatedLayerFields : LayerFields, field + ".");
            var layerInput = k == 0 ? inputSize : hiddenSize;
            var inputName = k == 0 ? "inputSize" : "hiddenSize";
            if (gated)
            {
                var gates = cell.Gates();
                var rows = gates * hiddenSize;
                var wih = ReadMatrix(Required(layerElement, "W_ih", field), $"{field}.W_ih", rows, layerInput, $"{gates}·hiddenSize × {inputName}", precision);
                var whhGated = ReadMatrix(Required(layerElement, "W_hh", field), $"{field}.W_hh", rows, hiddenSize, $"{gates}·hiddenSize × hiddenSize", precision);
                var bih = ReadVector(Required(layerElement, "b_ih", field), $"{field}.b_ih", rows, $"{gates}·hiddenSize", precision);
                var bhh = ReadVector(Required(layerElement, "b_hh", field), $"{field}.b_hh", rows, $"{gates}·hiddenSize", precision);
                layers.Add(new RnnLayer(cell, layerInput, hiddenSize, wih, whhGated, bih, bhh, field, precision));
                k++;
                continue;
            }

            var wxh = ReadMatrix(Required(layerElement, "W_xh", field), $"{field}.W_xh", hiddenSize, layerInput, $"hiddenSize × {inputName}", precision);
            var whh = ReadMatrix(Required(layerElement, "W_hh", field), $"{field}.W_hh", hiddenSize, hiddenSize, "hiddenSize × hiddenSize", precision);
            var bh = ReadVector(Required(layerElement, "b_h", field), $"{field}.b_h", hiddenSize, "hiddenSize", precision);
            layers.Add(new RnnLayer(layerInput, hiddenSize, wxh, whh, bh, field, precision));
            k++;
        }

        var why = ReadMatrix(Required(root, "W_hy"), "W_hy", outputSize, hiddenSize, "outputSize × hiddenSize", precision);
        var by = ReadVector(Required(root, "b_y"), "b_y", outputSize, "outputSize", precision);
        var scaling = root.TryGetProperty("scaling", out var scalingElement) ? ReadScaling(scalingElement, inputSize, outputSize) : null;
        var network = new RnnModel(name, cell, output, inputSize, hiddenSize, outputSize, layers, why, by, scaling);
        return root.TryGetProperty("forecaster", out var forecasterElement) ? new RnnModel(network, ReadForecaster(forecasterElement)) : network;
    }

    private static Forecaster ReadForecaster(JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new ModelValidationException("forecaster", $"expected an object with {string.Join(", ", ForecasterFields)}, got {Describe(element.ValueKind)}");
        }

        RejectUnknown(element, ForecasterFields, "forecaster.");
        var season = ReadSize(Required(element, "season", "forecaster"), "forecaster.season");
        var calendarName = element.TryGetProperty("calendar", out var calendarElement) ? ReadString(calendarElement, "forecaster.calendar") : "none";
        if (!ModelNames.TryParseCalendar(calendarName, out var calendar))
        {
            throw new ModelValidationException("forecaster.calendar", $"unknown calendar '{calendarName}'; expected none, position, month, weekday or hour");
        }

        var distributionName = element.TryGetProperty("distribution", out var distributionElement) ? ReadString(distributionElement, "forecaster.distribution") : "none";
        if (!ModelNames.TryParseDistribution(distributionName, out var distribution))
        {
            throw new ModelValidationException("forecaster.distribution", $"unknown distribution '{distributionName}'; expected none or gaussian");
        }

        var firstPhase = 0;
        if (element.TryGetProperty("firstPhase", out var phaseElement) && (phaseElement.ValueKind != JsonValueKind.Number || !phaseElement.TryGetInt32(out firstPhase)))
        {
            throw new ModelValidationException("forecaster.firstPhase", $"expected a whole number, got {phaseElement.GetRawText()}");
        }

        var spreadScale = element.TryGetProperty("spreadScale", out var spreadElement) ? ReadNumber(spreadElement, "forecaster.spreadScale", ModelPrecision.Float64) : 1;
        var profile = element.TryGetProperty("profile", out var profileElement) ? ReadVector(profileElement, "forecaster.profile", season, "season", ModelPrecision.Float64) : null;
        var targetsElement = Required(element, "targets", "forecaster");
        if (targetsElement.ValueKind != JsonValueKind.Array)
        {
            throw new ModelValidationException("forecaster.targets", $"expected an array of targets (seasonal, seasonal-change, profile), got {Describe(targetsElement.ValueKind)}");
        }

        var targets = new List<ForecastTarget>();
        foreach (var item in targetsElement.EnumerateArray())
        {
            var targetName = ReadString(item, $"forecaster.targets[{targets.Count}]");
            if (!ModelNames.TryParseTarget(targetName, out var target))
            {
                throw new ModelValidationException($"forecaster.targets[{targets.Count}]", $"unknown target '{targetName}'; expected seasonal, seasonal-change or profile");
            }

            targets.Add(target);
        }

        return new Forecaster(
            season,
            ReadBoolean(element, "log", "forecaster.log"),
            targets,
            ReadBoolean(element, "seasonalLags", "forecaster.seasonalLags"),
            calendar,
            firstPhase,
            distribution,
            spreadScale,
            profile,
            ReadBoolean(element, "seriesScale", "forecaster.seriesScale"));
    }

    /// <summary>An optional boolean field (false when absent).</summary>
    private static bool ReadBoolean(JsonElement parent, string name, string field)
    {
        if (!parent.TryGetProperty(name, out var element))
        {
            return false;
        }

        if (element.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
        {
            throw new ModelValidationException(field, $"expected true or false, got {element.GetRawText()}");
        }

        return element.GetBoolean();
    }

    private static Scaling ReadScaling(JsonElement element, int inputSize, int outputSize)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new ModelValidationException("scaling", $"expected an object with inputMean, inputStd, outputMean, outputStd and residual, got {Describe(element.ValueKind)}");
        }

        RejectUnknown(element, ScalingFields, "scaling.");
        var residual = ReadBoolean(element, "residual", "scaling.residual");
        return new Scaling(
            ReadVector(Required(element, "inputMean", "scaling"), "scaling.inputMean", inputSize, "inputSize", ModelPrecision.Float64),
            ReadVector(Required(element, "inputStd", "scaling"), "scaling.inputStd", inputSize, "inputSize", ModelPrecision.Float64),
            ReadVector(Required(element, "outputMean", "scaling"), "scaling.outputMean", outputSize, "outputSize", ModelPrecision.Float64),
            ReadVector(Required(element, "outputStd", "scaling"), "scaling.outputStd", outputSize, "outputSize", ModelPrecision.Float64),
            residual);
    }

    private static void RejectUnknown(JsonElement element, string[] known, string prefix)
    {
        foreach (var property in element.EnumerateObject())
        {
            if (Array.IndexOf(known, property.Name) < 0)
            {
                throw new ModelValidationException(prefix + property.Name, $"unknown field; expected one of {string.Join(", ", known)}");
            }
        }
    }

    private static JsonElement Required(JsonElement parent, string name, string? parentField = null)
    {
        if (parent.TryGetProperty(name, out var value))
        {
            return value;
        }

        throw Missing(parentField is null ? name : $"{parentField}.{name}");
    }

    private static ModelValidationException Missing(string field) => new(field, "missing field");

    private static string ReadString(JsonElement element, string field)
    {
        if (element.ValueKind != JsonValueKind.String)
        {
            throw new ModelValidationException(field, $"expected a string, got {Describe(element.ValueKind)}");
        }

        return element.GetString()!;
    }

    private static int ReadSize(JsonElement element, string field)
    {
        if (element.ValueKind != JsonValueKind.Number || !element.TryGetInt32(out var value))
        {
            throw new ModelValidationException(field, $"expected a whole number, got {element.GetRawText()}");
        }

        if (value is < 1 or > 1 << 20)
        {
            throw new ModelValidationException(field, $"must be between 1 and {1 << 20}, got {value}");
        }

        return value;
    }

    /// <summary>A number as the model keeps it: the nearest double, or for a float32 model the nearest float (rounded once,
    /// from the text) held as a double.</summary>
    private static double ReadNumber(JsonElement element, string field, ModelPrecision precision)
    {
        if (element.ValueKind != JsonValueKind.Number)
        {
            throw new ModelValidationException(field, $"expected a number, got {element.GetRawText()}; NaN and Infinity are not allowed");
        }

        if (precision == ModelPrecision.Float32)
        {
            if (!element.TryGetSingle(out var single) || !float.IsFinite(single))
            {
                throw new ModelValidationException(field, $"{element.GetRawText()} is not a finite float32 (the model's dtype)");
            }

            return single;
        }

        if (!element.TryGetDouble(out var value) || !double.IsFinite(value))
        {
            throw new ModelValidationException(field, $"{element.GetRawText()} is not a finite double");
        }

        return value;
    }

    private static double[] ReadVector(JsonElement element, string field, int length, string shape, ModelPrecision precision)
    {
        if (element.ValueKind != JsonValueKind.Array)
        {
            throw new ModelValidationException(field, $"expected an array of {length} numbers ({shape}), got {Describe(element.ValueKind)}");
        }

        var actual = element.GetArrayLength();
        if (actual != length)
        {
            throw new ModelValidationException(field, $"expected {length} numbers ({shape}), got {actual}");
        }

        var values = new double[length];
        var i = 0;
        foreach (var item in element.EnumerateArray())
        {
            values[i] = ReadNumber(item, $"{field}[{i}]", precision);
            i++;
        }

        return values;
    }

    private static double[] ReadMatrix(JsonElement element, string field, int rows, int columns, string shape, ModelPrecision precision)
    {
        if (element.ValueKind != JsonValueKind.Array)
        {
            throw new ModelValidationException(field, $"expected a {rows}×{columns} matrix ({shape}) as an array of rows, got {Describe(element.ValueKind)}");
        }

        var actualRows = element.GetArrayLength();
        var firstColumns = actualRows > 0 && element[0].ValueKind == JsonValueKind.Array ? element[0].GetArrayLength() : 0;
        if (actualRows != rows)
        {
            throw new ModelValidationException(field, $"expected {rows}×{columns} ({shape}), got {actualRows}×{firstColumns}");
        }

        var values = new double[(long)rows * columns];
        var r = 0;
        foreach (var row in element.EnumerateArray())
        {
            if (row.ValueKind != JsonValueKind.Array)
            {
                throw new ModelValidationException($"{field}[{r}]", $"expected a row of {columns} numbers, got {Describe(row.ValueKind)}");
            }

            var actualColumns = row.GetArrayLength();
            if (actualColumns != columns)
            {
                throw new ModelValidationException(field, $"expected {rows}×{columns} ({shape}), but row {r} has {actualColumns} columns");
            }

            var c = 0;
            foreach (var item in row.EnumerateArray())
            {
                values[(r * columns) + c] = ReadNumber(item, $"{field}[{r}][{c}]", precision);
                c++;
            }

            r++;
        }

        return values;
    }

    private static void WriteMatrix(Utf8JsonWriter writer, string name, ReadOnlySpan<double> values, int rows, int columns, int depth, ModelPrecision precision)
    {
        // One row per line: readable for people, exact for programs (shortest round-trip form of each double or float).
        var indented = writer.Options.Indented;
        var inner = indented ? "\n" + new string(' ', 2 * (depth + 1)) : string.Empty;
        var text = new StringBuilder("[");
        for (var r = 0; r < rows; r++)
        {
            text.Append(r > 0 ? "," : string.Empty).Append(inner).Append(Row(values.Slice(r * columns, columns), precision));
        }

        text.Append(indented ? "\n" + new string(' ', 2 * depth) : string.Empty).Append(']');
        writer.WritePropertyName(name);
        writer.WriteRawValue(text.ToString(), skipInputValidation: true);
    }

    private static void WriteVector(Utf8JsonWriter writer, string name, ReadOnlySpan<double> values, ModelPrecision precision)
    {
        writer.WritePropertyName(name);
        writer.WriteRawValue(Row(values, precision), skipInputValidation: true);
    }

    private static string Row(ReadOnlySpan<double> values, ModelPrecision precision)
    {
        var text = new StringBuilder("[");
        for (var i = 0; i < values.Length; i++)
        {
            if (i > 0)
            {
                text.Append(", ");
            }

            text.Append(precision == ModelPrecision.Float32
                ? ((float)values[i]).ToString("R", System.Globalization.CultureInfo.InvariantCulture)
                : values[i].ToString("R", System.Globalization.CultureInfo.InvariantCulture));
        }

        return text.Append(']').ToString();
    }

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => kind.ToString(),
    };
}
