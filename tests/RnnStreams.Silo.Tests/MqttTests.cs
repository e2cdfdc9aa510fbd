using System.Net;
using System.Text.Json;
using RnnStreams.TestSupport;

namespace RnnStreams.Silo.Tests;

/// <summary>A real mosquitto broker and a silo process with <c>Mqtt:Enabled</c>, the worked example as its MQTT default model.</summary>
public sealed class MqttFixture : IAsyncLifetime
{
    public MosquittoBroker Broker { get; private set; } = null!;

    public SiloProcess Silo { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Broker = await MosquittoBroker.StartAsync();
        Silo = await SiloProcess.StartAsync(MqttArguments(Broker, "worked-example"));
        await WaitForLineAsync(Silo, "MQTT: connected");
    }

    public async Task DisposeAsync()
    {
        await Silo.DisposeAsync();
        await Broker.DisposeAsync();
    }

    /// <summary>The silo's MQTT settings: the broker, a short reorder window, a default model if any.</summary>
    public static string[] MqttArguments(MosquittoBroker broker, string? defaultModel) =>
    [
        "--Mqtt:Enabled", "true", "--Mqtt:Host", "127.0.0.1", "--Mqtt:Port", broker.Port.ToString(), "--Mqtt:ReorderWindow", "00:00:02",
        .. defaultModel is null ? Array.Empty<string>() : ["--Mqtt:DefaultModel", defaultModel],
    ];

    public static async Task WaitForLineAsync(SiloProcess silo, string text)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!silo.Log.Contains(text, StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline, $"the silo did not log '{text}':\n{silo.Log}");
            await Task.Delay(100);
        }
    }
}

[CollectionDefinition(Name)]
public sealed class MqttCollection : ICollectionFixture<MqttFixture>
{
    public const string Name = "mqtt";
}

/// <summary>Devices over MQTT with nothing of ours on their side: mosquitto_pub in, mosquitto_sub out.</summary>
[Collection(MqttCollection.Name)]
public sealed class MqttTests(MqttFixture fixture) : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private readonly HttpClient _http = new() { BaseAddress = fixture.Silo.Http, Timeout = TimeSpan.FromSeconds(30) };

    public void Dispose() => _http.Dispose();

    private MosquittoBroker Broker => fixture.Broker;

    private static string Key(string prefix) => $"{prefix}-{Guid.NewGuid():N}";

    [Fact]
    public async Task WorkedExample_StartsOnTheDefaultModel_AndAnswersOnTheOutTopic()
    {
        var id = Key("worked");
        var outputs = await Broker.SubscribeAsync($"rnn/{id}/out", 3, Wait);
        foreach (var n in new[] { 1, 2, 3 })
        {
            await Broker.PublishAsync($"rnn/{id}/in", $"{{\"n\": {n}, \"x\": [{n}]}}");
        }

        var messages = Parse(await outputs);
        Assert.Equal([1L, 2L, 3L], messages.Select(m => m.GetProperty("n").GetInt64()));
        Assert.Equal([0.41482, 0.54055, 0.58090], messages.Select(m => Math.Round(m.GetProperty("y")[0].GetDouble(), 5)));
        Assert.All(messages, m => Assert.Equal("step", m.GetProperty("kind").GetString()));
        Assert.All(messages, m => Assert.Equal(id, m.GetProperty("sequence").GetString()));
        Assert.All(messages, m => Assert.True(DateTime.TryParse(m.GetProperty("sentAt").GetString(), out _))); // ISO 8601
        var snapshot = await Snapshot(id);
        Assert.Equal(3, snapshot.GetProperty("lastN").GetInt64());
        Assert.Equal("worked-example", snapshot.GetProperty("model").GetString());
    }

    [Fact]
    public async Task Forecaster_ElementsWithTimes_OutputsCarryIntervals_AndASpikeIsAnAnomalyEventAfterItsStep()
    {
        // The demo model (train's forecaster of the CO2 file), seeded by the silo: 40 months with their times in one
        // message, then month 41 five ppm too high.
        var id = Key("forecaster");
        var start = await _http.PostAsync($"/v1/sequences/{id}/start", new StringContent("{\"model\": \"demo\"}", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, start.StatusCode);
        var file = Path.Combine(Repository.Root, "silo", "RnnStreams.Silo", "models", "co2_mauna_loa.csv");
        var rows = File.ReadLines(file).Skip(1).Take(41).Select(l => l.Split(',')).ToArray();
        var outputs = await Broker.SubscribeAsync($"rnn/{id}/out", 42, Wait);
        var inputs = string.Join(", ", rows[..40].Select(r => $"[{r[1]}]"));
        var times = string.Join(", ", rows[..40].Select(r => $"\"{r[0]}\""));
        await Broker.PublishAsync($"rnn/{id}/in", $"{{\"firstN\": 1, \"inputs\": [{inputs}], \"times\": [{times}]}}");
        var spike = double.Parse(rows[40][1], System.Globalization.CultureInfo.InvariantCulture) + 5;
        await Broker.PublishAsync($"rnn/{id}/in", string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{{\"n\": 41, \"x\": [{spike}], \"time\": \"{rows[40][0]}\"}}"));

        var messages = Parse(await outputs);
        Assert.Equal(Enumerable.Range(1, 41).Select(n => (long)n), messages.Take(41).Select(m => m.GetProperty("n").GetInt64()));
        Assert.All(messages.Take(41), m => Assert.Equal("step", m.GetProperty("kind").GetString()));
        Assert.All(messages.Take(25), m => Assert.False(m.TryGetProperty("interval", out _))); // warming up
        Assert.All(messages.Skip(25).Take(16), m =>
        {
            var interval = m.GetProperty("interval");
            Assert.Equal(0.8, interval.GetProperty("level").GetDouble());
            Assert.InRange(m.GetProperty("y")[0].GetDouble(), interval.GetProperty("lower").GetDouble(), interval.GetProperty("upper").GetDouble());
        });
        var anomaly = messages[41];
        Assert.Equal(("anomaly", 41L), (anomaly.GetProperty("kind").GetString(), anomaly.GetProperty("n").GetInt64()));
        Assert.Equal(spike, anomaly.GetProperty("x")[0].GetDouble());
        Assert.True(anomaly.GetProperty("surprise").GetDouble() > 2.576);
        Assert.True(spike > anomaly.GetProperty("interval").GetProperty("upper").GetDouble());
    }

    [Fact]
    public async Task Batch_AppliesEveryElement_InOrder()
    {
        var id = Key("batch");
        var outputs = await Broker.SubscribeAsync($"rnn/{id}/out", 3, Wait);
        await Broker.PublishAsync($"rnn/{id}/in", "{\"firstN\": 1, \"inputs\": [[1], [2], [3]]}");
        var messages = Parse(await outputs);
        Assert.Equal([1L, 2L, 3L], messages.Select(m => m.GetProperty("n").GetInt64()));
        Assert.Equal(0.58090, Math.Round(messages[2].GetProperty("y")[0].GetDouble(), 5));
    }

    [Fact]
    public async Task ElementAheadOfItsPredecessor_WaitsForIt()
    {
        var id = Key("reorder");
        var outputs = await Broker.SubscribeAsync($"rnn/{id}/out", 3, Wait);
        await Broker.PublishAsync($"rnn/{id}/in", "{\"n\": 1, \"x\": [1]}");
        await Broker.PublishAsync($"rnn/{id}/in", "{\"n\": 3, \"x\": [3]}"); // as if n=2 went through another silo
        await Task.Delay(300);
        await Broker.PublishAsync($"rnn/{id}/in", "{\"n\": 2, \"x\": [2]}");
        var messages = Parse(await outputs);
        Assert.Equal([1L, 2L, 3L], messages.Select(m => m.GetProperty("n").GetInt64()));
        Assert.Equal(0.58090, Math.Round(messages[2].GetProperty("y")[0].GetDouble(), 5));
    }

    [Fact]
    public async Task SameElementTwice_IsAppliedOnce_AndItsOutputSentAgain()
    {
        var id = Key("dup");
        var outputs = await Broker.SubscribeAsync($"rnn/{id}/out", 3, Wait);
        await Broker.PublishAsync($"rnn/{id}/in", "{\"n\": 1, \"x\": [1]}");
        await Broker.PublishAsync($"rnn/{id}/in", "{\"n\": 2, \"x\": [2]}");
        var before = await Snapshot(id);
        await Broker.PublishAsync($"rnn/{id}/in", "{\"n\": 2, \"x\": [2]}"); // a redelivery
        var messages = Parse(await outputs);
        Assert.Equal([1L, 2L, 2L], messages.Select(m => m.GetProperty("n").GetInt64()));
        Assert.True(messages[2].GetProperty("duplicate").GetBoolean());
        Assert.Equal(messages[1].GetProperty("y")[0].GetDouble(), messages[2].GetProperty("y")[0].GetDouble());
        Assert.Equal(State(before), State(await Snapshot(id)));
    }

    [Theory]
    [InlineData("{\"n\": 3, \"x\": [1, 2]}", "WrongSize")]
    [InlineData("{\"n\": 3, \"x\": [\"NaN\"]}", "NonFinite")]
    [InlineData("{\"n\": 3, \"x\": [\"Infinity\"]}", "NonFinite")]
    [InlineData("{\"n\": 9, \"x\": [1]}", "Gap")]
    [InlineData("{\"n\": 3, \"x\": [1", "InvalidArgument")]
    [InlineData("not json", "InvalidArgument")]
    [InlineData("{\"x\": [1]}", "InvalidArgument")]
    [InlineData("{\"firstN\": 3, \"inputs\": [[1], [1, 2]]}", "WrongSize")]
    [InlineData("{\"firstN\": 3, \"inputs\": []}", "InvalidArgument")]
    public async Task BadInput_IsRefusedOnTheErrorTopic_StateUnchanged_AndTheSequenceGoesOn(string payload, string kind)
    {
        var id = Key("bad");
        var outputs = await Broker.SubscribeAsync($"rnn/{id}/out", 3, Wait);
        await Broker.PublishAsync($"rnn/{id}/in", "{\"firstN\": 1, \"inputs\": [[1], [2]]}");
        var before = await WaitForSnapshot(id, lastN: 2);

        var errors = await Broker.SubscribeAsync($"rnn/{id}/error", 1, Wait);
        await Broker.PublishAsync($"rnn/{id}/in", payload);
        var error = Parse(await errors).Single();
        Assert.Equal(kind, error.GetProperty("kind").GetString());
        Assert.Equal(id, error.GetProperty("sequence").GetString());
        Assert.StartsWith("https://rnnstreams.dev/errors/", error.GetProperty("type").GetString());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("detail").GetString()));
        Assert.Equal(State(before), State(await Snapshot(id)));

        // Acknowledged, not a poison message: the next element is applied as if nothing happened.
        await Broker.PublishAsync($"rnn/{id}/in", "{\"n\": 3, \"x\": [3]}");
        var messages = Parse(await outputs);
        Assert.Equal([1L, 2L, 3L], messages.Select(m => m.GetProperty("n").GetInt64()));
        Assert.Equal(0.58090, Math.Round(messages[2].GetProperty("y")[0].GetDouble(), 5));
    }

    [Fact]
    public async Task MalformedPayload_SaysWhereItBroke()
    {
        var id = Key("where");
        var errors = await Broker.SubscribeAsync($"rnn/{id}/error", 1, Wait);
        await Broker.PublishAsync($"rnn/{id}/in", "{\"n\": 1, \"x\": [1,, 2]}");
        var detail = Parse(await errors).Single().GetProperty("detail").GetString()!;
        Assert.Contains("line 1, byte", detail);
        Assert.Contains("{\"n\": 1, \"x\": [numbers]}", detail);
    }

    [Fact]
    public async Task WithoutADefaultModel_ElementOneOfAnUnstartedSequence_IsRefusedNotStarted()
    {
        await using var silo = await SiloProcess.StartAsync([.. MqttFixture.MqttArguments(Broker, null), "--Mqtt:TopicPrefix", "nodefault"]);
        await MqttFixture.WaitForLineAsync(silo, "MQTT: connected");
        var id = Key("unstarted");
        var errors = await Broker.SubscribeAsync($"nodefault/{id}/error", 1, Wait);
        await Broker.PublishAsync($"nodefault/{id}/in", "{\"n\": 1, \"x\": [1]}");
        var error = Parse(await errors).Single();
        Assert.Equal("NotStarted", error.GetProperty("kind").GetString());
        Assert.Contains("Mqtt:DefaultModel", error.GetProperty("detail").GetString());

        // Started over HTTP, the same element goes through.
        using var http = new HttpClient { BaseAddress = silo.Http };
        var started = await http.PostAsync($"/v1/sequences/{id}/start", JsonContent("{\"model\": \"worked-example\"}"));
        Assert.Equal(HttpStatusCode.OK, started.StatusCode);
        var outputs = await Broker.SubscribeAsync($"nodefault/{id}/out", 1, Wait);
        await Broker.PublishAsync($"nodefault/{id}/in", "{\"n\": 1, \"x\": [1]}");
        Assert.Equal(0.41482, Math.Round(Parse(await outputs).Single().GetProperty("y")[0].GetDouble(), 5));
    }

    [Fact]
    public async Task BadSettings_StopTheSiloWithOneLine()
    {
        var result = await SiloProcess.RunToExitAsync(["--Mqtt:Enabled", "true", "--Mqtt:TopicPrefix", "rnn/#"], TimeSpan.FromSeconds(60));
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("error: Mqtt:TopicPrefix", result.StandardError);
    }

    /// <summary>What an element changes: h (and c), the last n, when it was updated (not LastDurableN: a timed checkpoint moves it).</summary>
    private static string State(JsonElement snapshot) =>
        string.Join('|', new[] { "hidden", "lastN", "updatedAt", "modelVersion" }.Select(p => snapshot.GetProperty(p).GetRawText()));

    private static StringContent JsonContent(string json) => new(json, System.Text.Encoding.UTF8, "application/json");

    private async Task<JsonElement> Snapshot(string id)
    {
        var response = await _http.GetAsync($"/v1/sequences/{id}");
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private async Task<JsonElement> WaitForSnapshot(string id, long lastN)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (true)
        {
            var response = await _http.GetAsync($"/v1/sequences/{id}");
            if (response.StatusCode == HttpStatusCode.OK)
            {
                var snapshot = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
                if (snapshot.GetProperty("lastN").GetInt64() == lastN)
                {
                    return snapshot;
                }
            }

            Assert.True(DateTime.UtcNow < deadline, $"sequence {id} did not reach n={lastN}");
            await Task.Delay(50);
        }
    }

    /// <summary>mosquitto_sub -v lines ("topic payload") as JSON payloads.</summary>
    private static JsonElement[] Parse(string[] lines) =>
        [.. lines.Select(l => JsonDocument.Parse(l[(l.IndexOf(' ') + 1)..]).RootElement.Clone())];
}
