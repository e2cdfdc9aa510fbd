using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Dashboard;
using Orleans.Hosting;
using RnnStreams.Grains;
using RnnStreams.Mqtt;
using StackExchange.Redis;

namespace RnnStreams.Silo;

/// <summary>
/// The silo's Orleans configuration. Orleans binds its own keys (<c>Orleans:ClusterId</c>, <c>Orleans:ServiceId</c>,
/// <c>Orleans:Endpoints:*</c>, <c>Orleans:Clustering:*</c>, <c>Orleans:GrainStorage:*</c>, ...); this adds only what
/// those keys leave open: the embedded default or Redis, Kubernetes hosting, failure detection, MQTT and the dashboard.
/// </summary>
public static class SiloHosting
{
    /// <summary>Whether the silo runs clustered on Redis (<c>ConnectionStrings:Redis</c> is set).</summary>
    public static bool IsClustered(IConfiguration configuration) => !string.IsNullOrWhiteSpace(configuration.GetConnectionString("Redis"));

    /// <summary>
    /// Kubernetes hosting (<c>Kubernetes:Enabled</c>): pod name, namespace and IP from the pod's environment, defunct
    /// pods' silos declared dead. Default: on when the process runs in a pod (<c>KUBERNETES_SERVICE_HOST</c> is set).
    /// </summary>
    public static bool IsKubernetes(IConfiguration configuration) =>
        configuration.GetValue<bool?>("Kubernetes:Enabled") ?? !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("KUBERNETES_SERVICE_HOST"));

    /// <summary>Clustering, storage, streams, RnnStreams' grains and services, and the dashboard.</summary>
    public static ISiloBuilder AddRnnStreamsSilo(this ISiloBuilder silo, IConfiguration configuration)
    {
        var orleans = configuration.GetSection("Orleans");
        var ownClustering = orleans.GetSection("Clustering").Exists(); // Orleans' own provider keys win
        if (IsClustered(configuration))
        {
            var redis = ConfigurationOptions.Parse(configuration.GetConnectionString("Redis")!);
            if (!ownClustering)
            {
                silo.UseRedisClustering(o => o.ConfigurationOptions = redis);
            }

            silo.AddRedisGrainStorage(RnnConstants.Storage, o =>
            {
                o.ConfigurationOptions = redis;
                o.DeleteStateOnClear = true; // an ended sequence leaves nothing behind
            });
            silo.UseRedisReminderService(o => o.ConfigurationOptions = redis);
            silo.AddRnnStreamsMemoryStreams(); // memory streams, their pub-sub state in memory too (not in Redis)
            DefaultAdvertisedAddress(silo, configuration, HostAddress);
        }
        else
        {
            if (!ownClustering)
            {
                // One silo on its own: it is its own primary, on the address and port it advertises.
                silo.UseDevelopmentClustering((OptionsBuilder<DevelopmentClusterMembershipOptions> dev) => dev
                    .Configure<IOptions<EndpointOptions>>((o, endpoints) =>
                        o.PrimarySiloEndpoint = new IPEndPoint(endpoints.Value.AdvertisedIPAddress, endpoints.Value.SiloPort)));
            }

            silo.AddRnnStreamsInMemory();
            DefaultAdvertisedAddress(silo, configuration, () => IPAddress.Loopback);
        }

        if (IsKubernetes(configuration))
        {
            silo.UseKubernetesHosting(); // advertises the pod's IP (POD_IP), names the silo after the pod
        }

        // Failure detection (Orleans:Membership: ProbeTimeout, NumMissedProbesLimit, ...): appsettings.json shortens
        // Orleans' defaults so that a killed silo's grains move within seconds.
        silo.Configure<ClusterMembershipOptions>(configuration.GetSection("Orleans:Membership"));
        silo.AddMembershipFence(configuration); // a silo cut off from the table and the other silos refuses, then stops (Fence:*)
        silo.AddRnnStreams(configuration);
        silo.AddRnnStreamsMqtt(configuration); // Mqtt:Enabled: elements from devices through a broker, outputs back
        if (configuration.GetValue("Dashboard:Enabled", false))
        {
            silo.AddDashboard(); // served at /dashboard (see SiloEndpoints)
        }

        return silo;
    }

    /// <summary>
    /// The address the silo advertises when <c>Orleans:Endpoints:AdvertisedIPAddress</c> is not set: loopback for the
    /// embedded default, this host's first IPv4 address clustered (in a container: the container's). Kubernetes
    /// hosting replaces it with the pod's IP.
    /// </summary>
    private static void DefaultAdvertisedAddress(ISiloBuilder silo, IConfiguration configuration, Func<IPAddress> address)
    {
        if (string.IsNullOrEmpty(configuration["Orleans:Endpoints:AdvertisedIPAddress"]) && !IsKubernetes(configuration))
        {
            silo.Configure<EndpointOptions>(o => o.AdvertisedIPAddress = address());
        }
    }

    private static IPAddress HostAddress() =>
        Dns.GetHostAddresses(Dns.GetHostName()).FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a))
            ?? IPAddress.Loopback;
}
