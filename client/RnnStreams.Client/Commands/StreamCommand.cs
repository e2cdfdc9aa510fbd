using RnnStreams.Core.Formats;

namespace RnnStreams.Client.Commands;

/// <summary>
/// <c>stream --sequence ID --input X.csv [--model M [--version V]] [--h0 H0.csv] [--c0 C0.csv] [--batch K] [--rate R] [--reset] [--via rpc|stream]</c>:
/// sends every element of a CSV to a sequence grain (grain calls, or events on <c>rnn-in/{sequence}</c>) and prints
/// each y_t as it arrives on the sequence's output stream.
/// A sequence that already applied elements resumes after its last one.
/// </summary>
internal static class StreamCommand
{
    public static async Task<int> Run(Arguments args, TextWriter stdout, TextWriter stderr, CancellationToken cancellation)
    {
        var id = args.Required("sequence", "a sequence id");
        var inputPath = args.Required("input", "a CSV of inputs, one row per element");
        var modelName = args.Optional("model");
        var version = args.OptionalInt("version");
        var h0Path = args.Optional("h0");
        var c0Path = args.Optional("c0");
        var batch = args.Int("batch", 1, 1, 100_000);
        var rate = args.OptionalInt("rate");
        var reset = args.Flag("reset");
        var via = args.Optional("via") ?? "rpc";
        if (via is not ("rpc" or "stream"))
        {
            throw new CliException($"--via is rpc or stream, got '{via}'", 2);
        }

        var wait = TimeSpan.FromSeconds(args.Int("wait", 30));
        var retryFor = TimeSpan.FromSeconds(args.Int("retry-for", 120, 0));
        var columns = args.Optional("column")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var fromN = args.Int("from-n", 1, 1);
        var rows = Csv.ReadColumns(inputPath, columns);

        // Row k of the file is element fromN + k - 1: a producer that appends new readings to a new file says where they
        // start. The elements before it are never sent from here (their slots stay empty).
        var inputs = new double[fromN - 1 + rows.Length][];
        rows.CopyTo(inputs, fromN - 1);
        var h0 = h0Path is null ? null : PredictCommand.ReadInitialStateRows(h0Path);
        var c0 = c0Path is null ? null : PredictCommand.ReadInitialStateRows(c0Path);
        if ((h0 is not null || c0 is not null) && modelName is null)
        {
            throw new CliException("--h0 and --c0 need --model: an initial state is given when a sequence starts", 2);
        }

        args.RejectUnknown();
        await using var connection = await Connection.OpenAsync(args);
        var client = connection.Client;
        var sequence = client.GetGrain<ISequenceGrain>(id);
        var refused = 0;
        var printer = new OrderedPrinter(stdout);
        await using var outputs = await OutputSubscription.SubscribeAsync(client, id, item =>
        {
            switch (item.Kind)
            {
                case OutputKind.Step:
                    printer.Feed(item.N, item.Y);
                    break;
                case OutputKind.Error:
                    Interlocked.Increment(ref refused);
                    stderr.WriteLine($"# element {item.N} refused: {item.Reason}");
                    break;
                default:
                    stderr.WriteLine($"# {item.Kind.ToString().ToLowerInvariant()} at n={item.N}");
                    break;
            }

            return ValueTask.CompletedTask;
        });

        if (modelName is not null)
        {
            await sequence.Start(new StartRequest(modelName, version, h0, c0));
        }

        long lastN = 0;
        try
        {
            var snapshot = await sequence.Snapshot();
            lastN = snapshot.LastN;
        }
        catch (SequenceNotStartedException)
        {
            // Starts implicitly on the silo's default model with element 1.
        }

        if (reset && lastN > 0)
        {
            await sequence.Reset();
            lastN = 0;
        }

        if (lastN >= inputs.Length)
        {
            stderr.WriteLine(fromN == 1
                ? $"# sequence {id} already applied {lastN} elements; {inputPath} has {inputs.Length}: nothing to send (use --reset to start again, or --from-n N when the file holds elements N, N+1, …)"
                : $"# sequence {id} already applied {lastN} elements; {inputPath} holds elements {fromN}–{inputs.Length}: nothing to send");
            return 0;
        }

        if (lastN < fromN - 1)
        {
            throw new CliException($"sequence {id} is at n={lastN}, and {inputPath} starts at element {fromN} (--from-n): elements {lastN + 1}–{fromN - 1} would be missing; send them first", 1);
        }

        if (lastN > 0)
        {
            stderr.WriteLine($"# sequence {id} is at n={lastN}; resuming at {lastN + 1}");
        }

        printer.StartAt(lastN + 1);
        var total = inputs.Length;
        var pacer = new Pacer(rate);
        if (via == "stream")
        {
            // Fire and forget: the grain consumes rnn-in through its implicit subscription; refusals come back as Error
            // events. There are no acknowledgements on this path, so it cannot resume across a silo failure.
            var inputStream = client.GetStreamProvider(RnnConstants.StreamProvider).GetStream<SequenceInput>(RnnConstants.InputStream(id));
            for (var n = lastN + 1; n <= total; n += batch)
            {
                cancellation.ThrowIfCancellationRequested();
                var count = (int)Math.Min(batch, total - n + 1);
                await pacer.WaitAsync(count, cancellation);
                await inputStream.OnNextBatchAsync(Enumerable.Range(0, count).Select(i => new SequenceInput(n + i, inputs[n + i - 1])).ToList());
            }

            if (!await outputs.WaitAsync(() => printer.Next > total || Volatile.Read(ref refused) > 0, wait, cancellation) || refused > 0)
            {
                throw new CliException(refused > 0
                    ? $"{refused} element(s) refused; the sequence stands at n={printer.Next - 1}"
                    : $"the output stream delivered only up to n={printer.Next - 1} of {total} within {wait.TotalSeconds:0} s");
            }
        }
        else
        {
            await SendWithRetriesAsync(sequence, inputs, lastN + 1, batch, pacer, printer, stderr, retryFor, cancellation);
        }

        stdout.Flush();
        return 0;
    }

    /// <summary>
    /// Sends elements by grain calls. When the cluster fails a call (a silo died, a timeout), it asks the sequence where
    /// it stands and resumes after its last applied element; a sequence that came back from an older stored state is
    /// replayed from there. Outputs print once each, in element order, from whichever comes first: the call's answer
    /// or the output stream.
    /// </summary>
    private static async Task SendWithRetriesAsync(ISequenceGrain sequence, double[][] inputs, long first, int batch,
        Pacer pacer, OrderedPrinter printer, TextWriter stderr, TimeSpan retryFor, CancellationToken cancellation)
    {
        var total = inputs.Length;
        var n = first;
        while (n <= total)
        {
            cancellation.ThrowIfCancellationRequested();
            var count = (int)Math.Min(batch, total - n + 1);
            await pacer.WaitAsync(count, cancellation);
            try
            {
                if (count == 1)
                {
                    var result = await sequence.Step(n, inputs[n - 1]);
                    printer.Feed(n, result.Y);
                }
                else
                {
                    var result = await sequence.StepMany(n, [.. inputs.Skip((int)n - 1).Take(count).SelectMany(x => x)]);
                    for (var i = 0; i < count; i++)
                    {
                        printer.Feed(n + i, result.Output(i).ToArray());
                    }
                }

                n += count;
            }
            catch (Exception e) when ((Resilience.IsTransient(e) || e is ElementGapException) && !cancellation.IsCancellationRequested)
            {
                stderr.WriteLine($"# element {n}: {e.GetType().Name}: {e.Message}; asking the sequence where it stands");
                var snapshot = await Resilience.RetryAsync(() => sequence.Snapshot(), retryFor, cancellation);
                if (snapshot.LastN < n - 1)
                {
                    stderr.WriteLine($"# sequence came back at n={snapshot.LastN} (its last stored state); replaying from {snapshot.LastN + 1}");
                }

                // Elements the sequence applied whose answers never reached us: ask again, they come back as stored duplicates.
                for (var k = printer.Next; k <= snapshot.LastN; k++)
                {
                    try
                    {
                        var again = await Resilience.RetryAsync(() => sequence.Step(k, inputs[k - 1]), retryFor, cancellation);
                        printer.Feed(k, again.Y);
                    }
                    catch (DuplicateElementException)
                    {
                        stderr.WriteLine($"# the output of element {k} is no longer kept by the sequence (RnnStreams:KeepOutputs); its row is left out");
                        printer.Skip(k);
                    }
                }

                n = snapshot.LastN + 1;
                if (inputs[n - 1] is null)
                {
                    throw new CliException($"the sequence came back at n={snapshot.LastN} (its last stored state), before the first element this file holds; send elements {n}… again from the file that has them");
                }
            }
        }

        if (printer.Next <= total)
        {
            throw new CliException($"outputs up to n={printer.Next - 1} of {total} were printed");
        }
    }

    /// <summary>
    /// <c>--rate R</c>: at most R elements per second, as a live producer sends them. Time lost to an outage is not made up
    /// with a burst: after a pause the pace simply resumes.
    /// </summary>
    private sealed class Pacer(int? rate)
    {
        private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();
        private double _due;

        public async Task WaitAsync(int elements, CancellationToken cancellation)
        {
            if (rate is not { } perSecond)
            {
                return;
            }

            var now = _clock.Elapsed.TotalSeconds;
            if (_due > now)
            {
                await Task.Delay(TimeSpan.FromSeconds(_due - now), cancellation);
            }

            _due = Math.Max(_due, now) + (double)elements / perSecond;
        }
    }

    /// <summary>Prints <c>n,y…</c> rows in element order, each n once, whatever order and how often they are fed.</summary>
    private sealed class OrderedPrinter(TextWriter stdout)
    {
        private readonly Dictionary<long, double[]> _pending = [];
        private bool _header;

        public long Next { get; private set; } = 1;

        public void StartAt(long n)
        {
            lock (_pending)
            {
                Next = n;
            }
        }

        /// <summary>Gives up on element n (its output cannot be had): later rows print without it.</summary>
        public void Skip(long n)
        {
            lock (_pending)
            {
                if (n == Next)
                {
                    Next++;
                    Flush();
                }
            }
        }

        public void Feed(long n, double[] y)
        {
            lock (_pending)
            {
                if (n < Next)
                {
                    return;
                }

                _pending[n] = y;
                Flush();
            }
        }

        private void Flush()
        {
            while (_pending.Remove(Next, out var row))
            {
                if (!_header)
                {
                    Output.WriteHeader(stdout, row.Length);
                    _header = true;
                }

                Output.WriteRow(stdout, Next, row);
                Next++;
            }
        }
    }
}
