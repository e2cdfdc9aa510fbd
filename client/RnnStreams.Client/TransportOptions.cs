using System.CommandLine;
using RnnStreams.Client.Load;

namespace RnnStreams.Client;

/// <summary>
/// How <c>stream</c>, <c>watch</c> and <c>demo</c> reach the sequences: through the Orleans gateway (the default), the
/// silos' HTTP API (<c>--url</c>, <c>--api-key</c>), or an MQTT broker (<c>--mqtt</c>, <c>--mqtt-prefix</c>). The
/// commands print the same lines and exit with the same codes whichever they use.
/// </summary>
internal static class TransportOptions
{
    public const string Url = "--url";
    public const string ApiKey = "--api-key";
    public const string Mqtt = "--mqtt";
    public const string MqttPrefix = "--mqtt-prefix";

    /// <summary><c>--api-key</c> (shared with <c>load --http</c>).</summary>
    public static Option<string> ApiKeyOption() =>
        CliOptions.Text(ApiKey, "The key sent in X-Api-Key to the HTTP API (default: $RNN_API_KEY; a silo with no keys serves only callers on its own machine).", "KEY");

    /// <summary><c>--mqtt</c>; <paramref name="what"/> says what goes through the broker.</summary>
    public static Option<string> MqttOption(string what) => CliOptions.Text(Mqtt, what, "host:port");

    /// <summary><c>--mqtt-prefix</c>: the first topic level, as the silos' <c>Mqtt:TopicPrefix</c>.</summary>
    public static Option<string> MqttPrefixOption() =>
        CliOptions.Text(MqttPrefix, "The first level of the MQTT topics, as the silos' Mqtt:TopicPrefix.", "PREFIX", fallback: "rnn");

    /// <summary>Adds the transport options, and the gateway's (<see cref="ConnectionOptions"/>), to <paramref name="command"/>.</summary>
    public static void AddTo(Command command, string mqttWhat)
    {
        command.Add(CliOptions.Text(Url, "Go through the silos' HTTP API at this base address instead of the Orleans gateway (e.g. http://127.0.0.1:8080).", "URL"));
        command.Add(ApiKeyOption());
        command.Add(MqttOption(mqttWhat));
        command.Add(MqttPrefixOption());
        ConnectionOptions.AddTo(command);
    }

    /// <summary>Which way the command line chose.</summary>
    public static Transport Read(ParseResult args)
    {
        var url = args.GetValue<string>(Url);
        Uri? baseUri = null;
        if (url is not null && (!Uri.TryCreate(url.EndsWith('/') ? url : url + "/", UriKind.Absolute, out baseUri) || baseUri.Scheme is not ("http" or "https")))
        {
            throw new CliException($"--url wants an http:// or https:// address, got '{url}'", 2);
        }

        var mqtt = args.GetValue<string>(Mqtt);
        if (mqtt is not null)
        {
            MqttLoadTarget.ParseHostPort(mqtt); // a usage error before anything connects
        }

        return new Transport(args, baseUri, args.GetValue<string>(ApiKey) ?? Environment.GetEnvironmentVariable("RNN_API_KEY"), mqtt, args.GetValue<string>(MqttPrefix) ?? "rnn");
    }
}

/// <summary>The way to the sequences that the command line chose (<see cref="TransportOptions"/>).</summary>
internal sealed record Transport(ParseResult Args, Uri? Url, string? ApiKey, string? Mqtt, string MqttPrefix)
{
    public bool OverGateway => Url is null && Mqtt is null;

    /// <summary>
    /// Opens the target. Over MQTT, <paramref name="sequences"/> is the topic level subscribed to (an id, or <c>+</c>),
    /// <paramref name="wait"/> how long an element's output may take; with <paramref name="needsControl"/> what MQTT has
    /// no message for goes through <c>--url</c> when given, else the gateway; without it <c>--url</c> and <c>--mqtt</c>
    /// are two ways in, and only one may be chosen.
    /// </summary>
    public async Task<ILoadTarget> OpenAsync(string sequences, TimeSpan wait, bool needsControl, CancellationToken cancellation)
    {
        var timeout = TimeSpan.FromSeconds(Args.GetValue<int>(ConnectionOptions.ResponseTimeout));
        if (Mqtt is null)
        {
            return Url is null ? new GrainLoadTarget(await Connection.OpenAsync(Args)) : new HttpLoadTarget([Url], ApiKey, timeout);
        }

        if (Url is not null && !needsControl)
        {
            throw new CliException("--url and --mqtt are two ways in: choose one", 2);
        }

        ILoadTarget? control = !needsControl ? null
            : Url is not null ? new HttpLoadTarget([Url], ApiKey, timeout)
            : new GrainLoadTarget(await Connection.OpenAsync(Args));
        return await MqttLoadTarget.ConnectAsync(control, Mqtt, MqttPrefix, wait, cancellation, sequences);
    }
}
