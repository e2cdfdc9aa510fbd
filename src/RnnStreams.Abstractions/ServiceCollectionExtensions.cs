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
    /// The client side: memory streams named <c>rnn</c> with the silos' queue count (<see cref="RnnConstants.StreamQueues"/>)
    /// and typed errors.
    /// </summary>
    public static IClientBuilder AddRnnStreamsClient(this IClientBuilder builder)
    {
        builder.AddMemoryStreams(RnnConstants.StreamProvider, streams => streams.ConfigurePartitioning(RnnConstants.StreamQueues));
        builder.Services.AddRnnStreamsErrors();
        return builder;
    }
}
