using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using RnnStreams.Core;
using RnnStreams.TestSupport;

namespace RnnStreams.Silo.Tests;

/// <summary>
/// <c>GET /v1/fleet</c> and <c>GET /v1/sequences/{id}/history</c> on a silo of its own with an API key, so that every count
/// is exact: sequences, elements, refusals per kind, and forecast errors equal to those of the offline kernel.
/// </summary>
public sealed class FleetSummaryApiTests : IAsyncLifetime
{
    private const string Secret = "fleet-secret-456";
    private SiloProcess _silo = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        _silo = await SiloProcess.StartAsync(["--Http:ApiKeys:ops", Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(Secret)))]);
        _http = new HttpClient { BaseAddress = _silo.Http, Timeout = TimeSpan.FromSeconds(60) };
        _http.DefaultRequestHeaders.Add("X-Api-Key", Secret);
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _silo.DisposeAsync();
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> Send(HttpMethod method, string path, string? json = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        using var response = await _http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    private static string Number(double x) => x.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>The recent forecast error as README defines it, for a one-input, one-output model: r ← r + (|x_t − y_(t−1)| − r)/4.</summary>
    private static double RecentError(double[] x, double[] y)
    {
        var recent = double.NaN;
        for (var t = 1; t < x.Length; t++)
        {
            var e = Math.Abs(x[t] - y[t - 1]);
            recent = double.IsNaN(recent) ? e : recent + ((e - recent) * 0.25);
        }

        return recent;
    }

    [Fact]
    public async Task Fleet_CountsSequencesElementsAndRefusalsExactly_AndRanksTheKernelsForecastErrors()
    {
        using (var anonymous = new HttpClient { BaseAddress = _silo.Http })
        {
            var refused = await anonymous.GetAsync("/v1/fleet");
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode); // the API's key rule, as every /v1 endpoint
            Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/v1/sequences/a/history")).StatusCode);
        }

        var model = ModelFile.Load(Path.Combine(Repository.Root, "silo", "RnnStreams.Silo", "models", "worked-example.json"));
        var lengths = new Dictionary<string, int> { ["calm"] = 12, ["jumpy"] = 9, ["short"] = 4 };
        var inputs = new Dictionary<string, double[]>
        {
            ["calm"] = [.. Enumerable.Range(1, 12).Select(t => Math.Round(0.5 + (0.01 * t), 3))],
            ["jumpy"] = [.. Enumerable.Range(1, 9).Select(t => t % 2 == 0 ? 4.0 : -3.0)],
            ["short"] = [1.0, 2.0, 1.5, 0.25],
        };
        var outputs = new Dictionary<string, double[]>();
        foreach (var (id, x) in inputs)
        {
            Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Post, $"/v1/sequences/{id}/start", "{\"model\":\"worked-example\"}")).Status);
            var state = new double[1];
            var y = new double[1];
            outputs[id] = [.. x.Select(v => { model.Step([v], state, y); return y[0]; })];
            for (var n = 1; n <= x.Length; n++)
            {
                var (status, body) = await Send(HttpMethod.Post, $"/v1/sequences/{id}/elements", $"{{\"n\":{n},\"x\":[{Number(x[n - 1])}]}}");
                Assert.Equal(HttpStatusCode.OK, status);
                Assert.Equal(outputs[id][n - 1], body.GetProperty("y")[0].GetDouble());
            }
        }

        Assert.Equal(HttpStatusCode.Conflict, (await Send(HttpMethod.Post, "/v1/sequences/calm/elements", "{\"n\":40,\"x\":[1]}")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await Send(HttpMethod.Post, "/v1/sequences/jumpy/elements", "{\"n\":10,\"x\":[1,2]}")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await Send(HttpMethod.Post, "/v1/sequences/jumpy/elements", "{\"n\":10,\"x\":[]}")).Status);
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Post, "/v1/sequences/short/elements", "{\"n\":2,\"x\":[2]}")).Status); // a duplicate: not counted

        var total = lengths.Values.Sum();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        JsonElement fleet;
        do
        {
            var (status, body) = await Send(HttpMethod.Get, "/v1/fleet");
            Assert.Equal(HttpStatusCode.OK, status);
            fleet = body;
            if (fleet.GetProperty("elements").GetInt64() == total && fleet.GetProperty("errorsTotal").EnumerateObject().Count() == 2)
            {
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, $"the fleet did not catch up: {fleet}");
            await Task.Delay(100); // polling the silo's once-a-second report
        }
        while (true);

        Assert.Equal(1, fleet.GetProperty("silos").GetInt32());
        Assert.Equal(3, fleet.GetProperty("activeSequences").GetInt64());
        Assert.Equal(1, fleet.GetProperty("errorsTotal").GetProperty("Gap").GetInt64());
        Assert.Equal(2, fleet.GetProperty("errorsTotal").GetProperty("WrongSize").GetInt64());
        Assert.True(fleet.GetProperty("p99Ms").GetDouble() >= fleet.GetProperty("p50Ms").GetDouble());
        Assert.True(fleet.GetProperty("p50Ms").GetDouble() > 0);
        Assert.True(fleet.GetProperty("elementsPerSecond").GetDouble() >= 0);
        Assert.Equal(DateTimeKind.Utc, DateTime.Parse(fleet.GetProperty("updatedAt").GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind).Kind);

        var expected = inputs.Keys.Select(id => (Sequence: id, Error: RecentError(inputs[id], outputs[id]), N: (long)lengths[id]))
            .OrderByDescending(e => e.Error).ToArray();
        var top = fleet.GetProperty("top").EnumerateArray()
            .Select(e => (Sequence: e.GetProperty("sequence").GetString()!, Error: e.GetProperty("error").GetDouble(), N: e.GetProperty("n").GetInt64())).ToArray();
        Assert.Equal(expected, top);
        Assert.Equal("jumpy", top[0].Sequence);
        Assert.All(fleet.GetProperty("top").EnumerateArray(), e => Assert.False(string.IsNullOrEmpty(e.GetProperty("silo").GetString())));

        var (historyStatus, history) = await Send(HttpMethod.Get, "/v1/sequences/calm/history");
        Assert.Equal(HttpStatusCode.OK, historyStatus);
        Assert.Equal(("calm", "worked-example", 1L, 12L), (history.GetProperty("sequence").GetString(), history.GetProperty("model").GetString(),
            history.GetProperty("firstN").GetInt64(), history.GetProperty("lastN").GetInt64()));
        Assert.Equal(inputs["calm"], history.GetProperty("x").EnumerateArray().Select(v => v.GetDouble()));
        Assert.Equal(outputs["calm"], history.GetProperty("y").EnumerateArray().Select(v => v.GetDouble()));
        Assert.Equal(RecentError(inputs["calm"], outputs["calm"]), history.GetProperty("forecastError").GetDouble());

        var (missingStatus, missing) = await Send(HttpMethod.Get, $"/v1/sequences/never-{Guid.NewGuid():N}/history");
        Assert.Equal(HttpStatusCode.NotFound, missingStatus);
        Assert.Equal("NotStarted", missing.GetProperty("kind").GetString());
    }
}
