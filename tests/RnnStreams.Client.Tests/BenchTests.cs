using System.Text.Json;
using RnnStreams.TestSupport;

namespace RnnStreams.Client.Tests;

public class BenchTests
{
    [Fact]
    public async Task Bench_AgainstTheSiloProcess_PrintsEveryMeasureAndAJsonLine()
    {
        // --batch-min-bytes 0: the small model goes through the step batcher, so its rounds come back from the silo's /metrics.
        var result = await ProcessRunner.RunAsync(Repository.ClientDll,
            ["bench", "--silo-dll", Repository.SiloDll, "--seconds", "1", "--sequences", "300", "--concurrency", "16", "--batch", "8", "--stream-sequences", "10",
             "--memory-sequences", "300", "--hidden", "17", "--input", "3", "--cell", "gru", "--batch-min-bytes", "0"],
            TimeSpan.FromMinutes(3));

        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.OutputLines[^1]);
        var root = json.RootElement;
        foreach (var key in new[] { "kernel_steps_per_s", "ping_calls_per_s", "rpc_steps_per_s", "batch_steps_per_s", "stream_steps_per_s", "stream_cpu_us", "p50_ms", "p99_ms", "ping_cpu_us", "echo_cpu_us", "rpc_cpu_us", "rpc_alloc_bytes", "rpc_batched_rounds", "http_steps_per_s", "http_batch_steps_per_s", "http_p50_ms", "http_p99_ms" })
        {
            Assert.True(root.GetProperty(key).GetDouble() > 0, $"{key} = {root.GetProperty(key)}");
        }

        // The memory figures, read from the silo process's heap through its /debug/heap.
        foreach (var key in new[] { "bytes_per_sequence", "stored_bytes_per_sequence", "bytes_per_activation" })
        {
            var bytes = root.GetProperty(key);
            Assert.True(bytes.ValueKind == JsonValueKind.Number && double.IsFinite(bytes.GetDouble()) && bytes.GetDouble() > 0, $"{key} = {bytes}");
        }

        Assert.NotEqual("none", root.GetProperty("rpc_round_sizes").GetString());
        Assert.True(root.GetProperty("stream_in_order").GetBoolean());
        Assert.Equal("gru", root.GetProperty("cell").GetString());
        Assert.Equal("process", root.GetProperty("silo").GetString());
        Assert.InRange(root.GetProperty("gc_paused_percent").GetDouble(), 0, 100);
        Assert.InRange(root.GetProperty("silo_gc_paused_percent").GetDouble(), 0, 100);
        Assert.Equal((17, 3, 300, 8), (root.GetProperty("hidden").GetInt32(), root.GetProperty("input").GetInt32(), root.GetProperty("sequences").GetInt32(), root.GetProperty("batch").GetInt32()));
        Assert.Contains(result.OutputLines, l => l.StartsWith("rpc_steps_per_s", StringComparison.Ordinal));

        // A batched model's target (×2 of the kernel) with its figure; the default shape's targets only for that shape.
        var targets = Assert.Single(result.OutputLines, l => l.StartsWith("# targets:", StringComparison.Ordinal));
        var ratio = root.GetProperty("rpc_steps_per_s").GetDouble() / root.GetProperty("kernel_steps_per_s").GetDouble();
        Assert.Matches(@"^# targets: rpc_over_kernel [0-9.,]+ ≥ 2 (met|NOT met)$", targets);
        Assert.EndsWith(ratio >= 2 ? "≥ 2 met" : "≥ 2 NOT met", targets);
        Assert.DoesNotContain("rpc_over_ping", targets);
    }
}
