namespace RnnStreams;

/// <summary>The names of every published model (a single grain, key 0). Model grains register on their first publish.</summary>
public interface IModelCatalogGrain : IGrainWithIntegerKey
{
    /// <summary>Adds a model name (idempotent).</summary>
    Task Register(string model);

    /// <summary>Every registered model name, sorted.</summary>
    Task<string[]> List();
}
