namespace RnnStreams.Grains;

/// <inheritdoc cref="IModelCatalogGrain"/>
public sealed class ModelCatalogGrain(
    [PersistentState("catalog", RnnConstants.Storage)] IPersistentState<ModelCatalogState> state) : Grain, IModelCatalogGrain
{
    public async Task Register(string model)
    {
        if (state.State.Models.Add(model))
        {
            await state.WriteStateAsync();
        }
    }

    public Task<string[]> List() => Task.FromResult(state.State.Models.Order(StringComparer.Ordinal).ToArray());
}

/// <summary>The stored model names.</summary>
[GenerateSerializer, Alias("rnn.ModelCatalogState")]
public sealed class ModelCatalogState
{
    [Id(0)]
    public HashSet<string> Models { get; set; } = new(StringComparer.Ordinal);
}
