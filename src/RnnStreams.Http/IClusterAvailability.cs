namespace RnnStreams.Http;

/// <summary>
/// What the host knows about reaching its cluster. While <see cref="Unavailable"/> is set the API answers every
/// <c>/v1</c> request at once with 503 <c>Unavailable</c> (and <c>Retry-After</c>) instead of letting it wait on a cluster
/// it cannot reach. Optional: without one registered, requests always go to the grains.
/// </summary>
public interface IClusterAvailability
{
    /// <summary>Why requests are refused now, or null when the cluster can be reached.</summary>
    ClusterUnavailable? Unavailable { get; }

    /// <summary>
    /// Cancelled when the host finds itself cut off, so that requests already waiting on the cluster are answered 503 at
    /// once too (a new token once the cluster answers again).
    /// </summary>
    CancellationToken CutOff { get; }
}

/// <summary>Why the host refuses requests, and when a retry (through another silo) may succeed.</summary>
public sealed record ClusterUnavailable(string Detail, TimeSpan RetryAfter);
