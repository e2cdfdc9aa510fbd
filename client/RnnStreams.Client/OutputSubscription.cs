using System.Runtime.ExceptionServices;
using RnnStreams.Client.Load;

namespace RnnStreams.Client;

/// <summary>
/// Receives a sequence's outputs and events (<c>rnn-out/{sequence}</c>, or the HTTP API's or the broker's copy of them),
/// hands each to a callback in arrival order, and tracks the last n seen.
/// </summary>
internal sealed class OutputSubscription : IAsyncDisposable
{
    private readonly Func<SequenceOutput, ValueTask> _onEvent;
    private readonly object _gate = new();
    private IAsyncDisposable? _watch;
    private Exception? _failure;
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
        subscription._watch = await OutputWatch.StartAsync(client, sequence, item => subscription.OnNextAsync(item));
        return subscription;
    }

    /// <summary>The outputs as <paramref name="target"/> delivers them (the gateway, Server-Sent Events, the broker).</summary>
    public static async Task<OutputSubscription> SubscribeAsync(ILoadTarget target, string sequence, Func<SequenceOutput, ValueTask> onEvent)
    {
        var subscription = new OutputSubscription(onEvent);
        subscription._watch = await target.WatchAsync(sequence, item => subscription.OnNextAsync(item), subscription.Fail);
        return subscription;
    }

    /// <summary>Resets the order check, e.g. when resuming from a known n.</summary>
    public void ExpectNext(long lastN)
    {
        lock (_gate)
        {
            LastStepN = lastN;
        }
    }

    /// <summary>
    /// Waits until the condition holds (checked on every event) or the timeout passes; true when it held. Throws the
    /// failure of a watch that could not go on.
    /// </summary>
    public async Task<bool> WaitAsync(Func<bool> condition, TimeSpan timeout, CancellationToken cancellation = default)
    {
        Task wait;
        lock (_gate)
        {
            if (_failure is not null)
            {
                ExceptionDispatchInfo.Throw(_failure);
            }

            if (condition())
            {
                return true;
            }

            _condition = condition;
            _waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            wait = _waiter.Task;
        }

        var done = await Task.WhenAny(wait, Task.Delay(timeout, cancellation));
        await done; // the delay's cancellation, or the watch's failure
        return done == wait;
    }

    public async ValueTask DisposeAsync()
    {
        if (_watch is not null)
        {
            await _watch.DisposeAsync();
        }
    }

    private void Fail(Exception failure)
    {
        lock (_gate)
        {
            _failure ??= failure;
            _waiter?.TrySetException(failure);
        }
    }

    private async Task OnNextAsync(SequenceOutput item)
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
