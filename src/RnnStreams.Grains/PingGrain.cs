namespace RnnStreams.Grains;

/// <inheritdoc cref="IPingGrain"/>
public sealed class PingGrain : Grain, IPingGrain
{
    public Task Ping() => Task.CompletedTask;

    public Task<StepResult> Echo(long n, double[] x) => Task.FromResult(new StepResult(n, [x.Length], 1, DurableN: n));
}
