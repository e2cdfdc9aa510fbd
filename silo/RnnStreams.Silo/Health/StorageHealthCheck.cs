using Microsoft.Extensions.Diagnostics.HealthChecks;
using RnnStreams.Grains;

namespace RnnStreams.Silo.Health;

/// <summary>
/// Healthy when the <c>rnn-state</c> grain storage answers a read, still holds the marker this silo started with, and the
/// silo's sequences are not refusing writes because storage stopped answering (their <see cref="StorageCircuit"/>).
/// </summary>
internal sealed class StorageHealthCheck(StorageMarker marker, StorageCircuit circuit) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (circuit.IsOpen)
        {
            return HealthCheckResult.Unhealthy($"sequence storage stopped answering: writes are refused at once, one probe every {circuit.RetryAfter.TotalSeconds:0.###} s");
        }

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
