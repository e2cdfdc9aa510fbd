using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using RnnStreams.Mqtt;

namespace RnnStreams.Silo.Health;

/// <summary>
/// With <c>Mqtt:Enabled</c>: is this silo connected to the broker? A broker outage reports <c>Degraded</c>, not
/// <c>Unhealthy</c>: <c>/ready</c> stays 200, so that an orchestrator keeps routing HTTP to silos that still serve it
/// (every silo loses the same broker at once), while the check says which ingress is down.
/// </summary>
internal sealed class MqttHealthCheck(MqttConnection connection, IOptions<MqttOptions> options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(connection.Client.IsConnected
            ? HealthCheckResult.Healthy($"connected to {options.Value.Host}:{options.Value.Port} as {connection.ClientId}")
            : HealthCheckResult.Degraded($"not connected to the MQTT broker at {options.Value.Host}:{options.Value.Port}: devices' elements wait at the broker; HTTP and Orleans clients are served"));
}
