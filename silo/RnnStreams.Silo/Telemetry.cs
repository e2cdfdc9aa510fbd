using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Metrics;

namespace RnnStreams.Silo;

/// <summary>OpenTelemetry for the silo: metrics for Prometheus (<c>/metrics</c>).</summary>
public static class Telemetry
{
    /// <summary>Registers the meters and the Prometheus exporter.</summary>
    public static IHostApplicationBuilder AddRnnStreamsTelemetry(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter("RnnStreams")
            .AddMeter("Microsoft.Orleans")
            .AddMeter("Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "Microsoft.AspNetCore.RateLimiting")
            .AddPrometheusExporter());
        return builder;
    }
}
