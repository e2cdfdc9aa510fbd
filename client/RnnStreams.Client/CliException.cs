namespace RnnStreams.Client;

/// <summary>A user-facing failure: printed as one line on standard error, with an exit code, never a stack trace.</summary>
internal sealed class CliException(string message, int exitCode = 1) : Exception(message)
{
    /// <summary>1 for a failure, 2 for a usage error.</summary>
    public int ExitCode { get; } = exitCode;
}
