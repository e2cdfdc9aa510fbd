namespace RnnStreams;

/// <summary>
/// An empty grain call: the benchmark's measure of what Orleans itself costs per message. String-keyed like a sequence
/// (the bench gives it keys of the same length), so the floor includes addressing a grain by a device id.
/// </summary>
public interface IPingGrain : IGrainWithStringKey
{
    /// <summary>Does nothing.</summary>
    Task Ping();

    /// <summary>Answers a message shaped like <c>Step</c> with a result shaped like its answer, doing no work: the
    /// bench's measure of what Orleans costs to carry a step's messages.</summary>
    Task<StepResult> Echo(long n, double[] x);
}
