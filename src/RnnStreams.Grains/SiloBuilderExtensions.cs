using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Storage;

namespace RnnStreams.Grains;

/// <summary>Silo set-up for RnnStreams.</summary>
public static class SiloBuilderExtensions
{
    /// <summary>
    /// Registers the model cache, the sequence options (section <c>RnnStreams</c> when a configuration is given), the
    /// serialization of RnnStreams' typed errors and Orleans' activity propagation (a caller's trace continues into the
    /// grains; see <see cref="RnnTracing"/>). Storage and streams are the host's choice: see
    /// <see cref="AddRnnStreamsInMemory"/> for the embedded default.
    /// </summary>
    public static ISiloBuilder AddRnnStreams(this ISiloBuilder builder, IConfiguration? configuration = null, Action<RnnStreamsOptions>? configure = null)
    {
        var options = builder.Services.AddOptions<RnnStreamsOptions>();
        if (configuration is not null)
        {
            // Read and checked now, not when the host starts: a refused value stops the host before it starts with
            // a FormatException naming the key (the silo prints it as one line), not a stack trace from Orleans' start.
            RnnStreamsOptions.Read(configuration);
            options.Bind(configuration.GetSection(RnnStreamsOptions.Section));
        }

        if (configure is not null)
        {
            options.Configure(configure);
        }

        // Not against GrainCollectionOptions here: those options read these (IdleDeactivation), and a host that changes
        // Orleans' quantum in code gets Orleans' own check of the age at start.
        options.Validate(o =>
        {
            o.Validate();
            return true;
        }).ValidateOnStart();

        // Idle sequences are deactivated (state written first) after RnnStreams:IdleDeactivation.
        builder.Services.AddOptions<GrainCollectionOptions>()
            .Configure<IOptions<RnnStreamsOptions>>((collection, rnn) =>
                collection.ClassSpecificCollectionAge[typeof(SequenceGrain).FullName!] = rnn.Value.IdleDeactivation);

        builder.Services.AddSingleton<ModelCache>();
        builder.Services.AddSingleton<SequenceServices>();
        builder.Services.AddSingleton<StorageCircuit>();
        builder.Services.AddSingleton<OutputPublisher>();
        builder.Services.AddSingleton<StepBatcher>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<OutputPublisher>());
        builder.Services.AddSingleton<CheckpointSweeper>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<CheckpointSweeper>());
        builder.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<CheckpointSweeper>());
        builder.Services.AddRnnStreamsErrors();

        // The fleet summary: sequences feed the silo's collector, the reporter sends it to the fleet grain each second.
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<SiloStatsCollector>();
        builder.Services.AddSingleton<FleetReporter>();
        builder.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<FleetReporter>());

        // Grain calls carry the caller's trace context (W3C traceparent in the RequestContext) and start Orleans'
        // activities: only when something listens to Microsoft.Orleans.*, so untraced calls pay one filter each way.
        // Once: Orleans:EnableDistributedTracing=true in the configuration adds the same filters.
        if (!builder.Services.Any(d => d.ImplementationType?.Name == "ActivityPropagationIncomingGrainCallFilter"))
        {
            builder.AddActivityPropagation();
        }

        // Whatever provider the host names "rnn-state" stores sequence and model state with Orleans' binary serializer (version
        // tolerant through the [Id]s of SequenceState), not the silo-wide default JSON: a checkpoint of an H=64 state
        // cost tens of µs of JSON text per write, which capped Checkpoint(100, 1000) at a fraction of None's steps/s.
        builder.Services.AddKeyedSingleton<IGrainStorageSerializer>(RnnConstants.Storage,
            (services, _) => new OrleansGrainStorageSerializer(services.GetRequiredService<Orleans.Serialization.Serializer>()));
        return builder;
    }

    /// <summary>
    /// Memory streams named <c>rnn</c>, tuned for many small streams: <see cref="RnnConstants.StreamQueues"/> queues
    /// instead of 8 (clients must use the same number: <c>AddRnnStreamsClient</c> does) and a queue pump every
    /// 20 ms instead of 100 ms, so that queues (at most 16,384 messages each in Orleans) drain before they fill; and
    /// their pub-sub state (<c>PubSubStore</c>) in memory, as durable as the streams' own events.
    /// </summary>
    /// <remarks>
    /// Orleans' pub-sub writes a rendezvous record per stream as soon as a silo's pulling agent delivers its first event,
    /// registering the agent as the stream's producer, and removes it only when that agent stops gracefully: with a
    /// durable store that is one record per output stream ever published (one per sequence), kept after the sequence
    /// is gone and after a <c>kill -9</c> of the silo. In memory those records cost each silo a few hundred bytes per
    /// stream until the silo that holds them restarts. The price: subscriptions recorded on a silo that dies are
    /// forgotten with the events queued there (README, "Memory": what a subscriber sees then).
    /// </remarks>
    public static ISiloBuilder AddRnnStreamsMemoryStreams(this ISiloBuilder builder)
    {
        builder.AddMemoryGrainStorage(RnnConstants.PubSubStorage);

        // A stream's rendezvous grain is called when a pulling agent first delivers its events and when a subscriber
        // comes or goes, and keeps its state in PubSubStore: it need not stay active for Orleans' default 15 minutes
        // (one activation per output stream, after the sequence itself is gone).
        builder.Services.Configure<GrainCollectionOptions>(o => o.ClassSpecificCollectionAge[PubSubRendezvousGrainClass] = PubSubRendezvousIdle);
        return builder.AddMemoryStreams(RnnConstants.StreamProvider, streams =>
        {
            streams.ConfigurePartitioning(RnnConstants.StreamQueues);

            // Published outputs stay in each pulling agent's cache for DataMinTimeInCache (Orleans: 5 minutes, metadata
            // 10): a silo's heap grew by ~30 MB in the five minutes after each start of the soak (1,574 outputs/s over
            // 3 silos) before it levelled off. Live subscribers read within milliseconds; one more than 30 s behind
            // misses what was purged.
            streams.ConfigureCacheEviction(options => options.Configure(o =>
            {
                o.DataMinTimeInCache = StreamCacheMinTime;
                o.DataMaxAgeInCache = StreamCacheMaxAge;
                o.MetadataMinTimeInCache = StreamCacheMaxAge;
            }));
            streams.ConfigurePullingAgent(options => options.Configure(o =>
            {
                o.GetQueueMsgsTimerPeriod = TimeSpan.FromMilliseconds(20);

                // A pulling agent forgets a stream (its subscribers, cursors) after this long without events, instead
                // of Orleans' 30 minutes: a stream whose sequence publishes less often registers again (one grain call).
                o.StreamInactivityPeriod = StreamInactivity;
            }));
        });
    }

    /// <summary>Orleans' pub-sub rendezvous grain class (internal to Orleans), for its collection age.</summary>
    private const string PubSubRendezvousGrainClass = "Orleans.Streams.PubSubRendezvousGrain";

    /// <summary>How long a stream's rendezvous grain stays active unused (Orleans' default: 15 minutes).</summary>
    public static readonly TimeSpan PubSubRendezvousIdle = TimeSpan.FromMinutes(2);

    /// <summary>How long a published output stays in a pulling agent's cache at least (Orleans' default: 5 minutes).</summary>
    public static readonly TimeSpan StreamCacheMinTime = TimeSpan.FromSeconds(30);

    /// <summary>The age past which cached outputs are purged (Orleans' default: 30 minutes).</summary>
    public static readonly TimeSpan StreamCacheMaxAge = TimeSpan.FromMinutes(1);

    /// <summary>How long a pulling agent keeps a silent stream's subscribers (Orleans' default: 30 minutes).</summary>
    public static readonly TimeSpan StreamInactivity = TimeSpan.FromMinutes(5);

    /// <summary>
    /// In-memory grain storage (<c>rnn-state</c>), memory streams (<c>rnn</c>, with their <c>PubSubStore</c>) and
    /// in-memory reminders: the embedded default.
    /// </summary>
    public static ISiloBuilder AddRnnStreamsInMemory(this ISiloBuilder builder)
    {
        builder.AddMemoryGrainStorage(RnnConstants.Storage);
        builder.AddRnnStreamsMemoryStreams();
        builder.UseInMemoryReminderService();
        return builder;
    }
}
