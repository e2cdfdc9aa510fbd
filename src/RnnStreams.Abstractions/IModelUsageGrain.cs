namespace RnnStreams;

/// <summary>
/// How many sequences are pinned to each version of one model (key: the model name). Sequences acquire a version
/// before they store it and release it after they stop storing it, so after a crash a count can only be too high:
/// a version in use is never deleted.
/// </summary>
public interface IModelUsageGrain : IGrainWithStringKey
{
    /// <summary>Counts one more sequence on a version.</summary>
    /// <exception cref="UnknownModelException">The version was deleted.</exception>
    Task Acquire(int version);

    /// <summary>Counts one sequence fewer on a version.</summary>
    Task Release(int version);

    /// <summary>Marks a version deleted if no sequence uses it; returns the number of sequences using it (0 = retired).</summary>
    Task<long> TryRetire(int version);

    /// <summary>The count per version.</summary>
    Task<Dictionary<int, long>> GetUsage();
}
