using RnnStreams.Grains;

namespace RnnStreams.Mqtt;

/// <summary>
/// Publishes every output and event of this silo's sequences on <c>{prefix}/{sequence}/out</c> at QoS 1, awaited by the
/// sequence before its step answers: one sequence's outputs reach the broker in element order.
/// </summary>
public sealed class MqttOutputSink(MqttConnection connection) : IOutputSink
{
    private long _published;
    private long _failed;

    public long Published => Interlocked.Read(ref _published);

    /// <summary>Outputs not published (broker down or refusing); the elements stay applied.</summary>
    public long Failed => Interlocked.Read(ref _failed);

    public async ValueTask PublishAsync(SequenceOutput output)
    {
        if (await connection.PublishAsync(connection.Topics.Output(output.Sequence), MqttPayloads.Output(output)))
        {
            Interlocked.Increment(ref _published);
        }
        else
        {
            Interlocked.Increment(ref _failed);
        }
    }
}
