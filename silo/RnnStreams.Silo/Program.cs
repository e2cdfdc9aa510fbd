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

var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
var api = HttpApi.IsEnabled(builder.Configuration);  // Http:Enabled: on in the embedded default, off with Redis
builder.AddRnnStreamsTelemetry();                     // metrics (Prometheus), traces (OTLP through OTEL_* variables)
builder.AddSiloEndpoints(api);                        // API at ASPNETCORE_URLS (if on), management at Management:Urls
builder.UseOrleans(silo => silo.AddRnnStreamsSilo(builder.Configuration)); // embedded, Redis, or Kubernetes
builder.AddSiloHealthChecks();                        // /healthz alive, /ready: active in the cluster, storage answers
builder.Services.AddHostedService<SeedModelPublisher>();
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
await app.RunAsync();
return 0;
