using System.Net.Http.Json;
using System.Text;
using RnnStreams.TestSupport;

namespace RnnStreams.Silo.Tests;

/// <summary>
/// A silo of its own exporting over OTLP/HTTP to a receiver in the test: a request that carries a W3C
/// <c>traceparent</c> is traced through ASP.NET Core and Orleans into the sequence grain's <c>rnn.step</c>, exported
/// under the silo's service name; the RnnStreams meter is exported too.
/// </summary>
public sealed class TelemetryTests : IAsyncLifetime
{
    private readonly string _service = $"rnnstreams-e2e-{Guid.NewGuid():N}";
    private OtlpReceiver _receiver = null!;
    private SiloProcess _silo = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        _receiver = OtlpReceiver.Start();
        _silo = await SiloProcess.StartAsync(environment: new Dictionary<string, string>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = _receiver.Endpoint.ToString(),
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "500",
            ["OTEL_SERVICE_NAME"] = _service,
        });
        _http = new HttpClient { BaseAddress = _silo.Http, Timeout = TimeSpan.FromSeconds(60) };
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _silo.DisposeAsync();
        await _receiver.DisposeAsync();
    }

    private static IEnumerable<OtlpSpan> Spans(IEnumerable<(string Path, byte[] Body)> requests) =>
        requests.Where(r => r.Path == "/v1/traces").SelectMany(r => OtlpSpans.Read(r.Body));

    /// <summary>The span's ancestors in the export, nearest first, as far as they were exported.</summary>
    private static List<OtlpSpan> Ancestors(OtlpSpan span, IReadOnlyList<OtlpSpan> all)
    {
        var chain = new List<OtlpSpan>();
        for (var parent = all.FirstOrDefault(s => s.SpanId == span.ParentSpanId); parent is not null; parent = all.FirstOrDefault(s => s.SpanId == parent.ParentSpanId))
        {
            chain.Add(parent);
        }

        return chain;
    }

    [Fact]
    public async Task Step_OverHttp_IsExportedOverOtlp_InTheCallersTrace()
    {
        var id = $"otlp-{Guid.NewGuid():N}";
        var traceId = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray());
        var callerSpanId = Convert.ToHexStringLower(BitConverter.GetBytes(Random.Shared.NextInt64(1, long.MaxValue)));
        (await _http.PostAsJsonAsync($"/v1/sequences/{id}/start", new { model = "worked-example" })).EnsureSuccessStatusCode();
        using (var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/sequences/{id}/elements") { Content = JsonContent.Create(new { n = 1, x = new[] { 1.0 } }) })
        {
            request.Headers.Add("traceparent", $"00-{traceId}-{callerSpanId}-01");
            (await _http.SendAsync(request)).EnsureSuccessStatusCode();
        }

        // Wait until rnn.step and every span between it and the caller have been exported.
        bool Complete(IReadOnlyList<OtlpSpan> spans) =>
            spans.FirstOrDefault(s => s.Name == "rnn.step" && s.TraceId == traceId) is { } step && Ancestors(step, spans) is { Count: > 0 } up && up[^1].ParentSpanId == callerSpanId;
        var requests = await _receiver.WaitUntilAsync(r => Complete([.. Spans(r)]), TimeSpan.FromSeconds(60),
            () => string.Join(", ", Spans(_receiver.Requests).Where(s => s.TraceId == traceId).Select(s => $"{s.Scope}/{s.Name}")));

        // The byte-level facts first: the span name and the service name are in a protobuf body sent to /v1/traces.
        Assert.Contains(requests, r => r.Path == "/v1/traces"
            && r.Body.AsSpan().IndexOf("rnn.step"u8) >= 0 && r.Body.AsSpan().IndexOf(Encoding.UTF8.GetBytes(_service)) >= 0);

        var spans = Spans(requests).ToList();
        var step = Assert.Single(spans, s => s.Name == "rnn.step" && s.TraceId == traceId);
        Assert.Equal((_service, "RnnStreams"), (step.Service, step.Scope));
        Assert.Equal(id, step.Attributes["rnn.sequence"]);
        Assert.Equal(1L, step.Attributes["rnn.n"]);
        Assert.Equal("worked-example", step.Attributes["rnn.model"]);
        Assert.Equal("applied", step.Attributes["rnn.outcome"]);

        // rnn.step ← Orleans' server span ← Orleans' client span (the HTTP API calling the grain) ← the HTTP request ← the caller.
        var chain = Ancestors(step, spans);
        Assert.Equal(
            ["Microsoft.Orleans.Application ISequenceGrain/Step", "Microsoft.Orleans.Application ISequenceGrain/Step", "Microsoft.AspNetCore"],
            chain.Select(s => s.Scope == "Microsoft.AspNetCore" ? s.Scope : $"{s.Scope} {s.Name}"));
        Assert.All(chain, s => Assert.Equal((traceId, _service), (s.TraceId, s.Service)));
        Assert.Equal(callerSpanId, chain[^1].ParentSpanId);
    }

    [Fact]
    public async Task Steps_AreExportedAsOtlpMetrics_AndStillServedForPrometheus()
    {
        var id = $"otlp-metrics-{Guid.NewGuid():N}";
        (await _http.PostAsJsonAsync($"/v1/sequences/{id}/batch", new { firstN = 1, inputs = new[] { new[] { 1.0 }, new[] { 2.0 } } })).EnsureSuccessStatusCode();

        await _receiver.WaitUntilAsync(
            r => r.Any(x => x.Path == "/v1/metrics" && x.Body.AsSpan().IndexOf("rnn.step.duration"u8) >= 0 && x.Body.AsSpan().IndexOf(Encoding.UTF8.GetBytes(_service)) >= 0),
            TimeSpan.FromSeconds(60), () => "no /v1/metrics export holding rnn.step.duration");
        var prometheus = await _http.GetStringAsync("/metrics");
        Assert.Contains("rnn_step_duration_seconds_count", prometheus);
    }

    [Fact]
    public async Task Anomaly_IsCounted_WithTheSequenceAsTheExemplar_NotALabel_InOtlpAndOpenMetrics()
    {
        // The demo forecaster on the CO2 file: 40 months, then month 41 five ppm too high.
        var id = $"anomaly-{Guid.NewGuid():N}";
        var file = Path.Combine(Repository.Root, "silo", "RnnStreams.Silo", "models", "co2_mauna_loa.csv");
        var values = File.ReadLines(file).Skip(1).Take(41).Select(l => double.Parse(l.Split(',')[1], System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        (await _http.PostAsJsonAsync($"/v1/sequences/{id}/start", new { model = "demo" })).EnsureSuccessStatusCode();
        (await _http.PostAsJsonAsync($"/v1/sequences/{id}/batch", new { firstN = 1, inputs = values[..40].Select(v => new[] { v }) })).EnsureSuccessStatusCode();
        var answer = await (await _http.PostAsJsonAsync($"/v1/sequences/{id}/elements", new { n = 41, x = new[] { values[40] + 5 } })).Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
        Assert.True(answer.GetProperty("anomaly").GetBoolean(), answer.ToString());

        // OTLP: the counter's data point carries the id only as an exemplar's filtered attribute.
        var idBytes = Encoding.UTF8.GetBytes(id);
        await _receiver.WaitUntilAsync(
            r => r.Any(x => x.Path == "/v1/metrics" && x.Body.AsSpan().IndexOf("rnn.anomalies"u8) >= 0 && x.Body.AsSpan().IndexOf(idBytes) >= 0),
            TimeSpan.FromSeconds(60), () => "no /v1/metrics export of rnn.anomalies with the sequence id");

        // OpenMetrics (what Prometheus asks for): `rnn_anomalies_total N # {…sequence="id"} 1 ts`; the plain text format has
        // the same one series, no sequence label.
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        request.Headers.Accept.ParseAdd("application/openmetrics-text; version=1.0.0");
        var openMetrics = await (await _http.SendAsync(request)).Content.ReadAsStringAsync();
        var line = openMetrics.Split('\n').Single(l => l.StartsWith("rnn_anomalies_total", StringComparison.Ordinal));
        Assert.Contains($"sequence=\"{id}\"", line[line.IndexOf('#')..], StringComparison.Ordinal);
        Assert.DoesNotContain("sequence=", line[..line.IndexOf('#')], StringComparison.Ordinal);
        var text = await _http.GetStringAsync("/metrics");
        Assert.DoesNotContain($"sequence=\"{id}\"", text, StringComparison.Ordinal);
    }
}
