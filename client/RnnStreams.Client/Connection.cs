using System.CommandLine;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace RnnStreams.Client;

/// <summary>An Orleans client connected to the cluster's gateways, retrying until a deadline.</summary>
internal sealed class Connection : IAsyncDisposable
{
    private readonly IHost _host;

    private Connection(IHost host) => _host = host;

    public IClusterClient Client => _host.Services.GetRequiredService<IClusterClient>();

    /// <summary>
    /// Connects to <c>--gateway host:port[,host:port…]</c> (default localhost:30000 or $RNN_GATEWAY), or, with
    /// <c>--redis host:port</c> (or $ConnectionStrings__Redis), to the gateways the cluster lists in Redis.
    /// </summary>
    /// <remarks>The command must carry the <see cref="ConnectionOptions"/>.</remarks>
    public static async Task<Connection> OpenAsync(ParseResult args)
    {
        // An explicit --gateway wins over Redis from the environment; an explicit --redis wins over everything.
        var gateway = args.GetValue<string>(ConnectionOptions.Gateway);
        var redis = args.GetValue<string>(ConnectionOptions.Redis) ?? (gateway is null ? Environment.GetEnvironmentVariable("ConnectionStrings__Redis") : null);
        var text = gateway ?? Environment.GetEnvironmentVariable("RNN_GATEWAY") ?? $"localhost:{RnnConstants.DefaultGatewayPort}";
        var wait = TimeSpan.FromSeconds(args.GetValue<int>(ConnectionOptions.ConnectTimeout));
        var responseTimeout = TimeSpan.FromSeconds(args.GetValue<int>(ConnectionOptions.ResponseTimeout));
        var endpoints = string.IsNullOrWhiteSpace(redis)
            ? text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(ParseEndpoint).ToArray()
            : [];
        var where = string.IsNullOrWhiteSpace(redis) ? text : $"the gateways listed in Redis {redis}";
        return await OpenAsync(endpoints, redis, where, wait, responseTimeout, args.GetValue<bool>(ConnectionOptions.Verbose));
    }

    /// <summary>A client of the gateway at <paramref name="gateway"/> (bench's client of the silo it starts).</summary>
    public static Task<Connection> OpenAsync(IPEndPoint gateway, TimeSpan wait) =>
        OpenAsync([gateway], redis: null, gateway.ToString(), wait, TimeSpan.FromSeconds(30), verbose: false);

    private static async Task<Connection> OpenAsync(IPEndPoint[] endpoints, string? redis, string where, TimeSpan wait, TimeSpan responseTimeout, bool verbose)
    {
        var clusterId = Environment.GetEnvironmentVariable("Orleans__ClusterId") ?? "rnnstreams";
        var serviceId = Environment.GetEnvironmentVariable("Orleans__ServiceId") ?? "rnnstreams";

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Logging.SetMinimumLevel(verbose ? LogLevel.Information : LogLevel.Error);
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.None); // a failed start is reported as one line below
        var deadline = DateTime.UtcNow + wait;
        builder.UseOrleansClient(client =>
        {
            if (endpoints.Length > 0)
            {
                client.UseStaticClustering(endpoints);
            }
            else
            {
                client.UseRedisClustering(o => o.ConfigurationOptions = StackExchange.Redis.ConfigurationOptions.Parse(redis!));
            }

            client.Configure<Orleans.Configuration.ClusterOptions>(o =>
            {
                o.ClusterId = clusterId;
                o.ServiceId = serviceId;
            });
            client.AddRnnStreamsClient();
            client.Configure<Orleans.Configuration.ClientMessagingOptions>(o => o.ResponseTimeout = responseTimeout);
            client.UseConnectionRetryFilter(async (_, token) =>
            {
                if (DateTime.UtcNow > deadline)
                {
                    return false;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(500), token);
                return true;
            });
        });

        var host = builder.Build();
        try
        {
            // The retry filter bounds failing connection attempts; this bounds a gateway that accepts but never answers.
            using var startTimeout = new CancellationTokenSource(wait + TimeSpan.FromSeconds(5));
            await host.StartAsync(startTimeout.Token);
        }
        catch (Exception e)
        {
            host.Dispose();
            throw new CliException($"cannot reach a silo at {where} within {wait.TotalSeconds:0} s ({e.Message}); start one with: dotnet run --project silo/RnnStreams.Silo");
        }

        return new Connection(host);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _host.StopAsync(TimeSpan.FromSeconds(5));
        }
        finally
        {
            _host.Dispose();
        }
    }

    private static IPEndPoint ParseEndpoint(string text)
    {
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text[(colon + 1)..], out var port) || port is < 1 or > 65535)
        {
            throw new CliException($"--gateway wants host:port, got '{text}'", 2);
        }

        var host = text[..colon];
        if (!IPAddress.TryParse(host, out var address))
        {
            var addresses = Dns.GetHostAddresses(host);
            address = addresses.FirstOrDefault(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork) ?? addresses.FirstOrDefault()
                ?? throw new CliException($"cannot resolve '{host}'");
        }

        return new IPEndPoint(address, port);
    }
}
