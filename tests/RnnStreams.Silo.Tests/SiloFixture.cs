using RnnStreams.TestSupport;

namespace RnnStreams.Silo.Tests;

/// <summary>One real silo process (embedded default) on free ports for the collection.</summary>
public sealed class SiloFixture : IAsyncLifetime
{
    public SiloProcess Silo { get; private set; } = null!;

    public async Task InitializeAsync() => Silo = await SiloProcess.StartAsync();

    public async Task DisposeAsync() => await Silo.DisposeAsync();

    /// <summary>Runs the built client against this silo.</summary>
    public Task<ProcessResult> Client(params string[] args) =>
        ProcessRunner.RunAsync(Repository.ClientDll, [.. args, "--gateway", Silo.Gateway, "--connect-timeout", "30"], TimeSpan.FromMinutes(3));
}

[CollectionDefinition(Name)]
public sealed class SiloCollection : ICollectionFixture<SiloFixture>
{
    public const string Name = "silo process";
}
