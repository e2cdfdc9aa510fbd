using System.Diagnostics;

namespace RnnStreams.Client;

/// <summary>What the client retries, and how.</summary>
internal static class Resilience
{
    /// <summary>
    /// Failures of the cluster rather than of the request (a silo died, a call timed out, the gateway went away), and
    /// storage failures under EveryStep: sending again is safe because element numbers make it idempotent. Typed
    /// refusals (wrong size, gap, unknown model, ...) are not retried.
    /// </summary>
    /// <remarks>A cancelled call counts too (Orleans cancels calls whose gateway connection dropped): callers check
    /// their own cancellation token before retrying.</remarks>
    public static bool IsTransient(Exception e) =>
        e is not RnnStreamsException || e is RnnStorageException;

    /// <summary>Calls until it succeeds, backing off from 100 ms to 1 s, for at most <paramref name="deadline"/>.</summary>
    public static Task<T> RetryAsync<T>(Func<Task<T>> call, TimeSpan deadline, CancellationToken cancellation) =>
        RetryAsync(call, IsTransient, deadline, cancellation);

    /// <summary>Calls until it succeeds, retrying the failures <paramref name="transient"/> accepts.</summary>
    public static async Task<T> RetryAsync<T>(Func<Task<T>> call, Func<Exception, bool> transient, TimeSpan deadline, CancellationToken cancellation)
    {
        var started = Stopwatch.GetTimestamp();
        var delay = TimeSpan.FromMilliseconds(100);
        while (true)
        {
            try
            {
                return await call();
            }
            catch (Exception e) when (transient(e) && !cancellation.IsCancellationRequested && Stopwatch.GetElapsedTime(started) < deadline)
            {
                await Task.Delay(delay, cancellation);
                delay = TimeSpan.FromMilliseconds(Math.Min(1000, delay.TotalMilliseconds * 2));
            }
        }
    }
}
