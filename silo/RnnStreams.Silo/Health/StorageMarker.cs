using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Storage;

namespace RnnStreams.Silo.Health;

/// <summary>
/// A record in the <c>rnn-state</c> grain storage that says "this storage holds the cluster's data": the first silo to
/// start on an empty storage writes it with a new random incarnation, every silo remembers the incarnation it found.
/// If storage later answers without it, or with another one (Redis restarted without persistence, flushed, or
/// replaced), the data the silo relies on is gone and <see cref="StorageHealthCheck"/> says so.
/// </summary>
internal sealed partial class StorageMarker(IServiceProvider services, ILogger<StorageMarker> logger) : IHostedService
{
    private const string StateName = "marker";
    private static readonly GrainId MarkerId = GrainId.Create("rnnstreams-storage", "marker");
    private Guid? _incarnation;

    private IGrainStorage Storage => services.GetRequiredKeyedService<IGrainStorage>(RnnConstants.Storage);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            await EstablishAsync();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogNotEstablished(logger, e.Message); // the readiness check tries again
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Null when storage holds the marker this silo found at start; otherwise what is wrong.</summary>
    public async Task<string?> CheckAsync()
    {
        if (_incarnation is null)
        {
            await EstablishAsync();
            return null;
        }

        var state = await ReadAsync();
        if (!state.RecordExists)
        {
            return $"storage has lost its data since this silo started: its marker (incarnation {_incarnation}) is gone. Restore the data (or accept the loss) and restart the silos";
        }

        return state.State!.Incarnation == _incarnation
            ? null
            : $"storage was replaced since this silo started (incarnation {state.State.Incarnation}, this silo started on {_incarnation}); restart the silo";
    }

    private async Task EstablishAsync()
    {
        for (var attempt = 0; ; attempt++)
        {
            var state = await ReadAsync();
            if (state.RecordExists)
            {
                _incarnation = state.State!.Incarnation;
                return;
            }

            state.State = new StorageMarkerState { Incarnation = Guid.NewGuid(), CreatedUtc = DateTime.UtcNow };
            try
            {
                await Storage.WriteStateAsync(StateName, MarkerId, state);
                _incarnation = state.State.Incarnation;
                LogCreated(logger, state.State.Incarnation);
                return;
            }
            catch (InconsistentStateException) when (attempt < 3)
            {
                // Another silo wrote it first: read theirs.
            }
        }
    }

    private async Task<GrainState<StorageMarkerState>> ReadAsync()
    {
        var state = new GrainState<StorageMarkerState>(new StorageMarkerState());
        await Storage.ReadStateAsync(StateName, MarkerId, state);
        return state;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Storage marker written (incarnation {Incarnation}): this storage was empty")]
    private static partial void LogCreated(ILogger logger, Guid incarnation);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Storage marker not read at start-up: {Reason}")]
    private static partial void LogNotEstablished(ILogger logger, string reason);
}

/// <summary>The stored marker: which incarnation of the cluster's storage this is.</summary>
[GenerateSerializer, Alias("RnnStreams.StorageMarker")]
public sealed class StorageMarkerState
{
    [Id(0)] public Guid Incarnation { get; set; }

    [Id(1)] public DateTime CreatedUtc { get; set; }
}
