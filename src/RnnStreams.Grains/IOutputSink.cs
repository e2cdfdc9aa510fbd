namespace RnnStreams.Grains;

/// <summary>
/// Somewhere outside Orleans that a silo's sequences hand their outputs and events to, in order, before the step answers
/// (the MQTT egress: <c>{prefix}/{sequence}/out</c>). Registered in the silo's services; none by default.
/// </summary>
/// <remarks>
/// A sequence awaits <see cref="PublishAsync"/> inside its turn, so one sequence's outputs reach the sink in element order
/// whichever silo or caller sent the elements, and an element whose step answered has been handed over. A sink does not
/// throw: a failure is its own to log and count (the element stays applied).
/// </remarks>
public interface IOutputSink
{
    /// <summary>Publishes one output or event.</summary>
    ValueTask PublishAsync(SequenceOutput output);
}
