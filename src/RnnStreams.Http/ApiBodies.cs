using System.Text.Json.Serialization;

namespace RnnStreams.Http;

/// <summary><c>POST /v1/sequences/{id}/start</c>.</summary>
public sealed record StartBody(string? Model, int? Version = null, double[][]? H0 = null, double[][]? C0 = null);

/// <summary><c>POST /v1/sequences/{id}/elements</c>: element n's x_t.</summary>
public sealed record ElementBody(long N, double[]? X, DateTimeOffset? Time = null);

/// <summary><c>POST /v1/sequences/{id}/batch</c>: elements firstN, firstN+1, … one row each.</summary>
public sealed record BatchBody(long FirstN, double[][]? Inputs, DateTimeOffset[]? Times = null);

/// <summary>
/// The answer to a batch: one row of outputs per element; for a forecaster with intervals each element's interval
/// (null while warming up and for duplicates) and the numbers of the elements flagged as anomalies.
/// </summary>
public sealed record BatchAnswer(
    long FirstN,
    int Count,
    double[][] Outputs,
    int ModelVersion,
    int Duplicates,
    long DurableN,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] ForecastInterval?[]? Intervals = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long[]? Anomalies = null)
{
    /// <summary>The HTTP form of a grain's batch result.</summary>
    public static BatchAnswer Of(StepBatchResult result, double[][] outputs) => new(
        result.FirstN, result.Count, outputs, result.ModelVersion, result.Duplicates, result.DurableN,
        result.Lower is { } lower && result.Upper is { } upper
            ? [.. lower.Select((l, i) => double.IsNaN(l) ? null : new ForecastInterval(result.IntervalLevel, l, upper[i]))]
            : null,
        result.Anomalies);
}

/// <summary>
/// <c>GET /v1/sequences/{id}/forecast?steps=k</c>: k rows of O numbers from the live state; row i (from 0) forecasts
/// x_(afterN+1+i).
/// </summary>
public sealed record ForecastAnswer(
    string Sequence,
    int ModelVersion,
    long AfterN,
    int Steps,
    double[][] Y,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] ForecastInterval[]? Intervals = null)
{
    /// <summary>The HTTP form of a grain's forecast: rows of O numbers, and a forecaster's interval per row.</summary>
    public static ForecastAnswer Of(SequenceForecast forecast, double[][] rows) => new(
        forecast.Sequence, forecast.ModelVersion, forecast.AfterN, forecast.Steps, rows,
        forecast.Lower is { } lower && forecast.Upper is { } upper
            ? [.. lower.Select((l, i) => new ForecastInterval(forecast.IntervalLevel, l, upper[i]))]
            : null);
}

/// <summary><c>POST /v1/elements</c>: elements of many sequences (a gateway forwarding its devices).</summary>
public sealed record FleetBody(FleetElement[]? Elements);

/// <summary>One element of a fleet request.</summary>
public sealed record FleetElement(string? Sequence, long N, double[]? X, DateTimeOffset? Time = null);

/// <summary>The answer to a fleet request: one result per element, in the request's order.</summary>
public sealed record FleetAnswer(FleetResult[] Results, int Applied, int Refused);

/// <summary>
/// One element's result: its output (as <c>POST /v1/sequences/{id}/elements</c> answers) or, when it was refused, the
/// problem body a single request would have had (<c>kind</c>, <c>status</c>, <c>detail</c> and the error's fields).
/// </summary>
public sealed record FleetResult(
    string Sequence,
    long N,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double[]? Y = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? ModelVersion = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] bool? Duplicate = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? DurableN = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyDictionary<string, object?>? Problem = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] ForecastInterval? Interval = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] bool? Anomaly = null);
