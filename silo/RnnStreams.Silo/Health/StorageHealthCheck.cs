using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace RnnStreams.Silo.Health;

/// <summary>Healthy when the <c>rnn</c> grain storage answers a read and still holds the marker this silo started with.</summary>
internal sealed class StorageHealthCheck(StorageMarker marker) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            return await marker.CheckAsync().WaitAsync(cancellationToken) is { } problem
                ? HealthCheckResult.Unhealthy(problem)
                : HealthCheckResult.Healthy("answers, and holds the data it held at start-up");
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy($"storage does not answer: {e.GetBaseException().Message}");
        }
    }
}
