namespace RnnStreams;

/// <summary>
/// What a silo reports to the <see cref="IFleetGrain"/> once a second. Counters are cumulative since the silo started,
/// so a lost report loses nothing: the fleet grain takes differences between reports.
/// </summary>
/// <param name="Silo">The silo's address (unique per incarnation).</param>
/// <param name="ActiveSequences">Sequence activations in the silo now.</param>
/// <param name="Elements">Elements applied since the silo started (duplicates not counted).</param>
/// <param name="Refusals">Refused requests since the silo started, indexed by <see cref="RnnErrorKind"/>.</param>
/// <param name="Latency">
/// Step and StepMany calls since the silo started, counted per latency bucket (see <c>LatencyBuckets</c> in the grains):
/// trailing empty buckets left out.
/// </param>
/// <param name="Top">The silo's sequences with the largest recent forecast error, largest first, each updated within the last 10 s.</param>
[GenerateSerializer, Immutable, Alias("rnn.SiloStats")]
public sealed record SiloStats(
    [property: Id(0)] string Silo,
    [property: Id(1)] long ActiveSequences,
    [property: Id(2)] long Elements,
    [property: Id(3)] long[] Refusals,
    [property: Id(4)] long[] Latency,
    [property: Id(5)] SequenceError[] Top);

/// <summary>A sequence's recent forecast error.</summary>
/// <param name="Sequence">The sequence id.</param>
/// <param name="Error">
/// The exponentially weighted mean of its forecast errors e_t = |x_t − y_(t−1)|, each new one weighted 1/4 (about its last
/// 7 elements). e_t compares the output of element t−1 with the input of element t: the mean of |x_t[i] − y_(t−1)[i]| over
/// the components when the model's output size equals its input size, |x_t[0] − y_(t−1)[0]| when it has one output; models
/// with any other shape (classifiers) have none. Element 1 (after a start or reset) has no e_t.
/// </param>
/// <param name="N">The last element compared.</param>
/// <param name="Silo">The silo that holds the sequence (set by the fleet grain; empty in a silo's own report).</param>
[GenerateSerializer, Immutable, Alias("rnn.SequenceError")]
public sealed record SequenceError(
    [property: Id(0)] string Sequence,
    [property: Id(1)] double Error,
    [property: Id(2)] long N,
    [property: Id(3)] string Silo = "");

/// <summary>The fleet now, as <c>GET /v1/fleet</c> returns it.</summary>
/// <param name="Silos">Silos heard from in the last 5 s.</param>
/// <param name="ActiveSequences">Sequence activations in those silos.</param>
/// <param name="ElementsPerSecond">Elements applied per second over the silos' last report interval (about 1 s).</param>
/// <param name="Elements">Elements applied since each of those silos started.</param>
/// <param name="P50Ms">Median time of a Step/StepMany call in its sequence grain over the window, in ms (a bucket's upper edge, at most 12.5 % high); null when no call ran.</param>
/// <param name="P99Ms">99th percentile of the same; null when no call ran.</param>
/// <param name="Errors">Refused requests per error kind over the window (kinds with none left out).</param>
/// <param name="ErrorsTotal">Refused requests per error kind since each of those silos started.</param>
/// <param name="Top">The sequences with the largest recent forecast error, largest first (at most 10).</param>
/// <param name="WindowSeconds">The span the window covers: up to the last 10 s of reports (shorter just after a start).</param>
/// <param name="UpdatedAt">When this summary was made (UTC).</param>
[GenerateSerializer, Immutable, Alias("rnn.FleetSummary")]
public sealed record FleetSummary(
    [property: Id(0)] int Silos,
    [property: Id(1)] long ActiveSequences,
    [property: Id(2)] double ElementsPerSecond,
    [property: Id(3)] long Elements,
    [property: Id(4)] double? P50Ms,
    [property: Id(5)] double? P99Ms,
    [property: Id(6)] Dictionary<string, long> Errors,
    [property: Id(7)] Dictionary<string, long> ErrorsTotal,
    [property: Id(8)] SequenceError[] Top,
    [property: Id(9)] double WindowSeconds,
    [property: Id(10)] DateTime UpdatedAt);
