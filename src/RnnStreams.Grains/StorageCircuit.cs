using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace RnnStreams.Grains;

/// <summary>
/// The silo's view of whether sequence storage answers: a circuit breaker shared by every sequence of the silo. A read
/// or write that fails without an answer for <see cref="SlowFailure"/> or more (a timeout: Redis down, frozen or cut
/// off — StackExchange.Redis queues commands while it reconnects) opens it; a quick refusal (a full Redis, a version
/// conflict) is an answer and leaves it closed. While it is open, storage calls fail at once with <see cref="StorageUnavailableException"/> instead of each waiting
/// out the storage client's timeout (5 s in StackExchange.Redis), and once every
/// <see cref="RnnStreamsOptions.StorageRetryInterval"/> one call is let through to probe: its success closes the circuit.
/// </summary>
public sealed partial class StorageCircuit(IOptions<RnnStreamsOptions> options, ILogger<StorageCircuit> logger)
{
    /// <summary>A failure that took this long means storage did not answer (a healthy Redis answers in milliseconds).</summary>
    public static readonly TimeSpan SlowFailure = TimeSpan.FromMilliseconds(250);

    private readonly long _retryTicks = (long)(options.Value.StorageRetryInterval.TotalSeconds * Stopwatch.Frequency);
    private readonly Lock _lock = new();
    private long _openedAt; // Stopwatch timestamp; 0 = closed
    private long _nextProbeAt;
    private bool _probing;
    private string _reason = string.Empty;

    /// <summary>Whether storage is known to be failing now.</summary>
    public bool IsOpen => Volatile.Read(ref _openedAt) != 0;

    /// <summary>How long until the next probe is let through (zero when closed): a client's Retry-After.</summary>
    public TimeSpan RetryAfter => options.Value.StorageRetryInterval;

    /// <summary>
    /// Runs <paramref name="call"/> against storage unless storage is known to be failing; a version conflict is an answer
    /// from a working storage and leaves the circuit as it is.
    /// </summary>
    /// <exception cref="StorageUnavailableException">The circuit is open and it is not yet time to probe.</exception>
    public async Task RunAsync(Func<Task> call)
    {
        var probe = Enter();
        var startedAt = Stopwatch.GetTimestamp();
        try
        {
            await call();
        }
        catch (Exception e) when (!IsConflict(e) && (probe || Stopwatch.GetElapsedTime(startedAt) >= SlowFailure))
        {
            Failed(e, probe);
            throw;
        }
        catch
        {
            Left(probe);
            throw;
        }

        Succeeded(probe);
    }

    /// <summary>Whether <paramref name="e"/> is storage's optimistic-concurrency refusal (another writer's ETag).</summary>
    public static bool IsConflict(Exception e) =>
        e is Orleans.Storage.InconsistentStateException || e.InnerException is Orleans.Storage.InconsistentStateException;

    private bool Enter()
    {
        if (Volatile.Read(ref _openedAt) == 0)
        {
            return false;
        }

        lock (_lock)
        {
            if (_openedAt == 0)
            {
                return false;
            }

            var now = Stopwatch.GetTimestamp();
            if (!_probing && now >= _nextProbeAt)
            {
                _probing = true;
                return true;
            }

            throw new StorageUnavailableException(Stopwatch.GetElapsedTime(_openedAt), _reason);
        }
    }

    private void Succeeded(bool probe)
    {
        if (Volatile.Read(ref _openedAt) == 0)
        {
            return;
        }

        TimeSpan down;
        lock (_lock)
        {
            if (_openedAt == 0)
            {
                return;
            }

            down = Stopwatch.GetElapsedTime(_openedAt);
            _openedAt = 0;
            _probing = false;
        }

        LogClosed(logger, down.TotalSeconds, probe);
    }

    private void Failed(Exception e, bool probe)
    {
        var opened = false;
        lock (_lock)
        {
            var now = Stopwatch.GetTimestamp();
            if (_openedAt == 0)
            {
                _openedAt = now;
                opened = true;
            }

            _reason = e.GetBaseException().Message;
            _nextProbeAt = now + _retryTicks;
            if (probe)
            {
                _probing = false;
            }
        }

        if (opened)
        {
            LogOpened(logger, e, options.Value.StorageRetryInterval.TotalSeconds);
        }
    }

    private void Left(bool probe)
    {
        if (probe)
        {
            lock (_lock)
            {
                _probing = false;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sequence storage is failing; sequences refuse what needs a write at once, and one write every {RetrySeconds} s probes it")]
    private static partial void LogOpened(ILogger logger, Exception exception, double retrySeconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sequence storage answers again after {Seconds:F1} s (probe: {Probe})")]
    private static partial void LogClosed(ILogger logger, double seconds, bool probe);
}

/// <summary>Storage is known to be failing (the silo's <see cref="StorageCircuit"/> is open): the call was not tried.</summary>
public sealed class StorageUnavailableException(TimeSpan down, string reason)
    : Exception($"storage unavailable for {down.TotalSeconds:F1} s ({reason})")
{
    /// <summary>How long storage has been failing.</summary>
    public TimeSpan Down { get; } = down;
}
