using RnnStreams.Core;
using RnnStreams.Core.Formats;

namespace RnnStreams.Client.Commands;

/// <summary><c>predict --model M.json --input X.csv [--h0 H0.csv] [--c0 C0.csv] [--output Y.csv]</c>: runs a sequence offline, no silo needed.</summary>
internal static class PredictCommand
{
    public static int Run(Arguments args, TextWriter stdout)
    {
        var modelPath = args.Required("model", "a model file");
        var inputPath = args.Required("input", "a CSV of inputs, one row per element");
        var h0Path = args.Optional("h0");
        var c0Path = args.Optional("c0");
        var outputPath = args.Optional("output");
        var columns = args.Optional("column")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        args.RejectUnknown();

        var model = LoadModel(modelPath);
        var inputs = Csv.ReadColumns(inputPath, columns);
        if (inputs[0].Length != model.InputSize)
        {
            throw new CliException($"{inputPath}: {inputs[0].Length} numeric column(s) read per element; {modelPath} takes {model.InputSize} inputs: choose them with --column NAME[,NAME…] (header names or 1-based numbers)", 1);
        }

        var state = new double[model.StateSize];
        if (h0Path is not null)
        {
            ReadInitialState(h0Path, model).CopyTo(state, 0);
        }

        if (c0Path is not null)
        {
            if (!model.HasCellState)
            {
                throw new CliException($"--c0: an initial cell state is only for lstm models; {modelPath} is {model.Cell.ToFileName()}", 2);
            }

            ReadInitialState(c0Path, model).CopyTo(state, model.CellStateOffset);
        }

        using var file = outputPath is null ? null : new StreamWriter(outputPath);
        var writer = file ?? stdout;
        Output.WriteHeader(writer, model.OutputSize);
        var y = new double[model.OutputSize];
        for (var t = 0; t < inputs.Length; t++)
        {
            if (model.TryAdvance(inputs[t], state, y) >= 0)
            {
                throw new CliException($"{inputPath}: element {t + 1} makes the state or output non-finite (overflow)");
            }

            Output.WriteRow(writer, t + 1, y);
        }

        writer.Flush();
        return 0;
    }

    public static RnnModel LoadModel(string path)
    {
        try
        {
            return ModelFile.Load(path);
        }
        catch (ModelValidationException e)
        {
            throw new CliException($"{path}: {e.Message}");
        }
    }

    /// <summary>One row per layer, H numbers each.</summary>
    public static double[] ReadInitialState(string path, RnnModel model)
    {
        var rows = Csv.ReadFile(path, model.HiddenSize);
        if (rows.Length != model.LayerCount)
        {
            throw new CliException($"{path}: expected {model.LayerCount} rows (one per layer) of {model.HiddenSize} numbers, got {rows.Length} rows");
        }

        return [.. rows.SelectMany(r => r)];
    }

    public static double[][] ReadInitialStateRows(string path, int? hiddenSize = null) => Csv.ReadFile(path, hiddenSize);
}
