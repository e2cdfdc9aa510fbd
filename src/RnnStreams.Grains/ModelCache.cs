using System.Collections.Concurrent;
using RnnStreams.Core;

namespace RnnStreams.Grains;

/// <summary>
/// One immutable in-memory copy of each (model, version) for all the grains of a silo, fetched from its
/// <see cref="IModelGrain"/> on first use. Versions never change once published, so entries never go stale.
/// </summary>
public sealed class ModelCache(IGrainFactory grainFactory)
{
    // Lazy: ConcurrentDictionary may run a value factory more than once under contention; the fetch must run once.
    private readonly ConcurrentDictionary<(string Model, int Version), Lazy<Task<RnnModel>>> _models = new();
    private long _loads;

    /// <summary>How many times this silo fetched weights from a model grain.</summary>
    public long Loads => Interlocked.Read(ref _loads);

    /// <summary>How many (model, version) pairs are held.</summary>
    public int Count => _models.Count;

    /// <summary>The model at a version, or at its latest version when <paramref name="version"/> is null.</summary>
    /// <exception cref="UnknownModelException">No such model or version.</exception>
    public async Task<VersionedModel> GetAsync(string model, int? version)
    {
        var resolved = version ?? await grainFactory.GetGrain<IModelGrain>(model).GetLatestVersion();
        var key = (model, resolved);
        if (_models.TryGetValue(key, out var cached) && cached.IsValueCreated && cached.Value.IsCompletedSuccessfully)
        {
            RnnMetrics.CacheHit();
            return new VersionedModel(resolved, cached.Value.Result);
        }

        var entry = _models.GetOrAdd(key, k => new Lazy<Task<RnnModel>>(() => Load(k.Model, k.Version)));
        try
        {
            return new VersionedModel(resolved, await entry.Value);
        }
        catch
        {
            // A failed fetch (unknown version, silo shutting down) must not stick: the next caller tries again.
            _models.TryRemove(new KeyValuePair<(string, int), Lazy<Task<RnnModel>>>(key, entry));
            throw;
        }
    }

    /// <summary>The usage counter of a model's versions.</summary>
    public IModelUsageGrain Usage(string model) => grainFactory.GetGrain<IModelUsageGrain>(model);

    private async Task<RnnModel> Load(string name, int version)
    {
        Interlocked.Increment(ref _loads);
        RnnMetrics.CacheLoad();
        var fetched = await grainFactory.GetGrain<IModelGrain>(name).Get(version);
        return fetched.Model;
    }
}
