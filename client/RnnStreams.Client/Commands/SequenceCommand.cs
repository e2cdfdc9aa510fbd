using System.CommandLine;
using System.Globalization;
using RnnStreams.Core.Formats;

namespace RnnStreams.Client.Commands;

/// <summary>
/// <c>sequence show|reset|upgrade|end --sequence ID</c>: where a sequence stands, and its lifecycle; <c>sequence forecast
/// --sequence ID --steps K</c>: its next K inputs forecast from its live state.
/// </summary>
internal static class SequenceCommand
{
    public static Command Create(TextWriter stdout) =>
        new("sequence", "Where a sequence stands, and its lifecycle.")
        {
            Verb("show", "Print where the sequence stands: sequence=… model=… version=… last_n=… last_durable_n=… durability=…, then h per layer, then an LSTM's c per layer.", stdout),
            Verb("reset", "Take the sequence back to its initial state (the next element is 1), and print where it stands.", stdout),
            Verb("upgrade", "Move the sequence to its model's latest version, keeping its state, and print where it stands.", stdout),
            Verb("end", "End the sequence; its watchers get the ended event.", stdout),
            Forecast(stdout),
        };

    private static Command Forecast(TextWriter stdout)
    {
        var sequence = CliOptions.Text("--sequence", "The sequence's id.", "ID", required: true);
        var steps = CliOptions.Int("--steps", "How many inputs ahead (the first is y_n of the last element; more need a model whose output is its input).", 12, 1, RnnConstants.MaxForecastSteps);
        var command = new Command("forecast", "Print the sequence's next inputs forecast from its live state, without changing it: one CSV row n,y… per step (n the element it forecasts), with lower,upper after y for a forecaster with intervals (its interval from sampled futures).")
        {
            sequence, steps,
        };
        ConnectionOptions.AddTo(command);
        command.SetAction(async args =>
        {
            await using var connection = await Connection.OpenAsync(args);
            var forecast = await connection.Client.GetGrain<ISequenceGrain>(args.GetValue(sequence)!).Forecast(args.GetValue(steps));
            for (var i = 0; i < forecast.Steps; i++)
            {
                var row = forecast.Y.AsSpan(i * forecast.OutputSize, forecast.OutputSize).ToArray();
                var interval = forecast.Lower is { } lower && forecast.Upper is { } upper ? $",{Csv.Format(lower[i])},{Csv.Format(upper[i])}" : string.Empty;
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{forecast.AfterN + 1 + i},{string.Join(',', row.Select(Csv.Format))}{interval}"));
            }

            return 0;
        });
        return command;
    }

    private static Command Verb(string verb, string description, TextWriter stdout)
    {
        var sequence = CliOptions.Text("--sequence", "The sequence's id.", "ID", required: true);
        var command = new Command(verb, description) { sequence };
        ConnectionOptions.AddTo(command);
        command.SetAction(async args =>
        {
            var id = args.GetValue(sequence)!;
            await using var connection = await Connection.OpenAsync(args);
            var grain = connection.Client.GetGrain<ISequenceGrain>(id);
            switch (verb)
            {
                case "show":
                    Print(stdout, await grain.Snapshot());
                    break;
                case "reset":
                    Print(stdout, await grain.Reset());
                    break;
                case "upgrade":
                    Print(stdout, await grain.Upgrade());
                    break;
                default:
                    await grain.End();
                    stdout.WriteLine($"ended {id}");
                    break;
            }

            return 0;
        });
        return command;
    }

    /// <summary>One <c>key=value</c> line, then one CSV row of h per layer, then (LSTM) one of c per layer.</summary>
    internal static void Print(TextWriter stdout, SequenceSnapshot s)
    {
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"sequence={s.Sequence} model={s.Model} version={s.ModelVersion} last_n={s.LastN} last_durable_n={s.LastDurableN} durability={s.Durability} updated_at={s.UpdatedAt:O}"));
        foreach (var layer in s.Hidden.Concat(s.Cell ?? []))
        {
            stdout.WriteLine(string.Join(',', layer.Select(Csv.Format)));
        }
    }
}
