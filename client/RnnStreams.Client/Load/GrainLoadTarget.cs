using RnnStreams.Core;

namespace RnnStreams.Client.Load;

/// <summary>The sequence grains, through an Orleans client connected to the cluster's gateways.</summary>
internal sealed class GrainLoadTarget(Connection connection) : ILoadTarget
{
    private readonly IClusterClient _client = connection.Client;

    public string Description => "the Orleans gateway";

    /// <summary>The Orleans client, for what a load target does not cover (publishing a model, the input stream).</summary>
    public IClusterClient Client => _client;

    public async Task<(RnnModel Model, int Version)> GetModelAsync(string name)
    {
        var versioned = await _client.GetGrain<IModelGrain>(name).Get();
        return (versioned.Model, versioned.Version);
    }

    public Task StartAsync(string sequence, string model, int version) =>
        _client.GetGrain<ISequenceGrain>(sequence).Start(new StartRequest(model, version));

    public Task StartAsync(string sequence, StartRequest request) => _client.GetGrain<ISequenceGrain>(sequence).Start(request);

    public Task<StepResult> StepAsync(string sequence, long n, double[] x, DateTime time = default) =>
        time == default ? _client.GetGrain<ISequenceGrain>(sequence).Step(n, x) : _client.GetGrain<ISequenceGrain>(sequence).StepAt(n, x, time);

    public Task<StepBatchResult> StepManyAsync(string sequence, long firstN, double[] inputs) => _client.GetGrain<ISequenceGrain>(sequence).StepMany(firstN, inputs);

    public Task<SequenceSnapshot> SnapshotAsync(string sequence) => _client.GetGrain<ISequenceGrain>(sequence).Snapshot();

    public Task ResetAsync(string sequence) => _client.GetGrain<ISequenceGrain>(sequence).Reset();

    public Task EndAsync(string sequence) => _client.GetGrain<ISequenceGrain>(sequence).End();

    public async Task<IAsyncDisposable> WatchAsync(string sequence, Func<SequenceOutput, Task> onOutput, Action<Exception> onFailure) =>
        await OutputWatch.StartAsync(_client, sequence, onOutput);

    public bool IsTransient(Exception e) => Resilience.IsTransient(e);

    public bool IsGap(Exception e) => e is ElementGapException;

    public ValueTask DisposeAsync() => connection.DisposeAsync();
}
