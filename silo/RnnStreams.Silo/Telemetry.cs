using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using RnnStreams.Grains;

namespace RnnStreams.Silo;

/// <summary>OpenTelemetry for the silo host: metrics for Prometheus (and OTLP), traces over OTLP.</summary>
public static class Telemetry
{
    /// <summary>The service name when <c>OTEL_SERVICE_NAME</c> is not set.</summary>
    public const string DefaultServiceName = "rnnstreams-silo";

    /// <summary>
    /// Meters exported: RnnStreams', Orleans', ASP.NET Core's (requests — refused ones by status code, 429 for the rate limit —, connections) and the runtime's
    /// (<c>System.Runtime</c>: working set, managed heap after the last GC, GC pauses), which the soak test reads.
    /// </summary>
    private static readonly string[] Meters =
    [
        RnnMetrics.MeterName,
        "System.Runtime",
        "Microsoft.Orleans",
        "Microsoft.AspNetCore.Hosting",
        "Microsoft.AspNetCore.Server.Kestrel",
    ];

    /// <summary>
    /// Activity sources traced: RnnStreams' steps, publishes and checkpoints, and Orleans' grain calls (runtime and
    /// application: they carry a caller's trace into the grains). Incoming HTTP requests come from the ASP.NET Core
    /// instrumentation.
    /// </summary>
    private static readonly string[] Sources =
    [
        RnnTracing.SourceName,
        "Microsoft.Orleans.Runtime",
        "Microsoft.Orleans.Application",
    ];

    /// <summary>Requests that are not worth a trace: scrapes and probes.</summary>
    private static readonly PathString[] Untraced = ["/metrics", "/healthz", "/ready"];

    /// <summary>
    /// Registers OpenTelemetry with the resource <c>service.name</c> = <c>OTEL_SERVICE_NAME</c> (default
    /// <see cref="DefaultServiceName"/>).
    /// <list type="bullet">
    /// <item>Metrics (<see cref="Meters"/>): the Prometheus exporter when the host serves HTTP (a
    /// <see cref="WebApplicationBuilder"/>; <c>/metrics</c> is mapped by <c>UseRnnStreamsHttp</c>), and the OTLP exporter
    /// when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> or <c>OTEL_EXPORTER_OTLP_METRICS_ENDPOINT</c> is set.</item>
    /// <item>Traces (<see cref="Sources"/> and incoming HTTP requests), exported over OTLP, only when
    /// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> or <c>OTEL_EXPORTER_OTLP_TRACES_ENDPOINT</c> is set: without an exporter
    /// nothing listens, and a step starts no activity at all.</item>
    /// </list>
    /// The exporter reads the other <c>OTEL_*</c> variables itself (<c>OTEL_EXPORTER_OTLP_PROTOCOL</c> <c>grpc</c> or
    /// <c>http/protobuf</c>, <c>OTEL_EXPORTER_OTLP_HEADERS</c>, <c>OTEL_BSP_SCHEDULE_DELAY</c>,
    /// <c>OTEL_METRIC_EXPORT_INTERVAL</c>, …). Variables are read through the host's configuration, so they may also be
    /// given on the command line.
    /// </summary>
    public static IHostApplicationBuilder AddRnnStreamsTelemetry(this IHostApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        var serviceName = configuration["OTEL_SERVICE_NAME"] is { Length: > 0 } name ? name : DefaultServiceName;
        var otlp = IsSet(configuration, "OTEL_EXPORTER_OTLP_ENDPOINT");
        var tracesEndpoint = Endpoint(configuration, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
        var metricsEndpoint = Endpoint(configuration, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT");
        var prometheus = builder is WebApplicationBuilder;

        // Exemplars: trace-based for counters, off for histograms (the per-request ones pay nothing), and anomalies counted
        // inside an activity of their own that this process samples — so rnn.anomalies carries the sequence id as an
        // exemplar (its view keeps it out of the labels). Set either variable to change it.
        var defaults = new Dictionary<string, string?>();
        if (!IsSet(configuration, "OTEL_METRICS_EXEMPLAR_FILTER"))
        {
            defaults["OTEL_METRICS_EXEMPLAR_FILTER"] = "trace_based";
        }

        if (!IsSet(configuration, "OTEL_DOTNET_EXPERIMENTAL_METRICS_EXEMPLAR_FILTER_HISTOGRAMS"))
        {
            defaults["OTEL_DOTNET_EXPERIMENTAL_METRICS_EXEMPLAR_FILTER_HISTOGRAMS"] = "always_off";
        }

        builder.Configuration.AddInMemoryCollection(defaults);
        _ = AnomalySampling.Value;

        var telemetry = builder.Services.AddOpenTelemetry().ConfigureResource(resource => resource.AddService(serviceName));
        telemetry.WithMetrics(metrics =>
        {
            metrics.AddMeter(Meters);

            // An anomaly's sequence id is not a label (a fleet has millions): the metric is one series.
            metrics.AddView(RnnMetrics.AnomaliesName, new MetricStreamConfiguration { TagKeys = [] });
            if (prometheus)
            {
                // Every scrape collects (no 300 ms response cache): bench reads counters before and after a measurement.
                metrics.AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0);
            }

            if (otlp || metricsEndpoint is not null)
            {
                metrics.AddOtlpExporter(o => UseEndpoint(o, metricsEndpoint));
            }
        });

        if (otlp || tracesEndpoint is not null)
        {
            telemetry.WithTracing(tracing => tracing
                .AddSource(Sources)
                .AddAspNetCoreInstrumentation(o => o.Filter = context => !Array.Exists(Untraced, path => context.Request.Path.StartsWithSegments(path)))
                .AddOtlpExporter(o => UseEndpoint(o, tracesEndpoint)));
        }

        return builder;
    }

    /// <summary>Samples the anomaly source (once per process): its activities exist only to carry the exemplar.</summary>
    private static readonly Lazy<ActivityListener> AnomalySampling = new(() =>
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == RnnMetrics.AnomalySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    });

    private static bool IsSet(IConfiguration configuration, string key) => !string.IsNullOrWhiteSpace(configuration[key]);

    /// <summary>
    /// A signal's own endpoint, used as it is (the OTLP specification: no <c>/v1/traces</c> appended). OpenTelemetry .NET's
    /// <c>AddOtlpExporter</c> reads only the shared <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>, so the signal's variable is passed here.
    /// </summary>
    private static Uri? Endpoint(IConfiguration configuration, string key) =>
        IsSet(configuration, key) ? new Uri(configuration[key]!, UriKind.Absolute) : null;

    /// <summary>Sets the endpoint only when the signal has its own: setting it at all stops the exporter appending <c>/v1/{signal}</c>.</summary>
    private static void UseEndpoint(OpenTelemetry.Exporter.OtlpExporterOptions options, Uri? endpoint)
    {
        if (endpoint is not null)
        {
            options.Endpoint = endpoint;
        }
    }
}
