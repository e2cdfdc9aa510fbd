using RnnStreams;
using RnnStreams.Client;
using RnnStreams.Client.Commands;
using RnnStreams.Core.Formats;

return await Cli.RunAsync(args, Console.Out, Console.Error);

namespace RnnStreams.Client
{
    /// <summary>The command line: one verb, its options, one line of error on failure.</summary>
    internal static class Cli
    {
        private static readonly HashSet<string> Flags = ["reset", "keep", "help", "verbose", "publish"];

        public const string Usage = """
            RnnStreams client

            Offline (no silo needed):
              predict --model M.json --input X.csv [--column C[,C…]] [--h0 H0.csv] [--c0 C0.csv] [--output Y.csv]
              train --input SERIES.csv --out M.json [--column value] [--cell gru|lstm|rnn_tanh|rnn_relu] [--hidden 32] [--layers 1] [--window 24] [--epochs 100] [--horizon 1] [--learning-rate 0.01] [--validation 0.2] [--season 12] [--target change|value] [--seed 1] [--name NAME]

            Against a running cluster (--gateway host:port[,host:port...], default localhost:30000 or $RNN_GATEWAY):
              models put --file M.json [--name NAME]
              models get --name NAME [--version V] [--out FILE]
              models list [--name NAME]
              models delete --name NAME --version V
              models import --safetensors FILE --cell gru|lstm|rnn_tanh|rnn_relu --name NAME [--rnn-prefix rnn] [--head-prefix fc] [--head linear|softmax|sigmoid] [--out M.json] [--publish]
                    (offline unless --publish; PyTorch state_dict keys rnn.weight_ih_l0 … fc.weight, fc.bias; F32 or F64)
              models random --name NAME --out FILE [--input D] [--hidden H] [--output O] [--layers L] [--cell rnn_tanh|rnn_relu|gru|lstm] [--head linear|softmax|sigmoid] [--seed S]   (offline)
              stream --sequence ID --input X.csv [--column C[,C…]] [--from-n N] [--model NAME [--version V]] [--h0 H0.csv] [--c0 C0.csv] [--batch K] [--rate R] [--reset] [--via rpc|stream] [--wait S] [--retry-for S]
              watch --sequence ID [--count N]
              sequence show|reset|upgrade|end --sequence ID
              load [--sequences 1000] [--steps 200] [--model demo] [--prefix P] [--concurrency C] [--progress FILE] [--checkpoint-every K] [--batch K] [--rate R]
                   [--http URL[,URL…] [--api-key KEY] [--http-timeout 15]] [--max-stall 120] [--stop-file FILE]   (--stop-file: stream until FILE exists)
                   [--mqtt HOST:PORT [--mqtt-prefix rnn] [--mqtt-wait 90]]   (elements through an MQTT broker; models, starts, snapshots through the gateway)
              bench [--cell rnn_tanh|rnn_relu|gru|lstm] [--hidden 64] [--input 8] [--output 1] [--layers 1] [--sequences 10000] [--seconds 3] [--rounds 3] [--client gateway|local] [--concurrency 256] [--batch 64] [--stream-sequences 100] [--memory-sequences 20000] [--outputs Always|WhenWatched|Never] [--durability D]
                    (a silo in this process unless --gateway or --redis is given)
              bench --mqtt HOST:PORT --gateway G|--redis R [--sequences 1000] [--seconds 5] [--rounds 3] [--hidden 64] [--input 8]
                    (elements through an MQTT broker into a cluster that consumes it, against the broker's own floor)
              demo [--devices 128] [--steps 200] [--model demo] [--show 4] [--every 20] [--keep]

            Common: --connect-timeout S (default 60); --response-timeout S (default 30: how long a call may take before it is retried or failed); --redis host:port finds the gateways of a Redis-clustered silo set;
                    --verbose shows the Orleans client's log on standard error
            """;

        public static async Task<int> RunAsync(string[] argv, TextWriter stdout, TextWriter stderr)
        {
            using var cancellation = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) =>
            {
                e.Cancel = true;
                cancellation.Cancel();
            };
            Console.CancelKeyPress += onCancel;

            // SIGTERM (`timeout`, an orchestrator, kill) stops a long-running command as Ctrl+C does: it cancels, cleans up
            // (subscriptions, connections) and exits with 143 instead of being ignored until the runtime's default kills it.
            var terminated = false;
            using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, context =>
            {
                context.Cancel = true;
                terminated = true;
                cancellation.Cancel();
            });
            try
            {
                var args = Arguments.Parse(argv, Flags);
                args.MarkGlobal("gateway", "redis", "connect-timeout", "response-timeout", "verbose");
                if (args.Words.Count == 0 || args.Flag("help") || args.Words[0] is "help")
                {
                    stdout.WriteLine(Usage);
                    return args.Words.Count == 0 && !args.Flag("help") ? 2 : 0;
                }

                return args.Words[0] switch
                {
                    "predict" => PredictCommand.Run(args, stdout),
                    "train" => TrainCommand.Run(args, stdout, stderr),
                    "models" => await ModelsCommand.Run(args, stdout),
                    "stream" => await StreamCommand.Run(args, stdout, stderr, cancellation.Token),
                    "watch" => await WatchCommand.Run(args, stdout, stderr, cancellation.Token),
                    "sequence" => await SequenceCommand.Run(args, stdout),
                    "demo" => await DemoCommand.Run(args, stdout, cancellation.Token),
                    "load" => await LoadCommand.Run(args, stdout, stderr, cancellation.Token),
                    "bench" => await BenchCommand.Run(args, stdout, cancellation.Token),
                    var other => throw new CliException($"unknown command '{other}'; run with --help", 2),
                };
            }
            catch (CliException e)
            {
                stderr.WriteLine($"error: {e.Message}");
                return e.ExitCode;
            }
            catch (DataFileException e)
            {
                stderr.WriteLine($"error: {e.Message}");
                return 1;
            }
            catch (RnnStreamsException e)
            {
                stderr.WriteLine($"error: {e.Kind}: {e.Message}");
                return 1;
            }
            catch (OperationCanceledException)
            {
                stderr.WriteLine(terminated ? "error: terminated" : "error: cancelled");
                return terminated ? 143 : 130;
            }
            finally
            {
                Console.CancelKeyPress -= onCancel;
            }
        }
    }
}
