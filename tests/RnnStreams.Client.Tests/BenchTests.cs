using System.Text.Json;
using RnnStreams.TestSupport;

namespace RnnStreams.Client.Tests;

public class BenchTests
{
    [Fact]
    public async Task Bench_InProcessSilo_PrintsEveryMeasureAndAJsonLine()
    {
        var result = await ProcessRunner.RunAsync(Repository.ClientDll,
            ["bench", "--seconds", "1", "--sequences", "300", "--concurrency", "16", "--batch", "8", "--stream-sequences", "10", "--memory-sequences", "300", "--hidden", "17", "--input", "3", "--cell", "gru"],
            TimeSpan.FromMinutes(3));

        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = JsonDocument.Parse(result.OutputLines[^1]);
        var root = json.RootElement;
        foreach (var key in new[] { "kernel_steps_per_s", "ping_calls_per_s", "rpc_steps_per_s", "batch_steps_per_s", "stream_steps_per_s", "p50_ms", "p99_ms", "bytes_per_sequence", "ping_cpu_us", "echo_cpu_us", "rpc_cpu_us", "rpc_alloc_bytes", "http_steps_per_s", "http_batch_steps_per_s", "http_p50_ms", "http_p99_ms" })
        {
            Assert.True(root.GetProperty(key).GetDouble() > 0, $"{key} = {root.GetProperty(key)}");
        }

        Assert.True(root.GetProperty("stream_in_order").GetBoolean());
        Assert.Equal("gru", root.GetProperty("cell").GetString());
        // A difference of two heap sizes over only 300 sequences: measured, but it may come out either side of zero.
        Assert.True(double.IsFinite(root.GetProperty("stored_bytes_per_sequence").GetDouble()));
        var paused = root.GetProperty("gc_paused_percent").GetDouble();
        Assert.InRange(paused, 0, 100);
        Assert.Equal((17, 3, 300, 8), (root.GetProperty("hidden").GetInt32(), root.GetProperty("input").GetInt32(), root.GetProperty("sequences").GetInt32(), root.GetProperty("batch").GetInt32()));
        Assert.Contains(result.OutputLines, l => l.StartsWith("rpc_steps_per_s", StringComparison.Ordinal));
    }
}
