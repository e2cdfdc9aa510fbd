namespace RnnStreams.Grains;

/// <inheritdoc cref="IModelUsageGrain"/>
public sealed class ModelUsageGrain(
    [PersistentState("usage", RnnConstants.Storage)] IPersistentState<ModelUsageState> state) : Grain, IModelUsageGrain
{
    public async Task Acquire(int version)
    {
        if (state.State.Retired.Contains(version))
        {
            throw new UnknownModelException(this.GetPrimaryKeyString(), version);
        }

        state.State.InUse[version] = state.State.InUse.GetValueOrDefault(version) + 1;
        await WriteAsync();
    }

    public async Task Release(int version)
    {
        var count = state.State.InUse.GetValueOrDefault(version);
        if (count <= 1)
        {
            state.State.InUse.Remove(version);
        }
        else
        {
            state.State.InUse[version] = count - 1;
        }

        await WriteAsync();
    }

    public async Task<long> TryRetire(int version)
    {
        var count = state.State.InUse.GetValueOrDefault(version);
        if (count > 0)
        {
            return count;
        }

        state.State.Retired.Add(version);
        await WriteAsync();
        return 0;
    }

    /// <summary>
    /// A failed write leaves the counts in memory ahead of storage (over-counting: safe); a version conflict means storage
    /// changed under this activation (another one, or a store that lost its data), so it leaves and the next call reads
    /// what storage holds.
    /// </summary>
    private async Task WriteAsync()
    {
        try
        {
            await state.WriteStateAsync();
        }
        catch (Exception e) when (StorageCircuit.IsConflict(e))
        {
            DeactivateOnIdle();
            throw;
        }
    }

    public Task<Dictionary<int, long>> GetUsage() => Task.FromResult(new Dictionary<int, long>(state.State.InUse));
}

/// <summary>Sequences per version, and deleted versions.</summary>
[GenerateSerializer, Alias("rnn.ModelUsageState")]
public sealed class ModelUsageState
{
    [Id(0)]
    public Dictionary<int, long> InUse { get; set; } = [];

    [Id(1)]
    public HashSet<int> Retired { get; set; } = [];
}
