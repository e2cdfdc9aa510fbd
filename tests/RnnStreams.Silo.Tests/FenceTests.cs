using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using RnnStreams.TestSupport;

namespace RnnStreams.Silo.Tests;

/// <summary>
/// A silo that cannot reach its cluster: the membership fence (<c>Fence:*</c>) and the HTTP API's typed 503
/// <c>Unavailable</c>. Two silo processes on one Redis; "cut off" is made with SIGSTOP of everything the silo talks to
/// (Redis and the other silo), which a silo cannot tell from a network partition: connections stay open and nothing
/// answers. The partition itself, with network namespaces, is <c>tests/cluster/partition-test.sh</c> (PartitionTests).
/// </summary>
public sealed class FenceTests : IAsyncLifetime
{
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private readonly List<SiloProcess> _silos = [];
    private readonly List<int> _frozen = [];
    private RedisServer _redis = null!;
    private Dictionary<string, string> _environment = null!;

    public async Task InitializeAsync()
    {
        _redis = await RedisServer.StartAsync();
        var cluster = $"fence-{Guid.NewGuid():N}";
        _environment = new()
        {
            ["ConnectionStrings__Redis"] = _redis.ConnectionString + ",abortConnect=false",
            ["Orleans__ClusterId"] = cluster,
            ["Orleans__ServiceId"] = cluster,
            ["RnnStreams__Durability"] = "EveryStep",
            ["Http__Enabled"] = "true", // loopback callers need no key
        };
    }

    public async Task DisposeAsync()
    {
        foreach (var pid in _frozen)
        {
            Signal("CONT", pid);
        }

        foreach (var silo in _silos)
        {
            await silo.DisposeAsync();
        }

        await _redis.DisposeAsync();
        _http.Dispose();
    }

    private async Task<SiloProcess> StartSiloAsync(params string[] args)
    {
        var silo = await SiloProcess.StartAsync(["--Orleans:Endpoints:AdvertisedIPAddress", "127.0.0.1", .. args], _environment);
        _silos.Add(silo);
        return silo;
    }

    private void Freeze(int pid)
    {
        Signal("STOP", pid);
        _frozen.Add(pid);
    }

    private void Thaw(int pid)
    {
        Signal("CONT", pid);
        _frozen.Remove(pid);
    }

    private static void Signal(string signal, int pid)
    {
        using var kill = Process.Start("kill", ["-" + signal, pid.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
    }

    private async Task<(HttpStatusCode Status, JsonElement Body, string? RetryAfter, TimeSpan Took)> StepAsync(SiloProcess silo, string sequence, long n)
    {
        var started = Stopwatch.GetTimestamp();
        using var response = await _http.PostAsJsonAsync(new Uri(silo.Http, $"/v1/sequences/{sequence}/elements"), new { n, x = new[] { 1.0 } });
        var text = await response.Content.ReadAsStringAsync();
        var body = text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
        return (response.StatusCode, body, response.Headers.RetryAfter?.Delta?.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture), Stopwatch.GetElapsedTime(started));
    }

    private async Task StartSequenceAsync(SiloProcess silo, string sequence)
    {
        using var response = await _http.PostAsJsonAsync(new Uri(silo.Http, $"/v1/sequences/{sequence}/start"), new { model = "worked-example" });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task CutOffSilo_RefusesWithUnavailable_ThenStopsItselfWithExitCode3()
    {
        var fence = new[] { "--Fence:RefuseAfter", "00:00:02", "--Fence:StopAfter", "00:00:10", "--Fence:StopTimeout", "00:00:03" };
        var cutOff = await StartSiloAsync(fence);
        var other = await StartSiloAsync(fence);
        var sequence = $"fence-{Guid.NewGuid():N}";
        await StartSequenceAsync(cutOff, sequence);
        Assert.Equal(HttpStatusCode.OK, (await StepAsync(cutOff, sequence, 1)).Status);

        // Everything the silo talks to stops answering at once: the membership table and the only other silo.
        var cut = Stopwatch.StartNew();
        Freeze(_redis.ProcessId);
        Freeze(other.ProcessId);

        // Within seconds every request is a typed 503 with Retry-After, answered at once, never an empty 500 or a hang.
        var refused = false;
        for (var n = 2; !refused && cut.Elapsed < TimeSpan.FromSeconds(8.5);)
        {
            // A request already waiting on Redis is answered when the fence trips, not after Redis' own 5 s timeout.
            var step = await StepAsync(cutOff, sequence, n);
            Assert.True(step.Status is HttpStatusCode.OK or HttpStatusCode.ServiceUnavailable, $"{step.Status} {step.Body}");
            Assert.True(step.Took < TimeSpan.FromSeconds(4.5), $"an answer during the cut took {step.Took}: {step.Body}");
            n += step.Status == HttpStatusCode.OK ? 1 : 0;
            if (step.Status == HttpStatusCode.ServiceUnavailable)
            {
                Assert.True(step.Body.ValueKind == JsonValueKind.Object, "a 503 with no problem body");
                Assert.NotNull(step.RetryAfter);
                refused = step.Body.GetProperty("kind").GetString() == "Unavailable" && step.Body.GetProperty("detail").GetString()!.Contains("cut off", StringComparison.Ordinal);
            }
        }

        Assert.True(refused, $"no Unavailable refusal from the fence within {cut.Elapsed.TotalSeconds:F1} s:\n{cutOff.Log}");
        var immediate = await StepAsync(cutOff, sequence, 1_000);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, immediate.Status);
        Assert.True(immediate.Took < TimeSpan.FromSeconds(1), $"the refusal took {immediate.Took}");

        // Then it stops itself: one line saying why, exit code 3, bounded although its stop cannot write anything.
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var exitCode = await cutOff.WaitForExitAsync(bound.Token);
        Assert.Equal(3, exitCode);
        Assert.InRange(cut.Elapsed.TotalSeconds, 10, 10 + 3 + 3); // StopAfter, then at most StopTimeout and a check period or two
        Assert.Contains("Membership fence: stopping this silo (exit code 3)", cutOff.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RedisOutage_StopsNoSilo_WhileTheSilosReachEachOther()
    {
        var fence = new[] { "--Fence:RefuseAfter", "00:00:01", "--Fence:StopAfter", "00:00:03" };
        var a = await StartSiloAsync(fence);
        var b = await StartSiloAsync(fence);
        Freeze(_redis.ProcessId);
        var outage = Stopwatch.StartNew();
        while (outage.Elapsed < TimeSpan.FromSeconds(9))
        {
            Assert.False(a.HasExited, a.Log);
            Assert.False(b.HasExited, b.Log);
            using var health = await _http.GetAsync(new Uri(a.Management, "/healthz"));
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
            await Task.Delay(500);
        }

        Thaw(_redis.ProcessId);
        Assert.DoesNotContain("Membership fence: stopping", a.Log + b.Log, StringComparison.Ordinal);
        Assert.DoesNotContain("Membership fence: cut off", a.Log + b.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GrainCallToAnUnreachableSilo_Is503Unavailable_WithinTheCallTimeout()
    {
        // The fence is off on both silos, so only the HTTP API's own mapping and call timeout are at work.
        string[] settings = ["--Fence:Enabled", "false", "--Http:CallTimeout", "00:00:03"];
        var one = await StartSiloAsync(settings);
        var other = await StartSiloAsync(settings);
        var sequences = Enumerable.Range(0, 16).Select(i => $"unreachable-{Guid.NewGuid():N}-{i}").ToArray();
        foreach (var sequence in sequences)
        {
            await StartSequenceAsync(one, sequence);
            Assert.Equal(HttpStatusCode.OK, (await StepAsync(one, sequence, 1)).Status);
        }

        // Placement (resource-optimised) decides which silo holds each sequence. The other silo is frozen and every
        // sequence is stepped through the first: those it holds answer, the rest are refused. When it holds them all,
        // the roles swap, so that some sequences always live on the frozen silo.
        (HttpStatusCode Status, JsonElement Body, string? RetryAfter, TimeSpan Took)[] answers = [];
        foreach (var (frozen, answering, n) in new[] { (other, one, 2L), (one, other, 3L) })
        {
            Freeze(frozen.ProcessId);
            answers = await Task.WhenAll(sequences.Select(s => StepAsync(answering, s, n)));
            foreach (var answer in answers)
            {
                Assert.True(answer.Status is HttpStatusCode.OK or HttpStatusCode.ServiceUnavailable, $"{answer.Status} {answer.Body}");
                Assert.True(answer.Took < TimeSpan.FromSeconds(6), $"an answer took {answer.Took}");
            }

            Thaw(frozen.ProcessId);
            if (answers.Any(a => a.Status == HttpStatusCode.ServiceUnavailable))
            {
                break;
            }
        }

        var refused = answers.Where(a => a.Status == HttpStatusCode.ServiceUnavailable).ToArray();
        Assert.NotEmpty(refused);
        foreach (var answer in refused)
        {
            Assert.Equal("Unavailable", answer.Body.GetProperty("kind").GetString());
            Assert.Equal(503, answer.Body.GetProperty("status").GetInt32());
            Assert.NotNull(answer.RetryAfter);
        }
    }
}
