using System.CommandLine;

using RnnStreams.Client.Load;

namespace RnnStreams.Client.Commands;

/// <summary>
/// <c>watch --sequence ID [--count N] [--url URL | --mqtt host:port]</c>: prints the outputs of a sequence as they arrive
/// (through the gateway's output stream, the HTTP API's Server-Sent Events, or the broker's out topic), until it ends,
/// N outputs arrived, or Ctrl+C / SIGTERM.
/// </summary>
internal static class WatchCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var sequence = CliOptions.Text("--sequence", "The sequence's id.", "ID", required: true);
        var count = CliOptions.OptionalInt("--count", "Stop after N outputs (default: when the sequence ends, or on Ctrl+C or SIGTERM).");
        var command = new Command("watch", "Print a sequence's outputs as they arrive (n,y_0,…), and its events as # lines; exit 0 when it ends, N outputs came, or on Ctrl+C or SIGTERM.")
        {
            sequence, count,
        };
        TransportOptions.AddTo(command, "Watch the sequence's out topic on this MQTT broker instead of the Orleans gateway.");
        command.SetAction((args, cancellation) => Run(args, args.GetValue(sequence)!, args.GetValue(count), stdout, stderr, cancellation));
        return command;
    }

    private static async Task<int> Run(ParseResult args, string id, int? count, TextWriter stdout, TextWriter stderr, CancellationToken cancellation)
    {
        var transport = TransportOptions.Read(args);
        await using var target = await transport.OpenAsync(id, Timeout.InfiniteTimeSpan, needsControl: false, cancellation);
        var gate = new object();
        var header = false;
        var intervals = false;
        await using var outputs = await OutputSubscription.SubscribeAsync(target, id, item =>
        {
            lock (gate)
            {
                if (item.Kind == OutputKind.Step)
                {
                    if (!header)
                    {
                        intervals = item.Interval is not null;
                        Output.WriteHeader(stdout, item.Y.Length, intervals);
                        header = true;
                    }
                    else if (!intervals && item.Interval is { } first)
                    {
                        // A forecaster gives intervals from its first full window on: the rows gain two columns from here.
                        intervals = true;
                        stdout.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"# from n={item.N} on each row adds lower,upper: the forecast's {first.Level:P0} interval"));
                    }

                    Output.WriteRow(stdout, item.N, item.Y, item.Interval, intervals);
                }
                else if (item is { Kind: OutputKind.Anomaly, Interval: { } outside })
                {
                    stdout.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                        $"# anomaly n={item.N}: x={item.X?[0]} outside [{outside.Lower:G6}, {outside.Upper:G6}] ({outside.Level:P0} interval of its forecast), {item.Surprise:F1} standard deviations"));
                }
                else
                {
                    stdout.WriteLine($"# {item.Kind.ToString().ToLowerInvariant()} n={item.N}{(item.Reason is null ? string.Empty : $": {item.Reason}")}");
                }

                stdout.Flush();
            }

            return ValueTask.CompletedTask;
        });

        // Say where the sequence stands: a watcher of a sequence that does not exist (a typo) learns it at once. Over MQTT
        // alone there is no one to ask: the line says what is watched.
        var what = transport.Mqtt is not null ? $"{transport.MqttPrefix}/{id}/out on {transport.Mqtt}" : transport.Url is not null ? $"{transport.Url}v1/sequences/{id}/outputs" : $"{RnnConstants.OutputNamespace}/{id}";
        if (!target.HasControl)
        {
            stderr.WriteLine($"# watching {what}; Ctrl+C or SIGTERM to stop");
        }
        else
        {
            try
            {
                var snapshot = await target.SnapshotAsync(id);
                stderr.WriteLine($"# watching {what}: model {snapshot.Model} v{snapshot.ModelVersion}, at n={snapshot.LastN}; Ctrl+C or SIGTERM to stop");
            }
            catch (Exception e) when (ILoadTarget.ErrorKind(e) == nameof(RnnErrorKind.NotStarted))
            {
                stderr.WriteLine($"# sequence '{id}' has not started (or has ended): waiting for it to start; Ctrl+C or SIGTERM to stop");
            }
        }

        stderr.Flush();
        try
        {
            await outputs.WaitAsync(() => outputs.Ended || (count is not null && outputs.Steps >= count), Timeout.InfiniteTimeSpan, cancellation);
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
        }

        return 0;
    }
}
