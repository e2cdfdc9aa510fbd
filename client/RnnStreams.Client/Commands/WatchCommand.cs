namespace RnnStreams.Client.Commands;

/// <summary><c>watch --sequence ID [--count N]</c>: prints the outputs of a sequence as they arrive, until it ends, N outputs arrived, or Ctrl+C.</summary>
internal static class WatchCommand
{
    public static async Task<int> Run(Arguments args, TextWriter stdout, TextWriter stderr, CancellationToken cancellation)
    {
        var id = args.Required("sequence", "a sequence id");
        var count = args.OptionalInt("count");
        args.RejectUnknown();
        await using var connection = await Connection.OpenAsync(args);
        var gate = new object();
        var header = false;
        await using var outputs = await OutputSubscription.SubscribeAsync(connection.Client, id, item =>
        {
            lock (gate)
            {
                if (item.Kind == OutputKind.Step)
                {
                    if (!header)
                    {
                        Output.WriteHeader(stdout, item.Y.Length);
                        header = true;
                    }

                    Output.WriteRow(stdout, item.N, item.Y);
                }
                else
                {
                    stdout.WriteLine($"# {item.Kind.ToString().ToLowerInvariant()} n={item.N}{(item.Reason is null ? string.Empty : $": {item.Reason}")}");
                }

                stdout.Flush();
            }

            return ValueTask.CompletedTask;
        });

        // Say where the sequence stands: a watcher of a sequence that does not exist (a typo) learns it at once.
        try
        {
            var snapshot = await connection.Client.GetGrain<ISequenceGrain>(id).Snapshot();
            stderr.WriteLine($"# watching {RnnConstants.OutputNamespace}/{id}: model {snapshot.Model} v{snapshot.ModelVersion}, at n={snapshot.LastN}; Ctrl+C or SIGTERM to stop");
        }
        catch (SequenceNotStartedException)
        {
            stderr.WriteLine($"# sequence '{id}' has not started (or has ended): waiting for it to start; Ctrl+C or SIGTERM to stop");
        }

        try
        {
            await outputs.WaitAsync(() => outputs.Ended || (count is not null && outputs.Steps >= count), Timeout.InfiniteTimeSpan, cancellation);
        }
        catch (OperationCanceledException)
        {
        }

        return 0;
    }
}
