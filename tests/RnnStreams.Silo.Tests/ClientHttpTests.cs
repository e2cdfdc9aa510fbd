using RnnStreams.TestSupport;

namespace RnnStreams.Silo.Tests;

/// <summary>The client's stream, watch and demo through the silo's HTTP API (<c>--url</c>) instead of the gateway.</summary>
[Collection(SiloCollection.Name)]
public sealed class ClientHttpTests(SiloFixture fixture) : IDisposable
{
    /// <summary>The worked example's outputs as every transport prints them (predict prints the same).</summary>
    internal static readonly string[] WorkedExample = ["n,y_0", "1,0.41481982679921414", "2,0.5405484706371846", "3,0.5809011920666035"];

    private readonly ScratchFolder _dir = new("rnn-http-client-");

    public void Dispose() => _dir.Dispose();

    private string Url => fixture.Silo.Http.ToString();

    [Fact]
    public async Task StreamAndWatch_OverHttp_PrintTheWorkedExample()
    {
        var id = TestKeys.New("http-worked");
        using var watch = await BackgroundClient.StartAsync(["watch", "--sequence", id, "--count", "3", "--url", Url], "has not started");

        var streamed = await ProcessRunner.RunAsync(Repository.ClientDll,
            ["stream", "--sequence", id, "--input", _dir.Write("x.csv", "1\n2\n3\n"), "--model", "worked-example", "--url", Url]);
        var watched = await watch.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.True(streamed.ExitCode == 0, streamed.ToString());
        Assert.Equal(WorkedExample, streamed.OutputLines);
        Assert.True(watched.ExitCode == 0, watched.ToString());
        Assert.Equal(WorkedExample, watched.OutputLines);
    }

    [Fact]
    public async Task Stream_OverHttp_ResumesAfterTheLastAppliedElement_AsThroughTheGateway()
    {
        var id = TestKeys.New("http-resume");
        var first = await ProcessRunner.RunAsync(Repository.ClientDll,
            ["stream", "--sequence", id, "--input", _dir.Write("first.csv", "1\n2\n"), "--model", "worked-example", "--url", Url]);
        var all = await ProcessRunner.RunAsync(Repository.ClientDll, ["stream", "--sequence", id, "--input", _dir.Write("all.csv", "1\n2\n3\n"), "--url", Url, "--batch", "2"]);

        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Equal(WorkedExample[..3], first.OutputLines);
        Assert.True(all.ExitCode == 0, all.ToString());
        Assert.Equal([WorkedExample[0], WorkedExample[3]], all.OutputLines);
        Assert.Equal($"# sequence {id} is at n=2; resuming at 3", all.StandardError.Trim());
    }

    [Fact]
    public async Task Stream_OverHttp_ARefusedElement_ExitsOneWithItsKind()
    {
        var wide = await ProcessRunner.RunAsync(Repository.ClientDll,
            ["stream", "--sequence", TestKeys.New("http-wide"), "--input", _dir.Write("w.csv", "1,2\n"), "--model", "worked-example", "--url", Url]);
        var unknown = await ProcessRunner.RunAsync(Repository.ClientDll,
            ["stream", "--sequence", TestKeys.New("http-unknown"), "--input", _dir.Write("x.csv", "1\n"), "--model", "no-such-model", "--url", Url]);

        Assert.Equal(1, wide.ExitCode);
        Assert.Equal(string.Empty, wide.StandardOutput);
        Assert.Equal("error: WrongSize: element 1 has 2 values; the model expects 1", wide.StandardError.Trim());
        Assert.Equal(1, unknown.ExitCode);
        Assert.Equal("error: UnknownModel: model 'no-such-model' does not exist", unknown.StandardError.Trim());
    }

    [Fact]
    public async Task Demo_OverHttp_StreamsTheDevices_AndWatchesThemBySse()
    {
        var demo = await ProcessRunner.RunAsync(Repository.ClientDll, ["demo", "--devices", "3", "--steps", "12", "--show", "1", "--every", "6", "--url", Url], TimeSpan.FromMinutes(2));

        Assert.True(demo.ExitCode == 0, demo.ToString());
        Assert.StartsWith("# done: sequences=3 steps=36 ", demo.OutputLines[^1]);
        Assert.EndsWith("watched_outputs_in_order=yes", demo.OutputLines[^1]);
        Assert.Equal(3, demo.OutputLines.Count(l => l.StartsWith("device-0000  n=", StringComparison.Ordinal))); // n = 1, 6, 12
        Assert.Contains("over HTTP http://127.0.0.1:", demo.StandardError);
    }
}
