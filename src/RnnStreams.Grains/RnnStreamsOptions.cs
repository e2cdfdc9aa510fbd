namespace RnnStreams.Grains;

/// <summary>Which outputs a sequence publishes on its output stream.</summary>
public enum OutputPublishing
{
    /// <summary>Every output.</summary>
    Always,

    /// <summary>Outputs produced while a <c>Watch</c> lease is held.</summary>
    WhenWatched,

    /// <summary>None: outputs are in the answers of the calls only.</summary>
    Never,
}

/// <summary>Silo-wide settings of sequences (configuration section <c>RnnStreams</c>).</summary>
public sealed class RnnStreamsOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "RnnStreams";

    /// <summary>
    /// The model a sequence starts on when its first element arrives without a <c>Start</c>; null or empty refuses
    /// such elements with <see cref="SequenceNotStartedException"/>. Default: <c>demo</c>.
    /// </summary>
    public string? DefaultModel { get; set; } = RnnConstants.DemoModel;

    /// <summary>The silo's durability policy (see <see cref="DurabilityPolicy.Parse"/>). Default <c>Checkpoint(100, 1000)</c>.</summary>
    public string Durability { get; set; } = DurabilityPolicy.Default.ToString();

    /// <summary>Per-model overrides of <see cref="Durability"/>: model name → policy.</summary>
    public Dictionary<string, string> ModelDurability { get; set; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Which y_t are published on <c>rnn-out/{sequence}</c>: <see cref="OutputPublishing.WhenWatched"/> (default: only
    /// while a subscriber holds a <c>Watch</c> lease — <see cref="OutputWatch"/> takes and renews one — so sequences
    /// nobody watches pay no stream cost), <see cref="OutputPublishing.Always"/> (every output, for subscribers that
    /// cannot take a lease) or <see cref="OutputPublishing.Never"/> (answers only). Lifecycle events (reset, upgraded,
    /// ended, refused input) are always published.
    /// </summary>
    public OutputPublishing PublishOutputs { get; set; } = OutputPublishing.WhenWatched;

    /// <summary>How many recent outputs each sequence keeps to answer duplicates. Default 16.</summary>
    public int KeepOutputs { get; set; } = 16;

    /// <summary>
    /// How many elements' x_t[0] and y_t[0] each active sequence keeps in memory for charts (<c>History</c>, the live
    /// page): 16 bytes each, allocated at its first element. Not stored: a reactivated sequence starts again. 0 keeps
    /// none. Default 128.
    /// </summary>
    public int KeepHistory { get; set; } = 128;

    /// <summary>
    /// The level of the interval a forecaster with intervals gives with each output (0.8: 80 %, the default). Between 0 and 1.
    /// </summary>
    public double IntervalLevel { get; set; } = 0.8;

    /// <summary>
    /// An element outside the interval at this level of the forecast made for it is an anomaly: an <c>Anomaly</c> event goes
    /// to subscribers and the <c>rnn.anomalies</c> counter counts it. Default 0.99 (about 1 in 100 clean elements flagged
    /// when the intervals are calibrated). Between 0 and 1.
    /// </summary>
    public double AnomalyLevel { get; set; } = 0.99;

    /// <summary>An idle sequence is deactivated (its state written first) after this long without a call. Default 15 minutes.</summary>
    public TimeSpan IdleDeactivation { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>
    /// Off by default. When set, a sequence with no element for this long is ended as if <c>End</c> were called, with the
    /// reason <c>expired</c> on its output stream (checked by a reminder, so also for deactivated sequences).
    /// </summary>
    public TimeSpan? ExpireAfter { get; set; }

    /// <summary>
    /// How often an expiry reminder checks a sequence; default <see cref="ExpireAfter"/>, at least 1 minute (Orleans'
    /// reminder minimum), so a silent sequence ends between ExpireAfter and ExpireAfter + this period. Each check wakes
    /// a deactivated sequence, so keep it longer than <see cref="IdleDeactivation"/>.
    /// </summary>
    public TimeSpan? ExpiryCheckPeriod { get; set; }

    /// <summary>
    /// How often a silo whose sequence storage is failing lets one write through to see whether it answers again. Until
    /// then, what needs a write is refused at once with <see cref="RnnErrorKind.Storage"/> instead of waiting out the
    /// storage client's timeout. Default 1 s.
    /// </summary>
    public TimeSpan StorageRetryInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The longest an element waits in this silo's <see cref="StepBatcher"/> behind a round of other sequences' elements
    /// (a round takes as many sequences as its measured cost fits in this); <see cref="TimeSpan.Zero"/> turns batching
    /// off, so every sequence steps alone in its own turn. Nothing ever waits to fill a batch. Default 200 µs.
    /// </summary>
    public TimeSpan BatchWindow { get; set; } = TimeSpan.FromTicks(2_000);

    /// <summary>
    /// Models whose weights (the input and recurrent matrices of every layer, in bytes) are smaller step alone: their
    /// weights stay in the cache, and handing an element over costs more than the batch saves. Default 256 KiB.
    /// </summary>
    public long BatchMinWeightBytes { get; set; } = 256 * 1024;

    /// <summary>The most elements <see cref="KeepHistory"/> may keep per sequence.</summary>
    public const int MaxKeepHistory = 100_000;

    /// <summary>The policy for a model: its override, else the silo's.</summary>
    public DurabilityPolicy PolicyFor(string model) =>
        _policies.GetOrAdd(ModelDurability.TryGetValue(model, out var text) ? text : Durability, DurabilityPolicy.Parse);

    /// <summary>Parsed policies by their text: one shared instance per policy, not one per sequence.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, DurabilityPolicy> _policies = new(StringComparer.Ordinal);

    /// <summary>
    /// Orleans' grain collection quantum (<c>GrainCollectionOptions.CollectionQuantum</c>, 1 minute): idle activations are
    /// looked for once per quantum, and Orleans refuses a collection age that is not longer.
    /// </summary>
    public static readonly TimeSpan CollectionQuantum = Orleans.Configuration.GrainCollectionOptions.DEFAULT_COLLECTION_QUANTUM;

    /// <summary>
    /// Binds the <see cref="Section"/> of a configuration and checks it (<see cref="Validate"/>): a value that cannot be
    /// read as its type (<c>IdleDeactivation=30s</c>) throws <see cref="FormatException"/> naming the key and the value,
    /// like every other refused setting, so the host can stop with one line.
    /// </summary>
    public static RnnStreamsOptions Read(Microsoft.Extensions.Configuration.IConfiguration configuration)
    {
        var options = new RnnStreamsOptions();
        try
        {
            Microsoft.Extensions.Configuration.ConfigurationBinder.Bind(configuration.GetSection(Section), options);
        }
        catch (InvalidOperationException e)
        {
            // "Failed to convert configuration value '30s' at 'RnnStreams:IdleDeactivation' to type 'System.TimeSpan'."
            throw new FormatException(e.Message + Hint(e.Message), e);
        }

        options.Validate(CollectionQuantum);
        return options;
    }

    private static string Hint(string message) => message.Contains("System.TimeSpan", StringComparison.Ordinal)
        ? " Durations are written [d.]hh:mm:ss, e.g. 00:15:00."
        : "";

    /// <summary>
    /// Checks every setting once at start-up, so a typo stops the silo instead of failing requests. With
    /// <paramref name="collectionQuantum"/> (the silo's grain collection quantum) <see cref="IdleDeactivation"/> must be
    /// longer, as Orleans requires; without, only positive.
    /// </summary>
    public void Validate(TimeSpan? collectionQuantum = null)
    {
        var quantum = collectionQuantum ?? TimeSpan.Zero;
        if (IdleDeactivation <= quantum)
        {
            throw new FormatException(collectionQuantum is null
                ? $"RnnStreams:IdleDeactivation must be positive, got {IdleDeactivation:c}"
                : $"RnnStreams:IdleDeactivation must be longer than Orleans' grain collection quantum ({quantum:c}), got {IdleDeactivation:c}");
        }

        if (ExpiryCheckPeriod is { } period && period <= TimeSpan.Zero)
        {
            throw new FormatException($"RnnStreams:ExpiryCheckPeriod must be positive, got {period:c}");
        }

        DurabilityPolicy.Parse(Durability);
        foreach (var (model, text) in ModelDurability)
        {
            try
            {
                DurabilityPolicy.Parse(text);
            }
            catch (FormatException e)
            {
                throw new FormatException($"RnnStreams:ModelDurability:{model}: {e.Message}");
            }
        }

        if (KeepOutputs < 1)
        {
            throw new FormatException($"RnnStreams:KeepOutputs must be at least 1, got {KeepOutputs}");
        }

        if (IntervalLevel is <= 0 or >= 1 || double.IsNaN(IntervalLevel))
        {
            throw new FormatException($"RnnStreams:IntervalLevel must be between 0 and 1 (0.8 for 80 %), got {IntervalLevel}");
        }

        if (AnomalyLevel is <= 0 or >= 1 || double.IsNaN(AnomalyLevel))
        {
            throw new FormatException($"RnnStreams:AnomalyLevel must be between 0 and 1 (0.99 for 99 %), got {AnomalyLevel}");
        }

        if (KeepHistory is < 0 or > MaxKeepHistory)
        {
            throw new FormatException($"RnnStreams:KeepHistory must be between 0 and {MaxKeepHistory}, got {KeepHistory}");
        }

        if (StorageRetryInterval <= TimeSpan.Zero)
        {
            throw new FormatException($"RnnStreams:StorageRetryInterval must be positive, got {StorageRetryInterval}");
        }

        if (BatchWindow < TimeSpan.Zero || BatchWindow > TimeSpan.FromSeconds(1))
        {
            throw new FormatException($"RnnStreams:BatchWindow must be between 0 (off) and 00:00:01, got {BatchWindow}");
        }

        if (BatchMinWeightBytes < 0)
        {
            throw new FormatException($"RnnStreams:BatchMinWeightBytes must be 0 or more, got {BatchMinWeightBytes}");
        }

        if (ExpireAfter is { } expire && expire <= TimeSpan.Zero)
        {
            throw new FormatException($"RnnStreams:ExpireAfter must be positive, got {expire}");
        }
    }
}
