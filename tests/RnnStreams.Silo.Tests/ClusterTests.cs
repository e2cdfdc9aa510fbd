using System.Globalization;
using RnnStreams.Core;
using RnnStreams.TestSupport;

namespace RnnStreams.Silo.Tests;

/// <summary>Several silo processes clustered through a real redis-server, driven by the client as a process.</summary>
public sealed class ClusterTests : IAsyncLifetime
{
    private readonly ScratchFolder _dir = new("rnn-cluster-");
    private readonly List<SiloProcess> _silos = [];
    private RedisServer _redis = null!;
    private Dictionary<string, string> _environment = null!;

    public async Task InitializeAsync()
    {
        _redis = await RedisServer.StartAsync();
        var cluster = $"test-{Guid.NewGuid():N}";
        _environment = new()
        {
            ["ConnectionStrings__Redis"] = _redis.ConnectionString,
            ["Orleans__ClusterId"] = cluster,
            ["Orleans__ServiceId"] = cluster,
            ["RnnStreams__Durability"] = "EveryStep",
        };
    }

    public async Task DisposeAsync()
    {
        foreach (var silo in _silos)
        {
            await silo.DisposeAsync();
        }

        await _redis.DisposeAsync();
        _dir.Dispose();
    }

    private async Task<SiloProcess> StartSiloAsync()
    {
        var silo = await SiloProcess.StartAsync(["--Orleans:Endpoints:AdvertisedIPAddress", "127.0.0.1"], _environment);
        _silos.Add(silo);
        return silo;
    }

    private Task<ProcessResult> Client(SiloProcess gateway, params string[] args) =>
        ProcessRunner.RunAsync(Repository.ClientDll, [.. args, "--gateway", gateway.Gateway, "--connect-timeout", "30"], TimeSpan.FromMinutes(3), _environment);

    private static void Ok(ProcessResult result) => Assert.True(result.ExitCode == 0, result.ToString());

    [Fact]
    public async Task WholeClusterRestart_KeepsModelsAndSequences()
    {
        var a = await StartSiloAsync();
        await StartSiloAsync();
        var model = _dir.PathOf("m.json");
        Ok(await Client(a, "models", "random", "--name", "restart-model", "--input", "2", "--hidden", "8", "--output", "1", "--seed", "5", "--out", model));
        Ok(await Client(a, "models", "put", "--file", model));
        var rows = Enumerable.Range(1, 40).Select(t => $"{Math.Sin(t / 3.0).ToString("R", CultureInfo.InvariantCulture)},{(t % 7 / 7.0).ToString("R", CultureInfo.InvariantCulture)}").ToArray();
        var firstHalf = _dir.Write("first.csv", string.Join('\n', rows.Take(25)));
        var all = _dir.Write("all.csv", string.Join('\n', rows));
        var offline = await ProcessRunner.RunAsync(Repository.ClientDll, ["predict", "--model", model, "--input", all]);
        Ok(offline);
        Ok(await Client(a, "stream", "--sequence", "restart-seq", "--input", firstHalf, "--model", "restart-model"));

        // Every silo of the cluster dies at once; Redis keeps the membership table, the models and the sequences.
        foreach (var silo in _silos)
        {
            await silo.DisposeAsync();
        }

        _silos.Clear();
        var c = await StartSiloAsync();
        await StartSiloAsync();

        var show = await Client(c, "sequence", "show", "--sequence", "restart-seq");
        Ok(show);
        Assert.StartsWith("sequence=restart-seq model=restart-model version=1 last_n=25 last_durable_n=25 durability=EveryStep", show.OutputLines[0]);
        var resumed = await Client(c, "stream", "--sequence", "restart-seq", "--input", all);
        Ok(resumed);
        Assert.Contains("resuming at 26", resumed.StandardError);
        Assert.Equal([offline.OutputLines[0], .. offline.OutputLines[26..]], resumed.OutputLines);
        var list = await Client(c, "models", "list", "--name", "restart-model");
        Assert.Equal(2, list.OutputLines.Length); // the header and v1: a restart does not republish
    }

    [Fact]
    public async Task Stream_SurvivesTheLossOfEachSilo_PrintingExactlyWhatPredictPrints()
    {
        _silos.Add(await SiloProcess.StartAsync(["--Orleans:Endpoints:AdvertisedIPAddress", "127.0.0.1"], _environment));
        _silos.Add(await SiloProcess.StartAsync(["--Orleans:Endpoints:AdvertisedIPAddress", "127.0.0.1"], _environment));
        var model = _dir.PathOf("m.json");
        ModelFile.Save(RandomModel.Create("survive", 1, 16, 1, seed: 9), model);
        Ok(await Client(_silos[0], "models", "put", "--file", model));
        const int Elements = 4000;
        var input = _dir.Write("x.csv", string.Join('\n', Enumerable.Range(1, Elements).Select(t => Math.Sin(t / 10.0).ToString("R", CultureInfo.InvariantCulture))));
        var offline = await ProcessRunner.RunAsync(Repository.ClientDll, ["predict", "--model", model, "--input", input]);
        Ok(offline);

        var info = ProcessRunner.StartInfo(Repository.ClientDll,
            ["stream", "--sequence", "survivor", "--input", input, "--model", "survive", "--redis", _redis.ConnectionString, "--response-timeout", "5", "--rate", "250"], _environment);
        using var client = System.Diagnostics.Process.Start(info)!;
        client.StandardInput.Close();
        var lines = new List<string>();
        var stderr = client.StandardError.ReadToEndAsync();
        var reader = Task.Run(async () =>
        {
            while (await client.StandardOutput.ReadLineAsync() is { } line)
            {
                lock (lines)
                {
                    lines.Add(line);
                }
            }
        });

        // Kill each silo once while elements flow (each is restarted at once), so whichever hosts the sequence dies. The
        // stream is paced (--rate 250: at least 16 s) so that it is still running when the second silo dies.
        foreach (var (victim, after) in new[] { (0, 400), (1, 1600) })
        {
            while (!client.HasExited && lines.Count < after)
            {
                await Task.Delay(20);
            }

            Assert.False(client.HasExited, $"the stream ended before silo {victim} was killed");
            var silo = _silos[victim];
            await silo.DisposeAsync();
            _silos[victim] = await SiloProcess.StartAsync(["--Orleans:Endpoints:AdvertisedIPAddress", "127.0.0.1"], _environment);
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await client.WaitForExitAsync(timeout.Token);
        await reader;
        var errors = await stderr;
        Assert.True(client.ExitCode == 0, errors);
        Assert.True(lines.Count == Elements + 1, $"{lines.Count} lines; stderr: {errors}");
        Assert.Equal(offline.OutputLines, lines.Select(l => l.Trim()).Where(l => l.Length > 0));
        // Whether a call failed depends on whether one was in flight at the kill: a sequence whose silo died between two
        // calls simply comes back elsewhere from its stored state. Either way every output is right and printed once.
    }

    [Fact]
    public async Task ModelVersions_AreSharedAcrossSilos_AndUpgradeKeepsState()
    {
        var a = await StartSiloAsync();
        var b = await StartSiloAsync();
        var v1 = RandomModel.Create("versions", 1, 6, 1, seed: 1);
        var v2 = RandomModel.Create("versions", 1, 6, 1, seed: 2);
        var v1Path = _dir.PathOf("v1.json");
        var v2Path = _dir.PathOf("v2.json");
        ModelFile.Save(v1, v1Path);
        ModelFile.Save(v2, v2Path);
        double[][] xs = [[0.5], [-0.25], [1.0], [0.75], [-1.0]];
        var state = new double[6];
        var y = new double[1];
        var expected = new List<string>();
        for (var t = 0; t < xs.Length; t++)
        {
            (t < 3 ? v1 : v2).Step(xs[t], state, y);
            expected.Add($"{t + 1},{y[0].ToString("R", CultureInfo.InvariantCulture)}");
        }

        Ok(await Client(a, "models", "put", "--file", v1Path));
        Ok(await Client(a, "stream", "--sequence", "pinned", "--input", _dir.Write("x3.csv", "0.5\n-0.25\n1.0\n"), "--model", "versions"));
        var published = await Client(b, "models", "put", "--file", v2Path); // through the other silo
        Ok(published);
        Assert.StartsWith("published versions v2", published.StandardOutput);

        Assert.Contains("version=1 last_n=3", (await Client(b, "sequence", "show", "--sequence", "pinned")).OutputLines[0]);

        // Three inputs ahead from the live state (through the other silo): y_3, then v1 fed its own outputs; nothing moves.
        var rolled = new double[6];
        var forecastY = new double[1];
        foreach (var x in xs.Take(3))
        {
            v1.Step(x, rolled, forecastY);
        }

        var forecastRows = new List<string> { $"4,{forecastY[0].ToString("R", CultureInfo.InvariantCulture)}" };
        for (var n = 5; n <= 6; n++)
        {
            v1.Step([forecastY[0]], rolled, forecastY);
            forecastRows.Add($"{n},{forecastY[0].ToString("R", CultureInfo.InvariantCulture)}");
        }

        var forecast = await Client(b, "sequence", "forecast", "--sequence", "pinned", "--steps", "3");
        Ok(forecast);
        Assert.Equal(forecastRows, forecast.OutputLines);
        var delete = await Client(a, "models", "delete", "--name", "versions", "--version", "1");
        Assert.Equal(1, delete.ExitCode);
        Assert.Contains("InUse: model 'versions' v1 is used by 1 sequence(s)", delete.StandardError);

        var upgraded = await Client(b, "sequence", "upgrade", "--sequence", "pinned");
        Ok(upgraded);
        Assert.Contains("version=2 last_n=3", upgraded.OutputLines[0]);
        var rest = await Client(a, "stream", "--sequence", "pinned", "--input", _dir.Write("x5.csv", "0.5\n-0.25\n1.0\n0.75\n-1.0\n"));
        Ok(rest);
        Assert.Equal(["n,y_0", .. expected.Skip(3)], rest.OutputLines);

        Ok(await Client(b, "models", "delete", "--name", "versions", "--version", "1"));
        var list = await Client(a, "models", "list", "--name", "versions");
        Assert.Equal(2, list.OutputLines.Length);
        Assert.StartsWith("versions,2,", list.OutputLines[1]);
    }
}

/// <summary>tests/cluster/kill-test.sh, as CI runs it: the client's last line must report nothing lost, doubled or wrong.</summary>
public sealed class KillTests
{
    private static async Task<ProcessResult> RunKillTestAsync(params string[] args)
    {
        var script = Path.Combine(Repository.Root, "tests", "cluster", "kill-test.sh");
        var info = new System.Diagnostics.ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(script);
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        info.ArgumentList.Add("--no-build"); // the test build already built the silo and the client
        info.Environment["CONFIG"] = Repository.Configuration;
        using var process = System.Diagnostics.Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(8));
        await process.WaitForExitAsync(timeout.Token);
        return new ProcessResult(process.ExitCode, await stdout, await stderr);
    }

    [Fact]
    public async Task KillTest_EveryStep_LosesAndDoublesNothing()
    {
        var result = await RunKillTestAsync("--durability", "EveryStep", "--sequences", "1000", "--steps", "200");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Matches(@"^sequences=1000 steps=200000 lost=0 duplicated=0 mismatched=0 recovered_after_ms=\d+$", result.OutputLines[^1]);
        Assert.Contains(result.OutputLines, l => l.StartsWith("# kill -9 silo 2", StringComparison.Ordinal));
    }

    [Fact]
    public async Task KillTest_Checkpoint_RollsBackToACheckpointAndReplays()
    {
        var result = await RunKillTestAsync("--durability", "Checkpoint", "--every", "25", "--sequences", "300", "--steps", "200");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Matches(@"^sequences=300 steps=60000 lost=0 duplicated=0 mismatched=0 recovered_after_ms=\d+$", result.OutputLines[^1]);
        Assert.Matches(@"rolled_back=[1-9]\d* bad_rollbacks=0", result.StandardOutput); // the kills did roll sequences back
    }
}
