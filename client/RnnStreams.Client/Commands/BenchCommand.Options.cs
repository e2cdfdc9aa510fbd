using System.CommandLine;

namespace RnnStreams.Client.Commands;

/// <summary><c>bench</c>'s command line: its options, each with what it means and its default.</summary>
internal static partial class BenchCommand
{
    public static Command Create(TextWriter stdout)
    {
        var o = new Options();
        var command = new Command("bench", "Throughput, latency and memory in one run, against the silo executable started as a child process (unless --gateway or --redis is given); prints a table, then one JSON line. With --mqtt: elements through an MQTT broker into a running cluster, against the broker's own floor.")
        {
            o.Cell, o.Dtype, o.Hidden, o.Input, o.Output, o.Layers, o.Sequences, o.Seconds, o.Rounds, o.Concurrency, o.Batch,
            o.StreamSequences, o.MemorySequences, o.HttpConnections, o.Outputs, o.Durability, o.BatchWindow, o.BatchMinBytes, o.SiloDll, o.Mqtt, o.MqttPrefix,
        };
        ConnectionOptions.AddTo(command);
        command.SetAction((args, cancellation) => Run(args, o, stdout, cancellation));
        return command;
    }

    /// <summary>The options of one command line (each command line gets its own).</summary>
    internal sealed class Options
    {
        public Option<string> Cell { get; } = CliOptions.Choice("--cell", "The benchmark model's recurrent cell.", "rnn_tanh", "rnn_tanh", "rnn_relu", "gru", "lstm");

        public Option<string> Dtype { get; } = CliOptions.Choice("--dtype", "The benchmark model's number type: float64, or float32 (weights, state and arithmetic in float).", "float64", "float64", "float32");

        public Option<int> Hidden { get; } = CliOptions.Int("--hidden", "The benchmark model's hidden size H.", 64);

        public Option<int> Input { get; } = CliOptions.Int("--input", "The benchmark model's input size D.", 8);

        public Option<int> Output { get; } = CliOptions.Int("--output", "The benchmark model's output size O.", 1);

        public Option<int> Layers { get; } = CliOptions.Int("--layers", "The benchmark model's stacked layers.", 1);

        public Option<int?> Sequences { get; } = CliOptions.OptionalInt("--sequences", "Sequences driven in the closed loops (default: 10000; 1000 with --mqtt).");

        public Option<int?> Seconds { get; } = CliOptions.OptionalInt("--seconds", "Length of one measurement, in seconds (default: 3; 5 with --mqtt).", 1, 3600);

        public Option<int> Rounds { get; } = CliOptions.Int("--rounds", "Interleaved rounds of the closed-loop measurements; each figure is the median over them.", 3, 1, 100);

        public Option<int> Concurrency { get; } = CliOptions.Int("--concurrency", "Calls in flight in the closed loops.", 256);

        public Option<int> Batch { get; } = CliOptions.Int("--batch", "Elements per StepMany call in the batch measurement.", 64);

        public Option<int> HttpConnections { get; } = CliOptions.Int("--http-connections", "Requests in flight in the HTTP measurements: HTTP/1.1 connections, or streams on the h2c connections.", 32, 1, 100_000);

        public Option<int> StreamSequences { get; } = CliOptions.Int("--stream-sequences", "Sequences watched in the output-stream measurement.", 100);

        public Option<int> MemorySequences { get; } = CliOptions.Int("--memory-sequences", "Sequences activated to measure the memory one takes.", 20_000);

        public Option<string> Outputs { get; } = CliOptions.Choice("--outputs", "When bench's silo publishes outputs (RnnStreams:PublishOutputs; the silo's default, WhenWatched, publishes only to subscribers holding a lease).", "WhenWatched", "Always", "WhenWatched", "Never");

        public Option<string> Durability { get; } = CliOptions.Text("--durability", "The durability policy of bench's silo (RnnStreams:Durability).", "POLICY", fallback: "Checkpoint(100, 1000)");

        public Option<int> BatchWindow { get; } = CliOptions.Int("--batch-window", "The step batcher window of bench's silo in microseconds (RnnStreams:BatchWindow; 0 turns batching off); with --batch-min-bytes 0 every model is batched.", 200, 0, 1_000_000);

        public Option<long?> BatchMinBytes { get; } = new("--batch-min-bytes") { Description = "Models with fewer bytes of weights step alone (RnnStreams:BatchMinWeightBytes; default the silo's, 262144)." };

        public Option<string> SiloDll { get; } = CliOptions.Text("--silo-dll", "The silo bench starts, as its RnnStreams.Silo.dll (default: the repository's build beside this client's); not with --gateway or --redis.", "PATH", fallback: null);

        public Option<string> Mqtt { get; } = TransportOptions.MqttOption("Measure elements through this MQTT broker into the cluster given by --gateway or --redis (its silos with Mqtt:Enabled).");

        public Option<string> MqttPrefix { get; } = TransportOptions.MqttPrefixOption();
    }
}
