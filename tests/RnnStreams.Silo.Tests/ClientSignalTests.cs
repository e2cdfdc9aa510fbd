using System.Diagnostics;
using System.Text;
using RnnStreams.TestSupport;

namespace RnnStreams.Silo.Tests;

/// <summary>Long-running client commands stop cleanly on SIGTERM (as <c>timeout</c> and orchestrators send it).</summary>
[Collection(SiloCollection.Name)]
public sealed class ClientSignalTests(SiloFixture fixture)
{
    [Fact]
    public async Task Watch_OfASequenceThatDoesNotExist_SaysSo_AndStopsOnSigterm()
    {
        var id = $"nobody-{Guid.NewGuid():N}";
        using var process = Process.Start(ProcessRunner.StartInfo(Repository.ClientDll, ["watch", "--sequence", id, "--gateway", fixture.Silo.Gateway, "--connect-timeout", "30"]))!;
        process.StandardInput.Close();
        var stderr = new StringBuilder();
        var said = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            lock (stderr)
            {
                stderr.AppendLine(e.Data);
            }

            if (e.Data.Contains("has not started", StringComparison.Ordinal))
            {
                said.TrySetResult();
            }
        };
        process.BeginErrorReadLine();
        _ = process.StandardOutput.ReadToEndAsync();

        var done = await Task.WhenAny(said.Task, Task.Delay(TimeSpan.FromSeconds(60)));
        Assert.True(done == said.Task, $"watch did not say the sequence has not started:\n{stderr}");
        Assert.Contains($"'{id}'", stderr.ToString());

        var sent = Stopwatch.StartNew();
        using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!)
        {
            await kill.WaitForExitAsync();
        }

        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await process.WaitForExitAsync(cancel.Token);
        Assert.Equal(0, process.ExitCode);
        Assert.True(sent.Elapsed < TimeSpan.FromSeconds(10), $"watch took {sent.Elapsed} to stop after SIGTERM");
    }
}
