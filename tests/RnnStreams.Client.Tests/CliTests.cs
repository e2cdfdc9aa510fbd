using System.CommandLine;
using System.Reflection;
using RnnStreams.TestSupport;

namespace RnnStreams.Client.Tests;

/// <summary>The command line itself: help on every command, the version, completions, usage errors of the transports.</summary>
public sealed class CliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rnn-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static async Task<(int Code, string Out, string Err)> Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await Cli.RunAsync(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Every command that runs something (the leaves of the tree), as the words that name it.</summary>
    public static TheoryData<string> Commands()
    {
        var data = new TheoryData<string>();
        void Walk(Command command, string path)
        {
            if (command.Subcommands.Count == 0)
            {
                data.Add(path.Trim());
            }

            foreach (var sub in command.Subcommands)
            {
                Walk(sub, $"{path} {sub.Name}");
            }
        }

        Walk(Cli.Build(TextWriter.Null, TextWriter.Null), string.Empty);
        return data;
    }

    [Fact]
    public void Build_HasEveryCommandOfTheClient()
    {
        Assert.Equal(
            ["predict", "train", "models put", "models get", "models list", "models delete", "models import", "models random", "stream", "watch",
             "sequence show", "sequence reset", "sequence upgrade", "sequence end", "sequence forecast", "load", "bench", "demo"],
            ((IEnumerable<object[]>)Commands()).Select(row => (string)row[0]));
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task Help_OfEveryCommand_DescribesEachOption_AndExitsZero(string command)
    {
        var words = command.Split(' ');
        var (code, output, error) = await Run([.. words, "-h"]);

        Assert.Equal(0, code);
        Assert.Equal(string.Empty, error);
        Assert.StartsWith("Description:", output);
        Assert.Contains($"RnnStreams.Client {command} [options]", output);
        var symbol = words.Aggregate((Command)Cli.Build(TextWriter.Null, TextWriter.Null), (c, w) => c.Subcommands.Single(s => s.Name == w));
        Assert.False(string.IsNullOrWhiteSpace(symbol.Description));
        Assert.All(symbol.Options.Where(o => !o.Hidden), o =>
        {
            Assert.False(string.IsNullOrWhiteSpace(o.Description), $"{command} {o.Name} has no description");
            Assert.Contains(o.Name, output);
        });
    }

    [Fact]
    public async Task Help_OfStream_NamesTheTransportsAndTheDefaults()
    {
        var (code, output, _) = await Run("stream", "--help");

        Assert.Equal(0, code);
        Assert.Contains("--url <URL>", output);
        Assert.Contains("--api-key <KEY>", output);
        Assert.Contains("--mqtt <host:port>", output);
        Assert.Contains("The first level of the MQTT topics, as the silos' Mqtt:TopicPrefix. [default: rnn]", output);
        Assert.Contains("--batch <N>", output);
        Assert.Contains("[default: 120]", output);
    }

    [Fact]
    public async Task OfflineCommands_AcceptTheConnectionOptions_AsAWrapperThatAddsThemToEveryCommandDoes()
    {
        var x = Path.Combine(_dir, "x.csv");
        await File.WriteAllTextAsync(x, "1\n");
        var model = Path.Combine(Repository.Root, "silo", "RnnStreams.Silo", "models", "worked-example.json");
        var (code, output, error) = await Run("predict", "--model", model, "--input", x, "--gateway", "127.0.0.1:1", "--connect-timeout", "30");

        Assert.Equal((0, string.Empty), (code, error));
        Assert.Equal("n,y_0\n1,0.41481982679921414\n", output);
    }

    [Fact]
    public async Task Version_PrintsTheClientsVersion()
    {
        var (code, output, error) = await Run("--version");

        Assert.Equal(0, code);
        Assert.Equal(string.Empty, error);
        Assert.Equal(typeof(Cli).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion, output.Trim());
    }

    [Fact]
    public async Task NoCommand_PrintsTheCommandsOnStandardError_AndExits2()
    {
        var (code, output, error) = await Run();

        Assert.Equal(2, code);
        Assert.Equal(string.Empty, output);
        Assert.Contains("Commands:", error);
        Assert.Contains("stream", error);
    }

    [Theory]
    [InlineData("[suggest:8]", "models r", new[] { "random" })]
    [InlineData("[suggest:13]", "train --cell ", new[] { "gru", "lstm", "rnn_relu", "rnn_tanh" })]
    [InlineData("[suggest:10]", "stream --v", new[] { "--verbose", "--version", "--via" })]
    [InlineData("[suggest:9]", "watch --m", new[] { "--mqtt", "--mqtt-prefix" })]
    public async Task SuggestDirective_CompletesCommandsOptionsAndChoices(string directive, string line, string[] expected)
    {
        var (code, output, _) = await Run(directive, line);

        Assert.Equal(0, code);
        var offered = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.All(expected, e => Assert.Contains(e, offered));
    }

    [Theory]
    [InlineData("watch --sequence s --url ftp://x", "error: --url wants an http:// or https:// address, got 'ftp://x'")]
    [InlineData("watch --sequence s --mqtt localhost:port", "error: --mqtt wants host:port, got 'localhost:port'")]
    [InlineData("watch --sequence s --url http://127.0.0.1:1 --mqtt 127.0.0.1:1", "error: --url and --mqtt are two ways in: choose one")]
    [InlineData("stream --sequence s --input {x} --mqtt 127.0.0.1:1 --model worked-example", "error: --model and --reset start or reset a sequence, and MQTT has no message for that")]
    [InlineData("stream --sequence s --input {x} --mqtt 127.0.0.1:1 --reset", "error: --model and --reset start or reset a sequence, and MQTT has no message for that")]
    [InlineData("stream --sequence s --input {x} --url http://127.0.0.1:1 --via stream", "error: --via stream sends events on the cluster's input stream: only through the gateway")]
    [InlineData("stream --sequence s --input {x} --batch 0", "error: --batch must be a whole number from 1 to 100000, got '0'")]
    [InlineData("watch --count 3", "error: Option '--sequence' is required.")]
    [InlineData("bench --silo-dll /nonexistent/RnnStreams.Silo.dll --gateway 127.0.0.1:1", "error: --silo-dll names the silo bench starts: not with --gateway or --redis, which measure a running cluster")]
    [InlineData("bench --silo-dll /nonexistent/RnnStreams.Silo.dll", "error: bench: no silo at /nonexistent/RnnStreams.Silo.dll; build it (dotnet build -c Release silo/RnnStreams.Silo) or give --silo-dll")]
    [InlineData("bench --silo in-process", "error: Unrecognized command or argument '--silo'")]
    [InlineData("bench --client local", "error: Unrecognized command or argument '--client'")]
    public async Task Transports_UsageErrors_Exit2(string commandLine, string expected)
    {
        var x = Path.Combine(_dir, "x.csv");
        await File.WriteAllTextAsync(x, "1\n2\n3\n");
        var (code, output, error) = await Run([.. commandLine.Split(' ').Select(a => a.Replace("{x}", x))]);

        Assert.Equal(2, code);
        Assert.Equal(string.Empty, output);
        Assert.StartsWith(expected, error);
    }

    [Fact]
    public async Task Watch_OverHttp_WithNoSiloThere_FailsWithOneLine()
    {
        var (code, output, error) = await Run("watch", "--sequence", "s", "--url", $"http://127.0.0.1:{Repository.FreePort()}");

        Assert.Equal(1, code);
        Assert.Equal(string.Empty, output);
        Assert.StartsWith("error: Connection refused (127.0.0.1:", Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
    }

    [Fact]
    public async Task Stream_OverMqtt_WithNoBrokerThere_FailsWithOneLine()
    {
        var x = Path.Combine(_dir, "x.csv");
        await File.WriteAllTextAsync(x, "1\n");
        var (code, _, error) = await Run("stream", "--sequence", "s", "--input", x, "--mqtt", $"127.0.0.1:{Repository.FreePort()}");

        Assert.Equal(1, code);
        Assert.StartsWith("error: cannot reach the MQTT broker at 127.0.0.1:", Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
    }
}
