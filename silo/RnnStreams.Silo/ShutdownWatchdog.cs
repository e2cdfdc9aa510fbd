using System.Runtime.InteropServices;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace RnnStreams.Silo;

/// <summary>
/// Bounds a graceful stop. Orleans' shutdown waits on the membership table (to record the silo leaving) and on grain
/// deactivation; with Redis down or the silo cut off, those waits ran 110–125 s, past the host's budget and any
/// orchestrator's grace period. Sequences write their unwritten elements first (the checkpoint sweeper, at the first
/// stage a stopping silo leaves), so when the budget (<c>shutdownTimeoutSeconds</c>) and <see cref="Margin"/> are spent
/// the process exits with <see cref="ExitCode"/> and one line on stderr.
/// </summary>
internal sealed partial class ShutdownWatchdog(IHostApplicationLifetime lifetime, IOptions<HostOptions> host) : IHostedService
{
    /// <summary>The exit code of a stop that did not finish in time.</summary>
    public const int ExitCode = 3;

    /// <summary>Time after the host's budget for Orleans to finish what the budget's cancellation started.</summary>
    public static readonly TimeSpan Margin = TimeSpan.FromSeconds(5);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStopping.Register(() => _ = ExitWhenOverdueAsync(host.Value.ShutdownTimeout + Margin));
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static async Task ExitWhenOverdueAsync(TimeSpan budget)
    {
        await Task.Delay(budget);

        // Still here: Orleans is waiting on a membership table or storage that does not answer. Environment.Exit would
        // wait for the host too (its ProcessExit handler blocks until the host is disposed), so leave at once.
        Console.Error.WriteLine($"error: the silo did not stop within {budget.TotalSeconds:F0} s (shutdownTimeoutSeconds + {Margin.TotalSeconds:F0} s): the cluster's membership table or storage does not answer; exiting. Sequences that could not write are named in the warnings above.");
        Console.Error.Flush();
        Console.Out.Flush();
        Exit(ExitCode);
    }

    [LibraryImport("libc", EntryPoint = "_exit")]
    private static partial void Exit(int status);
}
