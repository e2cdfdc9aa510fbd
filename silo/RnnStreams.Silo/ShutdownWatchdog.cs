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
internal sealed class ShutdownWatchdog(IHostApplicationLifetime lifetime, IOptions<HostOptions> host) : IHostedService
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

        // Still here: Orleans is waiting on a membership table or storage that does not answer.
        Console.Error.WriteLine($"error: the silo did not stop within {budget.TotalSeconds:F0} s (shutdownTimeoutSeconds + {Margin.TotalSeconds:F0} s): the cluster's membership table or storage does not answer; exiting. Sequences that could not write are named in the warnings above.");
        ExitNow(ExitCode);
    }

    /// <summary>
    /// Ends the process now, with <paramref name="code"/>: <see cref="Environment.Exit"/> would wait for the host's own
    /// stop to finish (its ProcessExit handler blocks until the host is disposed).
    /// </summary>
    internal static void ExitNow(int code)
    {
        Console.Out.Flush();
        Console.Error.Flush();
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
        {
            Exit(code);
        }

        System.Diagnostics.Process.GetCurrentProcess().Kill();
    }

    [DllImport("libc", EntryPoint = "_exit")]
#pragma warning disable SYSLIB1054 // a plain int: nothing to marshal, and LibraryImport would need unsafe code
    private static extern void Exit(int status);
#pragma warning restore SYSLIB1054
}
