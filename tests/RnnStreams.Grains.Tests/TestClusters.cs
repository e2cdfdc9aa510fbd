using Orleans.TestingHost;

namespace RnnStreams.Grains.Tests;

/// <summary>Deploying and stopping the TestingHost clusters of the fixtures, which differ only in their silo set-up.</summary>
internal static class TestClusters
{
    /// <summary>A cluster of <paramref name="silos"/> silos configured by <typeparamref name="TSilo"/>, with the RnnStreams client.</summary>
    public static async Task<TestCluster> DeployAsync<TSilo>(int silos, IReadOnlyDictionary<string, string>? properties = null)
        where TSilo : ISiloConfigurator, new()
    {
        var builder = new TestClusterBuilder((short)silos);
        foreach (var (key, value) in properties ?? new Dictionary<string, string>())
        {
            builder.Properties[key] = value;
        }

        builder.AddSiloBuilderConfigurator<TSilo>();
        builder.AddClientBuilderConfigurator<ClusterFixture.ClientConfigurator>();
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return cluster;
    }

    public static async Task StopAsync(TestCluster cluster)
    {
        await cluster.StopAllSilosAsync();
        await cluster.DisposeAsync();
    }
}
