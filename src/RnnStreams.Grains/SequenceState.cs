namespace RnnStreams.Grains;

/// <summary>The stored state of one sequence. Never renumber the ids.</summary>
[GenerateSerializer, Alias("rnn.SequenceState")]
public sealed class SequenceState
{
    /// <summary>The model name; null before the sequence starts.</summary>
    [Id(0)]
    public string? Model { get; set; }

    /// <summary>The pinned model version.</summary>
    [Id(1)]
    public int ModelVersion { get; set; }

    /// <summary>h_t of every layer, flat (layer 0 first), then c_t for an LSTM; empty for a float32 model (<see cref="Hidden32"/>).</summary>
    [Id(2)]
    public double[] Hidden { get; set; } = [];

    /// <summary>The same for a float32 model: its state in floats, as its kernel keeps it; null for a float64 model.</summary>
    [Id(10)]
    public float[]? Hidden32 { get; set; }

    /// <summary>State numbers <paramref name="start"/> … start + count − 1, as doubles (a float widens exactly).</summary>
    public double[] StateSlice(int start, int count)
    {
        if (Hidden32 is { } floats)
        {
            var values = new double[count];
            for (var i = 0; i < count; i++)
            {
                values[i] = floats[start + i];
            }

            return values;
        }

        return Hidden.AsSpan(start, count).ToArray();
    }

    /// <summary>The last applied element number (0 before the first).</summary>
    [Id(3)]
    public long LastN { get; set; }

    /// <summary>When the last element was applied.</summary>
    [Id(4)]
    public DateTimeOffset UpdatedAt { get; set; }

    /// <summary>h_0 given at start (flat), or null for zeros.</summary>
    [Id(5)]
    public double[]? InitialState { get; set; }

    /// <summary>A ring of the most recent outputs: element n's y is in slot (n-1) mod capacity.</summary>
    [Id(6)]
    public double[] RecentOutputs { get; set; } = [];

    /// <summary>The ring's capacity in elements.</summary>
    [Id(7)]
    public int RecentCapacity { get; set; }

    /// <summary>
    /// Set when storage lost this sequence's record while it ran (<see cref="LastN"/> is the last element it had then):
    /// it refuses everything with <see cref="StateLostException"/> until it is reset or ended.
    /// </summary>
    [Id(8)]
    public bool Lost { get; set; }

    /// <summary>
    /// Until when a subscriber's watch lease runs (UTC): stored with the state, so that an activation that follows a lost
    /// one (its silo died) goes on publishing to the watcher until its next renewal arrives.
    /// </summary>
    [Id(9)]
    public DateTime WatchedUntil { get; set; }

    /// <summary>A copy whose arrays the live state can go on changing in place (h_0 is never changed in place).</summary>
    public SequenceState Copy() => new()
    {
        Model = Model,
        ModelVersion = ModelVersion,
        Hidden = Hidden.ToArray(),
        Hidden32 = Hidden32?.ToArray(),
        LastN = LastN,
        UpdatedAt = UpdatedAt,
        InitialState = InitialState,
        RecentOutputs = RecentOutputs.ToArray(),
        RecentCapacity = RecentCapacity,
        Lost = Lost,
        WatchedUntil = WatchedUntil,
    };
}

/// <summary>The stored versions of one model.</summary>
[GenerateSerializer, Alias("rnn.ModelState")]
public sealed class ModelState
{
    /// <summary>Every version, oldest first.</summary>
    [Id(0)]
    public List<StoredModelVersion> Versions { get; set; } = [];

    /// <summary>The highest version number ever given (deleted versions' numbers are not reused).</summary>
    [Id(1)]
    public int LastVersion { get; set; }
}

/// <summary>One stored version: canonical model-file JSON (readable in any storage).</summary>
[GenerateSerializer, Alias("rnn.StoredModelVersion")]
public sealed class StoredModelVersion
{
    [Id(0)]
    public int Version { get; set; }

    [Id(1)]
    public DateTimeOffset PublishedAt { get; set; }

    [Id(2)]
    public string Json { get; set; } = string.Empty;

    [Id(3)]
    public string Description { get; set; } = string.Empty;
}
