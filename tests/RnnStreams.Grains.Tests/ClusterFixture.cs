using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using RnnStreams.Core;
using RnnStreams.Grains;

namespace RnnStreams.Grains.Tests;

/// <summary>A one-silo TestingHost cluster with memory storage and streams, a default model and checkpoints every 5 steps.</summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    public const string DefaultModel = "default-model";
    public const int CheckpointEvery = 5;
    public const int KeepOutputs = 8;

    public TestCluster Cluster { get; private set; } = null!;

    public IClusterClient Client => Cluster.Client;

    /// <summary>The default model's weights (version 1).</summary>
    public RnnModel Default { get; } = Models.Random(99, inputSize: 3, hiddenSize: 9, outputSize: 2, name: DefaultModel);

    public async Task InitializeAsync()
    {
        Cluster = await TestClusters.DeployAsync<SiloConfigurator>(1);
        await Client.GetGrain<IModelGrain>(DefaultModel).Publish(ModelFile.ToJson(Default));
    }

    public async Task DisposeAsync()
    {
        await TestClusters.StopAsync(Cluster);
    }

    private sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder) => siloBuilder
            .AddRnnStreams(configure: o =>
            {
                o.DefaultModel = DefaultModel;
                o.Durability = $"Checkpoint({CheckpointEvery}, 0)";
                o.KeepOutputs = KeepOutputs;
            })
            .AddRnnStreamsInMemory();
    }

    internal sealed class ClientConfigurator : IClientBuilderConfigurator
    {
        public void Configure(Microsoft.Extensions.Configuration.IConfiguration configuration, IClientBuilder clientBuilder) =>
            clientBuilder.AddRnnStreamsClient();
    }
}

/// <summary>A two-silo cluster with no default model: sequences must be started.</summary>
public sealed class TwoSiloFixture : IAsyncLifetime
{
    public TestCluster Cluster { get; private set; } = null!;

    public IClusterClient Client => Cluster.Client;

    public async Task InitializeAsync()
    {
        Cluster = await TestClusters.DeployAsync<SiloConfigurator>(2);
    }

    public async Task DisposeAsync()
    {
        await TestClusters.StopAsync(Cluster);
    }

    /// <summary>The model cache of each silo.</summary>
    public IReadOnlyList<ModelCache> Caches =>
        [.. Cluster.Silos.Cast<InProcessSiloHandle>().Select(s => s.SiloHost.Services.GetRequiredService<ModelCache>())];

    private sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder) => siloBuilder
            .AddRnnStreams(configure: o => o.DefaultModel = null)
            .AddRnnStreamsInMemory();
    }
}

[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "one silo";
}

[CollectionDefinition(Name)]
public sealed class TwoSiloCollection : ICollectionFixture<TwoSiloFixture>
{
    public const string Name = "two silos";
}

/// <summary>
/// One silo with durability None by default and per-model policies, fast idle deactivation, and short reminders
/// with expiry after 5 s of silence: for lifecycle and durability tests.
/// </summary>
public sealed class LifecycleFixture : IAsyncLifetime
{
    public const string EveryStepModel = "policy-every-step";
    public const string CheckpointModel = "policy-checkpoint-3";
    public const string TimerModel = "policy-timer-200ms";
    public const string NoneModel = "policy-none";
    public static readonly TimeSpan Idle = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan Expire = TimeSpan.FromSeconds(5);

    public TestCluster Cluster { get; private set; } = null!;

    public IClusterClient Client => Cluster.Client;

    public async Task InitializeAsync()
    {
        Cluster = await TestClusters.DeployAsync<SiloConfigurator>(1);
        foreach (var name in new[] { EveryStepModel, CheckpointModel, TimerModel, NoneModel })
        {
            await Client.GetGrain<IModelGrain>(name).Publish(ModelFile.ToJson(Models.Random(1, 2, 4, 1, name: name)));
        }
    }

    public async Task DisposeAsync()
    {
        await TestClusters.StopAsync(Cluster);
    }

    private sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            siloBuilder
                .AddRnnStreams(configure: o =>
                {
                    o.DefaultModel = NoneModel;
                    o.Durability = "None";
                    o.ModelDurability[EveryStepModel] = "EveryStep";
                    o.ModelDurability[CheckpointModel] = "Checkpoint(3, 0)";
                    o.ModelDurability[TimerModel] = "Checkpoint(0, 200)";
                    o.IdleDeactivation = Idle;
                    o.ExpireAfter = Expire;
                    o.ExpiryCheckPeriod = Expire;
                })
                .AddRnnStreamsInMemory();
            siloBuilder.Configure<Orleans.Configuration.GrainCollectionOptions>(o => o.CollectionQuantum = TimeSpan.FromMilliseconds(500));
            siloBuilder.Configure<Orleans.Hosting.ReminderOptions>(o => o.MinimumReminderPeriod = TimeSpan.FromSeconds(1));
        }
    }
}

[CollectionDefinition(Name)]
public sealed class LifecycleCollection : ICollectionFixture<LifecycleFixture>
{
    public const string Name = "lifecycle";
}
