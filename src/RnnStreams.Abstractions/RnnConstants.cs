namespace RnnStreams;

/// <summary>Names shared by silo, client and tests: stream provider, stream namespaces, storage.</summary>
public static class RnnConstants
{
    /// <summary>The most steps one <see cref="ISequenceGrain.Forecast"/> rolls forward.</summary>
    public const int MaxForecastSteps = 10_000;

    /// <summary>The stream provider that carries inputs and outputs.</summary>
    public const string StreamProvider = "rnn";

    /// <summary>Outputs of sequence s are published on stream <c>rnn-out/{s}</c>.</summary>
    public const string OutputNamespace = "rnn-out";

    /// <summary>Inputs of sequence s may be sent on stream <c>rnn-in/{s}</c>; the sequence grain subscribes implicitly.</summary>
    public const string InputNamespace = "rnn-in";

    /// <summary>
    /// Memory-stream queues of the <c>rnn</c> provider. Silo and clients must agree: a producer picks a stream's queue
    /// by this number, and the silo pulls from that many queues.
    /// </summary>
    public const int StreamQueues = 16;

    /// <summary>
    /// The grain storage for sequence and model state. Not the stream provider's name: Orleans' pub-sub keeps a stream
    /// provider's rendezvous state in the storage named after the provider when there is one (else in
    /// <see cref="PubSubStorage"/>), so a storage called <c>rnn</c> would receive a rendezvous record per output stream.
    /// Stored keys do not contain this name (Redis: <c>{ServiceId}/state/{grain type}/{key}/{state}</c>).
    /// </summary>
    public const string Storage = "rnn-state";

    /// <summary>The storage of Orleans' stream pub-sub for the <see cref="StreamProvider"/> memory streams.</summary>
    public const string PubSubStorage = "PubSubStore";

    /// <summary>The model the silo publishes at start-up and uses for sequences that start implicitly.</summary>
    public const string DemoModel = "demo";

    /// <summary>The default gateway port of the embedded silo.</summary>
    public const int DefaultGatewayPort = 30000;

    /// <summary>The default silo-to-silo port of the embedded silo.</summary>
    public const int DefaultSiloPort = 11111;

    /// <summary>
    /// Upper bounds of the step batcher's round sizes, in sequences per round: the buckets of the silo's
    /// <c>rnn.batcher.round_size</c> histogram and of <c>bench</c>'s <c>rpc_round_sizes</c>. Bucket i counts rounds of more
    /// than entry i-1 and at most entry i sequences; the last entry is the most sequences a round takes.
    /// </summary>
    public static readonly int[] BatcherRoundSizeBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256];

    /// <summary>Futures sampled for the intervals of a multi-step forecast (<see cref="ISequenceGrain.Forecast"/>).</summary>
    public const int ForecastPaths = 500;

    /// <summary>The stream id of a sequence's outputs.</summary>
    public static StreamId OutputStream(string sequence) => StreamId.Create(OutputNamespace, sequence);

    /// <summary>The stream id of a sequence's inputs.</summary>
    public static StreamId InputStream(string sequence) => StreamId.Create(InputNamespace, sequence);
}
