using RnnStreams.Core;

namespace RnnStreams.Client.Load;

/// <summary>
/// Where <c>load</c> sends its elements: the sequence grains through an Orleans client, or the silos' HTTP API. Both
/// answer with the same records, so the checks are written once.
/// </summary>
internal interface ILoadTarget : IAsyncDisposable
{
    /// <summary>What the summary line says the load went through.</summary>
    string Description { get; }

    /// <summary>The model (latest version) and its version number.</summary>
    Task<(RnnModel Model, int Version)> GetModelAsync(string name);

    /// <summary>Starts a sequence on a model version; a sequence already started by an earlier attempt counts as started.</summary>
    Task StartAsync(string sequence, string model, int version);

    Task<StepResult> StepAsync(string sequence, long n, double[] x);

    /// <summary>Elements <paramref name="firstN"/>… as one call (<c>StepMany</c>; HTTP: the batch endpoint), inputs flat k×D.</summary>
    Task<StepBatchResult> StepManyAsync(string sequence, long firstN, double[] inputs);

    Task<SequenceSnapshot> SnapshotAsync(string sequence);

    /// <summary>A failure of the cluster or the transport (sending again is safe: element numbers make it idempotent).</summary>
    bool IsTransient(Exception e);

    /// <summary>A gap: the sequence came back from stored state behind the element sent.</summary>
    bool IsGap(Exception e);

    /// <summary>A short name for a failure, to count refusals by kind: the error kind, else the exception's type.</summary>
    string KindOf(Exception e) => e is RnnStreamsException r ? r.Kind.ToString() : e.GetType().Name;
}
