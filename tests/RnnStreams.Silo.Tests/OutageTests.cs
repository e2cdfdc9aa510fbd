using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using RnnStreams.TestSupport;

namespace RnnStreams.Silo.Tests;

/// <summary>
/// A clustered silo process on a real redis-server that the tests freeze, crash and restart: what a stop during an
/// outage costs and how long it takes, and that a Redis crash with its append-only file loses nothing acknowledged.
/// </summary>
public sealed class OutageTests : IAsyncLifetime
{
    private const int ShutdownSeconds = 10;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };
    private readonly List<SiloProcess> _silos = [];
    private RedisServer _redis = null!;
    private string _cluster = null!;

    public async Task InitializeAsync()
    {
        _redis = await RedisServer.StartAsync(appendOnly: true);
        _cluster = $"outage-{Guid.NewGuid():N}";
    }

    public async Task DisposeAsync()
    {
        foreach (var silo in _silos)
        {
            await silo.DisposeAsync();
        }

        await _redis.DisposeAsync();
        _http.Dispose();
    }

    private async Task<SiloProcess> StartSiloAsync(string durability)
    {
        var silo = await SiloProcess.StartAsync(["--Orleans:Endpoints:AdvertisedIPAddress", "127.0.0.1"], new Dictionary<string, string>
        {
            ["ConnectionStrings__Redis"] = _redis.ConnectionString + ",abortConnect=false",
            ["Orleans__ClusterId"] = _cluster,
            ["Orleans__ServiceId"] = _cluster,
            ["RnnStreams__Durability"] = durability,
            ["Http__Enabled"] = "true",
            ["shutdownTimeoutSeconds"] = ShutdownSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        _silos.Add(silo);
        return silo;
    }

    private async Task StepAsync(SiloProcess silo, string sequence, int count)
    {
        for (var n = 1; n <= count; n++)
        {
            var response = await _http.PostAsJsonAsync(new Uri(silo.Http, $"/v1/sequences/{sequence}/elements"), new { n, x = new[] { 0.1 * n } });
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        }
    }

    private async Task<long> LastNAsync(SiloProcess silo, string sequence)
    {
        using var snapshot = JsonDocument.Parse(await _http.GetStringAsync(new Uri(silo.Http, $"/v1/sequences/{sequence}")));
        return snapshot.RootElement.GetProperty("lastN").GetInt64();
    }

    [Fact]
    public async Task Sigterm_DuringARedisOutage_StopsWithinItsBudget_AndNamesWhatIsLost()
    {
        var silo = await StartSiloAsync("Checkpoint(50, 0)");
        await StepAsync(silo, "unwritten", 10); // element 1 starts it (written); 2–10 wait for the 25th to be checkpointed

        await _redis.CrashAsync(); // down: nothing sent reaches it (a frozen one would apply queued writes once thawed)
        var (exitCode, took) = await silo.TerminateAsync(TimeSpan.FromMinutes(3));

        // Before this bound, the stop waited on the membership table for 110–125 s and skipped the sequences' writes.
        Assert.True(took < TimeSpan.FromSeconds(ShutdownSeconds + 15), $"the stop took {took}:\n{silo.Log}");
        Assert.Equal(3, exitCode);
        Assert.Contains("sequence unwritten has 9 acknowledged elements not written", silo.Log);
        Assert.Contains("error: the silo did not stop within", silo.Log);

        // What the log said is what is lost: storage holds element 1.
        await _redis.RestartAsync();
        var next = await StartSiloAsync("Checkpoint(50, 0)");
        Assert.Equal(1L, await LastNAsync(next, "unwritten"));
    }

    [Fact]
    public async Task Sigterm_DuringARedisOutage_UnderEveryStep_LosesNothingAcknowledged()
    {
        var silo = await StartSiloAsync("EveryStep");
        await StepAsync(silo, "every", 10);

        await _redis.CrashAsync();
        var (_, took) = await silo.TerminateAsync(TimeSpan.FromMinutes(3));
        Assert.True(took < TimeSpan.FromSeconds(ShutdownSeconds + 15), $"the stop took {took}:\n{silo.Log}");
        Assert.DoesNotContain("acknowledged elements not written", silo.Log);

        await _redis.RestartAsync();
        var next = await StartSiloAsync("EveryStep");
        Assert.Equal(10L, await LastNAsync(next, "every"));
    }

    [Fact]
    public async Task RedisKilledAndRestarted_WithItsAppendOnlyFile_LosesNothingAcknowledged()
    {
        var silo = await StartSiloAsync("EveryStep");
        await StepAsync(silo, "aof", 20);

        await _redis.CrashAsync(); // kill -9

        // While Redis is down an element is refused, typed, with when to try again.
        var refused = await _http.PostAsJsonAsync(new Uri(silo.Http, "/v1/sequences/aof/elements"), new { n = 21, x = new[] { 2.1 } });
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal("1", refused.Headers.RetryAfter?.ToString());
        using (var problem = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()))
        {
            Assert.Equal("Storage", problem.RootElement.GetProperty("kind").GetString());
        }

        await _redis.RestartAsync(); // the same data directory: its append-only file

        // The silo reconnects by itself; a write during the gap is refused (503) and sent again.
        var response = await RetryAsync(() => _http.PostAsJsonAsync(new Uri(silo.Http, "/v1/sequences/aof/elements"), new { n = 21, x = new[] { 2.1 } }));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(21L, await LastNAsync(silo, "aof"));

        // And a silo that never saw the sequence reads all 21 from Redis.
        await silo.TerminateAsync(TimeSpan.FromMinutes(1));
        var next = await StartSiloAsync("EveryStep");
        Assert.Equal(21L, await LastNAsync(next, "aof"));
    }

    private static async Task<HttpResponseMessage> RetryAsync(Func<Task<HttpResponseMessage>> call)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            var response = await call();
            if (response.StatusCode != HttpStatusCode.ServiceUnavailable || DateTime.UtcNow > deadline)
            {
                return response;
            }

            await Task.Delay(200);
        }
    }
}
