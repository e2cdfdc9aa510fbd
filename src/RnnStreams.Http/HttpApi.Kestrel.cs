using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace RnnStreams.Http;

/// <summary>The API's connection settings on Kestrel: HTTP versions, keep-alive, HTTP/2 streams, body size.</summary>
public static partial class HttpApi
{
    /// <summary>
    /// Applies <paramref name="options"/> to Kestrel: on each address, the HTTP versions <paramref name="protocolsOf"/>
    /// gives for its port (none: Kestrel's default, HTTP/1.1 on a plain port — the management port, for probes and
    /// scrapers), the keep-alive timeout, the HTTP/2 stream limit and the largest body.
    /// </summary>
    public static void ConfigureKestrel(KestrelServerOptions kestrel, HttpApiOptions options, Func<int, HttpProtocols?> protocolsOf)
    {
        kestrel.Limits.MaxRequestBodySize = Math.Max(options.MaxBodyBytes, options.MaxModelBytes);
        kestrel.Limits.KeepAliveTimeout = options.KeepAliveTimeout;
        kestrel.Limits.Http2.MaxStreamsPerConnection = options.MaxStreamsPerConnection;
        kestrel.ConfigureEndpointDefaults(listen =>
        {
            if (listen.IPEndPoint is { } endpoint && protocolsOf(endpoint.Port) is { } protocols)
            {
                listen.Protocols = protocols;
            }
        });
    }

    /// <summary>Reads <see cref="HttpApiOptions.Protocols"/>; a value Kestrel has no use for here is refused by name.</summary>
    public static HttpProtocols ParseProtocols(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        null or "" or "http1" => HttpProtocols.Http1,
        "http2" => HttpProtocols.Http2,
        "http1andhttp2" => HttpProtocols.Http1AndHttp2,
        _ => throw new InvalidOperationException($"{HttpApiOptions.Section}:{nameof(HttpApiOptions.Protocols)} is Http1, Http2 (h2c with prior knowledge) or Http1AndHttp2 (negotiated over TLS), got '{value}'"),
    };
}
