using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace RnnStreams.Silo.Tests;

/// <summary><c>POST /v1/elements</c>: many sequences in one request, answers per element in order.</summary>
[Collection(SiloCollection.Name)]
public sealed class FleetApiTests(SiloFixture fixture) : IDisposable
{
    private static readonly double[] WorkedY = [0.41482, 0.54055, 0.58090];
    private readonly HttpClient _http = new() { BaseAddress = fixture.Silo.Http, Timeout = TimeSpan.FromSeconds(60) };

    public void Dispose() => _http.Dispose();

    private static string Key(string prefix) => $"{prefix}-{Guid.NewGuid():N}";

    private async Task<string> StartedAsync(string prefix)
    {
        var id = Key(prefix);
        var response = await _http.PostAsJsonAsync($"/v1/sequences/{id}/start", new { model = "worked-example" });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return id;
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> PostAsync(object body)
    {
        var response = await _http.PostAsJsonAsync("/v1/elements", body);
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    [Fact]
    public async Task ManySequences_EachInItsOrder_ResultsInTheRequestsOrder()
    {
        var a = await StartedAsync("fleet-a");
        var b = await StartedAsync("fleet-b");
        var (status, body) = await PostAsync(new
        {
            elements = new object[]
            {
                new { sequence = a, n = 1, x = new[] { 1.0 } },
                new { sequence = b, n = 1, x = new[] { 1.0 } },
                new { sequence = a, n = 2, x = new[] { 2.0 } },
                new { sequence = a, n = 3, x = new[] { 3.0 } },
                new { sequence = b, n = 2, x = new[] { 2.0 } },
            },
        });
        Assert.Equal(HttpStatusCode.OK, status);
        var results = body.GetProperty("results").EnumerateArray().ToArray();
        Assert.Equal([a, b, a, a, b], results.Select(r => r.GetProperty("sequence").GetString()));
        Assert.Equal([1L, 1L, 2L, 3L, 2L], results.Select(r => r.GetProperty("n").GetInt64()));
        Assert.Equal([WorkedY[0], WorkedY[0], WorkedY[1], WorkedY[2], WorkedY[1]], results.Select(r => Math.Round(r.GetProperty("y")[0].GetDouble(), 5)));
        Assert.Equal(5, body.GetProperty("applied").GetInt32());
        Assert.Equal(0, body.GetProperty("refused").GetInt32());
    }

    [Fact]
    public async Task RefusedElements_CarryTheirProblem_TheOthersAreApplied_StateUnchanged()
    {
        var good = await StartedAsync("fleet-good");
        var bad = await StartedAsync("fleet-bad");
        var (status, body) = await PostAsync(new
        {
            elements = new object[]
            {
                new { sequence = good, n = 1, x = new[] { 1.0 } },
                new { sequence = bad, n = 1, x = new[] { 1.0, 2.0 } },      // wrong size
                new { sequence = bad, n = 1, x = new object[] { "NaN" } },  // not finite
                new { sequence = good, n = 5, x = new[] { 5.0 } },          // a gap
                new { sequence = "", n = 1, x = new[] { 1.0 } },            // no sequence
                new { sequence = Key("fleet-unstarted-end"), n = 2, x = new[] { 1.0 } }, // never started: a gap
                new { sequence = good, n = 2, x = new[] { 2.0 } },
            },
        });
        Assert.Equal(HttpStatusCode.OK, status);
        var results = body.GetProperty("results").EnumerateArray().ToArray();
        string? Kind(int i) => results[i].TryGetProperty("problem", out var p) ? p.GetProperty("kind").GetString() : null;
        Assert.Equal([null, "WrongSize", "NonFinite", "Gap", "InvalidArgument", "Gap", null], Enumerable.Range(0, results.Length).Select(Kind));
        Assert.Equal(400, results[1].GetProperty("problem").GetProperty("status").GetInt32());
        Assert.Equal(2, results[3].GetProperty("problem").GetProperty("expectedN").GetInt64());
        Assert.Equal(WorkedY[1], Math.Round(results[6].GetProperty("y")[0].GetDouble(), 5));
        Assert.Equal((2, 5), (body.GetProperty("applied").GetInt32(), body.GetProperty("refused").GetInt32()));

        var snapshot = JsonDocument.Parse(await _http.GetStringAsync($"/v1/sequences/{bad}")).RootElement;
        Assert.Equal(0, snapshot.GetProperty("lastN").GetInt64());
        Assert.All(snapshot.GetProperty("hidden")[0].EnumerateArray(), h => Assert.Equal(0.0, h.GetDouble()));
    }

    [Fact]
    public async Task EmptyOrTooLargeRequests_AreRefusedWhole()
    {
        var (empty, problem) = await PostAsync(new { elements = Array.Empty<object>() });
        Assert.Equal((HttpStatusCode.BadRequest, "InvalidArgument"), (empty, problem.GetProperty("kind").GetString()));

        var id = Key("fleet-big");
        var tooMany = Enumerable.Range(1, 10_001).Select(n => new { sequence = id, n, x = new[] { 1.0 } }).ToArray();
        var response = await _http.PostAsJsonAsync("/v1/elements", new { elements = tooMany });
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.RequestEntityTooLarge, text);
        Assert.Contains(response.StatusCode == HttpStatusCode.BadRequest ? "Http:MaxBatch" : "TooLarge", text);
    }
}
