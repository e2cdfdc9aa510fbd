using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using RnnStreams.Core;
using RnnStreams.Core.Formats;
using RnnStreams.Core.Training;
using RnnStreams.TestSupport;

namespace RnnStreams.Silo.Tests;

/// <summary>
/// A trained forecaster served over HTTP: elements with their times, each answer's forecast and 80 % interval as the model
/// gives them offline, an injected spike flagged as an anomaly (in the answer and as an SSE event after its step), batches
/// with times.
/// </summary>
[Collection(SiloCollection.Name)]
public sealed class ForecasterHttpTests(SiloFixture fixture) : IDisposable
{
    private static readonly Lazy<(RnnModel Model, double[] Series, DateTime[] Times)> Trained = new(() =>
    {
        var path = Path.Combine(Repository.Root, "tests", "reference", "airpassengers.csv");
        var series = Csv.ReadSeries(path);
        var times = Csv.ReadTimes(path)!;
        var options = new TrainingOptions { Hidden = 4, Epochs = 20, Ensemble = 1, Targets = [ForecastTarget.Seasonal], Name = "air-forecaster" };
        return (Trainer.Train(series, options, times: times).Model, series, times);
    });

    /// <summary>An interval as the HTTP answers carry it.</summary>
    private sealed record Band(double Level, double Lower, double Upper);

    private readonly HttpClient _http = new() { BaseAddress = fixture.Silo.Http, Timeout = TimeSpan.FromSeconds(60) };

    public void Dispose() => _http.Dispose();

    private async Task<JsonElement> Json(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK || response.StatusCode == HttpStatusCode.Created, $"{(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private async Task<string> StartAsync()
    {
        var (model, _, _) = Trained.Value;
        await Json(await _http.PostAsync($"/v1/models/{model.Name}", new StringContent(ModelFile.ToJson(model), Encoding.UTF8, "application/json")));
        var id = $"forecaster-{Guid.NewGuid():N}";
        await Json(await _http.PostAsJsonAsync($"/v1/sequences/{id}/start", new { model = model.Name }));
        return id;
    }

    /// <summary>
    /// The model offline over the first <paramref name="count"/> values: each forecast, its 80 % interval (null while warming
    /// up), and whether the value fell outside the 99 % interval of the forecast made for it.
    /// </summary>
    private static List<(double Y, Band? Interval, bool Anomaly)> Offline(int count)
    {
        var (model, series, times) = Trained.Value;
        var state = new double[model.StateSize];
        var ys = new double[count];
        var details = new ForecastDetails(count, 0.8, 0.99);
        Assert.Equal(-1, model.TryAdvance(series.AsSpan(0, count), [.. times.Take(count).Select(t => t.Ticks)], state, ys, details));
        return [.. Enumerable.Range(0, count).Select(t => (ys[t], double.IsNaN(details.Lower[t]) ? null : new Band(0.8, details.Lower[t], details.Upper[t]), details.IsAnomaly(t)))];
    }

    private static Band? Interval(JsonElement element) =>
        element.ValueKind == JsonValueKind.Object
            ? new Band(element.GetProperty("level").GetDouble(), element.GetProperty("lower").GetDouble(), element.GetProperty("upper").GetDouble())
            : null;

    [Fact]
    public async Task Elements_WithTimes_AnswerTheOfflineForecastAndInterval_AndASpikeIsAnAnomalyEventAfterItsStep()
    {
        var (model, series, times) = Trained.Value;
        var id = await StartAsync();
        using var sse = await SseEvents.OpenAsync(_http, id);
        var expected = Offline(60);
        for (var n = 1; n <= 60; n++)
        {
            var answer = await Json(await _http.PostAsJsonAsync($"/v1/sequences/{id}/elements", new { n, x = new[] { series[n - 1] }, time = times[n - 1] }));
            Assert.Equal(expected[n - 1].Y, answer.GetProperty("y")[0].GetDouble());
            Assert.Equal(expected[n - 1].Interval, Interval(answer.GetProperty("interval")));
            Assert.Equal(expected[n - 1].Anomaly, answer.GetProperty("anomaly").GetBoolean());
        }

        Assert.Null(expected[model.Forecaster!.FirstStep - 1].Interval); // warming up: no interval yet
        Assert.NotNull(expected[model.Forecaster.FirstStep].Interval);

        // Element 61 three times its real value: far outside the 99 % interval of the forecast made for it.
        var spike = 3 * series[60];
        var flagged = await Json(await _http.PostAsJsonAsync($"/v1/sequences/{id}/elements", new { n = 61, x = new[] { spike }, time = times[60] }));
        Assert.True(flagged.GetProperty("anomaly").GetBoolean());

        var clean = expected.Count(e => e.Anomaly);
        var events = await SseEvents.ReadAsync(sse, 62 + clean);
        Assert.Equal(61, events.Count(e => e.Event == "step"));
        Assert.Equal(expected.Select((e, i) => (e.Anomaly, i + 1L)).Where(e => e.Anomaly).Select(e => e.Item2).Append(61),
            events.Where(e => e.Event == "anomaly").Select(e => e.Id)); // each after its step: ids never go back
        Assert.Equal(events.Select(e => e.Id).Order(), events.Select(e => e.Id));
        var (kind, eventId, data) = events[^1];
        Assert.Equal(("anomaly", 61L), (kind, eventId));
        Assert.Equal(spike, data.GetProperty("x")[0].GetDouble());
        var outside = Interval(data.GetProperty("interval"))!;
        Assert.Equal(0.99, outside.Level);
        Assert.True(spike > outside.Upper, $"{spike} inside [{outside.Lower}, {outside.Upper}]");
        Assert.True(data.GetProperty("surprise").GetDouble() > 2.576);
        Assert.InRange(expected[59].Y, expected[59].Interval!.Lower, expected[59].Interval!.Upper); // a forecast lies inside its own interval
    }

    [Fact]
    public async Task Batch_WithTimes_AnswersEachElementsInterval_NullWhileWarmingUp()
    {
        var (_, series, times) = Trained.Value;
        var id = await StartAsync();
        var answer = await Json(await _http.PostAsJsonAsync($"/v1/sequences/{id}/batch", new
        {
            firstN = 1,
            inputs = series.Take(60).Select(v => new[] { v }),
            times = times.Take(60),
        }));

        var expected = Offline(60);
        Assert.Equal(expected.Select(e => e.Y), answer.GetProperty("outputs").EnumerateArray().Select(r => r[0].GetDouble()));
        Assert.Equal(expected.Select(e => e.Interval), answer.GetProperty("intervals").EnumerateArray().Select(Interval));
        var flagged = expected.Select((e, i) => (e.Anomaly, N: i + 1L)).Where(e => e.Anomaly).Select(e => e.N).ToArray();
        Assert.Equal(flagged, answer.TryGetProperty("anomalies", out var anomalies) ? anomalies.EnumerateArray().Select(a => a.GetInt64()).ToArray() : []);

        var wrong = await _http.PostAsJsonAsync($"/v1/sequences/{id}/batch", new { firstN = 61, inputs = new[] { new[] { 1.0 }, new[] { 2.0 } }, times = times.Take(1) });
        Assert.Equal(HttpStatusCode.BadRequest, wrong.StatusCode);
        Assert.Contains("times", await wrong.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
