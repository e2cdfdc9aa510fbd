using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using RnnStreams.Core;
using RnnStreams.TestSupport;

namespace RnnStreams.Silo.Tests;

/// <summary>The HTTP API of the silo used by every end-to-end test (no keys configured: loopback callers are served).</summary>
[Collection(SiloCollection.Name)]
public sealed class HttpApiTests(SiloFixture fixture) : IDisposable
{
    private readonly HttpClient _http = new() { BaseAddress = fixture.Silo.Http, Timeout = TimeSpan.FromSeconds(60) };

    public void Dispose() => _http.Dispose();

    private static string Key(string prefix) => $"{prefix}-{Guid.NewGuid():N}";

    private async Task<JsonElement> Json(HttpResponseMessage response, HttpStatusCode expected)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private async Task<JsonElement> Problem(HttpResponseMessage response, HttpStatusCode status, string kind)
    {
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await Json(response, status);
        Assert.Equal(kind, problem.GetProperty("kind").GetString());
        return problem;
    }

    private Task<HttpResponseMessage> Post(string path, object body) => _http.PostAsJsonAsync(path, body);

    private Task<HttpResponseMessage> PostRaw(string path, string json) =>
        _http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));

    [Fact]
    public async Task Health_AndReady_AndOpenApi()
    {
        Assert.Equal("alive", (await Json(await _http.GetAsync("/healthz"), HttpStatusCode.OK)).GetProperty("status").GetString());
        Assert.Equal("ready", (await Json(await _http.GetAsync("/ready"), HttpStatusCode.OK)).GetProperty("status").GetString());
        var openApi = await Json(await _http.GetAsync("/openapi/v1.json"), HttpStatusCode.OK);
        var paths = openApi.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToHashSet();
        Assert.Superset(new HashSet<string>
        {
            "/v1/models", "/v1/models/{name}", "/v1/models/{name}/versions", "/v1/sequences/{id}/start", "/v1/sequences/{id}/elements",
            "/v1/sequences/{id}/batch", "/v1/sequences/{id}", "/v1/sequences/{id}/reset", "/v1/sequences/{id}/upgrade", "/v1/sequences/{id}/outputs",
            "/v1/sequences/{id}/history", "/v1/sequences/{id}/forecast", "/v1/fleet",
        }, paths);
    }

    [Fact]
    public async Task Models_PublishGetListAndVersions_AndAnInvalidModelIsRefused()
    {
        var name = Key("http-model");
        var model = RandomModel.Create(name, 2, 3, 1, 1, CellType.Gru, seed: 5);
        var created = await Json(await PostRaw($"/v1/models/{name}", ModelFile.ToJson(model)), HttpStatusCode.Created);
        Assert.Equal(1, created.GetProperty("version").GetInt32());
        var again = await Json(await PostRaw($"/v1/models/{name}", ModelFile.ToJson(model)), HttpStatusCode.Created);
        Assert.Equal(2, again.GetProperty("version").GetInt32());

        var file = await _http.GetStringAsync($"/v1/models/{name}?version=1");
        Assert.Equal(ModelFile.ToJson(model), ModelFile.ToJson(ModelFile.Parse(file)));
        var versions = await Json(await _http.GetAsync($"/v1/models/{name}/versions"), HttpStatusCode.OK);
        Assert.Equal([1, 2], versions.EnumerateArray().Select(v => v.GetProperty("version").GetInt32()));
        var all = await Json(await _http.GetAsync("/v1/models"), HttpStatusCode.OK);
        Assert.Contains(all.EnumerateArray(), v => v.GetProperty("model").GetString() == "demo");

        var invalid = await Problem(await PostRaw($"/v1/models/{name}", "{\"cell\":\"transformer\"}"), HttpStatusCode.UnprocessableEntity, "InvalidModel");
        Assert.Contains("unknown cell 'transformer'", invalid.GetProperty("detail").GetString());
        await Problem(await _http.GetAsync($"/v1/models/{name}?version=9"), HttpStatusCode.NotFound, "UnknownModel");
        Assert.Equal(2, (await Json(await _http.GetAsync($"/v1/models/{name}/versions"), HttpStatusCode.OK)).GetArrayLength());
    }

    [Fact]
    public async Task Sequence_StartStepBatchSnapshotResetEnd_TheWorkedExample()
    {
        var id = Key("http-seq");
        var started = await Json(await Post($"/v1/sequences/{id}/start", new { model = "worked-example" }), HttpStatusCode.OK);
        Assert.Equal(0, started.GetProperty("lastN").GetInt64());
        var one = await Json(await Post($"/v1/sequences/{id}/elements", new { n = 1, x = new[] { 1.0 } }), HttpStatusCode.OK);
        Assert.Equal(0.41481982679921414, one.GetProperty("y")[0].GetDouble());
        var batch = await Json(await Post($"/v1/sequences/{id}/batch", new { firstN = 2, inputs = new[] { new[] { 2.0 }, new[] { 3.0 } } }), HttpStatusCode.OK);
        Assert.Equal([0.5405484706371846, 0.5809011920666035], batch.GetProperty("outputs").EnumerateArray().Select(r => r[0].GetDouble()));

        var snapshot = await Json(await _http.GetAsync($"/v1/sequences/{id}"), HttpStatusCode.OK);
        Assert.Equal(3, snapshot.GetProperty("lastN").GetInt64());
        Assert.Equal(0.952, snapshot.GetProperty("hidden")[0][0].GetDouble(), 3);

        // Two inputs ahead from the live state: y_3 (the forecast of x_4), then the model fed y_3; nothing changes.
        var forecast = await Json(await _http.GetAsync($"/v1/sequences/{id}/forecast?steps=2"), HttpStatusCode.OK);
        Assert.Equal((3L, 2), (forecast.GetProperty("afterN").GetInt64(), forecast.GetProperty("steps").GetInt32()));
        var rows = forecast.GetProperty("y").EnumerateArray().Select(r => r[0].GetDouble()).ToArray();
        Assert.Equal(0.5809011920666035, rows[0]);
        var h4 = Math.Tanh((0.5 * rows[0]) + (0.3 * snapshot.GetProperty("hidden")[0][0].GetDouble()) + 0.1);
        Assert.Equal((0.4 * h4) + 0.2, rows[1], 12);
        Assert.Equal(1, (await Json(await _http.GetAsync($"/v1/sequences/{id}/forecast"), HttpStatusCode.OK)).GetProperty("steps").GetInt32());
        var tooMany = await Problem(await _http.GetAsync($"/v1/sequences/{id}/forecast?steps=10001"), HttpStatusCode.BadRequest, "InvalidArgument");
        Assert.Contains("1 to 10000 steps", tooMany.GetProperty("detail").GetString());
        Assert.Equal(3, (await Json(await _http.GetAsync($"/v1/sequences/{id}"), HttpStatusCode.OK)).GetProperty("lastN").GetInt64());

        var duplicate = await Json(await Post($"/v1/sequences/{id}/elements", new { n = 2, x = new[] { 99.0 } }), HttpStatusCode.OK);
        Assert.True(duplicate.GetProperty("duplicate").GetBoolean());
        Assert.Equal(0.5405484706371846, duplicate.GetProperty("y")[0].GetDouble());

        var reset = await Json(await _http.PostAsync($"/v1/sequences/{id}/reset", null), HttpStatusCode.OK);
        Assert.Equal(0, reset.GetProperty("lastN").GetInt64());
        Assert.Equal(HttpStatusCode.NoContent, (await _http.DeleteAsync($"/v1/sequences/{id}")).StatusCode);
        await Problem(await _http.GetAsync($"/v1/sequences/{id}"), HttpStatusCode.NotFound, "NotStarted");
    }

    [Fact]
    public async Task Upgrade_MovesToACompatibleVersion_AndRefusesAnIncompatibleOne()
    {
        var name = Key("http-upgrade");
        await Json(await PostRaw($"/v1/models/{name}", ModelFile.ToJson(RandomModel.Create(name, 2, 3, 1, 1, CellType.Gru, seed: 1))), HttpStatusCode.Created);
        var id = Key("http-up");
        await Json(await Post($"/v1/sequences/{id}/start", new { model = name }), HttpStatusCode.OK);
        await Json(await Post($"/v1/sequences/{id}/elements", new { n = 1, x = new[] { 0.5, -0.5 } }), HttpStatusCode.OK);
        await Json(await PostRaw($"/v1/models/{name}", ModelFile.ToJson(RandomModel.Create(name, 2, 3, 1, 1, CellType.Gru, seed: 2))), HttpStatusCode.Created);
        var upgraded = await Json(await _http.PostAsync($"/v1/sequences/{id}/upgrade", null), HttpStatusCode.OK);
        Assert.Equal((2, 1L), (upgraded.GetProperty("modelVersion").GetInt32(), upgraded.GetProperty("lastN").GetInt64()));

        await Json(await PostRaw($"/v1/models/{name}", ModelFile.ToJson(RandomModel.Create(name, 2, 5, 1, 1, CellType.Gru, seed: 3))), HttpStatusCode.Created);
        var incompatible = await Problem(await _http.PostAsync($"/v1/sequences/{id}/upgrade", null), HttpStatusCode.Conflict, "Incompatible");
        Assert.Contains("state 1×3 → 1×5", incompatible.GetProperty("detail").GetString());
        var snapshot = await Json(await _http.GetAsync($"/v1/sequences/{id}"), HttpStatusCode.OK);
        Assert.Equal(2, snapshot.GetProperty("modelVersion").GetInt32());
    }

    [Fact]
    public async Task EveryErrorKind_IsAProblemWithItsFields_AndLeavesTheSequenceAsItWas()
    {
        var id = Key("http-err");
        await Problem(await Post($"/v1/sequences/{id}/start", new { model = "no-such-model" }), HttpStatusCode.NotFound, "UnknownModel");
        await Problem(await _http.GetAsync($"/v1/sequences/{id}"), HttpStatusCode.NotFound, "NotStarted");
        await Json(await Post($"/v1/sequences/{id}/start", new { model = "worked-example" }), HttpStatusCode.OK);
        await Json(await Post($"/v1/sequences/{id}/elements", new { n = 1, x = new[] { 1.0 } }), HttpStatusCode.OK);

        var wrongSize = await Problem(await Post($"/v1/sequences/{id}/elements", new { n = 2, x = new[] { 1.0, 2.0 } }), HttpStatusCode.BadRequest, "WrongSize");
        Assert.Equal((1, 2), (wrongSize.GetProperty("expected").GetInt32(), wrongSize.GetProperty("actual").GetInt32()));
        var nonFinite = await Problem(await PostRaw($"/v1/sequences/{id}/elements", "{\"n\":2,\"x\":[\"NaN\"]}"), HttpStatusCode.BadRequest, "NonFinite");
        Assert.Equal(0, nonFinite.GetProperty("index").GetInt32());
        await Problem(await PostRaw($"/v1/sequences/{id}/elements", "{\"n\":2,\"x\":[\"Infinity\"]}"), HttpStatusCode.BadRequest, "NonFinite");
        var gap = await Problem(await Post($"/v1/sequences/{id}/elements", new { n = 5, x = new[] { 1.0 } }), HttpStatusCode.Conflict, "Gap");
        Assert.Equal(2, gap.GetProperty("expectedN").GetInt64());
        await Problem(await Post($"/v1/sequences/{id}/start", new { model = "demo" }), HttpStatusCode.Conflict, "AlreadyStarted");
        var cellState = await Problem(await Post($"/v1/sequences/{Key("c0")}/start", new { model = "worked-example", c0 = new[] { new[] { 1.0 } } }), HttpStatusCode.BadRequest, "WrongSize");
        Assert.Contains("only for lstm models", cellState.GetProperty("detail").GetString());
        await Problem(await PostRaw($"/v1/sequences/{id}/batch", "{\"firstN\":2,\"inputs\":[[1],[2,3]]}"), HttpStatusCode.BadRequest, "WrongSize");
        await Problem(await PostRaw($"/v1/sequences/{id}/batch", "{\"firstN\":2,\"inputs\":[]}"), HttpStatusCode.BadRequest, "InvalidArgument");
        var truncated = await Problem(await PostRaw($"/v1/sequences/{id}/elements", "{\"n\":2,\"x\":"), HttpStatusCode.BadRequest, "BadRequest");
        Assert.Contains("not valid JSON for this endpoint at line 1, byte", truncated.GetProperty("detail").GetString());
        var doubled = await Problem(await PostRaw($"/v1/sequences/{id}/elements", "{\"n\": 2, \"x\": [1,,2]}"), HttpStatusCode.BadRequest, "BadRequest");
        Assert.Contains("at line 1, byte 18 ($.x[1])", doubled.GetProperty("detail").GetString());
        var wrongType = await Problem(await PostRaw($"/v1/sequences/{id}/elements", "{\"n\": \"two\", \"x\": [1]}"), HttpStatusCode.BadRequest, "BadRequest");
        Assert.Contains("($.n)", wrongType.GetProperty("detail").GetString());

        for (var n = 2; n <= 40; n++)
        {
            await Json(await Post($"/v1/sequences/{id}/elements", new { n, x = new[] { 0.5 } }), HttpStatusCode.OK);
        }

        var tooOld = await Problem(await Post($"/v1/sequences/{id}/elements", new { n = 1, x = new[] { 1.0 } }), HttpStatusCode.Conflict, "Duplicate");
        Assert.Equal(40, tooOld.GetProperty("lastN").GetInt64());

        var snapshot = await Json(await _http.GetAsync($"/v1/sequences/{id}"), HttpStatusCode.OK);
        Assert.Equal(40, snapshot.GetProperty("lastN").GetInt64());
        var state = new double[1];
        var y = new double[1];
        var model = ModelFile.Load(Path.Combine(Repository.Root, "silo", "RnnStreams.Silo", "models", "worked-example.json"));
        model.Step([1.0], state, y);
        for (var n = 2; n <= 40; n++)
        {
            model.Step([0.5], state, y);
        }

        Assert.Equal(state[0], snapshot.GetProperty("hidden")[0][0].GetDouble()); // every refusal left h as it was
    }

    [Fact]
    public async Task Metrics_CountStepsBatchesAndErrorsByKind_ForPrometheus()
    {
        var id = Key("http-metrics");
        await Json(await Post($"/v1/sequences/{id}/start", new { model = "worked-example" }), HttpStatusCode.OK);
        await Json(await Post($"/v1/sequences/{id}/batch", new { firstN = 1, inputs = new[] { new[] { 1.0 }, new[] { 2.0 } } }), HttpStatusCode.OK);
        await Json(await Post($"/v1/sequences/{id}/elements", new { n = 3, x = new[] { 3.0 } }), HttpStatusCode.OK);
        await Problem(await Post($"/v1/sequences/{id}/elements", new { n = 9, x = new[] { 3.0 } }), HttpStatusCode.Conflict, "Gap");

        string metrics = string.Empty;
        for (var attempt = 0; attempt < 50; attempt++)
        {
            metrics = await _http.GetStringAsync("/metrics");
            if (metrics.Contains("kind=\"Gap\"", StringComparison.Ordinal))
            {
                break;
            }

            await Task.Delay(200); // the exporter caches a scrape briefly
        }

        double Value(string prefix) => metrics.Split('\n').Where(l => l.StartsWith(prefix, StringComparison.Ordinal))
            .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
        Assert.True(Value("rnn_steps_total") >= 3, metrics);
        Assert.True(Value("rnn_errors_total{") >= 1, metrics);
        Assert.Contains("kind=\"Gap\"", metrics);
        Assert.True(Value("rnn_batch_size_count") >= 1);
        Assert.True(Value("rnn_step_duration_seconds_count") >= 2);
        Assert.True(Value("rnn_step_duration_seconds_sum") > 0);

        // Durations are in seconds (OpenTelemetry's unit), with buckets from 10 µs to 2.5 s.
        var bounds = metrics.Split('\n').Where(l => l.StartsWith("rnn_step_duration_seconds_bucket{", StringComparison.Ordinal))
            .Select(l => l[(l.IndexOf("le=\"", StringComparison.Ordinal) + 4)..]).Select(l => l[..l.IndexOf('"')])
            .Where(le => le != "+Inf").Select(le => double.Parse(le, CultureInfo.InvariantCulture)).Distinct().Order().ToList();
        Assert.Equal(0.00001, bounds[0], 12);
        Assert.Equal(2.5, bounds[^1], 12);
        Assert.True(Value("rnn_sequences_active") >= 1);
        Assert.True(Value("rnn_model_cache_loads_total") >= 1);
        Assert.Contains("rnn_checkpoint_writes_total", metrics);
        Assert.Contains("rnn_checkpoint_duration_seconds_count", metrics);
    }

    [Fact]
    public async Task Probe_ExitsZeroWhenReady_AndOneWhenNothingAnswers()
    {
        var ready = await ProcessRunner.RunAsync(Repository.SiloDll, ["probe", new Uri(fixture.Silo.Http, "/ready").ToString()]);
        Assert.True(ready.ExitCode == 0, ready.ToString());
        Assert.StartsWith("200 ", ready.OutputLines[0]);
        var nothing = await ProcessRunner.RunAsync(Repository.SiloDll, ["probe", $"http://127.0.0.1:{Repository.FreePort()}/ready"]);
        Assert.Equal(1, nothing.ExitCode);
    }

    [Fact]
    public async Task Outputs_AreServerSentEventsInOrder_EndedLast()
    {
        var id = Key("http-sse");
        await Json(await Post($"/v1/sequences/{id}/start", new { model = "worked-example" }), HttpStatusCode.OK);
        using var reader = await SseEvents.OpenAsync(_http, id);

        var inputs = Enumerable.Range(1, 60).Select(i => new[] { Math.Sin(i) }).ToArray();
        await Json(await Post($"/v1/sequences/{id}/batch", new { firstN = 1, inputs = inputs[..30] }), HttpStatusCode.OK);
        for (var n = 31; n <= 60; n++)
        {
            await Json(await Post($"/v1/sequences/{id}/elements", new { n, x = inputs[n - 1] }), HttpStatusCode.OK);
        }

        Assert.Equal(HttpStatusCode.NoContent, (await _http.DeleteAsync($"/v1/sequences/{id}")).StatusCode);
        var events = await SseEvents.ReadAsync(reader, int.MaxValue);

        Assert.Equal(61, events.Count);
        Assert.Equal(Enumerable.Range(1, 60).Select(i => (long)i), events.Take(60).Select(e => e.Id));
        Assert.All(events.Take(60), e => Assert.Equal("step", e.Event));
        Assert.Equal("ended", events[^1].Event);
        var model = ModelFile.Load(Path.Combine(Repository.Root, "silo", "RnnStreams.Silo", "models", "worked-example.json"));
        var state = new double[1];
        var y = new double[1];
        for (var t = 0; t < 60; t++)
        {
            model.Step(inputs[t], state, y);
            Assert.Equal(y[0], events[t].Data.GetProperty("y")[0].GetDouble());
        }
    }

    [Fact]
    public async Task Outputs_ResumeAfterLastEventId_KeptOnesReplayed_OlderOnesAGap_ThenLive()
    {
        var id = Key("http-resume");
        await Json(await Post($"/v1/sequences/{id}/start", new { model = "worked-example" }), HttpStatusCode.OK);
        var inputs = Enumerable.Range(1, 21).Select(i => new[] { Math.Cos(i) }).ToArray();
        var answered = await Json(await Post($"/v1/sequences/{id}/batch", new { firstN = 1, inputs = inputs[..20] }), HttpStatusCode.OK);
        var ys = answered.GetProperty("outputs").EnumerateArray().Select(r => r[0].GetDouble()).ToArray();

        // Within what is kept (the last 16: 5…20): 11…20 again, then live.
        using (var resumed = await SseEvents.OpenAsync(_http, id, lastEventId: 10))
        {
            var replayed = await SseEvents.ReadAsync(resumed, 10);
            Assert.Equal(Enumerable.Range(11, 10).Select(i => (long)i), replayed.Select(e => e.Id));
            Assert.All(replayed, e => Assert.True(e.Data.GetProperty("replayed").GetBoolean()));
            Assert.Equal(ys[10..20], replayed.Select(e => e.Data.GetProperty("y")[0].GetDouble()));
            await Json(await Post($"/v1/sequences/{id}/elements", new { n = 21, x = inputs[20] }), HttpStatusCode.OK);
            var live = (await SseEvents.ReadAsync(resumed, 1)).Single();
            Assert.Equal(("step", 21L, false), (live.Event, live.Id, live.Data.GetProperty("replayed").GetBoolean()));
            Assert.True(DateTime.TryParse(live.Data.GetProperty("sentAt").GetString(), System.Globalization.CultureInfo.InvariantCulture, out _)); // ISO 8601
        }

        // Beyond what is kept (after 2; kept 6…21): one gap event for 3…5, then 6…21.
        using var late = await SseEvents.OpenAsync(_http, id, lastEventId: 2);
        var events = await SseEvents.ReadAsync(late, 17);
        Assert.Equal("gap", events[0].Event);
        Assert.Equal((3L, 5L), (events[0].Data.GetProperty("from").GetInt64(), events[0].Data.GetProperty("to").GetInt64()));
        Assert.Equal(Enumerable.Range(6, 16).Select(i => (long)i), events.Skip(1).Select(e => e.Id));
        Assert.All(events.Skip(1), e => Assert.Equal("step", e.Event));
    }
}

/// <summary>A silo of its own with API keys, a low rate limit and a small body limit.</summary>
public sealed class HttpKeysTests : IAsyncLifetime
{
    private const string Secret = "device-secret-123";
    private SiloProcess _silo = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        _silo = await SiloProcess.StartAsync([
            "--Http:ApiKeys:devices", Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(Secret))),
            "--Http:RequestsPerSecond", "10", "--Http:Burst", "10", "--Http:MaxBodyBytes", "2000", "--Dashboard:Enabled", "true"]);
        _http = new HttpClient { BaseAddress = _silo.Http };
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _silo.DisposeAsync();
    }

    private HttpRequestMessage Request(HttpMethod method, string path, string? key, string? json = null)
    {
        var request = new HttpRequestMessage(method, path);
        if (key is not null)
        {
            request.Headers.Add("X-Api-Key", key);
        }

        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        return request;
    }

    [Fact]
    public async Task Keys_RateLimit_AndBodyLimit_RefuseWithoutChangingAnything()
    {
        var id = $"keyed-{Guid.NewGuid():N}";
        var missing = await _http.SendAsync(Request(HttpMethod.Post, $"/v1/sequences/{id}/start", null, "{\"model\":\"worked-example\"}"));
        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        Assert.Contains("\"kind\":\"Unauthorized\"", await missing.Content.ReadAsStringAsync());
        var wrong = await _http.SendAsync(Request(HttpMethod.Post, $"/v1/sequences/{id}/start", "not-the-key", "{\"model\":\"worked-example\"}"));
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _http.GetAsync("/healthz")).StatusCode); // probes need no key

        await Task.Delay(1500); // a full bucket
        var ok = await _http.SendAsync(Request(HttpMethod.Post, $"/v1/sequences/{id}/start", Secret, "{\"model\":\"worked-example\"}"));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);

        var oversized = "{\"n\":1,\"x\":[" + string.Join(',', Enumerable.Repeat("1.0", 1000)) + "]}";
        var tooLarge = await _http.SendAsync(Request(HttpMethod.Post, $"/v1/sequences/{id}/elements", Secret, oversized));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooLarge.StatusCode);
        Assert.Contains("\"kind\":\"TooLarge\"", await tooLarge.Content.ReadAsStringAsync());

        var statuses = new List<HttpStatusCode>();
        var applied = 0L;
        for (var n = 1; n <= 40; n++)
        {
            var response = await _http.SendAsync(Request(HttpMethod.Post, $"/v1/sequences/{id}/elements", Secret, $"{{\"n\":{applied + 1},\"x\":[0.5]}}"));
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.OK)
            {
                applied++;
            }
            else
            {
                Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
                Assert.True(response.Headers.Contains("Retry-After"));
            }
        }

        Assert.Contains(HttpStatusCode.TooManyRequests, statuses);
        await Task.Delay(1500);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _http.GetAsync("/dashboard/")).StatusCode);
        var dashboard = await _http.SendAsync(Request(HttpMethod.Get, "/dashboard/", Secret));
        Assert.Equal(HttpStatusCode.OK, dashboard.StatusCode);
        Assert.Contains("<html", await dashboard.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
        Assert.Contains(HttpStatusCode.OK, statuses);
        await Task.Delay(1500);
        var snapshot = JsonDocument.Parse(await (await _http.SendAsync(Request(HttpMethod.Get, $"/v1/sequences/{id}", Secret))).Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(applied, snapshot.GetProperty("lastN").GetInt64()); // refused requests applied nothing
    }
}
