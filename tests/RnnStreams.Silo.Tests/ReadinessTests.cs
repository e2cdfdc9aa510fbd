using System.Net;
using System.Text.Json;
using RnnStreams.TestSupport;

namespace RnnStreams.Silo.Tests;

/// <summary>
/// The management endpoint of a clustered silo (HTTP API off) and what <c>/ready</c> says through Redis outages: a
/// load balancer must stop sending traffic to a silo that cannot persist, and must not start again after Redis came
/// back without the data.
/// </summary>
public sealed class ReadinessTests : IAsyncLifetime
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(30);
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private RedisServer _redis = null!;
    private SiloProcess _silo = null!;

    public async Task InitializeAsync()
    {
        _redis = await RedisServer.StartAsync();
        var cluster = $"ready-{Guid.NewGuid():N}";
        _silo = await SiloProcess.StartAsync(["--Orleans:Endpoints:AdvertisedIPAddress", "127.0.0.1"], new Dictionary<string, string>
        {
            ["ConnectionStrings__Redis"] = _redis.ConnectionString + ",abortConnect=false",
            ["Orleans__ClusterId"] = cluster,
            ["Orleans__ServiceId"] = cluster,
            ["RnnStreams__Durability"] = "EveryStep",
        });
    }

    public async Task DisposeAsync()
    {
        await _silo.DisposeAsync();
        await _redis.DisposeAsync();
        _http.Dispose();
    }

    [Fact]
    public async Task ManagementEndpoint_ServesProbesAndMetrics_WithTheApiOff()
    {
        var ready = await ReadyAsync();
        Assert.Equal(HttpStatusCode.OK, ready.Status);
        Assert.Equal("ready", ready.Body.GetProperty("status").GetString());
        foreach (var check in new[] { "cluster", "storage", "redis" })
        {
            Assert.Equal("Healthy", ready.Body.GetProperty("checks").GetProperty(check).GetProperty("status").GetString());
        }

        Assert.Equal(HttpStatusCode.OK, (await _http.GetAsync(new Uri(_silo.Management, "/healthz"))).StatusCode);
        var metrics = await _http.GetStringAsync(new Uri(_silo.Management, "/metrics"));
        Assert.Contains("orleans_", metrics);
        Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync(new Uri(_silo.Management, "/v1/models"))).StatusCode);
        await Assert.ThrowsAsync<HttpRequestException>(() => _http.GetAsync(_silo.Http)); // the API is off with Redis
    }

    [Fact]
    public async Task Ready_IsRefusedDuringARedisOutage_AndBackAfterIt()
    {
        Assert.Equal(HttpStatusCode.OK, (await ReadyAsync()).Status);
        await _redis.FreezeAsync();
        try
        {
            var during = await WaitForAsync(r => r.Status == HttpStatusCode.ServiceUnavailable);
            Assert.Equal("not ready", during.Body.GetProperty("status").GetString());
            Assert.NotEqual("Healthy", during.Body.GetProperty("checks").GetProperty("redis").GetProperty("status").GetString());
            Assert.Equal(HttpStatusCode.OK, (await _http.GetAsync(new Uri(_silo.Management, "/healthz"))).StatusCode); // alive all along
        }
        finally
        {
            await _redis.ThawAsync();
        }

        var after = await WaitForAsync(r => r.Status == HttpStatusCode.OK);
        Assert.Equal("ready", after.Body.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Ready_StaysRefused_AfterRedisCameBackEmpty()
    {
        Assert.Equal(HttpStatusCode.OK, (await ReadyAsync()).Status);
        await _redis.RestartEmptyAsync();

        // Redis answers again, and the silo still says it is not ready: its storage lost the data it started with.
        var after = await WaitForAsync(r => r.Status == HttpStatusCode.ServiceUnavailable
            && r.Body.GetProperty("checks").GetProperty("redis").GetProperty("status").GetString() == "Healthy"
            && r.Body.GetProperty("checks").GetProperty("storage").GetProperty("detail").GetString()!.Contains("lost its data", StringComparison.Ordinal));
        var storage = after.Body.GetProperty("checks").GetProperty("storage");
        Assert.Equal("Unhealthy", storage.GetProperty("status").GetString());
        Assert.Contains("lost its data", storage.GetProperty("detail").GetString());
        for (var i = 0; i < 3; i++)
        {
            var again = await ReadyAsync();
            Assert.Equal(HttpStatusCode.ServiceUnavailable, again.Status);
            Assert.NotEqual("Healthy", again.Body.GetProperty("checks").GetProperty("storage").GetProperty("status").GetString());
            await Task.Delay(500);
        }
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> ReadyAsync()
    {
        using var answer = await _http.GetAsync(new Uri(_silo.Management, "/ready"));
        var body = JsonDocument.Parse(await answer.Content.ReadAsStringAsync()).RootElement.Clone();
        return (answer.StatusCode, body);
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> WaitForAsync(Func<(HttpStatusCode Status, JsonElement Body), bool> condition)
    {
        var deadline = DateTime.UtcNow + Within;
        (HttpStatusCode, JsonElement) last = default;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                last = await ReadyAsync();
                if (condition(last))
                {
                    return last;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
            }

            await Task.Delay(250);
        }

        Assert.Fail($"/ready did not reach the expected answer in {Within.TotalSeconds} s; last: {last.Item1} {last.Item2}");
        return last;
    }
}
