namespace RnnStreams.Mqtt;

/// <summary>The topics of one prefix: <c>{prefix}/{sequence}/in</c>, <c>/out</c> and <c>/error</c>.</summary>
public sealed class MqttTopics(string prefix)
{
    public string Prefix { get; } = prefix;

    /// <summary>The shared subscription a silo consumes inputs with: <c>$share/{group}/{prefix}/+/in</c>.</summary>
    public string SharedInputs(string group) => $"$share/{group}/{Prefix}/+/in";

    public string Input(string sequence) => $"{Prefix}/{sequence}/in";

    public string Output(string sequence) => $"{Prefix}/{sequence}/out";

    public string Error(string sequence) => $"{Prefix}/{sequence}/error";

    /// <summary>The sequence of an input topic, or null when the topic is not <c>{prefix}/{sequence}/in</c>.</summary>
    public string? SequenceOfInput(string topic)
    {
        if (topic.Length <= Prefix.Length + 4 || !topic.StartsWith(Prefix, StringComparison.Ordinal) || topic[Prefix.Length] != '/' || !topic.EndsWith("/in", StringComparison.Ordinal))
        {
            return null;
        }

        var sequence = topic.Substring(Prefix.Length + 1, topic.Length - Prefix.Length - 4);
        return sequence.Length == 0 || sequence.Contains('/') ? null : sequence;
    }
}
