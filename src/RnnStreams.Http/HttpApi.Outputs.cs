using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Streams;

namespace RnnStreams.Http;

/// <summary>A sequence's outputs as Server-Sent Events.</summary>
public static partial class HttpApi
{
    /// <summary>
    /// Server-Sent Events: <c>id: n</c>, <c>event: step|reset|upgraded|error|ended|expired</c>, <c>data:</c> the output
    /// as JSON. Holds a watch lease on the sequence while connected (so silos that publish only watched outputs send
    /// them) and closes after the ended or expired event.
    /// </summary>
    private static async Task StreamOutputsAsync(string id, HttpContext context, IClusterClient client)
    {
        var channel = Channel.CreateUnbounded<SequenceOutput>(new UnboundedChannelOptions { SingleReader = true });
        var stream = client.GetStreamProvider(RnnConstants.StreamProvider).GetStream<SequenceOutput>(RnnConstants.OutputStream(id));
        var handle = await stream.SubscribeAsync((item, _) => channel.Writer.WriteAsync(item).AsTask());
        var sequence = client.GetGrain<ISequenceGrain>(id);
        var lease = TimeSpan.FromMinutes(2);
        var cancellation = context.RequestAborted;
        try
        {
            await sequence.Watch(lease);
            context.Response.ContentType = "text/event-stream";
            context.Response.Headers.CacheControl = "no-cache";
            context.Response.Headers["X-Accel-Buffering"] = "no";
            await context.Response.WriteAsync(": connected\n\n", cancellation);
            await context.Response.Body.FlushAsync(cancellation);
            var renewAt = DateTime.UtcNow + (lease / 3);
            var json = context.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
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
                finally
                {
                    if (DateTime.UtcNow >= renewAt)
                    {
                        renewAt = DateTime.UtcNow + (lease / 3);
                        await sequence.Watch(lease);
                    }
                }

                var kind = item is { Kind: OutputKind.Ended, Reason: "expired" } ? "expired" : JsonNamingPolicy.CamelCase.ConvertName(item.Kind.ToString());
                await context.Response.WriteAsync($"id: {item.N}\nevent: {kind}\ndata: {JsonSerializer.Serialize(item, json)}\n\n", cancellation);
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
        finally
        {
            await handle.UnsubscribeAsync();
        }
    }
}
