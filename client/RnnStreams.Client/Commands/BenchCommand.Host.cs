using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;
using RnnStreams.Grains;
using RnnStreams.Http;

namespace RnnStreams.Client.Commands;

/// <summary><c>bench</c>'s in-process silo: the silo's grains, HTTP API and metrics in this process, on free loopback ports.</summary>
internal static partial class BenchCommand
{
    private static async Task<IHost> StartInProcessSiloAsync(OutputPublishing publishing, string durability, int gatewayPort, int httpPort, int h2cPort,
        int batchWindowUs, long? batchMinBytes)
    {
        var builder = Microsoft.AspNetCore.Builder.WebApplication.CreateBuilder(new Microsoft.AspNetCore.Builder.WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        // The API twice: HTTP/1.1 on one port, h2c (HTTP/2 with prior knowledge, Http:Protocols=Http2) on the other.
        builder.WebHost.UseUrls($"http://127.0.0.1:{httpPort}", $"http://127.0.0.1:{h2cPort}");
        builder.WebHost.ConfigureKestrel(k => HttpApi.ConfigureKestrel(k, new HttpApiOptions(), port => port == h2cPort ? HttpProtocols.Http2 : HttpProtocols.Http1));
        // The HTTP API as the silo serves it, without its per-caller rate limit (the bench is one caller).
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Http:RequestsPerSecond"] = "100000000",
            ["Http:Burst"] = "100000000",
            ["Http:Floor"] = "true", // POST /v1/floor/{id}/elements: the same endpoint without its grain call
        });
        builder.Services.AddRnnStreamsHttp(builder.Configuration);
        // The silo's metrics and /metrics, as its AddRnnStreamsTelemetry registers them; no traces (nothing listens, as
        // in a silo without an OTLP endpoint), so the bench measures untraced steps.
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(RnnMetrics.MeterName, "Microsoft.Orleans", "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel")
            .AddPrometheusExporter());
        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering(PortFinder.Free(), gatewayPort,
                serviceId: Environment.GetEnvironmentVariable("Orleans__ServiceId") ?? "rnnstreams",
                clusterId: Environment.GetEnvironmentVariable("Orleans__ClusterId") ?? "rnnstreams");
            silo.AddRnnStreams(configure: o =>
            {
                o.DefaultModel = null;
                o.PublishOutputs = publishing;
                o.Durability = durability;
                o.BatchWindow = TimeSpan.FromTicks(batchWindowUs * TimeSpan.TicksPerMicrosecond);
                o.BatchMinWeightBytes = batchMinBytes ?? o.BatchMinWeightBytes;
            });
            silo.AddRnnStreamsInMemory();
        });
        var host = builder.Build();
        host.UseRnnStreamsHttp();
        await host.StartAsync();
        return host;
    }
}

/// <summary>Free loopback ports for the in-process silo.</summary>
internal static class PortFinder
{
    public static int Free()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}
