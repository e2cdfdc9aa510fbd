using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using RnnStreams.Core;

namespace RnnStreams.Client.Commands;

/// <summary>
/// <c>bench</c>'s HTTP figures, each against its floor in the same run: one element per request through the silo's API
/// over HTTP/1.1 and over h2c, the same request to <c>/v1/floor</c> (every middleware, no grain call) and to a bare
/// Kestrel endpoint in this process that binds the same body and writes the same answer with no middleware at all. The
/// three rates, with CPU and allocation per request, say where a request's time goes: Kestrel and JSON (bare), our
/// middleware (floor − bare), the grain call (steps − floor).
/// </summary>
internal static class HttpBench
{
    private static readonly double[] BareOutput = [0.0];

    public static async Task<List<(string Name, double Value, string Unit, string Note)>> MeasureAsync(IClusterClient client, RnnModel model, BenchCommand.BenchParameters p, string run, int httpPort, int h2cPort)
    {
        var count = Math.Min(p.Sequences, 2_000);
        var ids = Enumerable.Range(0, count).Select(i => $"{run}-http-{i}").ToArray();
        await BenchCommand.ForEachAsync(ids, 256, id => client.GetGrain<ISequenceGrain>(id).Start(new StartRequest(model.Name)));
        var x = Enumerable.Range(0, p.Input).Select(i => Math.Sin(i)).ToArray();
        var rows = Enumerable.Repeat(x, p.Batch).ToArray();
        var next = new long[count];
        Array.Fill(next, 1);
        var hp = p with { Sequences = count };

        await using var bare = await StartBareAsync();
        using var http1 = NewClient(httpPort, HttpVersion.Version11);
        using var h2c = NewClient(h2cPort, HttpVersion.Version20);
        using var bareClient = NewClient(bare.Port, HttpVersion.Version11);

        Func<int, Task> Post(HttpClient http, Func<int, string> path, bool advance) => async i =>
        {
            using var response = await http.PostAsJsonAsync(path(i), new { n = next[i], x });
            response.EnsureSuccessStatusCode();
            if (advance)
            {
                next[i]++;
            }
        };

        var step1 = Post(http1, i => $"/v1/sequences/{ids[i]}/elements", advance: true);
        var step2 = Post(h2c, i => $"/v1/sequences/{ids[i]}/elements", advance: true);
        var floor1 = Post(http1, i => $"/v1/floor/{ids[i]}/elements", advance: false);
        var floor2 = Post(h2c, i => $"/v1/floor/{ids[i]}/elements", advance: false);
        var bare1 = Post(bareClient, i => $"/bare/{ids[i]}/elements", advance: false);

        async Task Batch(int i)
        {
            using var response = await http1.PostAsJsonAsync($"/v1/sequences/{ids[i]}/batch", new { firstN = next[i], inputs = rows });
            response.EnsureSuccessStatusCode();
            next[i] += p.Batch;
        }

        var warm = hp with { Seconds = Math.Max(2, p.Seconds) };
        await BenchCommand.Closed(warm, step1);
        await BenchCommand.Closed(warm with { Seconds = 1 }, step2);
        await BenchCommand.Closed(warm with { Seconds = 1 }, floor1);
        await BenchCommand.Closed(warm with { Seconds = 1 }, bare1);

        // Interleaved rounds, the median of each: a machine whose speed drifts moves all of them alike.
        var rounds = new List<(BenchCommand.Load Bare, BenchCommand.Load Floor, BenchCommand.Load Steps, BenchCommand.Load Floor2, BenchCommand.Load Steps2)>();
        for (var r = 0; r < p.Rounds; r++)
        {
            rounds.Add((await BenchCommand.Closed(hp, bare1), await BenchCommand.Closed(hp, floor1), await BenchCommand.Closed(hp, step1),
                await BenchCommand.Closed(hp, floor2), await BenchCommand.Closed(hp, step2)));
        }

        var batch = (await BenchCommand.Closed(hp, Batch)).Rate * p.Batch;
        var steps = Med(rounds, r => r.Steps.Rate);
        var (p50, p99, _) = await BenchCommand.PacedAsync(hp, steps / 2, step1);

        var stepsOverFloor = Med(rounds, r => r.Steps.Rate / r.Floor.Rate);
        return
        [
            ("http_bare_per_s", Med(rounds, r => r.Bare.Rate), "req/s", "a bare Kestrel endpoint in this process: the same body bound, the same answer written, no middleware"),
            ("http_floor_per_s", Med(rounds, r => r.Floor.Rate), "req/s", "POST /v1/floor/{id}/elements: every middleware of the API (key check, rate limiter, body limit, problems), no grain call"),
            ("http_steps_per_s", steps, "steps/s", $"POST /v1/sequences/{{id}}/elements, one element per request, HTTP/1.1, {Math.Min(p.Concurrency, count)} connections; ×floor {stepsOverFloor:F3}"),
            ("http2_floor_per_s", Med(rounds, r => r.Floor2.Rate), "req/s", "the floor over h2c (HTTP/2 with prior knowledge, Http:Protocols=Http2)"),
            ("http2_steps_per_s", Med(rounds, r => r.Steps2.Rate), "steps/s", $"one element per request over h2c, {Math.Min(p.Concurrency, count)} streams; ×floor {Med(rounds, r => r.Steps2.Rate / r.Floor2.Rate):F3}"),
            ("http_batch_steps_per_s", batch, "steps/s", $"POST /v1/sequences/{{id}}/batch, {p.Batch} elements per request"),
            ("http_bare_cpu_us", Med(rounds, r => r.Bare.CpuUs), "µs", "process CPU per request (client and server): Kestrel, HttpClient and JSON"),
            ("http_floor_cpu_us", Med(rounds, r => r.Floor.CpuUs), "µs", "… plus the API's middleware"),
            ("http_cpu_us", Med(rounds, r => r.Steps.CpuUs), "µs", "… plus the grain call (Step, publishing, checkpoint)"),
            ("http_bare_alloc_bytes", Med(rounds, r => r.Bare.Bytes), "B", "managed bytes allocated per request, bare"),
            ("http_floor_alloc_bytes", Med(rounds, r => r.Floor.Bytes), "B", "… floor"),
            ("http_alloc_bytes", Med(rounds, r => r.Steps.Bytes), "B", "… one element"),
            ("http_p50_ms", p50, "ms", "request sent → answer, paced at half of http_steps_per_s"),
            ("http_p99_ms", p99, "ms", string.Empty),
        ];
    }

    private static double Med<T>(List<T> rounds, Func<T, double> figure) => BenchCommand.Median(rounds.Select(figure));

    private static HttpClient NewClient(int port, Version version) =>
        new(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = int.MaxValue,
            PooledConnectionLifetime = TimeSpan.FromMinutes(10),
            EnableMultipleHttp2Connections = true,
        })
        {
            BaseAddress = new Uri($"http://127.0.0.1:{port}"),
            DefaultRequestVersion = version,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact, // h2c: HTTP/2 from the first byte
        };

    /// <summary>Kestrel with one minimal endpoint and nothing else: what this machine's HTTP stack alone allows.</summary>
    private static async Task<BareEndpoint> StartBareAsync()
    {
        var port = PortFinder.Free();
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        var app = builder.Build();
        app.MapPost("/bare/{id}/elements", (string id, BareElement body) =>
            Results.Ok(new StepResult(body.N, BareOutput, ModelVersion: 1, Duplicate: false, DurableN: body.N)));
        await app.StartAsync();
        return new BareEndpoint(app, port);
    }

    /// <summary>The body the bare endpoint binds: the JSON shape of the API's <c>POST /v1/sequences/{id}/elements</c> body, <c>{"n": …, "x": […]}</c>.</summary>
    private sealed record BareElement(long N, double[]? X);

    private sealed record BareEndpoint(WebApplication App, int Port) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => App.DisposeAsync();
    }
}
