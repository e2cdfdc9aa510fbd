using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using RnnStreams.TestSupport;

namespace RnnStreams.Silo.Tests;

/// <summary>
/// How the API is reached: h2c (<c>Http:Protocols=Http2</c>) on the plain API port while the management port keeps
/// HTTP/1.1, the floor endpoint (<c>Http:Floor</c>) that makes no grain call, and settings the silo refuses.
/// </summary>
public sealed class HttpTransportTests
{
    private static readonly double[] WorkedY = [0.41482, 0.54055, 0.58090];

    [Fact]
    public async Task H2c_ServesTheApiOverHttp2_TheFloorAppliesNothing_AndManagementStaysHttp1()
    {
        await using var silo = await SiloProcess.StartAsync(["--Http:Protocols", "Http2", "--Http:Floor", "true"]);
        using var h2c = new HttpClient
        {
            BaseAddress = silo.Http,
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        var id = $"h2c-{Guid.NewGuid():N}";
        var start = await h2c.PostAsJsonAsync($"/v1/sequences/{id}/start", new { model = "worked-example" });
        Assert.Equal(HttpVersion.Version20, start.Version);
        start.EnsureSuccessStatusCode();
        for (var n = 1; n <= 3; n++)
        {
            var answer = await h2c.PostAsJsonAsync($"/v1/sequences/{id}/elements", new { n, x = new[] { (double)n } });
            Assert.Equal(HttpVersion.Version20, answer.Version);
            var y = JsonDocument.Parse(await answer.Content.ReadAsStringAsync()).RootElement.GetProperty("y")[0].GetDouble();
            Assert.Equal(WorkedY[n - 1], y, 5);
        }

        // The floor: same body, same answer's shape, no grain call — the sequence stays at n = 3.
        var floor = await h2c.PostAsJsonAsync($"/v1/floor/{id}/elements", new { n = 4, x = new[] { 4.0 } });
        floor.EnsureSuccessStatusCode();
        var floorBody = JsonDocument.Parse(await floor.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(4, floorBody.GetProperty("n").GetInt64());
        Assert.Equal(JsonValueKind.Array, floorBody.GetProperty("y").ValueKind);
        var badFloor = await h2c.PostAsync($"/v1/floor/{id}/elements", new StringContent("{\"n\": 4, \"x\": [", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, badFloor.StatusCode); // the same body binding as the real endpoint
        var snapshot = JsonDocument.Parse(await h2c.GetStringAsync($"/v1/sequences/{id}")).RootElement;
        Assert.Equal(3, snapshot.GetProperty("lastN").GetInt64());

        // HTTP/1.1 to an h2c-only port is refused by Kestrel (400, connection closed); probes and scrapers keep
        // HTTP/1.1 on the management port.
        await AssertHttp1RefusedThere_AndManagementHttp1(silo, silo.Http);
    }

    /// <summary>HTTP/1.1 to an h2c-only address is refused (400, naming HTTP/2); the management port answers in HTTP/1.1.</summary>
    private static async Task AssertHttp1RefusedThere_AndManagementHttp1(SiloProcess silo, Uri h2cOnly)
    {
        using var http1 = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var refused = await http1.GetAsync(new Uri(h2cOnly, "/v1/models"));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("HTTP/2", await refused.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
        var ready = await http1.GetAsync(new Uri(silo.Management, "/ready"));
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal(HttpVersion.Version11, ready.Version);
    }

    [Fact]
    public async Task H2cUrls_ServeH2c_BesideHttp1OnTheApiPort()
    {
        var h2cPort = Repository.FreePort();
        await using var silo = await SiloProcess.StartAsync(["--Http:H2cUrls", $"http://127.0.0.1:{h2cPort}"]);
        using var http1 = new HttpClient { BaseAddress = silo.Http };
        using var h2c = new HttpClient
        {
            BaseAddress = new Uri($"http://127.0.0.1:{h2cPort}"),
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        var id = $"both-{Guid.NewGuid():N}";
        (await http1.PostAsJsonAsync($"/v1/sequences/{id}/start", new { model = "worked-example" })).EnsureSuccessStatusCode();

        // One sequence, its elements over both: HTTP/1.1 on the API's port, h2c on the other.
        for (var n = 1; n <= 3; n++)
        {
            var client = n == 2 ? h2c : http1;
            var answer = await client.PostAsJsonAsync($"/v1/sequences/{id}/elements", new { n, x = new[] { (double)n } });
            Assert.Equal(n == 2 ? HttpVersion.Version20 : HttpVersion.Version11, answer.Version);
            var y = JsonDocument.Parse(await answer.Content.ReadAsStringAsync()).RootElement.GetProperty("y")[0].GetDouble();
            Assert.Equal(WorkedY[n - 1], y, 5);
        }

        await AssertHttp1RefusedThere_AndManagementHttp1(silo, new Uri($"http://127.0.0.1:{h2cPort}"));
    }

    [Fact]
    public async Task H2cUrlsOnTheManagementPort_StopTheSilo_WithAMessage()
    {
        var port = Repository.FreePort();
        var result = await SiloProcess.RunToExitAsync(["--Management:Urls", $"http://127.0.0.1:{port}", "--Http:H2cUrls", $"http://127.0.0.1:{port}"], TimeSpan.FromMinutes(1));
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains($"Http:H2cUrls (http://127.0.0.1:{port}) and Management:Urls (http://127.0.0.1:{port}) share port {port}", result.StandardOutput + result.StandardError);
    }

    [Fact]
    public async Task Floor_IsNotMapped_ByDefault()
    {
        await using var silo = await SiloProcess.StartAsync();
        using var http = new HttpClient { BaseAddress = silo.Http };
        var floor = await http.PostAsJsonAsync("/v1/floor/any/elements", new { n = 1, x = new[] { 1.0 } });
        Assert.Equal(HttpStatusCode.NotFound, floor.StatusCode);
    }

    [Theory]
    [InlineData("Http3")]
    [InlineData("h2")]
    public async Task UnknownProtocols_StopTheSilo_NamingTheKey(string value)
    {
        var result = await SiloProcess.RunToExitAsync(["--Http:Protocols", value], TimeSpan.FromMinutes(1));
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains($"Http:Protocols is Http1, Http2 (h2c with prior knowledge) or Http1AndHttp2 (negotiated over TLS), got '{value}'", result.StandardError);
    }

    [Fact]
    public async Task Ready_ReportsTheBroker_DegradedWhileItIsGone()
    {
        var broker = await MosquittoBroker.StartAsync();
        await using var silo = await SiloProcess.StartAsync(MqttFixture.MqttArguments(broker, "worked-example"));
        await MqttFixture.WaitForLineAsync(silo, "MQTT: connected");
        using var http = new HttpClient();
        var connected = await http.GetAsync(new Uri(silo.Management, "/ready"));
        Assert.Equal(HttpStatusCode.OK, connected.StatusCode);
        var body = JsonDocument.Parse(await connected.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("ready", body.GetProperty("status").GetString());
        Assert.Equal("Healthy", body.GetProperty("checks").GetProperty("mqtt").GetProperty("status").GetString());

        await broker.DisposeAsync();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        JsonElement degraded;
        HttpResponseMessage response;
        do
        {
            Assert.True(DateTime.UtcNow < deadline, "the silo did not notice the broker was gone");
            await Task.Delay(200);
            response = await http.GetAsync(new Uri(silo.Management, "/ready"));
            degraded = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        }
        while (degraded.GetProperty("checks").GetProperty("mqtt").GetProperty("status").GetString() != "Degraded");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode); // HTTP and Orleans clients are still served
        Assert.Equal("ready, degraded", degraded.GetProperty("status").GetString());
        Assert.Contains($"not connected to the MQTT broker at 127.0.0.1:{broker.Port}", degraded.GetProperty("checks").GetProperty("mqtt").GetProperty("detail").GetString());
    }
}
