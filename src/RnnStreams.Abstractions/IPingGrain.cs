namespace RnnStreams;

/// <summary>An empty grain call: the benchmark's measure of what Orleans itself costs per message.</summary>
public interface IPingGrain : IGrainWithIntegerKey
{
    /// <summary>Does nothing.</summary>
    Task Ping();
}
