using RnnStreams.TestSupport;

namespace RnnStreams.Silo.Tests;

/// <summary>
/// The deployment for real, with podman: the compose stack of docker-compose.yml under a killed silo
/// (<c>tests/deploy/compose-test.sh</c>) and the Kubernetes manifests under <c>podman kube play</c>
/// (<c>tests/deploy/kube-smoke.sh</c>). Category <c>Deploy</c>: <c>tests/run.sh</c> runs these after the other tests,
/// alone on the machine, once <c>tests/deploy/podman-setup.sh</c> has installed podman.
/// </summary>
[Trait("Category", "Deploy")]
public sealed class DeployTests
{
    [Fact]
    public async Task ComposeStack_KeepsEveryOutput_WhenASiloIsKilled()
    {
        var result = await ProcessRunner.RunScriptAsync("tests/deploy/compose-test.sh", [], TimeSpan.FromMinutes(20));
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Matches(@"^compose: silos=3 healthy=3 sequences=200 steps=40000 lost=0 duplicated=0 mismatched=0 recovered_after_ms=\d+$", result.OutputLines[^1]);
        Assert.Contains(result.OutputLines, l => l.StartsWith("# forecast:", StringComparison.Ordinal) && l.Contains("the model beats the naive forecast", StringComparison.Ordinal));
        Assert.Contains(result.OutputLines, l => l.Contains("gateway (client image): sequences=100 steps=20000 lost=0 duplicated=0 mismatched=0", StringComparison.Ordinal));
    }

    [Fact]
    public async Task KubernetesManifests_RunUnderKubePlay_AndStepASequence()
    {
        var result = await ProcessRunner.RunScriptAsync("tests/deploy/kube-smoke.sh", [], TimeSpan.FromMinutes(10));
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Matches(@"^kube-smoke: pods=3 ready=1 stepped=2 y_ok=yes mqtt_y=0.41482,0.54055,0.58090 stop_s=\d+ seconds=\d+$", result.OutputLines[^1]);
    }
}
