using Orleans.Streams;

namespace RnnStreams;

/// <summary>
/// A subscription to a sequence's outputs (<c>rnn-out/{sequence}</c>) that tells the sequence someone listens — a
/// <see cref="ISequenceGrain.Watch"/> lease, renewed every <see cref="RenewEvery"/> — so that silos publishing outputs
/// <c>WhenWatched</c> (the default) send them. Written once for every subscriber: Server-Sent Events, the CLI's watch and stream.
/// </summary>
public sealed class OutputWatch : IAsyncDisposable
{
    /// <summary>The lease asked for: six renewals, so that a few lost ones do not end it.</summary>
    public static readonly TimeSpan Lease = TimeSpan.FromMinutes(1);

    /// <summary>How often the lease is renewed (the sequence stores it, so a reactivation keeps it until then).</summary>
    public static readonly TimeSpan RenewEvery = TimeSpan.FromSeconds(10);

    private readonly StreamSubscriptionHandle<SequenceOutput> _handle;
    private readonly Timer _renewal;

    private OutputWatch(StreamSubscriptionHandle<SequenceOutput> handle, Timer renewal, long lastN)
    {
        _handle = handle;
        _renewal = renewal;
        LastN = lastN;
    }

    /// <summary>The last element the sequence had applied when the watch began (0 before the first).</summary>
    public long LastN { get; }

    /// <summary>
    /// Subscribes (so nothing published from now on is missed), then takes the lease. Outputs reach
    /// <paramref name="onOutput"/> in the order the sequence published them.
    /// </summary>
    public static async Task<OutputWatch> StartAsync(IClusterClient client, string sequence, Func<SequenceOutput, Task> onOutput)
    {
        var stream = client.GetStreamProvider(RnnConstants.StreamProvider).GetStream<SequenceOutput>(RnnConstants.OutputStream(sequence));
        var handle = await stream.SubscribeAsync((item, _) => onOutput(item));
        var grain = client.GetGrain<ISequenceGrain>(sequence);
        try
        {
            var lastN = await grain.Watch(Lease);
            var renewal = new Timer(_ => _ = RenewAsync(grain), null, RenewEvery, RenewEvery);
            return new OutputWatch(handle, renewal, lastN);
        }
        catch
        {
            await handle.UnsubscribeAsync();
            throw;
        }
    }

    private static async Task RenewAsync(ISequenceGrain grain)
    {
        try
        {
            await grain.Watch(Lease);
        }
        catch (Exception)
        {
            // The next renewal tries again; a cluster that stays away ends the subscriber's wait anyway.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _renewal.DisposeAsync();
        try
        {
            await _handle.UnsubscribeAsync();
        }
        catch (Exception)
        {
            // Leaving: the cluster may already be gone.
        }
    }
}
