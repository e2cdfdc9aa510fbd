using Microsoft.Extensions.Configuration;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace RnnStreams.Silo.Health;

/// <summary>
/// Health through Microsoft.Extensions.Diagnostics.HealthChecks. <c>/healthz</c> (alive) runs no check: the process
/// answers. <c>/ready</c> runs the checks tagged <see cref="ReadyTag"/>: the silo is active in the cluster, its grain
/// storage answers and still holds what it held when the silo started, (clustered) Redis answers a PING, and (with
/// <c>Mqtt:Enabled</c>) the silo is connected to its broker — <c>Degraded</c> when not, which leaves <c>/ready</c> 200.
/// </summary>
public static class SiloHealthChecks
{
    /// <summary>The tag of the checks <c>/ready</c> runs.</summary>
    public const string ReadyTag = "ready";

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Registers the checks and the storage marker they compare against; after <c>UseOrleans</c>, so that the marker
    /// is read once the silo (and its storage) has started.
    /// </summary>
    public static WebApplicationBuilder AddSiloHealthChecks(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<StorageMarker>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<StorageMarker>());
        var checks = builder.Services.AddHealthChecks()
            .AddCheck<ClusterHealthCheck>("cluster", tags: [ReadyTag], timeout: Timeout)
            .AddCheck<StorageHealthCheck>("storage", tags: [ReadyTag], timeout: Timeout);
        if (SiloHosting.IsClustered(builder.Configuration))
        {
            builder.Services.AddSingleton<RedisHealthCheck>();
            checks.AddCheck<RedisHealthCheck>("redis", tags: [ReadyTag], timeout: Timeout);
        }

        if (builder.Configuration.GetValue($"{RnnStreams.Mqtt.MqttOptions.Section}:Enabled", false))
        {
            checks.AddCheck<MqttHealthCheck>("mqtt", tags: [ReadyTag], timeout: Timeout);
        }

        return builder;
    }
}
