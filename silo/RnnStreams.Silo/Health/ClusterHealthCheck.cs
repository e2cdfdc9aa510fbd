using Microsoft.Extensions.Diagnostics.HealthChecks;
using Orleans.Runtime;

namespace RnnStreams.Silo.Health;

/// <summary>Healthy while this silo is <c>Active</c> in the cluster's membership (not joining, shutting down or declared dead).</summary>
internal sealed class ClusterHealthCheck(IClusterMembershipService membership, ILocalSiloDetails local) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var snapshot = membership.CurrentSnapshot;
        var status = snapshot.GetSiloStatus(local.SiloAddress);
        var active = snapshot.Members.Values.Count(m => m.Status == SiloStatus.Active);
        return Task.FromResult(status == SiloStatus.Active
            ? HealthCheckResult.Healthy($"active; {active} active silo(s)")
            : HealthCheckResult.Unhealthy($"this silo is {status} in the cluster"));
    }
}
