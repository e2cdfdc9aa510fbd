using System.Globalization;
using RnnStreams.Core;
using RnnStreams.Core.Formats;
using RnnStreams.Core.Training;

namespace RnnStreams.Client.Commands;

/// <summary>
/// <c>train --input SERIES.csv [--column value] --out model.json [--cell gru] [--hidden 32] [--layers 1] [--window 24]
/// [--epochs 100] [--horizon 1] [--learning-rate 0.01] [--validation 0.2] [--season 12] [--target change|value]
/// [--seed 1] [--name NAME]</c>: trains a forecaster of one series offline (no silo), prints a progress bar and a
/// validation report against the naive forecasts, and writes a model file that serving uses unchanged.
/// </summary>
internal static class TrainCommand
{
    public static int Run(Arguments args, TextWriter stdout, TextWriter stderr)
    {
        var input = args.Required("input", "a CSV series (e.g. timestamp,value)");
        var output = args.Required("out", "the model file to write");
        var column = args.Optional("column");
        var cellName = args.Optional("cell") ?? "gru";
        if (!ModelNames.TryParseCell(cellName, out var cell))
        {
            throw new CliException($"--cell is gru, lstm, rnn_tanh or rnn_relu, got '{cellName}'", 2);
        }

        var target = args.Optional("target") ?? "change";
        if (target is not ("change" or "value"))
        {
            throw new CliException($"--target is change (predict the step from the current value) or value, got '{target}'", 2);
        }

        var options = new TrainingOptions
        {
            Cell = cell,
            Hidden = args.Int("hidden", 32),
            Layers = args.Int("layers", 1),
            Window = args.Int("window", 24),
            Epochs = args.Int("epochs", 100),
            Horizon = args.Int("horizon", 1),
            LearningRate = Double(args, "learning-rate", 0.01),
            ValidationFraction = Double(args, "validation", 0.2),
            Season = args.Int("season", 12),
            Residual = target == "change",
            Seed = args.Int("seed", 1, 0),
            Name = args.Optional("name") ?? Path.GetFileNameWithoutExtension(output),
        };
        args.RejectUnknown();
        try
        {
            options.Validate();
        }
        catch (ArgumentException e)
        {
            throw new CliException(e.Message.Split(" (Parameter")[0], 2);
        }

        var series = Csv.ReadSeries(input, column);
        var bar = new ProgressBar(stderr, options.Epochs);
        TrainingReport report;
        try
        {
            report = Trainer.Train(series, options, bar.Update);
        }
        catch (ArgumentException e)
        {
            throw new CliException($"{input}: {e.Message.Split(" (Parameter")[0]}");
        }

        bar.Finish();
        ModelFile.Save(report.Model, output);
        Print(stdout, report, options, input);
        stdout.WriteLine($"wrote {output} ({report.Model})");
        return 0;
    }

    internal static void Print(TextWriter stdout, TrainingReport report, TrainingOptions options, string input)
    {
        var c = CultureInfo.InvariantCulture;
        stdout.WriteLine(string.Create(c, $"trained {options.Cell.ToFileName()} H={options.Hidden}×{options.Layers} on the first {report.TrainCount} values of {input} (window {options.Window}, {options.Epochs} epochs, final loss {report.EpochLosses[^1]:G4}); validated on the {report.ValidationCount} forecasts of the last values, never trained on, {options.Horizon} step(s) ahead:"));
        stdout.WriteLine($"{"forecast",-16} {"RMSE",12} {"MAE",12}");
        stdout.WriteLine(string.Create(c, $"{"model",-16} {report.Rmse,12:G6} {report.Mae,12:G6}"));
        stdout.WriteLine(string.Create(c, $"{"naive",-16} {report.NaiveRmse,12:G6} {report.NaiveMae,12:G6}   (the last value)"));
        stdout.WriteLine(string.Create(c, $"{"seasonal naive",-16} {report.SeasonalRmse,12:G6} {report.SeasonalMae,12:G6}   (the value {options.Season} steps earlier)"));
        var ratio = report.Rmse / report.NaiveRmse;
        stdout.WriteLine(string.Create(c, $"model/naive RMSE {ratio:F3}, model/seasonal RMSE {report.Rmse / report.SeasonalRmse:F3}: the model {(ratio < 1 ? "beats" : "does not beat")} the naive forecast"));
    }

    private static double Double(Arguments args, string name, double fallback)
    {
        var text = args.Optional(name);
        if (text is null)
        {
            return fallback;
        }

        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value)
            ? value
            : throw new CliException($"--{name} must be a number, got '{text}'", 2);
    }

    /// <summary>An epoch bar on standard error: redrawn in place on a terminal, a line per tenth otherwise.</summary>
    private sealed class ProgressBar(TextWriter stderr, int epochs)
    {
        private readonly bool _interactive = ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected;
        private int _lastTenth = -1;

        public void Update(int epoch, double loss)
        {
            const int width = 30;
            var done = epoch * width / epochs;
            var line = string.Create(CultureInfo.InvariantCulture, $"epoch {epoch,5}/{epochs} [{new string('#', done)}{new string('.', width - done)}] loss {loss:G4}");
            if (_interactive)
            {
                stderr.Write("\r" + line);
                return;
            }

            var tenth = epoch * 10 / epochs;
            if (tenth != _lastTenth)
            {
                _lastTenth = tenth;
                stderr.WriteLine(line);
            }
        }

        public void Finish()
        {
            if (_interactive)
            {
                stderr.WriteLine();
            }
        }
    }
}
