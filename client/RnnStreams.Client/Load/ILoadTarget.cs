using RnnStreams.Core;

namespace RnnStreams.Client.Load;

/// <summary>
/// Where elements go: the sequence grains through an Orleans client, the silos' HTTP API, or an MQTT broker. All answer
/// with the same records and report refusals by the same kinds, so <c>load</c>, <c>stream</c>, <c>watch</c> and
/// <c>demo</c> are written once for every transport.
/// </summary>
internal interface ILoadTarget : IAsyncDisposable
{
    /// <summary>What the summary line says the load went through.</summary>
    string Description { get; }

    /// <summary>Whether the target can say where a sequence stands, start, reset or end it (MQTT alone cannot).</summary>
    bool HasControl => true;

    /// <summary>The model (latest version) and its version number.</summary>
    Task<(RnnModel Model, int Version)> GetModelAsync(string name);

    /// <summary>Starts a sequence on a model version; a sequence already started by an earlier attempt counts as started.</summary>
    Task StartAsync(string sequence, string model, int version);

    /// <summary>Starts a sequence as asked (a version, initial states); every refusal, <c>AlreadyStarted</c> too, is the caller's.</summary>
    Task StartAsync(string sequence, StartRequest request);

    /// <summary>Element <paramref name="n"/>, with its time when given (a forecaster's calendar reads it; <c>default</c>: none).</summary>
    Task<StepResult> StepAsync(string sequence, long n, double[] x, DateTime time = default);

    /// <summary>Elements <paramref name="firstN"/>… as one call (<c>StepMany</c>; HTTP: the batch endpoint), inputs flat k×D.</summary>
    Task<StepBatchResult> StepManyAsync(string sequence, long firstN, double[] inputs);

    Task<SequenceSnapshot> SnapshotAsync(string sequence);

    /// <summary>Back to the initial state; the next element is 1.</summary>
    Task ResetAsync(string sequence);

    Task EndAsync(string sequence);

    /// <summary>
    /// Hands the sequence's outputs and events to <paramref name="onOutput"/> in order, from now on, until disposed;
    /// <paramref name="onFailure"/> hears of a watch that cannot go on (the transport went away for good).
    /// </summary>
    Task<IAsyncDisposable> WatchAsync(string sequence, Func<SequenceOutput, Task> onOutput, Action<Exception> onFailure);

    /// <summary>A failure of the cluster or the transport (sending again is safe: element numbers make it idempotent).</summary>
    bool IsTransient(Exception e);

    /// <summary>A gap: the sequence came back from stored state behind the element sent.</summary>
    bool IsGap(Exception e);

    /// <summary>A short name for a failure, to count refusals by kind: the error kind, else the exception's type.</summary>
    string KindOf(Exception e) => e is RnnStreamsException r ? r.Kind.ToString() : e.GetType().Name;

    /// <summary>The error kind of a refusal on any transport (<c>NotStarted</c>, <c>Duplicate</c>, …), null for other failures.</summary>
    static string? ErrorKind(Exception e) => e switch
    {
        RnnStreamsException r => r.Kind.ToString(),
        RefusedException r => r.Kind,
        _ => null,
    };
}
