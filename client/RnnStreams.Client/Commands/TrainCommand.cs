using System.CommandLine;
using System.Globalization;
using RnnStreams.Core;
using RnnStreams.Core.Formats;
using RnnStreams.Core.Training;

namespace RnnStreams.Client.Commands;

/// <summary>
/// <c>train --input SERIES.csv [--column value] --out model.json [--cell gru] [--hidden 32] [--layers 1] [--window 24]
/// [--epochs 100] [--horizon 1] [--learning-rate 0.003 (0.01 with --seasonal off)] [--validation 0.2] [--season 12] [--target change|value]
/// [--seed 1] [--name NAME] [--seasonal on|off] [--log auto|on|off] [--targets seasonal,seasonal-change,profile] [--calendar on|off]
/// [--seasonal-lags on|off] [--select-epochs on|off] [--ensemble 5]</c>: trains a forecaster of one series offline (no silo), prints a progress bar and a
/// validation report against the naive forecasts, and writes a model file that serving uses unchanged.
/// </summary>
internal static class TrainCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var input = CliOptions.Text("--input",
            "The series to learn: a CSV such as timestamp,value; for one model of a whole fleet, a folder of such CSVs or one long CSV with a sequence (or device) column.",
            "SERIES.csv|FOLDER", required: true);
        var sequenceColumn = CliOptions.Text("--sequence-column",
            "A long CSV's column naming each row's series, a header name or a 1-based number (default: a column named sequence or device): one model for all its series.", "C");
        var compare = CliOptions.Flag("--compare", "Fleet: also train a model on each series alone (the same options) and report the fleet model's RMSE against theirs.");
        var output = CliOptions.Text("--out", "The model file to write.", "M.json", required: true);
        var column = CliOptions.Text("--column", "The series' column, a header name or a 1-based number (default: the last).", "C");
        var cell = CliOptions.Choice("--cell", "The recurrent cell.", "gru", "gru", "lstm", "rnn_tanh", "rnn_relu");
        var hidden = CliOptions.Int("--hidden", "The hidden size H.", 32);
        var layers = CliOptions.Int("--layers", "Stacked recurrent layers.", 1);
        var window = CliOptions.Int("--window", "Elements per training window (truncated backpropagation through time).", 24);
        var intervals = CliOptions.Choice("--intervals", "Seasonal: on: the network gives a Gaussian of its forecast (mean and spread, trained by likelihood), so each output carries an interval; off: a point forecast.", "on", "on", "off");
        var epochs = CliOptions.Int("--epochs", "Passes over the training windows.", 100);
        var horizon = CliOptions.Int("--horizon", "How many steps ahead the model forecasts.", 1);
        var learningRate = CliOptions.OptionalDouble("--learning-rate", "Adam's step size (default 0.003 for a seasonal forecaster, 0.01 with --seasonal off).", v => v > 0, "a positive number");
        var validation = CliOptions.Double("--validation", "The fraction at the end of the series held out for validation, never trained on.", 0.2, v => v is > 0 and < 1, "a fraction between 0 and 1");
        var season = CliOptions.OptionalInt("--season", "The season's length (default: 12 for monthly times, 7 for daily, 24 for hourly, else 12).", min: 1);
        var target = CliOptions.Choice("--target", "With --seasonal off: change: predict the step from the current value; value: predict the value itself.", "change", "change", "value");
        var targets = CliOptions.Text("--targets",
            "Seasonal: what the network forecasts, comma-separated, the forecast being their mean: seasonal (the seasonal difference), seasonal-change (its change), profile (the change of the series less a seasonal profile).",
            "LIST", "seasonal,seasonal-change,profile");
        var seed = CliOptions.Int("--seed", "The seed of the initial weights and the shuffling.", 1, min: 0);
        var seasonal = CliOptions.Choice("--seasonal", "on: the network forecasts the seasonal difference from seasonal inputs (horizon 1); off: the raw series.", "on", "on", "off");
        var log = CliOptions.Choice("--log", "Seasonal: model the log of the series (auto: when every value is positive and the season's swing grows with the level).", "auto", "auto", "on", "off");
        var calendar = CliOptions.Choice("--calendar", "Seasonal: sin and cos of the position in the season are inputs.", "on", "on", "off");
        var seasonalLags = CliOptions.Choice("--seasonal-lags", "Seasonal: the target one season earlier is an input.", "on", "on", "off");
        var selectEpochs = CliOptions.Choice("--select-epochs", "Seasonal: on: --epochs is the most, the number trained is chosen on the last part of the training values; off: train --epochs.", "on", "on", "off");
        var ensemble = CliOptions.Int("--ensemble", "Seasonal: networks trained from this many seeds, averaged into one model of ensemble × hidden units.", 5);
        var name = CliOptions.Text("--name", "The model's name (default: the --out file's name without its extension).", "NAME");
        var command = new Command("train", "Train a forecaster of one series offline (no silo), report it against the naive forecasts, and write a model file that serving uses unchanged.")
        {
            input, output, column, sequenceColumn, compare, cell, hidden, layers, window, epochs, horizon, learningRate, validation, season, target, targets, seed, name,
            seasonal, log, calendar, seasonalLags, selectEpochs, ensemble, intervals,
        };
        ConnectionOptions.AddTo(command, hidden: true);
        command.SetAction(args =>
        {
            var cellName = args.GetValue(cell)!;
            if (!ModelNames.TryParseCell(cellName, out var parsedCell))
            {
                throw new CliException($"--cell is gru, lstm, rnn_tanh or rnn_relu, got '{cellName}'", 2);
            }

            var targetName = args.GetValue(target)!;
            var isSeasonal = args.GetValue(seasonal) == "on";
            var targetList = new List<ForecastTarget>();
            foreach (var item in args.GetValue(targets)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                targetList.Add(ModelNames.TryParseTarget(item, out var parsed)
                    ? parsed
                    : throw new CliException($"--targets: unknown target '{item}'; expected seasonal, seasonal-change or profile, comma-separated", 2));
            }

            var outputPath = args.GetValue(output)!;
            var options = new TrainingOptions
            {
                Cell = parsedCell,
                Hidden = args.GetValue(hidden),
                Layers = args.GetValue(layers),
                Window = args.GetValue(window),
                Epochs = args.GetValue(epochs),
                Horizon = args.GetValue(horizon),
                LearningRate = args.GetValue(learningRate),
                ValidationFraction = args.GetValue(validation),
                Season = args.GetValue(season),
                Residual = targetName == "change",
                Seasonal = isSeasonal,
                Log = args.GetValue(log) switch { "on" => true, "off" => false, _ => null },
                Targets = targetList,
                Calendar = args.GetValue(calendar) == "on",
                SeasonalLags = args.GetValue(seasonalLags) == "on",
                SelectEpochs = args.GetValue(selectEpochs) == "on",
                Ensemble = args.GetValue(ensemble),
                Intervals = args.GetValue(intervals) == "on",
                Seed = args.GetValue(seed),
                Name = args.GetValue(name) ?? Path.GetFileNameWithoutExtension(outputPath),
            };
            return Run(args.GetValue(input)!, outputPath, args.GetValue(column), args.GetValue(sequenceColumn), args.GetValue(compare), options, stdout, stderr);
        });
        return command;
    }

    private static int Run(string input, string output, string? column, string? sequenceColumn, bool compare, TrainingOptions options, TextWriter stdout, TextWriter stderr)
    {
        try
        {
            options.Validate();
        }
        catch (ArgumentException e)
        {
            throw new CliException(e.Message.Split(" (Parameter")[0], 2);
        }

        if (Directory.Exists(input))
        {
            var files = Directory.GetFiles(input, "*.csv").Order(StringComparer.Ordinal).ToArray();
            return files.Length == 0
                ? throw new CliException($"{input}: no .csv files (a fleet is a folder of series, one CSV each, or one long CSV)", 2)
                : RunFleet(input, [.. files.Select(f => new FleetSeries(Path.GetFileNameWithoutExtension(f), Csv.ReadSeries(f, column), Csv.ReadTimes(f)))],
                    output, compare, options, stdout, stderr);
        }

        if (Csv.SeriesColumn(input, sequenceColumn) is { } key)
        {
            return RunFleet(input, Csv.ReadFleet(input, key, column), output, compare, options, stdout, stderr);
        }

        if (compare)
        {
            throw new CliException($"--compare is for a fleet: {input} holds one series (no sequence or device column; name it with --sequence-column)", 2);
        }

        var series = Csv.ReadSeries(input, column);
        var times = Csv.ReadTimes(input);
        var bar = new ProgressBar(stderr, options.Epochs);
        TrainingReport report;
        try
        {
            report = Trainer.Train(series, options, bar.Update, times);
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

    /// <summary>
    /// <c>train --input FOLDER|LONG.csv</c>: one model for every series of the fleet, reported series by series on each one's
    /// held-out tail; with <c>--compare</c> also against a model trained on that series alone.
    /// </summary>
    private static int RunFleet(string source, IReadOnlyList<FleetSeries> fleet, string output, bool compare, TrainingOptions options, TextWriter stdout, TextWriter stderr)
    {
        var bar = new ProgressBar(stderr, options.Epochs);
        FleetReport report;
        double[]? alone = null;
        try
        {
            report = Trainer.TrainFleet(fleet, options, bar.Update);
            bar.Finish();
            if (compare)
            {
                stderr.WriteLine($"# --compare: training a model on each of the {fleet.Count} series alone");
                alone = [.. fleet.Select((s, i) =>
                {
                    stderr.Write($"\r# {i + 1}/{fleet.Count} {s.Name}");
                    return Trainer.Train(s.Values, options with { Name = s.Name }, times: s.Times).Rmse;
                })];
                stderr.WriteLine();
            }
        }
        catch (ArgumentException e)
        {
            throw new CliException($"{source}: {e.Message.Split(" (Parameter")[0]}");
        }

        ModelFile.Save(report.Model, output);
        var c = CultureInfo.InvariantCulture;
        var tails = report.Series.Sum(s => s.Report.ValidationCount);
        stdout.WriteLine(string.Create(c,
            $"one model for the {fleet.Count} series of {source}, each in units of its own scale; held out: the last {options.ValidationFraction:P0} of each ({tails} values); epochs chosen per seed on the last {options.ValidationFraction:P0} of every series' training values: {string.Join(", ", report.SelectedEpochs)}"));
        stdout.WriteLine($"{"series",-24} {"RMSE",12}{(alone is null ? string.Empty : $" {"alone",12}")} {"naive",12} {"seasonal",12} {"inside 80 %",12}");
        for (var i = 0; i < report.Series.Count; i++)
        {
            var (name, r) = report.Series[i];
            stdout.WriteLine(string.Create(c,
                $"{name,-24} {r.Rmse,12:G6}{(alone is null ? string.Empty : string.Create(c, $" {alone[i],12:G6}"))} {r.NaiveRmse,12:G6} {r.SeasonalRmse,12:G6} {r.Coverage80,12:P1}"));
        }

        var rmse = report.Series.Select(s => s.Report.Rmse).ToArray();
        if (options.Intervals)
        {
            var inside80 = report.Series.Sum(s => s.Report.Coverage80 * s.Report.ValidationCount);
            var inside95 = report.Series.Sum(s => s.Report.Coverage95 * s.Report.ValidationCount);
            stdout.WriteLine(string.Create(c, $"of the {tails} held-out values, {inside80 / tails:P1} inside their 80 % interval, {inside95 / tails:P1} inside their 95 % interval"));
        }


        stdout.WriteLine(string.Create(c, $"fleet model ÷ seasonal naive RMSE, geometric mean over the series: {GeometricMeanRatio(rmse, [.. report.Series.Select(s => s.Report.SeasonalRmse)]):F3}"));
        if (alone is not null)
        {
            var better = rmse.Zip(alone).Count(p => p.First < p.Second);
            stdout.WriteLine(string.Create(c,
                $"fleet model ÷ a model per series RMSE, geometric mean over the series: {GeometricMeanRatio(rmse, alone):F3} (the fleet model better on {better} of {fleet.Count})"));
        }

        stdout.WriteLine($"wrote {output} ({report.Model})");
        return 0;
    }

    private static double GeometricMeanRatio(IReadOnlyList<double> a, IReadOnlyList<double> b) => Math.Exp(a.Zip(b, (x, y) => Math.Log(x / y)).Average());

    internal static void Print(TextWriter stdout, TrainingReport report, TrainingOptions options, string input)
    {
        var c = CultureInfo.InvariantCulture;
        stdout.WriteLine(string.Create(c, $"trained {options.Cell.ToFileName()} H={options.Hidden}×{options.Layers} on the first {report.TrainCount} values of {input} (window {options.Window}, {report.EpochLosses.Count} epochs, final loss {report.EpochLosses[^1]:G4}); validated on the {report.ValidationCount} forecasts of the last values, never trained on, {options.Horizon} step(s) ahead:"));
        if (report.Model.Forecaster is { } f)
        {
            var calendar = f.Calendar switch
            {
                CalendarKind.None => string.Empty,
                CalendarKind.Position => ", sin and cos of the position in the season (counted)",
                _ => $", sin and cos of the {f.Calendar.ToFileName()} of each element's time",
            };
            stdout.WriteLine(string.Create(c, $"seasonal forecaster (season {f.Season}): the network forecasts {string.Join(", ", f.Targets.Select(TargetName))} of {(f.Log ? "log(value)" : "the value")}, each from its latest value{(f.SeasonalLags ? " and its values one season earlier" : "")}{calendar}; the forecast is their mean; the model file serves raw values"));
            if (report.SelectedEpochs is { } chosen)
            {
                stdout.WriteLine(string.Create(c, $"epochs chosen on the last {options.ValidationFraction:P0} of the training values: {string.Join(", ", chosen)} of at most {options.Epochs}, then trained on all of them"));
            }

            if (options.Ensemble > 1)
            {
                stdout.WriteLine(string.Create(c, $"the model averages {options.Ensemble} networks (seeds {options.Seed}…{options.Seed + options.Ensemble - 1}) as one of H={options.Ensemble * options.Hidden}"));
            }
        }

        stdout.WriteLine($"{"forecast",-16} {"RMSE",12} {"MAE",12}");
        stdout.WriteLine(string.Create(c, $"{"model",-16} {report.Rmse,12:G6} {report.Mae,12:G6}"));
        stdout.WriteLine(string.Create(c, $"{"naive",-16} {report.NaiveRmse,12:G6} {report.NaiveMae,12:G6}   (the last value)"));
        var season = report.Model.Forecaster?.Season ?? options.SeasonFor(null);
        stdout.WriteLine(string.Create(c, $"{"seasonal naive",-16} {report.SeasonalRmse,12:G6} {report.SeasonalMae,12:G6}   (the value {season} steps earlier)"));
        stdout.WriteLine(string.Create(c, $"{"drift",-16} {report.DriftRmse,12:G6} {report.DriftMae,12:G6}   (the last value plus the mean step so far)"));
        if (!double.IsNaN(report.Coverage80))
        {
            stdout.WriteLine(string.Create(c, $"intervals: {report.Coverage80:P1} of the held-out values inside their 80 % interval, {report.Coverage95:P1} inside their 95 % interval; CRPS {report.Crps:G6} (MAE of the point forecast {report.Mae:G6})"));
        }

        if (!double.IsNaN(report.FalseAlarms))
        {
            stdout.WriteLine(string.Create(c, $"anomalies: {report.FalseAlarms:P1} of the held-out values flagged (outside the 99 % interval of the forecast made for them; 1 % expected on a clean series)"));
        }

        if (report.SeasonAhead is { } ahead)
        {
            stdout.WriteLine(string.Create(c, $"{ahead.Horizon} steps ahead (from each of {ahead.Count} held-out origins, rolled forward on its own forecasts): RMSE {ahead.Rmse:G6}, seasonal naive {ahead.SeasonalNaiveRmse:G6}{(double.IsNaN(ahead.Coverage80) ? string.Empty : string.Create(c, $"; {ahead.Coverage80:P1} inside the 80 % interval from sampled futures"))}"));
        }

        var ratio = report.Rmse / report.NaiveRmse;
        stdout.WriteLine(string.Create(c, $"model/naive RMSE {ratio:F3}, model/seasonal RMSE {report.Rmse / report.SeasonalRmse:F3}: the model {(ratio < 1 ? "beats" : "does not beat")} the naive forecast"));
    }

    private static string TargetName(ForecastTarget target) => target switch
    {
        ForecastTarget.Seasonal => "the seasonal difference",
        ForecastTarget.SeasonalChange => "its change",
        _ => "the change less a seasonal profile",
    };

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
