using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using RnnStreams.Http;
using RnnStreams.Silo.Health;

namespace RnnStreams.Silo;

/// <summary>
/// The silo's one host set-up: an ASP.NET Core application running Orleans, every choice read from configuration
/// (appsettings.json, the environment, the command line). <c>Program.cs</c> runs it; a host that needs a silo
/// in its own process (a benchmark) builds the same one.
/// </summary>
public static class SiloApplication
{
    /// <summary>Builds the silo; throws <see cref="InvalidOperationException"/>, <see cref="FormatException"/> or <see cref="ArgumentException"/> naming a setting it cannot use.</summary>
    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        var api = HttpApi.IsEnabled(builder.Configuration, SiloHosting.IsClustered(builder.Configuration)); // on alone, off clustered
        builder.AddRnnStreamsTelemetry();                     // metrics (Prometheus), traces (OTLP through OTEL_* variables)
        builder.AddSiloEndpoints(api);                        // API at ASPNETCORE_URLS (if on), management at Management:Urls
        builder.UseOrleans(silo => silo.AddRnnStreamsSilo(builder.Configuration)); // embedded, Redis, or Kubernetes
        builder.AddSiloHealthChecks();                        // /healthz alive, /ready: active in the cluster, storage answers
        builder.Services.AddHostedService<SeedModelPublisher>();
        builder.Services.AddHostedService<ShutdownWatchdog>();  // a stop that cannot finish (storage, cluster gone) ends anyway
        if (api)
        {
            builder.Services.AddRnnStreamsHttp(builder.Configuration);
        }

        var app = builder.Build();
        app.UseManagementPort();                              // no key there, and nothing but management paths
        if (api)
        {
            app.UseRnnStreamsHttp();
        }

        app.MapManagementEndpoints();
        return app;
    }
}
