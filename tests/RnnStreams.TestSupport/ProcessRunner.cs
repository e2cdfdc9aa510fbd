using System.Diagnostics;
using System.Text;

namespace RnnStreams.TestSupport;

/// <summary>The outcome of a finished process.</summary>
public sealed record ProcessResult(int ExitCode, string StandardOutput, string StandardError)
{
    public string[] OutputLines => StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{StandardOutput}\n--- stderr\n{StandardError}";
}

/// <summary>Runs <c>dotnet some.dll args</c> as a real process.</summary>
public static class ProcessRunner
{
    public static ProcessStartInfo StartInfo(string dll, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null) =>
        ProgramInfo("dotnet", [dll, .. args], environment);

    /// <summary>
    /// Runs a bash script of the repository (path relative to its root) to completion, with the tests' build
    /// configuration in <c>CONFIG</c>. After the timeout it gets SIGTERM first, so that its traps remove what it made
    /// (namespaces, containers, processes), then 30 s later SIGKILL.
    /// </summary>
    public static Task<ProcessResult> RunScriptAsync(string script, IEnumerable<string> args, TimeSpan timeout) =>
        RunAsync(ProgramInfo("bash", [Path.Combine(Repository.Root, script), .. args], new Dictionary<string, string> { ["CONFIG"] = Repository.Configuration }), timeout, terminateFirst: true);

    private static ProcessStartInfo ProgramInfo(string program, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = Repository.Root,
        };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        // The test host's own settings must not leak into the child.
        info.Environment.Remove("ConnectionStrings__Redis");
        info.Environment.Remove("RNN_GATEWAY");
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }

        return info;
    }

    /// <summary>Runs a program (not a dll) to completion; kills it and fails after the timeout.</summary>
    public static Task<ProcessResult> RunProgramAsync(string program, IEnumerable<string> args, TimeSpan timeout) =>
        RunAsync(ProgramInfo(program, args, null), timeout);

    /// <summary>Runs to completion; kills the process and fails after the timeout.</summary>
    public static Task<ProcessResult> RunAsync(string dll, IEnumerable<string> args, TimeSpan? timeout = null, IReadOnlyDictionary<string, string>? environment = null) =>
        RunAsync(StartInfo(dll, args, environment), timeout);

    private static async Task<ProcessResult> RunAsync(ProcessStartInfo info, TimeSpan? timeout, bool terminateFirst = false)
    {
        using var process = Process.Start(info)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cancellation = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(cancellation.Token);
        }
        catch (OperationCanceledException)
        {
            if (terminateFirst)
            {
                using (var term = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!)
                {
                    await term.WaitForExitAsync();
                }

                using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                await process.WaitForExitAsync(grace.Token).ContinueWith(_ => { }, TaskScheduler.Default);
            }

            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{info.FileName} {string.Join(' ', info.ArgumentList)} did not finish in {timeout}; stdout so far: {await stdout}");
        }

        return new ProcessResult(process.ExitCode, await stdout, await stderr);
    }
}

/// <summary>A silo process on free ports, ready once it has published its seed model. Disposing kills it.</summary>
public sealed class SiloProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private bool _seeded;
    private bool _listening;

    private SiloProcess(Process process, int gatewayPort, int httpPort, int managementPort)
    {
        _process = process;
        GatewayPort = gatewayPort;
        HttpPort = httpPort;
        ManagementPort = managementPort;
    }

    public int GatewayPort { get; }

    /// <summary>The HTTP API's port on loopback (served when the silo's HTTP API is on: the embedded default).</summary>
    public int HttpPort { get; }

    /// <summary>The HTTP API's base address.</summary>
    public Uri Http => new($"http://127.0.0.1:{HttpPort}");

    public string Gateway => $"127.0.0.1:{GatewayPort}";

    /// <summary>The management endpoint's port on loopback (health, metrics, dashboard; always served).</summary>
    public int ManagementPort { get; }

    /// <summary>The management endpoint's base address.</summary>
    public Uri Management => new($"http://127.0.0.1:{ManagementPort}");

    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    public bool HasExited => _process.HasExited;

    /// <summary>The silo's process id (to send it signals).</summary>
    public int ProcessId => _process.Id;

    /// <summary>Waits until the silo exits by itself; its exit code.</summary>
    public async Task<int> WaitForExitAsync(CancellationToken cancellation)
    {
        await _process.WaitForExitAsync(cancellation);
        return _process.ExitCode;
    }

    /// <summary>
    /// Starts the built silo on free loopback ports. With <paramref name="apiUrlFromEnvironment"/> the API's address goes
    /// in <c>ASPNETCORE_URLS</c> instead of <c>--urls</c>.
    /// </summary>
    public static async Task<SiloProcess> StartAsync(IEnumerable<string>? extraArgs = null, IReadOnlyDictionary<string, string>? environment = null, TimeSpan? timeout = null, bool apiUrlFromEnvironment = false)
    {
        var gateway = Repository.FreePort();
        var siloPort = Repository.FreePort();
        var httpPort = Repository.FreePort();
        var managementPort = Repository.FreePort();
        string[] args = [.. PortArguments(gateway, siloPort, httpPort, managementPort), .. extraArgs ?? []];
        if (apiUrlFromEnvironment)
        {
            var urls = Array.IndexOf(args, "--urls");
            args = [.. args[..urls], .. args[(urls + 2)..]];
            environment = new Dictionary<string, string>(environment ?? new Dictionary<string, string>()) { ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{httpPort}" };
        }

        var process = Process.Start(ProcessRunner.StartInfo(Repository.SiloDll, args, environment))!;
        var silo = new SiloProcess(process, gateway, httpPort, managementPort);
        process.OutputDataReceived += (_, e) => silo.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => silo.OnLine(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) => silo._ready.TrySetException(new InvalidOperationException("the silo exited during start-up:\n" + silo.Log));

        var done = await Task.WhenAny(silo._ready.Task, Task.Delay(timeout ?? TimeSpan.FromSeconds(90)));
        if (done != silo._ready.Task)
        {
            await silo.DisposeAsync();
            throw new TimeoutException("the silo did not become ready:\n" + silo.Log);
        }

        await silo._ready.Task;
        return silo;
    }

    /// <summary>Waits for the process to exit by itself (for start-up failures).</summary>
    public static async Task<ProcessResult> RunToExitAsync(IEnumerable<string> args, TimeSpan timeout, IReadOnlyDictionary<string, string>? environment = null) =>
        await ProcessRunner.RunAsync(Repository.SiloDll, [.. PortArguments(Repository.FreePort(), Repository.FreePort(), Repository.FreePort(), Repository.FreePort()), .. args], timeout, environment);

    /// <summary>The silo's ports on loopback: Orleans' own endpoint keys, ASP.NET Core's <c>--urls</c> for the API, the management endpoint.</summary>
    public static string[] PortArguments(int gateway, int siloPort, int httpPort, int managementPort) =>
    [
        "--Orleans:Endpoints:GatewayPort", gateway.ToString(), "--Orleans:Endpoints:SiloPort", siloPort.ToString(),
        "--urls", $"http://127.0.0.1:{httpPort}", "--Management:Urls", $"http://127.0.0.1:{managementPort}",
    ];

    /// <summary>Sends SIGTERM, as an orchestrator stopping the silo does, and waits for it to exit: its code and how long it took.</summary>
    public async Task<(int ExitCode, TimeSpan Took)> TerminateAsync(TimeSpan timeout)
    {
        var started = Stopwatch.GetTimestamp();
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!)
        {
            await kill.WaitForExitAsync();
        }

        using var cancel = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cancel.Token);
        return (_process.ExitCode, Stopwatch.GetElapsedTime(started));
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_log)
        {
            _log.AppendLine(line);
        }

        // Ready when the seed models are published and the host listens on all its addresses (API and management).
        _seeded |= line.Contains("ready at version", StringComparison.Ordinal);
        _listening |= line.Contains("Application started.", StringComparison.Ordinal);
        if (_seeded && _listening)
        {
            _ready.TrySetResult();
        }
    }
}
