using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Dashboard;
using RnnStreams.Http;
using RnnStreams.Silo.Health;

namespace RnnStreams.Silo;

/// <summary>
/// Where the silo listens for HTTP. The device API (when on) listens where ASP.NET Core's own settings say —
/// <c>ASPNETCORE_URLS</c> / <c>--urls</c>, else <c>ASPNETCORE_HTTP_PORTS</c>, else <c>http://127.0.0.1:8080</c> — and
/// the management endpoint at <c>Management:Urls</c> (default <c>http://127.0.0.1:8081</c>, empty for none): probes,
/// metrics, the dashboard, the OpenAPI document and, when <c>Management:HeapEndpoint</c> is on, the heap measurement
/// (<see cref="HeapEndpoint"/>), with no key, and nothing else. Every silo has it, also with the API off. Expose it only where operators and scrapers are (a port published on the host's loopback, a pod port
/// no Service routes to).
/// </summary>
public static class SiloEndpoints
{
    /// <summary>The management endpoint's configuration key.</summary>
    public const string ManagementUrlsKey = "Management:Urls";

    /// <summary>Default management address: loopback only.</summary>
    public const string DefaultManagementUrls = "http://127.0.0.1:8081";

    /// <summary>Default API address when ASP.NET Core's settings name none: loopback only.</summary>
    public const string DefaultApiUrls = "http://127.0.0.1:8080";

    private static readonly string[] ManagementPaths = ["/healthz", "/ready", "/metrics", "/dashboard", "/openapi"];

    /// <summary>
    /// Binds the API's addresses (when <paramref name="api"/>): its own in <see cref="HttpApiOptions.Protocols"/> and
    /// <see cref="HttpApiOptions.H2cUrls"/> in h2c; and the management addresses, in HTTP/1.1.
    /// </summary>
    public static WebApplicationBuilder AddSiloEndpoints(this WebApplicationBuilder builder, bool api)
    {
        var http = builder.Configuration.GetSection(HttpApiOptions.Section).Get<HttpApiOptions>() ?? new HttpApiOptions();
        var protocols = HttpApi.ParseProtocols(http.Protocols); // a bad value stops the silo here, naming the key
        var management = Split(builder.Configuration[ManagementUrlsKey] ?? DefaultManagementUrls);
        var apiUrls = api ? ApiUrls(builder.Configuration) : [];
        var h2cUrls = api ? Split(http.H2cUrls) : [];
        var managementPorts = Ports(management);
        var h2cPorts = Ports(h2cUrls);
        Disjoint("the API", apiUrls, ManagementUrlsKey, management);
        Disjoint("the API", apiUrls, $"{HttpApiOptions.Section}:{nameof(HttpApiOptions.H2cUrls)}", h2cUrls);
        Disjoint($"{HttpApiOptions.Section}:{nameof(HttpApiOptions.H2cUrls)}", h2cUrls, ManagementUrlsKey, management);

        builder.Services.AddSingleton(new ManagementPorts(managementPorts));
        builder.WebHost.UseUrls([.. apiUrls, .. h2cUrls, .. management]); // Kestrel:Endpoints, when configured, replace them all
        builder.WebHost.ConfigureKestrel(k => HttpApi.ConfigureKestrel(k, http, port =>
            managementPorts.Contains(port) ? null : h2cPorts.Contains(port) ? HttpProtocols.Http2 : protocols));
        return builder;
    }

    private static HashSet<int> Ports(string[] urls) => urls.Select(u => BindingAddress.Parse(u).Port).ToHashSet();

    /// <summary>Two sets of addresses must not share a port: one port speaks one set of protocols to one audience.</summary>
    private static void Disjoint(string name, string[] urls, string otherName, string[] otherUrls)
    {
        var other = Ports(otherUrls);
        if (urls.Select(u => BindingAddress.Parse(u).Port).FirstOrDefault(other.Contains) is var shared and > 0)
        {
            throw new InvalidOperationException($"{name} ({string.Join(';', urls)}) and {otherName} ({string.Join(';', otherUrls)}) share port {shared}: give each a port of its own");
        }
    }

    /// <summary>
    /// On the management port: only the management paths, trusted without a key (marked for the API's key check);
    /// anything else is 404 there.
    /// </summary>
    public static WebApplication UseManagementPort(this WebApplication app)
    {
        var ports = app.Services.GetRequiredService<ManagementPorts>();
        string[] paths = HeapEndpoint.IsEnabled(app.Configuration) ? [.. ManagementPaths, HeapEndpoint.Path] : ManagementPaths;
        var served = $"{string.Join(", ", paths[..^1])} and {paths[^1]}";
        app.Use(async (context, next) =>
        {
            if (ports.Contains(context.Connection.LocalPort))
            {
                if (!paths.Any(p => context.Request.Path.StartsWithSegments(p)))
                {
                    await Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "NotFound",
                        detail: $"the management endpoint serves {served} only; the API is on its own port",
                        extensions: new Dictionary<string, object?> { ["kind"] = "NotFound" }).ExecuteAsync(context);
                    return;
                }

                context.Items[HttpApi.TrustedCallerItem] = true;
            }

            await next();
        });
        return app;
    }

    /// <summary>Maps <c>/healthz</c>, <c>/ready</c>, <c>/metrics</c> and (when on) <c>/dashboard</c> and <c>/debug/heap</c>.</summary>
    public static WebApplication MapManagementEndpoints(this WebApplication app)
    {
        app.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = HealthResponses.Alive });
        app.MapHealthChecks("/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains(SiloHealthChecks.ReadyTag), ResponseWriter = HealthResponses.Ready });
        app.MapPrometheusScrapingEndpoint("/metrics");
        if (app.Configuration.GetValue("Dashboard:Enabled", false))
        {
            app.MapOrleansDashboard("/dashboard");
        }

        if (HeapEndpoint.IsEnabled(app.Configuration))
        {
            HeapEndpoint.Map(app);
        }

        return app;
    }

    private static string[] ApiUrls(IConfiguration configuration)
    {
        if (Split(configuration["urls"]) is { Length: > 0 } urls)
        {
            return urls;
        }

        if (Split(configuration["http_ports"]) is { Length: > 0 } ports)
        {
            return [.. ports.Select(p => $"http://*:{p}")];
        }

        return [DefaultApiUrls];
    }

    private static string[] Split(string? value) => (value ?? string.Empty).Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>The local ports of the management endpoint.</summary>
    internal sealed class ManagementPorts(HashSet<int> ports)
    {
        public bool Contains(int port) => ports.Contains(port);
    }
}
