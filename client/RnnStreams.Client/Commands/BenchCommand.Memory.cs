using System.Diagnostics;
using RnnStreams.Core;

namespace RnnStreams.Client.Commands;

/// <summary>
/// <c>bench</c>'s memory figures, read from the heap of the silo it starts (<see cref="BenchSilo.HeapAsync"/>: a forced
/// full collection in the silo, so the client's own buffers never count): the managed heap per active sequence, what
/// stays once deactivated, and Orleans' floor.
/// </summary>
internal static partial class BenchCommand
{
    /// <summary>
    /// Managed heap per active sequence: the sequences are started, deactivated, then activated again from storage, and
    /// the second activation's growth is what an active sequence costs (the first also grows the silo's tables, which do
    /// not shrink). What stays while they are deactivated is what the in-memory grain storage keeps of each (a
    /// deployment keeps it in Redis, outside the silo) plus those tables, reported on its own.
    /// </summary>
    private static async Task<(double Active, double Stored)> MeasureMemoryAsync(IClusterClient client, BenchSilo silo, RnnModel model, BenchParameters p, string run)
    {
        var x = new double[model.InputSize];
        var ids = Enumerable.Range(0, p.MemorySequences).Select(i => client.GetGrain<ISequenceGrain>($"{run}-mem-{i}")).ToArray();
        await ids[0].Start(new StartRequest(model.Name)); // not counted: the first touches shared structures
        await ids[0].Step(1, x);
        var counted = ids.Skip(1).ToArray();
        var before = await silo.HeapAsync();
        await ForEachAsync(counted, p.Concurrency, async s =>
        {
            await s.Start(new StartRequest(model.Name));
            await s.Step(1, x);
        });
        await DeactivateAsync(client, counted);
        var stored = await silo.HeapAsync();
        await ForEachAsync(counted, p.Concurrency, s => s.Step(2, x));
        var active = await silo.HeapAsync();
        return ((active - stored) / (double)counted.Length, (stored - before) / (double)counted.Length);
    }

    /// <summary>Asks each sequence to deactivate and waits until the silo reports that many fewer activations of their grain type.</summary>
    private static async Task DeactivateAsync(IClusterClient client, ISequenceGrain[] sequences)
    {
        var management = client.GetGrain<IManagementGrain>(0);
        var type = sequences[0].GetGrainId().Type; // the grain type ISequenceGrain resolves to
        var target = (await management.GetActiveGrains(type)).Count - sequences.Length;
        await ForEachAsync(sequences, 256, s => s.Cast<Orleans.Core.Internal.IGrainManagementExtension>().DeactivateOnIdle().AsTask());
        var deadline = Stopwatch.StartNew();
        while ((await management.GetActiveGrains(type)).Count > target && deadline.Elapsed < TimeSpan.FromSeconds(120))
        {
            await Task.Delay(200);
        }

        await Task.Delay(500); // the last deactivations' writes
    }

    private static async Task<double> MeasureActivationFloorAsync(IClusterClient client, BenchSilo silo, BenchParameters p)
    {
        var run = $"b{DateTime.UtcNow:HHmmss}{Random.Shared.Next(100, 999)}";
        var grains = Enumerable.Range(0, p.MemorySequences).Select(i => client.GetGrain<IPingGrain>($"{run}-mem-{i}")).ToArray();
        await grains[0].Ping();
        var before = await silo.HeapAsync();
        await ForEachAsync(grains.Skip(1).ToArray(), p.Concurrency, g => g.Ping());
        return (await silo.HeapAsync() - before) / (double)(p.MemorySequences - 1);
    }
}
