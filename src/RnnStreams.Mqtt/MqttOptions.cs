namespace RnnStreams.Mqtt;

/// <summary>The MQTT ingress and egress of a silo (configuration section <c>Mqtt</c>).</summary>
public sealed class MqttOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Mqtt";

    /// <summary>Whether the silo connects to a broker. Default false.</summary>
    public bool Enabled { get; set; }

    /// <summary>The broker's host. Default <c>localhost</c>.</summary>
    public string Host { get; set; } = "localhost";

    /// <summary>The broker's port. Default 1883.</summary>
    public int Port { get; set; } = 1883;

    /// <summary>User name, when the broker wants one.</summary>
    public string? Username { get; set; }

    /// <summary>Password, with <see cref="Username"/>.</summary>
    public string? Password { get; set; }

    /// <summary>The first topic level: <c>{prefix}/{sequence}/in|out|error</c>. Default <c>rnn</c>.</summary>
    public string TopicPrefix { get; set; } = "rnn";

    /// <summary>
    /// The model a sequence is started on when its element 1 arrives over MQTT before any start. Unset: such an element is
    /// refused with <c>NotStarted</c> on the error topic.
    /// </summary>
    public string? DefaultModel { get; set; }

    /// <summary>The shared subscription's group: silos of one cluster share it and split the fleet. Default <c>rnnstreams</c>.</summary>
    public string ShareGroup { get; set; } = "rnnstreams";

    /// <summary>
    /// How many elements the broker may hand this silo before it has acknowledged them (MQTT 5 receive maximum): the
    /// silo's concurrency over MQTT. Default 1,000.
    /// </summary>
    public int ReceiveMaximum { get; set; } = 1000;

    /// <summary>
    /// How long an element that arrived ahead of its predecessor waits for it before it is refused with <c>Gap</c>. A
    /// shared subscription hands consecutive messages of one device to different silos, so element n+1 can reach its
    /// sequence first; and a silo that dies with elements in flight gives them back only when another silo takes over its
    /// session. Default 30 s.
    /// </summary>
    public TimeSpan ReorderWindow { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Whether every output and event is published on <c>{prefix}/{sequence}/out</c>. Default true.</summary>
    public bool PublishOutputs { get; set; } = true;

    /// <summary>How long the broker keeps a silo's session (its unacknowledged elements) after the silo is gone. Default 1 hour.</summary>
    public TimeSpan SessionExpiry { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Checks the values; throws <see cref="FormatException"/> naming the key.</summary>
    public void Validate()
    {
        if (!Enabled)
        {
            return;
        }

        if (string.IsNullOrWhiteSpace(Host))
        {
            throw new FormatException("Mqtt:Host must name the broker's host");
        }

        if (Port is < 1 or > 65535)
        {
            throw new FormatException($"Mqtt:Port must be 1–65535, got {Port}");
        }

        if (string.IsNullOrWhiteSpace(TopicPrefix) || TopicPrefix.IndexOfAny(['+', '#']) >= 0 || TopicPrefix.StartsWith('$') || TopicPrefix.EndsWith('/'))
        {
            throw new FormatException($"Mqtt:TopicPrefix must be a topic without wildcards, not starting with $ nor ending with /, got '{TopicPrefix}'");
        }

        if (string.IsNullOrWhiteSpace(ShareGroup) || ShareGroup.IndexOfAny(['+', '#', '/']) >= 0)
        {
            throw new FormatException($"Mqtt:ShareGroup must be one topic level without wildcards, got '{ShareGroup}'");
        }

        if (ReceiveMaximum is < 1 or > 65535)
        {
            throw new FormatException($"Mqtt:ReceiveMaximum must be 1–65535, got {ReceiveMaximum}");
        }

        if (ReorderWindow < TimeSpan.Zero)
        {
            throw new FormatException($"Mqtt:ReorderWindow must not be negative, got {ReorderWindow}");
        }

        if (SessionExpiry < TimeSpan.Zero || SessionExpiry.TotalSeconds > uint.MaxValue)
        {
            throw new FormatException($"Mqtt:SessionExpiry must be 0 to 136 years, got {SessionExpiry}");
        }
    }
}
