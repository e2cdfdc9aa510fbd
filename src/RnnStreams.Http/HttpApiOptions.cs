namespace RnnStreams.Http;

/// <summary>The <c>Http</c> configuration section: the device API beside the silo.</summary>
public sealed class HttpApiOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Http";

    /// <summary>The header that carries an API key.</summary>
    public const string KeyHeader = "X-Api-Key";

    /// <summary>On by default in the embedded configuration, off by default with Redis clustering.</summary>
    public bool? Enabled { get; set; }

    /// <summary>
    /// Accepted keys, stored hashed: name → lower-case hex SHA-256 of the key (<c>printf %s KEY | sha256sum</c>). With
    /// none, only loopback callers are served.
    /// </summary>
    public Dictionary<string, string> ApiKeys { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Requests per second each key (or, without keys, each caller address) may make on average.</summary>
    public int RequestsPerSecond { get; set; } = 2000;

    /// <summary>How many requests a key may make at once above its rate (the bucket's size).</summary>
    public int Burst { get; set; } = 4000;

    /// <summary>Largest request body accepted, in bytes (default 1 MiB; model files up to 64 MiB use <see cref="MaxModelBytes"/>).</summary>
    public long MaxBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>Largest model file accepted by <c>POST /v1/models/{name}</c>, in bytes (default 16 MiB).</summary>
    public long MaxModelBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>Elements in one batch request, at most (default 10,000).</summary>
    public int MaxBatch { get; set; } = 10_000;

    /// <summary>
    /// How long a request waits for its grain call before it is answered 503 <c>Unavailable</c> (default 8 s: above the
    /// storage's own 5 s timeout, so a slow write still ends as a typed <c>Storage</c> refusal). The call may still
    /// complete after that; sending the same element again is safe.
    /// </summary>
    public TimeSpan CallTimeout { get; set; } = TimeSpan.FromSeconds(8);

    /// <summary>
    /// Maps <c>POST /v1/floor/{id}/elements</c>: the element endpoint without its grain call, to measure what the HTTP
    /// stack alone allows on this host (default off).
    /// </summary>
    public bool Floor { get; set; }

    /// <summary>
    /// The HTTP versions of the API's addresses: <c>Http1</c> (default), <c>Http2</c> (h2c with prior knowledge on a plain
    /// port: gateways and gRPC-style clients; browsers and clients that speak HTTP/1.1 first cannot use it) or
    /// <c>Http1AndHttp2</c> (both, negotiated by ALPN, so only over TLS: on a plain port Kestrel serves HTTP/1.1). The
    /// management port stays HTTP/1.1.
    /// </summary>
    public string Protocols { get; set; } = "Http1";

    /// <summary>
    /// More addresses of the API that speak h2c only (HTTP/2 with prior knowledge), separated by <c>;</c> — for
    /// gateways, while devices keep <see cref="Protocols"/> on the API's own addresses (default none).
    /// </summary>
    public string? H2cUrls { get; set; }

    /// <summary>How long an idle keep-alive connection stays open (default 130 s, Kestrel's).</summary>
    public TimeSpan KeepAliveTimeout { get; set; } = TimeSpan.FromSeconds(130);

    /// <summary>Concurrent requests (streams) one HTTP/2 connection may carry (default 1,000; Kestrel's own is 100).</summary>
    public int MaxStreamsPerConnection { get; set; } = 1000;
}
