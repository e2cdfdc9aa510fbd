using Microsoft.AspNetCore.Builder;
using RnnStreams.Http;
using RnnStreams.Silo;
using RnnStreams.Silo.Health;

// The silo: an ASP.NET Core host running Orleans. Every choice comes from configuration (appsettings.json, the
// environment, the command line); README "The silo" lists the keys.
if (args is ["probe", var url])
{
    return await Probe.RunAsync(url); // the container healthcheck: the runtime image has no curl
}

WebApplication app;
try
{
    app = Build(args);
}
catch (Exception e) when (e is InvalidOperationException or FormatException or ArgumentException)
{
    // A setting the silo cannot use: one line naming it, not a stack trace.
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}

await app.RunAsync();
return Environment.ExitCode; // 0, or MembershipFence.ExitCode when the silo stopped itself

static WebApplication Build(string[] args)
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
