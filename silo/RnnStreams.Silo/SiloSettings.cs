using System.Net;
using System.Net.Sockets;

namespace RnnStreams.Silo;

/// <summary>The <c>Orleans</c> configuration section of the silo host.</summary>
public sealed class SiloSettings
{
    public string ClusterId { get; set; } = "rnnstreams";

    public string ServiceId { get; set; } = "rnnstreams";

    public int SiloPort { get; set; } = RnnConstants.DefaultSiloPort;

    public int GatewayPort { get; set; } = RnnConstants.DefaultGatewayPort;

    /// <summary>
    /// The address other silos and clients use to reach this one (an IP or a host name). Embedded default: 127.0.0.1.
    /// With Redis: this host's first IPv4 address unless set (in docker-compose, the service name).
    /// </summary>
    public string? AdvertisedAddress { get; set; }

    public IPAddress ResolveAdvertisedAddress(bool clustered)
    {
        if (!string.IsNullOrEmpty(AdvertisedAddress))
        {
            return IPAddress.TryParse(AdvertisedAddress, out var ip)
                ? ip
                : Dns.GetHostAddresses(AdvertisedAddress).First(a => a.AddressFamily == AddressFamily.InterNetwork);
        }

        if (!clustered)
        {
            return IPAddress.Loopback;
        }

        return Dns.GetHostAddresses(Dns.GetHostName()).FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a))
            ?? IPAddress.Loopback;
    }
}
