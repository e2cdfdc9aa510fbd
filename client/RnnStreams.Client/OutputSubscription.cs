using Orleans.Streams;

namespace RnnStreams.Client;

/// <summary>Receives <c>rnn-out/{sequence}</c> events, hands each to a callback in arrival order, and tracks the last n seen.</summary>
internal sealed class OutputSubscription : IAsyncDisposable
{
    private readonly Func<SequenceOutput, ValueTask> _onEvent;
    private readonly object _gate = new();
    private static readonly TimeSpan Lease = TimeSpan.FromMinutes(2);
    private StreamSubscriptionHandle<SequenceOutput>? _handle;
    private Timer? _renewal;
    private TaskCompletionSource? _waiter;
    private Func<bool>? _condition;

    private OutputSubscription(Func<SequenceOutput, ValueTask> onEvent) => _onEvent = onEvent;

    /// <summary>The n of the last Step event received.</summary>
    public long LastStepN { get; private set; }

    /// <summary>Step events that arrived with n not one more than the previous (0 when every output came in order).</summary>
    public long OutOfOrder { get; private set; }

    public long Steps { get; private set; }

    public bool Ended { get; private set; }

    public static async Task<OutputSubscription> SubscribeAsync(IClusterClient client, string sequence, Func<SequenceOutput, ValueTask> onEvent)
    {
        var subscription = new OutputSubscription(onEvent);
        var stream = client.GetStreamProvider(RnnConstants.StreamProvider).GetStream<SequenceOutput>(RnnConstants.OutputStream(sequence));
        subscription._handle = await stream.SubscribeAsync(subscription.OnNextAsync);

        // Tell the sequence someone listens (silos that publish outputs only when watched), and keep telling it.
        var grain = client.GetGrain<ISequenceGrain>(sequence);
        await grain.Watch(Lease);
        subscription._renewal = new Timer(_ => RenewAsync(grain), null, Lease / 3, Lease / 3);
        return subscription;
    }

    private static async void RenewAsync(ISequenceGrain grain)
    {
        try
        {
            await grain.Watch(Lease);
        }
        catch (Exception)
        {
            // The next renewal tries again; a cluster that stays away ends the command anyway.
        }
    }

    /// <summary>Resets the order check, e.g. when resuming from a known n.</summary>
    public void ExpectNext(long lastN)
    {
        lock (_gate)
        {
            LastStepN = lastN;
        }
    }

    /// <summary>Waits until the condition holds (checked on every event) or the timeout passes; true when it held.</summary>
    public async Task<bool> WaitAsync(Func<bool> condition, TimeSpan timeout, CancellationToken cancellation = default)
    {
        Task wait;
        lock (_gate)
        {
            if (condition())
            {
                return true;
            }

            _condition = condition;
            _waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            wait = _waiter.Task;
        }

        var done = await Task.WhenAny(wait, Task.Delay(timeout, cancellation));
        return done == wait;
    }

    public async ValueTask DisposeAsync()
    {
        if (_renewal is not null)
        {
            await _renewal.DisposeAsync();
        }

        if (_handle is not null)
        {
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

    private async Task OnNextAsync(SequenceOutput item, StreamSequenceToken? token)
    {
        await _onEvent(item);
        lock (_gate)
        {
            switch (item.Kind)
            {
                case OutputKind.Step:
                    if (LastStepN != 0 && item.N != LastStepN + 1)
                    {
                        OutOfOrder++;
                    }

                    LastStepN = item.N;
                    Steps++;
                    break;
                case OutputKind.Reset:
                    LastStepN = 0;
                    break;
                case OutputKind.Ended:
                    Ended = true;
                    break;
            }

            if (_condition is not null && _condition())
            {
                _condition = null;
                _waiter?.TrySetResult();
            }
        }
    }
}
