namespace RnnStreams.Client;

/// <summary>
/// A refusal that came back over HTTP (a <c>problem+json</c> body) or MQTT (the error topic): its kind and detail, as the
/// grain path's <see cref="RnnStreamsException"/> carries them. The command line prints it as <c>error: Kind: detail</c>.
/// </summary>
internal class RefusedException(string kind, string detail, string message) : Exception(message)
{
    /// <summary>The problem's kind: an error kind (<c>WrongSize</c>, <c>Gap</c>, …) or the API's own (<c>Unavailable</c>, <c>Unauthorized</c>, …).</summary>
    public string Kind { get; } = kind;

    /// <summary>What the silo said.</summary>
    public string Detail { get; } = detail;
}
