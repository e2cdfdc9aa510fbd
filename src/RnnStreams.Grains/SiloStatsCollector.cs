namespace RnnStreams.Grains;

/// <summary>
/// The silo's live counters for the fleet summary, fed by its sequences on every applied element, refusal and
/// (de)activation: elements applied, step latency in a fixed histogram (<see cref="LatencyBuckets"/>), refusals per
/// <see cref="RnnErrorKind"/>, and the <see cref="TopCount"/> sequences with the largest recent forecast error
/// (<see cref="ForecastError"/>). Counters are <see cref="Interlocked"/> on preallocated arrays and the top list is a
/// fixed array under a lock held for a few comparisons, taken only by a sequence that is listed or whose error would
/// enter the list: feeding it allocates nothing. <see cref="Snapshot"/> (once a
/// second, by the <see cref="FleetReporter"/>) copies them.
/// </summary>
public sealed class SiloStatsCollector(TimeProvider time)
{
    /// <summary>How many sequences the top list holds.</summary>
    public const int TopCount = 10;

    /// <summary>A sequence in the top list that applied nothing for this long leaves it.</summary>
    public static readonly TimeSpan Recent = TimeSpan.FromSeconds(10);

    private static readonly int KindCount = Enum.GetValues<RnnErrorKind>().Max(k => (int)k) + 1;

    private readonly long[] _latency = new long[LatencyBuckets.Count];
    private readonly long[] _refusals = new long[KindCount];
    private readonly TopEntry[] _top = new TopEntry[TopCount];
    private readonly Lock _topLock = new();
    private long _elements;
    private long _active;
    private double _admitAbove; // the smallest error in a full, fresh top list (see Forecast)
    private long _admitUntil; // when its oldest entry goes stale; 0 while the list has room

    /// <summary>A sequence activated.</summary>
    public void Activated() => Interlocked.Increment(ref _active);

    /// <summary>A sequence deactivated.</summary>
    public void Deactivated() => Interlocked.Decrement(ref _active);

    /// <summary>A Step or StepMany call applied <paramref name="elements"/> new elements in <paramref name="duration"/>.</summary>
    public void Applied(long elements, TimeSpan duration)
    {
        Interlocked.Add(ref _elements, elements);
        Interlocked.Increment(ref _latency[LatencyBuckets.Index(duration)]);
    }

    /// <summary>A request was refused with <paramref name="kind"/>.</summary>
    public void Refused(RnnErrorKind kind)
    {
        var index = (int)kind;
        if ((uint)index < (uint)_refusals.Length)
        {
            Interlocked.Increment(ref _refusals[index]);
        }
    }

    /// <summary>
    /// A sequence's recent forecast error after element <paramref name="n"/>: it enters the top list when the list has
    /// room (a free or stale place) or when its error is larger than the smallest there; its own entry is updated.
    /// Returns whether the sequence is in the list now; a caller passes that back as <paramref name="listed"/> (true
    /// when it does not know), so that a sequence outside a full list whose error would not enter it takes no lock.
    /// </summary>
    /// <remarks>
    /// The lock-free check reads the smallest listed error and the moment the oldest entry goes stale, both set under
    /// the lock; a sequence that races a change of the list may enter it one element later.
    /// </remarks>
    public bool Forecast(GrainId sequence, double error, long n, bool listed = true)
    {
        if (!double.IsFinite(error))
        {
            return listed;
        }

        var now = time.GetTimestamp();
        if (!listed && now < Volatile.Read(ref _admitUntil) && error <= Volatile.Read(ref _admitAbove))
        {
            return false;
        }

        var recentTicks = (long)(Recent.TotalSeconds * time.TimestampFrequency);
        var staleBefore = now - recentTicks;
        lock (_topLock)
        {
            int own = -1, free = -1, weakest = -1;
            for (var i = 0; i < _top.Length; i++)
            {
                ref var entry = ref _top[i];
                if (entry.Used && entry.Sequence.Equals(sequence))
                {
                    own = i;
                    break;
                }

                if (!entry.Used || entry.At < staleBefore)
                {
                    free = free < 0 ? i : free;
                }
                else if (weakest < 0 || entry.Error < _top[weakest].Error)
                {
                    weakest = i;
                }
            }

            var place = own >= 0 ? own : free >= 0 ? free : error > _top[weakest].Error ? weakest : -1;
            if (place >= 0)
            {
                _top[place] = new TopEntry(sequence, error, n, now);
            }

            // What the lock-free check reads: with a free or stale place every error enters (never skip); else the
            // smallest listed error, until the oldest entry goes stale.
            double smallest = double.PositiveInfinity;
            var oldest = long.MaxValue;
            foreach (var entry in _top)
            {
                if (!entry.Used || entry.At < staleBefore)
                {
                    oldest = long.MinValue;
                    break;
                }

                smallest = Math.Min(smallest, entry.Error);
                oldest = Math.Min(oldest, entry.At);
            }

            Volatile.Write(ref _admitAbove, smallest);
            Volatile.Write(ref _admitUntil, oldest == long.MinValue ? 0 : oldest + recentTicks);
            return place >= 0;
        }
    }

    /// <summary>The counters now, as the silo <paramref name="silo"/> reports them to the fleet grain.</summary>
    public SiloStats Snapshot(string silo)
    {
        var latency = new long[LatencyBuckets.Count];
        var used = 0;
        for (var i = 0; i < latency.Length; i++)
        {
            latency[i] = Interlocked.Read(ref _latency[i]);
            used = latency[i] > 0 ? i + 1 : used;
        }

        var refusals = new long[_refusals.Length];
        for (var i = 0; i < refusals.Length; i++)
        {
            refusals[i] = Interlocked.Read(ref _refusals[i]);
        }

        var now = time.GetTimestamp();
        var staleBefore = now - (long)(Recent.TotalSeconds * time.TimestampFrequency);
        var top = new List<SequenceError>(TopCount);
        lock (_topLock)
        {
            foreach (var entry in _top)
            {
                if (entry.Used && entry.At >= staleBefore)
                {
                    top.Add(new SequenceError(entry.Sequence.Key.ToString(), entry.Error, entry.N));
                }
            }
        }

        top.Sort(static (a, b) => b.Error.CompareTo(a.Error));
        return new SiloStats(silo, Interlocked.Read(ref _active), Interlocked.Read(ref _elements), refusals, latency[..used], [.. top]);
    }

    private readonly record struct TopEntry(GrainId Sequence, double Error, long N, long At)
    {
        public bool Used => !Sequence.IsDefault;
    }
}
