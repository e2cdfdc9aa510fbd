using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Storage;

namespace RnnStreams.Grains;

/// <summary>
/// The silo's view of whether sequence storage answers: a circuit breaker shared by every sequence of the silo. A read
/// or write that fails without an answer for <see cref="SlowFailure"/> or more (a timeout: Redis down, frozen or cut
/// off — StackExchange.Redis queues commands while it reconnects and fails them after its timeout) opens it; a quick
/// refusal (a full Redis, a version conflict) is an answer and leaves it closed. While it is open, storage calls fail at
/// once with <see cref="StorageUnavailableException"/> instead of each waiting out the storage client's timeout (5 s in
/// StackExchange.Redis), and the circuit itself reads a probe record every
/// <see cref="RnnStreamsOptions.StorageRetryInterval"/>: the first answer closes it. No request ever waits for a probe.
/// </summary>
public sealed partial class StorageCircuit(IServiceProvider services, IOptions<RnnStreamsOptions> options, ILogger<StorageCircuit> logger)
{
    /// <summary>
    /// A failure that took this long means storage did not answer: a Redis that refuses (out of memory, a version
    /// conflict) answers in milliseconds, under a loaded machine's scheduling delays in well under a second; one that
    /// is down fails at the client's timeout (5 s by default; keep <c>asyncTimeout</c> above this).
    /// </summary>
    public static readonly TimeSpan SlowFailure = TimeSpan.FromSeconds(2);

    private static readonly GrainId ProbeId = GrainId.Create("rnnstreams-storage", "probe");
    private readonly Lock _lock = new();
    private long _openedAt; // Stopwatch timestamp; 0 = closed
    private string _reason = string.Empty;

    /// <summary>Whether storage is known to be failing now.</summary>
    public bool IsOpen => Volatile.Read(ref _openedAt) != 0;

    /// <summary>How often an open circuit probes storage: a client's Retry-After.</summary>
    public TimeSpan RetryAfter => options.Value.StorageRetryInterval;

    /// <summary>
    /// Runs <paramref name="call"/> against storage unless storage is known to be failing; a version conflict is an answer
    /// from a working storage and leaves the circuit as it is.
    /// </summary>
    /// <exception cref="StorageUnavailableException">The circuit is open: the call was not made.</exception>
    public async Task RunAsync(Func<Task> call)
    {
        if (Volatile.Read(ref _openedAt) is var openedAt && openedAt != 0)
        {
            throw new StorageUnavailableException(Stopwatch.GetElapsedTime(openedAt), _reason);
        }

        var startedAt = Stopwatch.GetTimestamp();
        try
        {
            await call();
        }
        catch (Exception e) when (!IsConflict(e) && Stopwatch.GetElapsedTime(startedAt) >= SlowFailure)
        {
            Open(e);
            throw;
        }
    }

    /// <summary>Whether <paramref name="e"/> is storage's optimistic-concurrency refusal (another writer's ETag).</summary>
    public static bool IsConflict(Exception e) =>
        e is Orleans.Storage.InconsistentStateException || e.InnerException is Orleans.Storage.InconsistentStateException;

    private void Open(Exception e)
    {
        lock (_lock)
        {
            _reason = e.GetBaseException().Message;
            if (_openedAt != 0)
            {
                return;
            }

            _openedAt = Stopwatch.GetTimestamp();
        }

        LogOpened(logger, e, RetryAfter.TotalSeconds);
        _ = ProbeUntilAnsweredAsync();
    }

    private async Task ProbeUntilAnsweredAsync()
    {
        var storage = services.GetRequiredKeyedService<IGrainStorage>(RnnConstants.Storage);
        while (true)
        {
            await Task.Delay(RetryAfter);
            try
            {
                await storage.ReadStateAsync("probe", ProbeId, new GrainState<ProbeState>(new ProbeState()));
                break;
            }
            catch (Exception e)
            {
                lock (_lock)
                {
                    _reason = e.GetBaseException().Message;
                }
            }
        }

        var down = Stopwatch.GetElapsedTime(Volatile.Read(ref _openedAt));
        Volatile.Write(ref _openedAt, 0);
        LogClosed(logger, down.TotalSeconds);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sequence storage is not answering; what needs it is refused at once, and storage is probed every {RetrySeconds} s")]
    private static partial void LogOpened(ILogger logger, Exception exception, double retrySeconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sequence storage answers again after {Seconds:F1} s")]
    private static partial void LogClosed(ILogger logger, double seconds);
}

/// <summary>What the circuit reads to probe storage: nothing is ever written there.</summary>
[GenerateSerializer, Alias("rnn.ProbeState")]
public sealed class ProbeState
{
}

/// <summary>Storage is known to be failing (the silo's <see cref="StorageCircuit"/> is open): the call was not tried.</summary>
public sealed class StorageUnavailableException(TimeSpan down, string reason)
    : Exception($"storage unavailable for {down.TotalSeconds:F1} s ({reason})")
{
    /// <summary>How long storage has been failing.</summary>
    public TimeSpan Down { get; } = down;
}
