using System.Diagnostics;

namespace RnnStreams.Client.Load;

/// <summary>
/// Spaces calls evenly at a rate shared by every sequence of a <c>load</c> (<c>--rate R</c> elements per second): each
/// call takes the next free slot, 1/R after the previous one. Time lost while calls were refused or stalled is not made
/// up in a burst: a slot is never earlier than now, as a live device keeps its own pace.
/// </summary>
internal sealed class RatePacer(double elementsPerSecond)
{
    private readonly long _interval = Math.Max(1, (long)(Stopwatch.Frequency / elementsPerSecond));
    private readonly object _gate = new();
    private long _next = Stopwatch.GetTimestamp();

    /// <summary>Waits for the slot of <paramref name="elements"/> elements (a batch takes as many slots as elements).</summary>
    public Task WaitAsync(int elements, CancellationToken cancellation)
    {
        long slot;
        var now = Stopwatch.GetTimestamp();
        lock (_gate)
        {
            slot = Math.Max(_next, now);
            _next = slot + (_interval * elements);
        }

        var wait = Stopwatch.GetElapsedTime(now, slot);
        return wait <= TimeSpan.FromMilliseconds(1) ? Task.CompletedTask : Task.Delay(wait, cancellation);
    }
}
