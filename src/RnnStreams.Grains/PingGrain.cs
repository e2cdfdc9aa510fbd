namespace RnnStreams.Grains;

/// <inheritdoc cref="IPingGrain"/>
public sealed class PingGrain : Grain, IPingGrain
{
    public Task Ping() => Task.CompletedTask;
}
