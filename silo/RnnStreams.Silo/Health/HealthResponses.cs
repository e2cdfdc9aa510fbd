using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace RnnStreams.Silo.Health;

/// <summary>The JSON bodies of <c>/healthz</c> and <c>/ready</c>.</summary>
internal static class HealthResponses
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static Task Alive(HttpContext context, HealthReport report) =>
        context.Response.WriteAsJsonAsync(new { status = "alive" }, Json);

    /// <summary><c>{"status": "ready" | "not ready", "checks": {"storage": {"status", "detail", "ms"}, ...}}</c> (200 or 503).</summary>
    public static Task Ready(HttpContext context, HealthReport report) =>
        context.Response.WriteAsJsonAsync(new
        {
            status = report.Status switch { HealthStatus.Healthy => "ready", HealthStatus.Degraded => "ready, degraded", _ => "not ready" },
            checks = report.Entries.ToDictionary(e => e.Key, e => new
            {
                status = e.Value.Status.ToString(),
                detail = e.Value.Description ?? e.Value.Exception?.Message,
                ms = Math.Round(e.Value.Duration.TotalMilliseconds, 1),
            }),
        }, Json);
}
