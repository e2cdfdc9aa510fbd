using System.CommandLine;
using RnnStreams.Core;
using RnnStreams.Core.Formats;

namespace RnnStreams.Client.Commands;

/// <summary><c>predict --model M.json --input X.csv [--h0 H0.csv] [--c0 C0.csv] [--output Y.csv]</c>: runs a sequence offline, no silo needed.</summary>
internal static class PredictCommand
{
    public static Command Create(TextWriter stdout)
    {
        var model = CliOptions.Text("--model", "The model file (JSON).", "M.json", required: true);
        var input = InputOption();
        var column = ColumnOption();
        var h0 = H0Option();
        var c0 = C0Option();
        var output = CliOptions.Text("--output", "Write the outputs to this file instead of standard output.", "Y.csv");
        var command = new Command("predict", "Run a sequence offline (no silo): print n,y_0,…,y_{O-1} per element, after a header line.")
        {
            model, input, column, h0, c0, output,
        };
        ConnectionOptions.AddTo(command, hidden: true);
        command.SetAction(args => Run(args.GetValue(model)!, args.GetValue(input)!, args.GetValue(h0), args.GetValue(c0), args.GetValue(output),
            Columns(args.GetValue(column)), stdout));
        return command;
    }

    /// <summary><c>--input</c>: the CSV of inputs (predict, stream).</summary>
    internal static Option<string> InputOption() =>
        CliOptions.Text("--input", "A CSV of inputs, one row per element; a first row that is not all numbers is a header; blank and # lines are skipped.", "X.csv", required: true);

    /// <summary><c>--column</c>: which columns of the CSV are x (predict, stream).</summary>
    internal static Option<string> ColumnOption() =>
        CliOptions.Text("--column", "The columns that make x, header names or 1-based numbers, comma-separated, in that order (default: every column whose first data row holds a number).", "C[,C…]");

    /// <summary><c>--h0</c>: the initial hidden state (predict, stream).</summary>
    internal static Option<string> H0Option() =>
        CliOptions.Text("--h0", "The initial hidden state: a CSV with one row per layer, H numbers each (default: zeros).", "H0.csv");

    /// <summary><c>--c0</c>: an LSTM's initial cell state (predict, stream).</summary>
    internal static Option<string> C0Option() =>
        CliOptions.Text("--c0", "An LSTM's initial cell state: a CSV with one row per layer, H numbers each (default: zeros; other cells refuse it).", "C0.csv");

    /// <summary>The <c>--column</c> list, split.</summary>
    internal static string[]? Columns(string? text) => text?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static int Run(string modelPath, string inputPath, string? h0Path, string? c0Path, string? outputPath, string[]? columns, TextWriter stdout)
    {
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

        // A float32 model steps a float state: h_0 and c_0 are rounded to float once.
        var state32 = model.Precision == ModelPrecision.Float32 ? Array.ConvertAll(state, v => (float)v) : null;
        using var file = outputPath is null ? null : new StreamWriter(outputPath);
        var writer = file ?? stdout;
        Output.WriteHeader(writer, model.OutputSize);
        var y = new double[model.OutputSize];
        for (var t = 0; t < inputs.Length; t++)
        {
            var failed = state32 is null ? model.TryAdvance(inputs[t], state, y) : model.TryAdvance(inputs[t], state32, y);
            if (failed >= 0)
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
