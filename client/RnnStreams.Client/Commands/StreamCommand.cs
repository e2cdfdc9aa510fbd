using System.CommandLine;
using RnnStreams.Client.Load;
using RnnStreams.Core.Formats;

namespace RnnStreams.Client.Commands;

/// <summary>
/// <c>stream --sequence ID --input X.csv [--model M [--version V]] [--h0 H0.csv] [--c0 C0.csv] [--batch K] [--rate R] [--reset]
/// [--via rpc|stream] [--url URL | --mqtt host:port]</c>: sends every element of a CSV to a sequence — by grain calls or
/// events on <c>rnn-in/{sequence}</c> through the gateway, by the HTTP API, or through an MQTT broker — and prints each
/// y_t in element order. A sequence that already applied elements resumes after its last one (over MQTT alone nobody can
/// say where it stands: it sends from <c>--from-n</c>, and elements already applied come back as duplicates).
/// </summary>
internal static class StreamCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var sequence = CliOptions.Text("--sequence", "The sequence's id.", "ID", required: true);
        var input = PredictCommand.InputOption();
        var column = PredictCommand.ColumnOption();
        var fromN = CliOptions.Int("--from-n", "The element number of the file's first row: the file holds elements N, N+1, … (a producer appending its new readings; a file that would leave a hole is refused).", 1);
        var model = CliOptions.Text("--model", "Start the sequence on this model (default: a sequence nobody started starts on the silo's default model with element 1).", "NAME");
        var version = CliOptions.OptionalInt("--version", "The model version to start on (default: the latest).");
        var h0 = PredictCommand.H0Option();
        var c0 = PredictCommand.C0Option();
        var batch = CliOptions.Int("--batch", "Elements per call (the batch endpoint over HTTP, one message over MQTT).", 1, 1, 100_000);
        var rate = CliOptions.OptionalInt("--rate", "Send at most N elements per second, as a live device would; time lost to an outage is not made up in a burst (default: as fast as answered).");
        var reset = CliOptions.Flag("--reset", "Reset a sequence that already applied elements and send the file from element 1 (default: resume after its last element).");
        var via = CliOptions.Choice("--via", "Through the gateway: rpc sends grain calls (acknowledged, resumes across a silo failure); stream sends events on rnn-in/{sequence} (no acknowledgements).", "rpc", "rpc", "stream");
        var wait = CliOptions.Int("--wait", "How long to wait for outputs that come back on their own (--via stream) or through the broker (--mqtt), in seconds.", 30);
        var retryFor = CliOptions.Int("--retry-for", "How long to keep retrying while the cluster cannot answer, in seconds.", 120, min: 0);
        var command = new Command("stream", "Send every element of a CSV to a sequence and print each y_t (n,y_0,…) in element order; a sequence that already applied elements resumes after its last one.")
        {
            sequence, input, column, fromN, model, version, h0, c0, batch, rate, reset, via, wait, retryFor,
        };
        TransportOptions.AddTo(command, "Publish the elements on {prefix}/{sequence}/in of this MQTT broker and read the outputs on /out, refusals on /error, instead of the Orleans gateway.");
        command.SetAction((args, cancellation) => Run(args, new Settings(
            args.GetValue(sequence)!, args.GetValue(input)!, PredictCommand.Columns(args.GetValue(column)), args.GetValue(fromN), args.GetValue(model), args.GetValue(version),
            args.GetValue(h0), args.GetValue(c0), args.GetValue(batch), args.GetValue(rate), args.GetValue(reset), args.GetValue(via)!,
            TimeSpan.FromSeconds(args.GetValue(wait)), TimeSpan.FromSeconds(args.GetValue(retryFor))), stdout, stderr, cancellation));
        return command;
    }

    private static async Task<int> Run(ParseResult args, Settings s, TextWriter stdout, TextWriter stderr, CancellationToken cancellation)
    {
        var (id, inputPath, fromN, modelName) = (s.Sequence, s.Input, s.FromN, s.Model);
        if (s.Via is not ("rpc" or "stream"))
        {
            throw new CliException($"--via is rpc or stream, got '{s.Via}'", 2);
        }

        var rows = Csv.ReadColumns(inputPath, s.Columns);

        // Row k of the file is element fromN + k - 1: a producer that appends new readings to a new file says where they
        // start. The elements before it are never sent from here (their slots stay empty).
        var inputs = new double[fromN - 1 + rows.Length][];
        rows.CopyTo(inputs, fromN - 1);
        var h0 = s.H0 is null ? null : PredictCommand.ReadInitialStateRows(s.H0);
        var c0 = s.C0 is null ? null : PredictCommand.ReadInitialStateRows(s.C0);
        if ((h0 is not null || c0 is not null) && modelName is null)
        {
            throw new CliException("--h0 and --c0 need --model: an initial state is given when a sequence starts", 2);
        }

        var transport = TransportOptions.Read(args);
        if (s.Via == "stream" && !transport.OverGateway)
        {
            throw new CliException("--via stream sends events on the cluster's input stream: only through the gateway", 2);
        }

        if (transport.Mqtt is not null && (modelName is not null || s.Reset))
        {
            throw new CliException("--model and --reset start or reset a sequence, and MQTT has no message for that: use --url or the gateway (over MQTT, element 1 of a sequence nobody started starts it on the silo's Mqtt:DefaultModel)", 2);
        }

        await using var target = await transport.OpenAsync(id, s.Wait, needsControl: false, cancellation);
        var refused = 0;
        var printer = new OrderedPrinter(stdout);

        // Through the gateway the output stream prints rows too (the only answers --via stream gets) and reports refusals.
        await using var outputs = target is GrainLoadTarget ? await OutputSubscription.SubscribeAsync(target, id, item =>
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
        }) : null;

        if (modelName is not null)
        {
            await target.StartAsync(id, new StartRequest(modelName, s.Version, h0, c0));
        }

        long lastN = fromN - 1;
        if (target.HasControl)
        {
            lastN = 0;
            try
            {
                lastN = (await target.SnapshotAsync(id)).LastN;
            }
            catch (Exception e) when (ILoadTarget.ErrorKind(e) == nameof(RnnErrorKind.NotStarted))
            {
                // Starts implicitly on the silo's default model with element 1.
            }
        }
        else
        {
            stderr.WriteLine($"# over MQTT nobody can say where sequence {id} stands: sending from element {fromN}");
        }

        if (s.Reset && lastN > 0)
        {
            await target.ResetAsync(id);
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

        if (lastN > 0 && target.HasControl)
        {
            stderr.WriteLine($"# sequence {id} is at n={lastN}; resuming at {lastN + 1}");
        }

        printer.StartAt(lastN + 1);
        var total = inputs.Length;
        var pacer = new Pacer(s.Rate);
        if (s.Via == "stream")
        {
            // Fire and forget: the grain consumes rnn-in through its implicit subscription; refusals come back as Error
            // events. There are no acknowledgements on this path, so it cannot resume across a silo failure.
            var client = ((GrainLoadTarget)target).Client;
            var inputStream = client.GetStreamProvider(RnnConstants.StreamProvider).GetStream<SequenceInput>(RnnConstants.InputStream(id));
            for (var n = lastN + 1; n <= total; n += s.Batch)
            {
                cancellation.ThrowIfCancellationRequested();
                var count = (int)Math.Min(s.Batch, total - n + 1);
                await pacer.WaitAsync(count, cancellation);
                await inputStream.OnNextBatchAsync(Enumerable.Range(0, count).Select(i => new SequenceInput(n + i, inputs[n + i - 1])).ToList());
            }

            if (!await outputs!.WaitAsync(() => printer.Next > total || Volatile.Read(ref refused) > 0, s.Wait, cancellation) || refused > 0)
            {
                throw new CliException(refused > 0
                    ? $"{refused} element(s) refused; the sequence stands at n={printer.Next - 1}"
                    : $"the output stream delivered only up to n={printer.Next - 1} of {total} within {s.Wait.TotalSeconds:0} s");
            }
        }
        else
        {
            await SendWithRetriesAsync(target, id, inputs, lastN + 1, s.Batch, pacer, printer, stderr, s.RetryFor, cancellation);
        }

        stdout.Flush();
        return 0;
    }

    /// <summary>
    /// Sends elements one call (or message) at a time. When the cluster fails a call (a silo died, a timeout, an output
    /// that never came), it asks the sequence where it stands and resumes after its last applied element; a sequence
    /// that came back from an older stored state is replayed from there. Where nobody can be asked (MQTT alone) it sends
    /// again from the first element not yet printed: the element number makes that safe. Outputs print once each, in
    /// element order, from whichever comes first: the call's answer or the output stream.
    /// </summary>
    private static async Task SendWithRetriesAsync(ILoadTarget target, string id, double[][] inputs, long first, int batch,
        Pacer pacer, OrderedPrinter printer, TextWriter stderr, TimeSpan retryFor, CancellationToken cancellation)
    {
        var total = inputs.Length;
        var n = first;
        var failingSince = (long?)null;
        while (n <= total)
        {
            cancellation.ThrowIfCancellationRequested();
            var count = (int)Math.Min(batch, total - n + 1);
            await pacer.WaitAsync(count, cancellation);
            try
            {
                if (count == 1)
                {
                    var result = await target.StepAsync(id, n, inputs[n - 1]);
                    printer.Feed(n, result.Y);
                }
                else
                {
                    var result = await target.StepManyAsync(id, n, [.. inputs.Skip((int)n - 1).Take(count).SelectMany(x => x)]);
                    for (var i = 0; i < count; i++)
                    {
                        printer.Feed(n + i, result.Output(i).ToArray());
                    }
                }

                n += count;
                failingSince = null;
            }
            catch (Exception e) when ((target.IsTransient(e) || target.IsGap(e)) && !cancellation.IsCancellationRequested)
            {
                if (!target.HasControl)
                {
                    failingSince ??= System.Diagnostics.Stopwatch.GetTimestamp();
                    if (System.Diagnostics.Stopwatch.GetElapsedTime(failingSince.Value) > retryFor)
                    {
                        throw e is RefusedException ? e : new CliException($"element {n}: {e.Message} (tried for {retryFor.TotalSeconds:0} s)");
                    }

                    stderr.WriteLine($"# element {n}: {target.KindOf(e)}: {e.Message}; sending again from {printer.Next}");
                    n = printer.Next;
                    continue;
                }

                stderr.WriteLine($"# element {n}: {e.GetType().Name}: {e.Message}; asking the sequence where it stands");
                var snapshot = await Resilience.RetryAsync(() => target.SnapshotAsync(id), target.IsTransient, retryFor, cancellation);
                if (snapshot.LastN < n - 1)
                {
                    stderr.WriteLine($"# sequence came back at n={snapshot.LastN} (its last stored state); replaying from {snapshot.LastN + 1}");
                }

                // Elements the sequence applied whose answers never reached us: ask again, they come back as stored duplicates.
                for (var k = printer.Next; k <= snapshot.LastN; k++)
                {
                    try
                    {
                        var again = await Resilience.RetryAsync(() => target.StepAsync(id, k, inputs[k - 1]), target.IsTransient, retryFor, cancellation);
                        printer.Feed(k, again.Y);
                    }
                    catch (Exception d) when (ILoadTarget.ErrorKind(d) == nameof(RnnErrorKind.Duplicate))
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

    /// <summary>What the command line asked for.</summary>
    private sealed record Settings(string Sequence, string Input, string[]? Columns, int FromN, string? Model, int? Version, string? H0, string? C0,
        int Batch, int? Rate, bool Reset, string Via, TimeSpan Wait, TimeSpan RetryFor);
}
