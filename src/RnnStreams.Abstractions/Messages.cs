namespace RnnStreams;

/// <summary>How a sequence starts.</summary>
/// <param name="Model">The model name.</param>
/// <param name="Version">A model version, or null for the latest.</param>
/// <param name="InitialState">h_0 of every layer (one row per layer, H numbers each), or null for zeros.</param>
/// <param name="InitialCell">An LSTM's c_0 of every layer (one row per layer), or null for zeros; refused for other cells.</param>
[GenerateSerializer, Immutable, Alias("rnn.StartRequest")]
public sealed record StartRequest(
    [property: Id(0)] string Model,
    [property: Id(1)] int? Version = null,
    [property: Id(2)] double[][]? InitialState = null,
    [property: Id(3)] double[][]? InitialCell = null);

/// <summary>The central interval of a forecast: the next value lies between Lower and Upper with probability Level.</summary>
/// <param name="Level">0.8 for an 80 % interval.</param>
/// <param name="Lower">Its lower end, in the series' units.</param>
/// <param name="Upper">Its upper end.</param>
[GenerateSerializer, Immutable, Alias("rnn.ForecastInterval")]
public sealed record ForecastInterval(
    [property: Id(0)] double Level,
    [property: Id(1)] double Lower,
    [property: Id(2)] double Upper);

/// <summary>The answer to one element.</summary>
/// <param name="N">The element number.</param>
/// <param name="Y">y_t.</param>
/// <param name="ModelVersion">The model version that computed it.</param>
/// <param name="Duplicate">True when n had already been applied and this is its stored answer.</param>
/// <param name="DurableN">The last element whose state is in storage when this answer was sent: a producer may forget
/// every element up to it, since the sequence can never come back from further behind.</param>
/// <param name="Interval">A forecaster with intervals: y_t's interval at the silo's <c>RnnStreams:IntervalLevel</c>; null
/// for other models, while it warms up, and in a duplicate's stored answer.</param>
/// <param name="Anomaly">True when the element fell outside the interval at <c>RnnStreams:AnomalyLevel</c> of the forecast
/// made for it (an <see cref="OutputKind.Anomaly"/> event was published).</param>
[GenerateSerializer, Immutable, Alias("rnn.StepResult")]
public sealed record StepResult(
    [property: Id(0)] long N,
    [property: Id(1)] double[] Y,
    [property: Id(2)] int ModelVersion,
    [property: Id(3)] bool Duplicate = false,
    [property: Id(4)] long DurableN = 0,
    [property: Id(5)] ForecastInterval? Interval = null,
    [property: Id(6)] bool Anomaly = false);

/// <summary>The answer to a batch of consecutive elements <c>FirstN … FirstN+Count-1</c>.</summary>
/// <param name="FirstN">The number of the first element.</param>
/// <param name="Count">How many elements.</param>
/// <param name="OutputSize">O: each output is O numbers.</param>
/// <param name="Outputs">Count×O numbers, element by element.</param>
/// <param name="ModelVersion">The model version that computed them.</param>
/// <param name="Duplicates">How many leading elements had already been applied and were answered from stored results.</param>
/// <param name="DurableN">The last element whose state is in storage when this answer was sent.</param>
[GenerateSerializer, Immutable, Alias("rnn.StepBatchResult")]
public sealed record StepBatchResult(
    [property: Id(0)] long FirstN,
    [property: Id(1)] int Count,
    [property: Id(2)] int OutputSize,
    [property: Id(3)] double[] Outputs,
    [property: Id(4)] int ModelVersion,
    [property: Id(5)] int Duplicates = 0,
    [property: Id(6)] long DurableN = 0)
{
    /// <summary>A forecaster with intervals: each element's interval (Count each; NaN while warming up and for duplicates); else null.</summary>
    [Id(7)]
    public double[]? Lower { get; init; }

    /// <summary>The upper ends of <see cref="Lower"/>'s intervals.</summary>
    [Id(8)]
    public double[]? Upper { get; init; }

    /// <summary>The level of the intervals (0.8 for 80 %); 0 without them.</summary>
    [Id(9)]
    public double IntervalLevel { get; init; }

    /// <summary>The numbers of the elements that fell outside their forecast's interval at the anomaly level (events were published); null when none.</summary>
    [Id(10)]
    public long[]? Anomalies { get; init; }

    /// <summary>y of element <c>FirstN + i</c>.</summary>
    public ReadOnlySpan<double> Output(int i) => Outputs.AsSpan(i * OutputSize, OutputSize);
}

/// <summary>Where a sequence stands.</summary>
/// <param name="Sequence">The sequence id.</param>
/// <param name="Model">Its model.</param>
/// <param name="ModelVersion">The version it is pinned to.</param>
/// <param name="Hidden">h_t of every layer (one row per layer).</param>
/// <param name="LastN">The number of the last applied element (0 before the first).</param>
/// <param name="LastDurableN">The number of the last element whose state is in storage.</param>
/// <param name="UpdatedAt">When the last element was applied.</param>
/// <param name="Durability">The durability policy in force, e.g. <c>EveryStep</c> or <c>Checkpoint(100, 1000)</c>.</param>
/// <param name="Cell">An LSTM's c_t of every layer (one row per layer); null for the other cells.</param>
[GenerateSerializer, Immutable, Alias("rnn.SequenceSnapshot")]
public sealed record SequenceSnapshot(
    [property: Id(0)] string Sequence,
    [property: Id(1)] string Model,
    [property: Id(2)] int ModelVersion,
    [property: Id(3)] double[][] Hidden,
    [property: Id(4)] long LastN,
    [property: Id(5)] long LastDurableN,
    [property: Id(6)] DateTimeOffset UpdatedAt,
    [property: Id(7)] string Durability = "",
    [property: Id(8)] double[][]? Cell = null);

/// <summary>What an output event says.</summary>
[GenerateSerializer, Alias("rnn.OutputKind")]
public enum OutputKind
{
    /// <summary>y_t of element N.</summary>
    Step = 0,

    /// <summary>The sequence went back to its initial state; the next element is 1.</summary>
    Reset = 1,

    /// <summary>The sequence ended (<see cref="SequenceOutput.Reason"/> says why); no more events follow.</summary>
    Ended = 2,

    /// <summary>An element sent on the input stream was refused; <see cref="SequenceOutput.Reason"/> says why, state is unchanged.</summary>
    Error = 3,

    /// <summary>The sequence moved to model version <see cref="SequenceOutput.ModelVersion"/>, keeping its state.</summary>
    Upgraded = 4,

    /// <summary>
    /// Element N (<see cref="SequenceOutput.X"/>) fell outside <see cref="SequenceOutput.Interval"/>, the interval at the
    /// silo's <c>RnnStreams:AnomalyLevel</c> of the forecast made for it (<see cref="SequenceOutput.Y"/>);
    /// <see cref="SequenceOutput.Surprise"/> says by how many standard deviations. It follows the element's Step event.
    /// </summary>
    Anomaly = 5,
}

/// <summary>One event on <c>rnn-out/{sequence}</c>.</summary>
/// <param name="Sequence">The sequence id.</param>
/// <param name="N">The element number (for Step and Error), or the last applied n (Reset, Ended).</param>
/// <param name="Y">y_t for Step, else empty.</param>
/// <param name="ModelVersion">The model version.</param>
/// <param name="Kind">What happened.</param>
/// <param name="Reason">For Ended and Error: why.</param>
/// <param name="SentAt">For Step: when the grain produced it (UTC ticks), to measure latency.</param>
/// <param name="X">For Step: the x_t that produced y_t (so a watcher sees inputs and outputs side by side); for Anomaly: the element.</param>
/// <param name="Interval">For Step of a forecaster with intervals: y_t's interval; for Anomaly: the interval the element fell outside.</param>
/// <param name="Surprise">For Anomaly: how many standard deviations (of the forecaster's target) the element lies from its forecast.</param>
[GenerateSerializer, Immutable, Alias("rnn.SequenceOutput")]
public sealed record SequenceOutput(
    [property: Id(0)] string Sequence,
    [property: Id(1)] long N,
    [property: Id(2)] double[] Y,
    [property: Id(3)] int ModelVersion,
    [property: Id(4)] OutputKind Kind = OutputKind.Step,
    [property: Id(5)] string? Reason = null,
    [property: Id(6)] long SentAt = 0,
    [property: Id(7)] double[]? X = null,
    [property: Id(8)] ForecastInterval? Interval = null,
    [property: Id(9)] double? Surprise = null);

/// <summary>One element sent on <c>rnn-in/{sequence}</c>.</summary>
/// <param name="N">The element number, from 1.</param>
/// <param name="X">x_t.</param>
[GenerateSerializer, Immutable, Alias("rnn.SequenceInput")]
public sealed record SequenceInput(
    [property: Id(0)] long N,
    [property: Id(1)] double[] X);

/// <summary>One stored version of a model.</summary>
/// <param name="Model">The model name.</param>
/// <param name="Version">1, 2, …</param>
/// <param name="PublishedAt">When it was published.</param>
/// <param name="Description">A one-line summary (cell, sizes, head).</param>
[GenerateSerializer, Immutable, Alias("rnn.ModelVersionInfo")]
public sealed record ModelVersionInfo(
    [property: Id(0)] string Model,
    [property: Id(1)] int Version,
    [property: Id(2)] DateTimeOffset PublishedAt,
    [property: Id(3)] string Description);

/// <summary>
/// The outputs a sequence still keeps after a given element (<see cref="ISequenceGrain.Recent"/>): what a subscriber that
/// reconnects can be given again.
/// </summary>
/// <param name="FirstN">The first element returned (when <paramref name="Count"/> is 0: the one after the last applied).</param>
/// <param name="Count">How many outputs follow, one per element from <paramref name="FirstN"/>.</param>
/// <param name="OutputSize">O.</param>
/// <param name="Outputs">Count × O numbers.</param>
/// <param name="ModelVersion">The version the sequence is pinned to now.</param>
/// <param name="LastN">The last element applied.</param>
/// <param name="OldestKept">The oldest element whose output is still kept (LastN + 1 when none is).</param>
[GenerateSerializer, Immutable, Alias("rnn.RecentOutputs")]
public sealed record RecentOutputs(
    [property: Id(0)] long FirstN,
    [property: Id(1)] int Count,
    [property: Id(2)] int OutputSize,
    [property: Id(3)] double[] Outputs,
    [property: Id(4)] int ModelVersion,
    [property: Id(5)] long LastN,
    [property: Id(6)] long OldestKept);

/// <summary>
/// A sequence's recent history for charting (<see cref="ISequenceGrain.History"/>): x_t[0] and y_t[0] of its last
/// elements (<c>RnnStreams:KeepHistory</c>, 128), kept in memory by its activation only: after a reactivation (idle, silo
/// restart, a move to another silo) the history starts again at the next element.
/// </summary>
/// <param name="Sequence">The sequence id.</param>
/// <param name="Model">Its model.</param>
/// <param name="ModelVersion">The version it is pinned to now.</param>
/// <param name="FirstN">The element of <c>X[0]</c> and <c>Y[0]</c> (when <paramref name="X"/> is empty: the one after the last applied).</param>
/// <param name="X">x_t[0] of the elements FirstN, FirstN+1, …, LastN.</param>
/// <param name="Y">y_t[0] of the same elements: the model's output for each (for a forecaster, its forecast of x_(t+1)[0]).</param>
/// <param name="LastN">The last element applied.</param>
/// <param name="ForecastError">
/// The sequence's recent forecast error (see <see cref="SequenceError.Error"/>); null when its model is not a forecaster
/// of its input or no element has been compared yet.
/// </param>
[GenerateSerializer, Immutable, Alias("rnn.SequenceHistory")]
public sealed record SequenceHistory(
    [property: Id(0)] string Sequence,
    [property: Id(1)] string Model,
    [property: Id(2)] int ModelVersion,
    [property: Id(3)] long FirstN,
    [property: Id(4)] double[] X,
    [property: Id(5)] double[] Y,
    [property: Id(6)] long LastN,
    [property: Id(7)] double? ForecastError)
{
    /// <summary>A forecaster with intervals: the lower end of each y's interval (NaN while it warmed up); null for other models.</summary>
    [Id(8)]
    public double[]? Lower { get; init; }

    /// <summary>The upper ends of <see cref="Lower"/>'s intervals.</summary>
    [Id(9)]
    public double[]? Upper { get; init; }
}

/// <summary>
/// A multi-step forecast from a sequence's live state (<see cref="ISequenceGrain.Forecast"/>): row i (from 0) of
/// <paramref name="Y"/> forecasts x_(AfterN+1+i).
/// </summary>
/// <param name="Sequence">The sequence id.</param>
/// <param name="ModelVersion">The model version it is pinned to.</param>
/// <param name="AfterN">The last applied element: the forecast starts at the next one.</param>
/// <param name="Steps">How many rows.</param>
/// <param name="OutputSize">Numbers per row (O).</param>
/// <param name="Y">Steps×O numbers, row after row.</param>
[GenerateSerializer, Immutable, Alias("rnn.SequenceForecast")]
public sealed record SequenceForecast(
    [property: Id(0)] string Sequence,
    [property: Id(1)] int ModelVersion,
    [property: Id(2)] long AfterN,
    [property: Id(3)] int Steps,
    [property: Id(4)] int OutputSize,
    [property: Id(5)] double[] Y)
{
    /// <summary>
    /// A forecaster with intervals: each row's interval (Steps each) at <see cref="IntervalLevel"/>, from
    /// <see cref="RnnConstants.ForecastPaths"/> sampled futures; null for other models and while the forecaster warms up.
    /// </summary>
    [Id(6)]
    public double[]? Lower { get; init; }

    /// <summary>The upper ends of <see cref="Lower"/>'s intervals.</summary>
    [Id(7)]
    public double[]? Upper { get; init; }

    /// <summary>The level of the intervals (the silo's <c>RnnStreams:IntervalLevel</c>); 0 without them.</summary>
    [Id(8)]
    public double IntervalLevel { get; init; }
}
