using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using RnnStreams.Grains;

namespace RnnStreams.Mqtt;

/// <summary>Silo set-up of the MQTT ingress and egress.</summary>
public static class MqttSiloBuilderExtensions
{
    /// <summary>
    /// Reads section <c>Mqtt</c> (checked now: a bad value stops the host with a <see cref="FormatException"/> naming the
    /// key) and, when <c>Mqtt:Enabled</c>, connects the silo to the broker: elements from <c>{prefix}/+/in</c>, outputs on
    /// <c>{prefix}/{sequence}/out</c> (unless <c>Mqtt:PublishOutputs</c> is false), refusals on <c>{prefix}/{sequence}/error</c>.
    /// </summary>
    public static ISiloBuilder AddRnnStreamsMqtt(this ISiloBuilder builder, IConfiguration configuration, Action<MqttOptions>? configure = null)
    {
        var options = new MqttOptions();
        configuration.GetSection(MqttOptions.Section).Bind(options);
        configure?.Invoke(options);
        options.Validate();
        if (!options.Enabled)
        {
            return builder;
        }

        builder.Services.AddOptions<MqttOptions>().Bind(configuration.GetSection(MqttOptions.Section)).Configure(o => configure?.Invoke(o));
        builder.Services.TryAddSingleton(sp => new SequenceReferences(sp.GetRequiredService<IGrainFactory>()));
        builder.Services.AddSingleton<MqttConnection>();
        builder.Services.AddSingleton<MqttIngress>();
        builder.Services.AddSingleton<MqttSessionTakeover>();

        // Registered in this order, stopped in the reverse: the takeover, then the ingress (which leaves the shared
        // subscription and the broker), then the connection's loop.
        builder.Services.AddHostedService(sp => sp.GetRequiredService<MqttConnection>());
        builder.Services.AddHostedService(sp => sp.GetRequiredService<MqttIngress>());
        builder.Services.AddHostedService(sp => sp.GetRequiredService<MqttSessionTakeover>());
        if (options.PublishOutputs)
        {
            builder.Services.AddSingleton<IOutputSink, MqttOutputSink>();
        }

        return builder;
    }
}
