using System.Globalization;

namespace RnnStreams.Client.Commands;

/// <summary>
/// <c>bench</c>'s goals for the per-element path (the README's "Targets"), printed as one line with each measured figure
/// and whether it is met: for the default shape (H = 64, D = 8, one tanh layer, float64), and ×2 of the one-by-one kernel
/// for a model the silo's step batcher takes.
/// </summary>
internal static partial class BenchCommand
{
    private static string Targets(BenchFigures f)
    {
        var parts = new List<string>();
        void Add(string name, double value, string goal, bool met) =>
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"{name} {value:#,0.###} {goal} {(met ? "met" : "NOT met")}"));

        if (f.DefaultShape)
        {
            Add("rpc_over_ping", f.RpcOverPing, "≥ 0.8", f.RpcOverPing >= 0.8);
            Add("batch_steps_per_s", Math.Round(f.Batch), "≥ 1,000,000", f.Batch >= 1_000_000);
            Add("stream_steps_per_s", Math.Round(f.Stream), "≥ 500,000 in order", f.Stream >= 500_000 && f.StreamInOrder);
            Add("p99_ms", f.P99, "≤ 5", f.P99 <= 5);
            Add("rpc_alloc_bytes", Math.Round(f.RpcAlloc), string.Create(CultureInfo.InvariantCulture, $"≤ ping's {f.PingAlloc:#,0} + 512"), f.RpcAlloc <= f.PingAlloc + 512);
        }

        if (f.Batched)
        {
            Add("rpc_over_kernel", f.RpcOverKernel, "≥ 2", f.RpcOverKernel >= 2);
        }

        return parts.Count == 0
            ? "# targets: none for this shape (they are set for H = 64, D = 8, one rnn_tanh layer, float64, and for models the step batcher takes)"
            : $"# targets: {string.Join("; ", parts)}";
    }

    /// <summary>The figures the targets are about, from one run.</summary>
    private sealed record BenchFigures(bool DefaultShape, bool Batched, double RpcOverPing, double Batch, double Stream, bool StreamInOrder, double P99,
        double RpcAlloc, double PingAlloc, double RpcOverKernel);
}
