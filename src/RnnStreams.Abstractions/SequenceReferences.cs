using System.Collections.Concurrent;

namespace RnnStreams;

/// <summary>
/// Grain references of recently addressed sequences, for ingress paths that address a sequence per element (HTTP, MQTT).
/// <c>GetGrain</c> builds a new proxy every time, and building one resolves the argument copiers of each method through
/// the service provider: measurable on a path that does nothing else per element. A reference is immutable and valid for
/// the grain's whole life, so it can be kept; the table is emptied whenever it reaches <paramref name="capacity"/>
/// entries, which bounds it for fleets of any size.
/// </summary>
public sealed class SequenceReferences(IGrainFactory grains, int capacity = 65_536)
{
    private readonly ConcurrentDictionary<string, ISequenceGrain> _references = new(StringComparer.Ordinal);

    /// <summary>The reference of sequence <paramref name="id"/>.</summary>
    public ISequenceGrain Get(string id)
    {
        if (_references.TryGetValue(id, out var reference))
        {
            return reference;
        }

        if (_references.Count >= capacity)
        {
            _references.Clear();
        }

        return _references.GetOrAdd(id, grains.GetGrain<ISequenceGrain>(id));
    }
}
