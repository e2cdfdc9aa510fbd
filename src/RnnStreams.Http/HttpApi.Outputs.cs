using System.Globalization;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace RnnStreams.Http;

/// <summary>A sequence's outputs as Server-Sent Events.</summary>
public static partial class HttpApi
{
    /// <summary>
    /// Server-Sent Events: <c>id: n</c>, <c>event: step|anomaly|reset|upgraded|error|ended|expired|gap</c>, <c>data:</c> the
    /// output as JSON (<c>sentAt</c> in ISO 8601). Holds a watch lease while connected (<see cref="OutputWatch"/>) and
    /// closes after the ended or expired event. A client that reconnects with <c>Last-Event-ID: k</c> (or
    /// <c>?lastEventId=k</c>) is first given the kept outputs after k (<c>"replayed": true</c>), then the live ones;
    /// outputs after k that are no longer kept come as one <c>gap</c> event naming the elements missed.
    /// </summary>
    private static async Task StreamOutputsAsync(string id, HttpContext context, IClusterClient client)
    {
        var channel = Channel.CreateUnbounded<SequenceOutput>(new UnboundedChannelOptions { SingleReader = true });
        var cancellation = context.RequestAborted;
        var json = context.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        await using var watch = await OutputWatch.StartAsync(client, id, item => channel.Writer.WriteAsync(item).AsTask());
        try
        {
            context.Response.ContentType = "text/event-stream";
            context.Response.Headers.CacheControl = "no-cache";
            context.Response.Headers["X-Accel-Buffering"] = "no";
            await context.Response.WriteAsync(": connected\n\n", cancellation);
            var replayedUpTo = await ReplayAsync(id, LastEventId(context.Request), context, client, json, cancellation);
            await context.Response.Body.FlushAsync(cancellation);
            while (!cancellation.IsCancellationRequested)
            {
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
                wait.CancelAfter(TimeSpan.FromSeconds(15));
                SequenceOutput item;
                try
                {
                    item = await channel.Reader.ReadAsync(wait.Token);
                }
                catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
                {
                    await context.Response.WriteAsync(": keep-alive\n\n", cancellation); // proxies close silent connections
                    await context.Response.Body.FlushAsync(cancellation);
                    continue;
                }

                if (item.Kind == OutputKind.Step && item.N <= replayedUpTo)
                {
                    continue; // given already from the kept outputs
                }

                replayedUpTo = item.Kind == OutputKind.Reset ? 0 : replayedUpTo;
                var kind = item is { Kind: OutputKind.Ended, Reason: "expired" } ? "expired" : JsonNamingPolicy.CamelCase.ConvertName(item.Kind.ToString());
                await WriteEventAsync(context, item.N, kind, SseOutput.Of(item, kind), json, cancellation);
                await context.Response.Body.FlushAsync(cancellation);
                if (item.Kind is OutputKind.Ended)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            // The caller went away.
        }
    }

    /// <summary>
    /// Writes the kept outputs after <paramref name="lastEventId"/> (and a gap event for those no longer kept); returns the
    /// last element written (<paramref name="lastEventId"/> itself when nothing was), so that live outputs up to it are skipped.
    /// </summary>
    private static async Task<long> ReplayAsync(string id, long? lastEventId, HttpContext context, IClusterClient client, JsonSerializerOptions json, CancellationToken cancellation)
    {
        if (lastEventId is not { } after)
        {
            return 0;
        }

        RecentOutputs recent;
        try
        {
            recent = await client.GetGrain<ISequenceGrain>(id).Recent(after);
        }
        catch (SequenceNotStartedException)
        {
            return 0;
        }

        if (after > recent.LastN)
        {
            return 0; // the sequence was reset (or ended and started again) since: nothing of this numbering to give again
        }

        if (after + 1 < recent.OldestKept)
        {
            var gap = new SseGap(id, after + 1, recent.OldestKept - 1, $"outputs {after + 1}…{recent.OldestKept - 1} are no longer kept (RnnStreams:KeepOutputs)");
            await WriteEventAsync(context, recent.OldestKept - 1, "gap", gap, json, cancellation);
        }

        for (var i = 0; i < recent.Count; i++)
        {
            var n = recent.FirstN + i;
            var y = recent.Outputs.AsSpan(i * recent.OutputSize, recent.OutputSize).ToArray();
            await WriteEventAsync(context, n, "step", new SseOutput(id, n, y, recent.ModelVersion, "step", null, null, null, Replayed: true), json, cancellation);
        }

        return Math.Max(after, recent.LastN);
    }

    private static long? LastEventId(HttpRequest request)
    {
        var text = request.Headers["Last-Event-ID"].FirstOrDefault() ?? request.Query["lastEventId"].FirstOrDefault();
        return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;
    }

    private static Task WriteEventAsync<T>(HttpContext context, long n, string kind, T data, JsonSerializerOptions json, CancellationToken cancellation) =>
        context.Response.WriteAsync($"id: {n}\nevent: {kind}\ndata: {JsonSerializer.Serialize(data, json)}\n\n", cancellation);

    /// <summary>An output or event as an SSE <c>data:</c> line: <c>sentAt</c> in ISO 8601 (null when not known).</summary>
    private sealed record SseOutput(
        string Sequence,
        long N,
        double[] Y,
        int ModelVersion,
        string Kind,
        string? Reason,
        DateTime? SentAt,
        double[]? X,
        bool Replayed = false,
        [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)] ForecastInterval? Interval = null,
        [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)] double? Surprise = null)
    {
        public static SseOutput Of(SequenceOutput o, string kind) =>
            new(o.Sequence, o.N, o.Y, o.ModelVersion, kind, o.Reason, o.SentAt > 0 ? new DateTime(o.SentAt, DateTimeKind.Utc) : null, o.X,
                Interval: o.Interval, Surprise: o.Surprise);
    }

    /// <summary>The <c>gap</c> event: elements <c>from…to</c> were applied but their outputs are no longer kept.</summary>
    private sealed record SseGap(string Sequence, long From, long To, string Reason);
}
