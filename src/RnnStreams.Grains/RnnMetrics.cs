using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace RnnStreams.Grains;

/// <summary>
/// The silo's meter, <c>RnnStreams</c>: steps, refusals by kind, step latency, active sequences, batch sizes,
/// checkpoint writes and their latency (in seconds, OpenTelemetry's unit for durations), model cache hits and loads.
/// Exported by the silo host (<c>AddRnnStreamsTelemetry</c>) for Prometheus at <c>/metrics</c> and over OTLP when an
/// endpoint is set; readable with <c>dotnet-counters monitor -n RnnStreams.Silo --counters RnnStreams</c>.
/// </summary>
public static class RnnMetrics
{
    /// <summary>The meter's name.</summary>
    public const string MeterName = "RnnStreams";

    /// <summary>The anomaly counter's name.</summary>
    public const string AnomaliesName = "rnn.anomalies";

    /// <summary>The tag that carries the sequence id of an anomaly (an exemplar's, never a label).</summary>
    public const string SequenceTag = "sequence";

    /// <summary>
    /// The activity source each anomaly is counted in: a host that samples it (the silo's telemetry does, and nothing
    /// else) gets the count's exemplar from OpenTelemetry's trace-based exemplar filter — the sequence id as its filtered
    /// attribute, linked to the step's trace when one is recorded.
    /// </summary>
    public const string AnomalySourceName = "RnnStreams.Anomalies";

    private static readonly ActivitySource AnomalySource = new(AnomalySourceName);

    private static readonly Meter Meter = new(MeterName, "1.0");
    private static long s_activeSequences;

    private static readonly Counter<long> Steps = Meter.CreateCounter<long>("rnn.steps", "{element}", "Elements applied");
    private static readonly Counter<long> Errors = Meter.CreateCounter<long>("rnn.errors", "{request}", "Requests refused, by error kind");
    /// <summary>
    /// Step and write times run from microseconds to seconds: bucket boundaries in seconds (OpenTelemetry's unit for
    /// durations), from 10 µs to 2.5 s.
    /// </summary>
    private static readonly InstrumentAdvice<double> Seconds = new()
    {
        HistogramBucketBoundaries =
        [
            0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
            0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
        ],
    };

    private static readonly Histogram<double> StepDuration = Meter.CreateHistogram("rnn.step.duration", "s", "Time a Step or StepMany call spends in its sequence grain", advice: Seconds);
    private static readonly Histogram<long> BatchSize = Meter.CreateHistogram<long>("rnn.batch.size", "{element}", "Elements per StepMany call");
    private static readonly Histogram<long> RoundSize = Meter.CreateHistogram("rnn.batcher.round_size", "{sequence}", "Sequences stepped together in one round of the step batcher",
        advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = [.. StepBatcher.SizeBuckets] });
    private static readonly Counter<long> CheckpointWrites = Meter.CreateCounter<long>("rnn.checkpoint.writes", "{write}", "Sequence state writes to grain storage, by outcome");
    private static readonly Histogram<double> CheckpointDuration = Meter.CreateHistogram("rnn.checkpoint.duration", "s", "Time of a sequence state write", advice: Seconds);
    private static readonly Counter<long> Unwritten = Meter.CreateCounter<long>("rnn.unwritten_on_deactivation", "{element}", "Acknowledged elements a sequence could not write before it deactivated (storage failing): lost");
    private static readonly Counter<long> ModelCacheHits = Meter.CreateCounter<long>("rnn.model_cache.hits", "{lookup}", "Model lookups answered from the silo's cache");
    /// <summary>
    /// Elements outside their forecast's interval at the anomaly level. Recorded with the sequence id as the tag
    /// <see cref="SequenceTag"/>, which the silo's telemetry keeps out of the metric's labels (one series, whatever the
    /// fleet's size) and in its exemplars.
    /// </summary>
    private static readonly Counter<long> Anomalies = Meter.CreateCounter<long>(AnomaliesName, "{element}", "Elements that fell outside the interval at RnnStreams:AnomalyLevel of the forecast made for them");

    private static readonly Counter<long> ModelCacheLoads = Meter.CreateCounter<long>("rnn.model_cache.loads", "{load}", "Model versions fetched from their model grain");

    static RnnMetrics() =>
        Meter.CreateObservableUpDownCounter("rnn.sequences.active", () => Interlocked.Read(ref s_activeSequences), "{sequence}", "Sequence activations in this silo");

    /// <summary>Sequence activations in this silo now.</summary>
    public static long ActiveSequences => Interlocked.Read(ref s_activeSequences);

    internal static void Activated() => Interlocked.Increment(ref s_activeSequences);

    internal static void Deactivated() => Interlocked.Decrement(ref s_activeSequences);

    internal static void Applied(long count, long startedAt, bool batch)
    {
        Steps.Add(count);
        StepDuration.Record(Stopwatch.GetElapsedTime(startedAt).TotalSeconds);
        if (batch)
        {
            BatchSize.Record(count);
        }
    }

    internal static void Round(int sequences) => RoundSize.Record(sequences);

    internal static void Refused(RnnErrorKind kind) => Errors.Add(1, new KeyValuePair<string, object?>("kind", kind.ToString()));

    internal static void Checkpoint(long startedAt, bool ok)
    {
        CheckpointWrites.Add(1, new KeyValuePair<string, object?>("outcome", ok ? "ok" : "failed"));
        CheckpointDuration.Record(Stopwatch.GetElapsedTime(startedAt).TotalSeconds);
    }

    internal static void LostOnDeactivation(long elements) => Unwritten.Add(elements);

    internal static void Anomaly(string sequence)
    {
        using var activity = AnomalySource.StartActivity("rnn.anomaly");
        activity?.SetTag("rnn.sequence", sequence);
        Anomalies.Add(1, new KeyValuePair<string, object?>(SequenceTag, sequence));
    }

    internal static void CacheHit() => ModelCacheHits.Add(1);

    internal static void CacheLoad() => ModelCacheLoads.Add(1);
}
