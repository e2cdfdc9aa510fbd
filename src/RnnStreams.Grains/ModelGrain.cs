using Microsoft.Extensions.Logging;
using RnnStreams.Core;

namespace RnnStreams.Grains;

/// <inheritdoc cref="IModelGrain"/>
public sealed class ModelGrain(
    [PersistentState("model", RnnConstants.Storage)] IPersistentState<ModelState> state,
    ILogger<ModelGrain> logger) : Grain, IModelGrain
{
    private readonly Dictionary<int, RnnModel> _parsed = [];
    private long _reads;

    public async Task<ModelVersionInfo> Publish(string modelJson)
    {
        if (modelJson is null)
        {
            throw new RnnArgumentException(nameof(modelJson), "no model given");
        }

        var name = this.GetPrimaryKeyString();
        RnnModel model;
        try
        {
            model = ModelFile.Parse(modelJson, name).WithName(name);
        }
        catch (ModelValidationException e)
        {
            throw new InvalidModelException(e.Field, e.Detail);
        }

        var versions = state.State.Versions;
        var stored = new StoredModelVersion
        {
            // Never reuse a number, even of a deleted version: sequences and caches know versions by number.
            Version = Math.Max(state.State.LastVersion, versions.Count == 0 ? 0 : versions[^1].Version) + 1,
            PublishedAt = DateTimeOffset.UtcNow,
            Json = ModelFile.ToJson(model, indented: false),
            Description = model.ToString(),
        };
        versions.Add(stored);
        var previousLast = state.State.LastVersion;
        state.State.LastVersion = stored.Version;
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            versions.RemoveAt(versions.Count - 1);
            state.State.LastVersion = previousLast;
            throw;
        }

        _parsed[stored.Version] = model;
        if (stored.Version == 1)
        {
            await GrainFactory.GetGrain<IModelCatalogGrain>(0).Register(name);
        }

        logger.LogInformation("Published {Model} version {Version}: {Description}", name, stored.Version, stored.Description);
        return Info(stored);
    }

    public Task<ModelVersionInfo> PublishIfNone(string modelJson) =>
        state.State.Versions.Count == 0 ? Publish(modelJson) : Task.FromResult(Info(state.State.Versions[^1]));

    public Task<VersionedModel> Get(int? version = null)
    {
        var stored = Find(version);
        _reads++;
        if (!_parsed.TryGetValue(stored.Version, out var model))
        {
            model = ModelFile.Parse(stored.Json);
            _parsed[stored.Version] = model;
        }

        return Task.FromResult(new VersionedModel(stored.Version, model));
    }

    public Task<string> GetJson(int? version = null)
    {
        var stored = Find(version);
        _reads++;
        return Task.FromResult(stored.Json);
    }

    public Task<int> GetLatestVersion() => Task.FromResult(Find(null).Version);

    public Task<ModelVersionInfo[]> ListVersions() =>
        Task.FromResult(state.State.Versions.Select(Info).ToArray());

    public async Task DeleteVersion(int version)
    {
        var stored = Find(version);
        var name = this.GetPrimaryKeyString();
        var inUse = await GrainFactory.GetGrain<IModelUsageGrain>(name).TryRetire(version);
        if (inUse > 0)
        {
            throw new ModelVersionInUseException(name, version, inUse);
        }

        state.State.Versions.Remove(stored);
        await state.WriteStateAsync();
        _parsed.Remove(version);
        logger.LogInformation("Deleted {Model} version {Version}", name, version);
    }

    public Task<Dictionary<int, long>> GetUsage() => GrainFactory.GetGrain<IModelUsageGrain>(this.GetPrimaryKeyString()).GetUsage();

    public Task<long> GetReadCount() => Task.FromResult(_reads);

    private StoredModelVersion Find(int? version)
    {
        var versions = state.State.Versions;
        if (versions.Count == 0)
        {
            throw new UnknownModelException(this.GetPrimaryKeyString(), version);
        }

        if (version is null)
        {
            return versions[^1];
        }

        return versions.Find(v => v.Version == version) ?? throw new UnknownModelException(this.GetPrimaryKeyString(), version);
    }

    private ModelVersionInfo Info(StoredModelVersion stored) =>
        new(this.GetPrimaryKeyString(), stored.Version, stored.PublishedAt, stored.Description);
}
