using RnnStreams.Core;

namespace RnnStreams;

/// <summary>
/// The versions of one model (key: the model name). Each publish validates the model and stores a new immutable
/// version; versions are read-only afterwards. Sequences never call this grain per step: each silo keeps one cached
/// copy of each version it uses.
/// </summary>
public interface IModelGrain : IGrainWithStringKey
{
    /// <summary>Validates a model file's JSON and stores it as the next version. The file's name is replaced by this grain's key.</summary>
    /// <exception cref="InvalidModelException">The JSON is not a valid model (the message names the field).</exception>
    Task<ModelVersionInfo> Publish(string modelJson);

    /// <summary>
    /// Publishes the model as version 1 if the model has no version yet, else returns the latest version untouched;
    /// atomic, so silos starting together seed a model once.
    /// </summary>
    /// <exception cref="InvalidModelException">The JSON is not a valid model.</exception>
    Task<ModelVersionInfo> PublishIfNone(string modelJson);

    /// <summary>A version's weights, or the latest version's when <paramref name="version"/> is null.</summary>
    /// <exception cref="UnknownModelException">No such model or version.</exception>
    Task<VersionedModel> Get(int? version = null);

    /// <summary>A version as model-file JSON, or the latest when <paramref name="version"/> is null.</summary>
    /// <exception cref="UnknownModelException">No such model or version.</exception>
    Task<string> GetJson(int? version = null);

    /// <summary>The latest version number.</summary>
    /// <exception cref="UnknownModelException">The model was never published.</exception>
    Task<int> GetLatestVersion();

    /// <summary>Every stored version, oldest first (empty when the model was never published).</summary>
    Task<ModelVersionInfo[]> ListVersions();

    /// <summary>Deletes a version that no sequence uses.</summary>
    /// <exception cref="ModelVersionInUseException">Sequences are pinned to it.</exception>
    /// <exception cref="UnknownModelException">No such version.</exception>
    Task DeleteVersion(int version);

    /// <summary>How many sequences use each version (a count that may overstate, never understate, after crashes).</summary>
    Task<Dictionary<int, long>> GetUsage();

    /// <summary>How many times <see cref="Get"/> and <see cref="GetJson"/> were served since this activation started.</summary>
    Task<long> GetReadCount();
}

/// <summary>A model with its version number.</summary>
/// <param name="Version">The version.</param>
/// <param name="Model">The immutable weights.</param>
[GenerateSerializer, Immutable, Alias("rnn.VersionedModel")]
public sealed record VersionedModel(
    [property: Id(0)] int Version,
    [property: Id(1)] RnnModel Model);
