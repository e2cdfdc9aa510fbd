using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using RnnStreams.Core;

namespace RnnStreams.Client.Load;

/// <summary>
/// The silos' HTTP API at one or more base addresses (<c>load --http URL[,URL…]</c>, or <c>--url URL</c>), the key in <c>X-Api-Key</c>. Each
/// sequence keeps to one address until it fails, then moves to the next: a producer's failover across silos.
/// </summary>
internal sealed class HttpLoadTarget : ILoadTarget
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly HttpClient _http;
    private readonly Uri[] _bases;
    private readonly long[] _avoidUntil;
    private readonly string? _apiKey;
    private HttpClient? _events;
    private int _inputSize = 1;

    public HttpLoadTarget(IReadOnlyList<Uri> bases, string? apiKey, TimeSpan timeout)
    {
        _bases = [.. bases];
        _avoidUntil = new long[_bases.Length];
        _apiKey = apiKey;
        _http = CreateClient(new SocketsHttpHandler { MaxConnectionsPerServer = 256, PooledConnectionLifetime = TimeSpan.FromMinutes(2) }, timeout, apiKey);
    }

    public string Description => $"HTTP {string.Join(',', _bases.Select(b => b.ToString().TrimEnd('/')))}";

    public async Task<(RnnModel Model, int Version)> GetModelAsync(string name)
    {
        var versions = await SendAsync(name, HttpMethod.Get, $"v1/models/{Uri.EscapeDataString(name)}/versions", null);
        var version = versions.RootElement.ValueKind == JsonValueKind.Array
            ? versions.RootElement.EnumerateArray().Max(v => v.TryGetProperty("version", out var p) ? p.GetInt32() : v.GetInt32())
            : throw new HttpLoadException(HttpStatusCode.OK, "Unexpected", $"versions of {name}: {versions.RootElement}", $"versions of {name}: {versions.RootElement}");
        var file = await SendAsync(name, HttpMethod.Get, $"v1/models/{Uri.EscapeDataString(name)}?version={version}", null);
        var model = ModelFile.Parse(file.RootElement.GetRawText());
        _inputSize = model.InputSize;
        return (model, version);
    }

    public async Task StartAsync(string sequence, string model, int version)
    {
        try
        {
            await SendAsync(sequence, HttpMethod.Post, $"v1/sequences/{Uri.EscapeDataString(sequence)}/start", new { model, version });
        }
        catch (HttpLoadException e) when (e.Kind == "AlreadyStarted")
        {
            // An earlier attempt started it and its answer was lost.
        }
    }

    public async Task StartAsync(string sequence, StartRequest request) =>
        await SendAsync(sequence, HttpMethod.Post, $"v1/sequences/{Uri.EscapeDataString(sequence)}/start",
            new { model = request.Model, version = request.Version, h0 = request.InitialState, c0 = request.InitialCell });

    public async Task<StepResult> StepAsync(string sequence, long n, double[] x, DateTime time = default) =>
        (await SendAsync(sequence, HttpMethod.Post, $"v1/sequences/{Uri.EscapeDataString(sequence)}/elements", new { n, x, time = TimeOrNull(time) })).Deserialize<StepResult>(Json)!;

    /// <summary>An element's time as the API reads it (ISO 8601, UTC), null for none.</summary>
    internal static DateTime? TimeOrNull(DateTime time) => time == default ? null : DateTime.SpecifyKind(time, DateTimeKind.Utc);

    public async Task<StepBatchResult> StepManyAsync(string sequence, long firstN, double[] inputs)
    {
        var rows = new double[inputs.Length / _inputSize][];
        for (var i = 0; i < rows.Length; i++)
        {
            rows[i] = inputs.AsSpan(i * _inputSize, _inputSize).ToArray();
        }

        var answer = (await SendAsync(sequence, HttpMethod.Post, $"v1/sequences/{Uri.EscapeDataString(sequence)}/batch", new { firstN, inputs = rows })).RootElement;
        var outputs = answer.GetProperty("outputs").EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetDouble()).ToArray()).ToArray();
        var size = outputs.Length == 0 ? 0 : outputs[0].Length;
        return new StepBatchResult(answer.GetProperty("firstN").GetInt64(), answer.GetProperty("count").GetInt32(), size,
            [.. outputs.SelectMany(o => o)], answer.GetProperty("modelVersion").GetInt32(), answer.GetProperty("duplicates").GetInt32(), answer.GetProperty("durableN").GetInt64());
    }

    public async Task<SequenceSnapshot> SnapshotAsync(string sequence) =>
        (await SendAsync(sequence, HttpMethod.Get, $"v1/sequences/{Uri.EscapeDataString(sequence)}", null)).Deserialize<SequenceSnapshot>(Json)!;

    public async Task ResetAsync(string sequence) =>
        await SendAsync(sequence, HttpMethod.Post, $"v1/sequences/{Uri.EscapeDataString(sequence)}/reset", null);

    public async Task EndAsync(string sequence) =>
        await SendAsync(sequence, HttpMethod.Delete, $"v1/sequences/{Uri.EscapeDataString(sequence)}", null);

    /// <summary>Server-Sent Events from <c>GET /v1/sequences/{id}/outputs</c>, on a client of its own that waits as long as the watch lasts.</summary>
    public async Task<IAsyncDisposable> WatchAsync(string sequence, Func<SequenceOutput, Task> onOutput, Action<Exception> onFailure)
    {
        _events ??= CreateClient(new SocketsHttpHandler(), Timeout.InfiniteTimeSpan, _apiKey);
        var uri = new Uri(_bases[Pick(sequence)], $"v1/sequences/{Uri.EscapeDataString(sequence)}/outputs");
        return await HttpOutputWatch.StartAsync(_events, uri, response => RefusalAsync(response, $"GET {uri.AbsolutePath}"), onOutput, onFailure, IsTransient);
    }

    /// <summary>No answer, a timeout, a 5xx (a silo going away, Storage) or a 429 (rate limited).</summary>
    public bool IsTransient(Exception e) => e switch
    {
        HttpLoadException h => (int)h.Status >= 500 || h.Status == HttpStatusCode.TooManyRequests,
        HttpRequestException or TaskCanceledException or IOException => true,
        _ => false,
    };

    public bool IsGap(Exception e) => e is HttpLoadException { Kind: "Gap" };

    /// <summary>The problem's kind and status (<c>Unavailable/503</c>); a body that is not a problem shows as <c>Http500</c>.</summary>
    public string KindOf(Exception e) => e is HttpLoadException h ? $"{h.Kind}/{(int)h.Status}" : e.GetType().Name;

    public ValueTask DisposeAsync()
    {
        _http.Dispose();
        _events?.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task<JsonDocument> SendAsync(string key, HttpMethod method, string path, object? body)
    {
        var index = Pick(key);
        try
        {
            using var request = new HttpRequestMessage(method, new Uri(_bases[index], path));
            if (body is not null)
            {
                request.Content = JsonContent.Create(body, options: Json);
            }

            using var response = await _http.SendAsync(request);
            if (!response.IsSuccessStatusCode)
            {
                throw await RefusalAsync(response, $"{method} {path}");
            }

            var text = await response.Content.ReadAsStringAsync();
            return JsonDocument.Parse(text.Length == 0 ? "null" : text); // 204 (an ended sequence) has no body
        }
        catch (Exception e) when (IsTransient(e))
        {
            Volatile.Write(ref _avoidUntil[index], Stopwatch.GetTimestamp() + Stopwatch.Frequency * 2);
            throw;
        }
    }

    private static HttpClient CreateClient(SocketsHttpHandler handler, TimeSpan timeout, string? apiKey)
    {
        var http = new HttpClient(handler) { Timeout = timeout };
        if (!string.IsNullOrEmpty(apiKey))
        {
            http.DefaultRequestHeaders.Add("X-Api-Key", apiKey);
        }

        return http;
    }

    /// <summary>A refused request as its problem's kind and detail; a body that is not a problem shows as <c>Http500</c>.</summary>
    private static async Task<Exception> RefusalAsync(HttpResponseMessage response, string what)
    {
        var text = await response.Content.ReadAsStringAsync();
        var kind = "Http" + (int)response.StatusCode;
        var detail = text;
        try
        {
            using var problem = JsonDocument.Parse(text);
            kind = problem.RootElement.TryGetProperty("kind", out var k) ? k.GetString() ?? kind : kind;
            detail = problem.RootElement.TryGetProperty("detail", out var d) ? d.GetString() ?? detail : detail;
        }
        catch (JsonException)
        {
        }

        return new HttpLoadException(response.StatusCode, kind, detail, $"{what}: {(int)response.StatusCode} {kind} {text}");
    }

    /// <summary>The sequence's own address unless it failed in the last 2 s; then the next one that did not.</summary>
    private int Pick(string key)
    {
        var first = (int)((uint)StringComparer.Ordinal.GetHashCode(key) % (uint)_bases.Length);
        var now = Stopwatch.GetTimestamp();
        for (var i = 0; i < _bases.Length; i++)
        {
            var index = (first + i) % _bases.Length;
            if (Volatile.Read(ref _avoidUntil[index]) <= now)
            {
                return index;
            }
        }

        return first;
    }
}

/// <summary>A refusal or failure answered by the HTTP API, with its problem kind and status.</summary>
internal sealed class HttpLoadException(HttpStatusCode status, string kind, string detail, string message) : RefusedException(kind, detail, message)
{
    public HttpStatusCode Status { get; } = status;
}
