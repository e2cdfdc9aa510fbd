using System.Diagnostics;
using System.Text;
using RnnStreams.TestSupport;

namespace RnnStreams.Silo.Tests;

/// <summary>
/// A client command left running (a watcher) while the test does something else: started, then awaited until it says
/// a given line on standard error (that it is subscribed), so the test waits on a condition rather than a sleep.
/// </summary>
public sealed class BackgroundClient : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly TaskCompletionSource _said = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly string _text;

    private BackgroundClient(string[] args, string text)
    {
        _text = text;
        _process = Process.Start(ProcessRunner.StartInfo(Repository.ClientDll, args))!;
        _process.StandardInput.Close();
        _process.OutputDataReceived += (_, e) => Append(_stdout, e.Data);
        _process.ErrorDataReceived += (_, e) =>
        {
            Append(_stderr, e.Data);
            if (e.Data?.Contains(_text, StringComparison.Ordinal) == true)
            {
                _said.TrySetResult();
            }
        };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>Starts <c>dotnet RnnStreams.Client.dll args</c> and waits until its standard error holds <paramref name="text"/>.</summary>
    public static async Task<BackgroundClient> StartAsync(string[] args, string text)
    {
        var client = new BackgroundClient(args, text);
        var exited = client._process.WaitForExitAsync();
        var done = await Task.WhenAny(client._said.Task, exited, Task.Delay(TimeSpan.FromSeconds(60)));
        Assert.True(done == client._said.Task, $"the client did not say '{text}':\n{client.Result()}");
        return client;
    }

    /// <summary>Waits for the command to finish by itself (within <paramref name="timeout"/>).</summary>
    public async Task<ProcessResult> WaitAsync(TimeSpan timeout)
    {
        using var cancellation = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cancellation.Token);
        return Result();
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
    }

    private ProcessResult Result()
    {
        lock (_stdout)
        {
            return new ProcessResult(_process.HasExited ? _process.ExitCode : -1, _stdout.ToString(), _stderr.ToString());
        }
    }

    private void Append(StringBuilder to, string? line)
    {
        if (line is not null)
        {
            lock (_stdout)
            {
                to.AppendLine(line);
            }
        }
    }
}
