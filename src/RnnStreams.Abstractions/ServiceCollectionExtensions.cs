using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;

namespace RnnStreams;

/// <summary>Set-up shared by silos and clients.</summary>
public static class ServiceCollectionExtensions
{
    /// <summary>Lets RnnStreams' typed errors cross the wire as themselves rather than as generic exceptions.</summary>
    public static IServiceCollection AddRnnStreamsErrors(this IServiceCollection services) =>
        services.Configure<ExceptionSerializationOptions>(o =>
        {
            if (!o.SupportedNamespacePrefixes.Contains("RnnStreams"))
            {
                o.SupportedNamespacePrefixes.Add("RnnStreams");
            }
        });

    /// <summary>
    /// The client side: memory streams named <c>rnn</c> with the silos' queue count (<see cref="RnnConstants.StreamQueues"/>),
    /// typed errors and Orleans' activity propagation, so that a call made under an <see cref="System.Diagnostics.Activity"/>
    /// and the grain's work (<c>rnn.step</c>, …) share one trace. The client's propagation starts an activity of
    /// <c>Microsoft.Orleans.Application</c> per call and sends its context: a client process that wants its traces to
    /// continue into the silo listens to that source (OpenTelemetry's <c>AddSource("Microsoft.Orleans.*")</c>).
    /// </summary>
    public static IClientBuilder AddRnnStreamsClient(this IClientBuilder builder)
    {
        builder.AddMemoryStreams(RnnConstants.StreamProvider, streams => streams.ConfigurePartitioning(RnnConstants.StreamQueues));
        builder.Services.AddRnnStreamsErrors();
        if (!builder.Services.Any(d => d.ImplementationType?.Name == "ActivityPropagationOutgoingGrainCallFilter"))
        {
            builder.AddActivityPropagation(); // once: Orleans:EnableDistributedTracing=true adds the same filters
        }

        return builder;
    }
}
