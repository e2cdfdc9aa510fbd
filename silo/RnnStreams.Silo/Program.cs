using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using Orleans.Dashboard;
using RnnStreams;
using RnnStreams.Grains;
using RnnStreams.Http;
using RnnStreams.Silo;
using StackExchange.Redis;

// Without configuration: the embedded default, one silo on localhost with in-memory storage and memory streams.
// With ConnectionStrings:Redis (env ConnectionStrings__Redis=host:6379): Redis clustering and grain storage, so that
// several silo processes form one cluster. Any key can be set in appsettings.json, as an environment variable
// (Orleans__GatewayPort=30001) or on the command line (--Orleans:GatewayPort 30001).
// The HTTP API (Http:Enabled) is on by default in the embedded configuration, on loopback (Http:Urls), and off by
// default with Redis clustering, where several silos may share a host.
// `RnnStreams.Silo.dll probe URL`: GET URL and exit 0 on a 2xx answer, 1 otherwise — the container healthcheck (the
// runtime image has no curl).
if (args is ["probe", var probeUrl])
{
    using var probe = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
    try
    {
        using var answer = await probe.GetAsync(probeUrl);
        Console.WriteLine($"{(int)answer.StatusCode} {await answer.Content.ReadAsStringAsync()}");
        return answer.IsSuccessStatusCode ? 0 : 1;
    }
    catch (Exception e) when (e is HttpRequestException or TaskCanceledException or UriFormatException or InvalidOperationException)
    {
        Console.WriteLine(e.Message);
        return 1;
    }
}

var configuration = new ConfigurationBuilder()
    .SetBasePath(AppContext.BaseDirectory)
    .AddJsonFile("appsettings.json", optional: true)
    .AddEnvironmentVariables()
    .AddCommandLine(args)
    .Build();
var http = configuration.GetSection(HttpApiOptions.Section).Get<HttpApiOptions>() ?? new HttpApiOptions();
var httpEnabled = http.Enabled ?? string.IsNullOrWhiteSpace(configuration.GetConnectionString("Redis"));
var dashboard = httpEnabled && configuration.GetValue("Dashboard:Enabled", false);
WebApplicationBuilder? web = null;
IHostApplicationBuilder builder;
if (httpEnabled)
{
    web = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
    web.WebHost.UseUrls(http.Urls);
    web.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = Math.Max(http.MaxBodyBytes, http.MaxModelBytes));
    web.Services.AddRnnStreamsHttp(web.Configuration);
    builder = web;
}
else
{
    builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
}
builder.AddRnnStreamsTelemetry();

var settings = builder.Configuration.GetSection("Orleans").Get<SiloSettings>() ?? new SiloSettings();
var redis = builder.Configuration.GetConnectionString("Redis");

builder.UseOrleans(silo =>
{
    if (string.IsNullOrWhiteSpace(redis))
    {
        silo.UseLocalhostClustering(settings.SiloPort, settings.GatewayPort, null, settings.ServiceId, settings.ClusterId);
        silo.Configure<EndpointOptions>(o => o.AdvertisedIPAddress = settings.ResolveAdvertisedAddress(clustered: false));
        silo.AddRnnStreamsInMemory();
    }
    else
    {
        var redisOptions = ConfigurationOptions.Parse(redis);
        silo.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = settings.ClusterId;
            o.ServiceId = settings.ServiceId;
        });
        silo.ConfigureEndpoints(settings.ResolveAdvertisedAddress(clustered: true), settings.SiloPort, settings.GatewayPort, listenOnAnyHostAddress: true);
        silo.UseRedisClustering(o => o.ConfigurationOptions = redisOptions);
        silo.AddRedisGrainStorage(RnnConstants.Storage, o =>
        {
            o.ConfigurationOptions = redisOptions;
            o.DeleteStateOnClear = true; // an ended sequence leaves nothing behind
        });
        silo.AddRedisGrainStorage(RnnConstants.PubSubStorage, o => o.ConfigurationOptions = redisOptions);
        silo.UseRedisReminderService(o => o.ConfigurationOptions = redisOptions);
        silo.AddRnnStreamsMemoryStreams();
    }

    // Failure detection and stale-entry handling (Orleans:Membership: ProbeTimeout, NumMissedProbesLimit,
    // IAmAliveTablePublishTimeout, ...): appsettings.json shortens Orleans' defaults so that a killed silo's grains
    // move within seconds and a cluster restarted after a crash does not wait 90 s for its old entries to go stale.
    silo.Configure<ClusterMembershipOptions>(builder.Configuration.GetSection("Orleans:Membership"));
    silo.AddRnnStreams(builder.Configuration);
    if (dashboard)
    {
        // The Orleans dashboard (Dashboard:Enabled, served by the HTTP host at /dashboard): grains, calls, silos.
        silo.AddDashboard();
    }
});
builder.Services.AddHostedService<SeedModelPublisher>();

if (web is not null)
{
    var app = web.Build();
    app.UseRnnStreamsHttp();
    if (dashboard)
    {
        app.MapOrleansDashboard("/dashboard");
    }

    await app.RunAsync();
}
else
{
    await ((HostApplicationBuilder)builder).Build().RunAsync();
}

return 0;
