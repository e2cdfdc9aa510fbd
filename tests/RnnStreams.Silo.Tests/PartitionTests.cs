using System.Globalization;
using System.Text.RegularExpressions;
using RnnStreams.TestSupport;
using Xunit.Abstractions;

namespace RnnStreams.Silo.Tests;

/// <summary>
/// <c>tests/cluster/partition-test.sh</c> in its CI configuration (300 sequences, silo 3 cut off for 20 s, both
/// durability policies; about 3 minutes on a 2-core machine): network namespaces, so it needs root. Category
/// <c>Deploy</c>: <c>tests/run.sh</c> runs it after the other tests, alone on the machine.
/// </summary>
[Trait("Category", "Deploy")]
public sealed partial class PartitionTests(ITestOutputHelper output)
{
    /// <summary>
    /// The longest a sequence reached through the healthy silos may wait: under Orleans' failure-detection window
    /// (<c>MaxProbeTimeout</c> 4 s × <c>NumMissedProbesLimit</c> 3, silo/RnnStreams.Silo/appsettings.json).
    /// </summary>
    private const double UnavailableBound = 12;

    [Fact]
    public async Task PartitionTest_CutOffSilo_LosesDoublesAndChangesNothing()
    {
        var result = await ProcessRunner.RunScriptAsync("tests/cluster/partition-test.sh",
            ["--sequences", "300", "--cut-seconds", "20", "--warmup-seconds", "8", "--after-seconds", "5", "--no-build"], TimeSpan.FromMinutes(6));
        output.WriteLine(result.StandardOutput); // the run's account, last lines included, in the test results
        Assert.True(result.ExitCode == 0, result.ToString());
        var everyStep = EveryStepLine().Match(result.OutputLines[^2]);
        Assert.True(everyStep.Success, result.ToString());
        Assert.True(double.Parse(everyStep.Groups["u"].Value, CultureInfo.InvariantCulture) < UnavailableBound, result.ToString());
        var checkpoint = CheckpointLine().Match(result.OutputLines[^1]);
        Assert.True(checkpoint.Success, result.ToString());
        Assert.True(double.Parse(checkpoint.Groups["u"].Value, CultureInfo.InvariantCulture) < UnavailableBound, result.ToString());

        // Sequences reached through the healthy silos come back at most Checkpoint(100, 1000)'s 100 elements.
        var healthy = Regex.Match(result.StandardOutput, @"largest rollback: healthy side \(client A\) (?<n>\d+),");
        Assert.True(healthy.Success && int.Parse(healthy.Groups["n"].Value, CultureInfo.InvariantCulture) <= 100, result.ToString());

        // The cut-off silo stopped itself (exit code 3) in both runs, after the cluster had declared it dead.
        var fenced = result.OutputLines.Select(l => FencedLine().Match(l)).Where(m => m.Success).ToArray();
        Assert.Equal(2, fenced.Length);
        foreach (var m in fenced)
        {
            Assert.True(double.Parse(m.Groups["dead"].Value, CultureInfo.InvariantCulture) < double.Parse(m.Groups["exited"].Value, CultureInfo.InvariantCulture), m.Value);
        }
    }

    [GeneratedRegex(@"^# (EveryStep|Checkpoint): cut-off silo 3 declared dead after (?<dead>\d+\.\d) s, exited after (?<exited>\d+\.\d) s \(exit code 3\)")]
    private static partial Regex FencedLine();

    [GeneratedRegex(@"^partition: sequences=300 answered=[1-9]\d* refused=\d+ diverged=0 lost=0 duplicated=0 mismatched=0 unavailable_s=(?<u>\d+\.\d)$")]
    private static partial Regex EveryStepLine();

    [GeneratedRegex(@"^partition\(checkpoint\): sequences=300 answered=[1-9]\d* refused=\d+ diverged=0 lost=0 duplicated=0 mismatched=0 unavailable_s=(?<u>\d+\.\d) rolled_back=\d+ max_rollback=\d+ bad_rollbacks=0$")]
    private static partial Regex CheckpointLine();
}
