using System.CommandLine;

namespace RnnStreams.Client;

/// <summary>
/// The options of every command that talks to the cluster through its Orleans gateway: where the gateways are, how long
/// to wait for them and for a call. Each command gets its own instances (an option belongs to the command line it was
/// built for); <see cref="Connection.OpenAsync(ParseResult)"/> reads them by name.
/// </summary>
internal static class ConnectionOptions
{
    public const string Gateway = "--gateway";
    public const string Redis = "--redis";
    public const string ConnectTimeout = "--connect-timeout";
    public const string ResponseTimeout = "--response-timeout";
    public const string Verbose = "--verbose";

    /// <summary>
    /// Adds the connection options to <paramref name="command"/>. An offline command takes them <paramref name="hidden"/>:
    /// accepted and ignored, as they always were, so that a wrapper adding them to every command keeps working.
    /// </summary>
    public static void AddTo(Command command, bool hidden = false)
    {
        var before = command.Options.Count;
        command.Add(CliOptions.Text(Gateway, $"The silos' gateways (default: $RNN_GATEWAY, else localhost:{RnnConstants.DefaultGatewayPort}).", "host:port[,host:port…]"));
        command.Add(CliOptions.Text(Redis, "Find the gateways of a Redis-clustered silo set in this Redis (default: $ConnectionStrings__Redis when no --gateway is given).", "host:port"));
        command.Add(CliOptions.Int(ConnectTimeout, "How long to wait for a silo to answer, in seconds.", 60));
        command.Add(CliOptions.Int(ResponseTimeout, "How long one call may take before it is retried or failed, in seconds.", 30));
        command.Add(CliOptions.Flag(Verbose, "Show the Orleans client's log on standard error."));
        foreach (var option in command.Options.Skip(before))
        {
            option.Hidden = hidden;
        }
    }
}
