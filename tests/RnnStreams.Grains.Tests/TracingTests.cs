using System.Diagnostics;

namespace RnnStreams.Grains.Tests;

/// <summary>
/// A call made under a caller's activity continues its trace into the sequence grain (Orleans' activity propagation,
/// on in <c>AddRnnStreams</c> and <c>AddRnnStreamsClient</c>): <c>rnn.step</c>, <c>rnn.step_many</c>, their
/// <c>rnn.publish</c> and <c>rnn.checkpoint</c> carry the caller's trace id and RnnStreams' tags.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class TracingTests(ClusterFixture fixture) : IDisposable
{
    private readonly IClusterClient _client = fixture.Client;
    private readonly ActivityCollector _activities = new();

    public void Dispose() => _activities.Dispose();

    private static void AssertTags(Activity activity, params (string Key, object? Value)[] expected)
    {
        foreach (var (key, value) in expected)
        {
            Assert.True(Equals(value, activity.GetTagItem(key)),
                $"{activity.OperationName}: tag {key} is {activity.GetTagItem(key) ?? "absent"} ({activity.GetTagItem(key)?.GetType().Name}), expected {value} ({value?.GetType().Name})");
        }
    }

    /// <summary>
    /// The grain-side activity's parent is Orleans' server activity for the call, whose parent context came over the wire
    /// (a remote parent) from the client's activity for the call, whose parent is the test's activity.
    /// </summary>
    private static void AssertCrossedTheWire(Activity grainSide, Activity caller, IReadOnlyList<Activity> trace)
    {
        var server = grainSide.Parent;
        Assert.NotNull(server);
        Assert.Equal(("Microsoft.Orleans.Application", ActivityKind.Server, true), (server.Source.Name, server.Kind, server.HasRemoteParent));
        var client = Assert.Single(trace, a => a.SpanId == server.ParentSpanId);
        Assert.Equal(("Microsoft.Orleans.Application", ActivityKind.Client), (client.Source.Name, client.Kind));
        Assert.Equal(caller.SpanId, client.ParentSpanId);
    }

    private static bool Has(IReadOnlyList<Activity> trace, string name) => trace.Any(a => a.OperationName == name);

    private static bool HasClientCall(IReadOnlyList<Activity> trace, string method) =>
        trace.Any(a => a.Kind == ActivityKind.Client && a.OperationName.EndsWith(method, StringComparison.Ordinal));

    [Fact]
    public async Task Step_UnderACallersActivity_SharesItsTrace_WithItsPublish()
    {
        var id = Models.Key("trace-step");
        var sequence = _client.GetGrain<ISequenceGrain>(id);
        var x = Models.Inputs(21, 1, 3)[0];
        await sequence.Watch(TimeSpan.FromMinutes(1)); // someone listens: the silo publishes (WhenWatched)
        var caller = ActivityCollector.TestSource.StartActivity("test.step")!;
        Assert.NotNull(caller);
        using (caller)
        {
            await sequence.Step(1, x);
        }

        var trace = await _activities.WaitForTraceAsync(caller.TraceId, t =>
            Has(t, RnnTracing.StepActivity) && Has(t, RnnTracing.PublishActivity) && HasClientCall(t, "/Step"));
        var step = Assert.Single(trace, a => a.OperationName == RnnTracing.StepActivity);
        Assert.Equal((RnnTracing.SourceName, ActivityStatusCode.Unset), (step.Source.Name, step.Status));
        AssertTags(step,
            (RnnTracing.SequenceTag, id), (RnnTracing.NTag, 1L), (RnnTracing.CountTag, 1), (RnnTracing.DuplicatesTag, 0),
            (RnnTracing.ModelTag, ClusterFixture.DefaultModel), (RnnTracing.ModelVersionTag, 1), (RnnTracing.OutcomeTag, "applied"));
        AssertCrossedTheWire(step, caller, trace);

        // The output is published after the step answered, as the step's child.
        var publish = Assert.Single(trace, a => a.OperationName == RnnTracing.PublishActivity);
        Assert.Equal((step.SpanId, ActivityKind.Producer, ActivityStatusCode.Unset), (publish.ParentSpanId, publish.Kind, publish.Status));
        AssertTags(publish, (RnnTracing.SequenceTag, id), (RnnTracing.FirstNTag, 1L), (RnnTracing.CountTag, 1), (RnnTracing.OutcomeTag, "ok"));

        // The same element again is answered from stored results.
        var again = ActivityCollector.TestSource.StartActivity("test.step-again")!;
        using (again)
        {
            Assert.True((await sequence.Step(1, x)).Duplicate);
        }

        var repeated = Assert.Single(await _activities.WaitForTraceAsync(again.TraceId, t => Has(t, RnnTracing.StepActivity)), a => a.OperationName == RnnTracing.StepActivity);
        AssertTags(repeated, (RnnTracing.NTag, 1L), (RnnTracing.DuplicatesTag, 1), (RnnTracing.OutcomeTag, "duplicate"));
    }

    [Fact]
    public async Task StepMany_UnderACallersActivity_SharesItsTrace_WithItsPublishesAndCheckpoint()
    {
        var id = Models.Key("trace-many");
        var sequence = _client.GetGrain<ISequenceGrain>(id);
        var count = ClusterFixture.CheckpointEvery; // the batch that fills the first checkpoint
        var inputs = Models.Inputs(22, count, 3);
        await sequence.Watch(TimeSpan.FromMinutes(1));
        var caller = ActivityCollector.TestSource.StartActivity("test.step-many")!;
        Assert.NotNull(caller);
        using (caller)
        {
            await sequence.StepMany(1, [.. inputs.SelectMany(x => x)]);
        }

        var trace = await _activities.WaitForTraceAsync(caller.TraceId, t =>
            Has(t, RnnTracing.StepManyActivity) && Has(t, RnnTracing.CheckpointActivity) && HasClientCall(t, "/StepMany")
            && t.Where(a => a.OperationName == RnnTracing.PublishActivity).Sum(a => (int)a.GetTagItem(RnnTracing.CountTag)!) == count);
        var stepMany = Assert.Single(trace, a => a.OperationName == RnnTracing.StepManyActivity);
        Assert.Equal((RnnTracing.SourceName, ActivityStatusCode.Unset), (stepMany.Source.Name, stepMany.Status));
        AssertTags(stepMany,
            (RnnTracing.SequenceTag, id), (RnnTracing.FirstNTag, 1L), (RnnTracing.CountTag, count), (RnnTracing.DuplicatesTag, 0),
            (RnnTracing.ModelTag, ClusterFixture.DefaultModel), (RnnTracing.ModelVersionTag, 1), (RnnTracing.OutcomeTag, "applied"));
        AssertCrossedTheWire(stepMany, caller, trace);

        // The checkpoint the batch made due, written in the background as the batch's child.
        var checkpoint = Assert.Single(trace, a => a.OperationName == RnnTracing.CheckpointActivity);
        Assert.Equal((stepMany.SpanId, ActivityStatusCode.Unset), (checkpoint.ParentSpanId, checkpoint.Status));
        AssertTags(checkpoint,
            (RnnTracing.SequenceTag, id), (RnnTracing.NTag, (long)count), (RnnTracing.ModelTag, ClusterFixture.DefaultModel),
            (RnnTracing.ModelVersionTag, 1), (RnnTracing.OutcomeTag, "ok"));

        // Its outputs went out in order, in one or more batches, each a child of the step.
        var publishes = trace.Where(a => a.OperationName == RnnTracing.PublishActivity).OrderBy(a => (long)a.GetTagItem(RnnTracing.FirstNTag)!).ToList();
        var next = 1L;
        foreach (var publish in publishes)
        {
            Assert.Equal(stepMany.SpanId, publish.ParentSpanId);
            AssertTags(publish, (RnnTracing.SequenceTag, id), (RnnTracing.FirstNTag, next), (RnnTracing.OutcomeTag, "ok"));
            next += (int)publish.GetTagItem(RnnTracing.CountTag)!;
        }

        Assert.Equal(count + 1L, next);
    }

    [Fact]
    public async Task Step_AndStepMany_RefusedForAWrongSize_EndInErrorWithTheirKind()
    {
        var id = Models.Key("trace-refused");
        var sequence = _client.GetGrain<ISequenceGrain>(id);
        await sequence.Step(1, Models.Inputs(23, 1, 3)[0]);

        var caller = ActivityCollector.TestSource.StartActivity("test.step-refused")!;
        Assert.NotNull(caller);
        using (caller)
        {
            var e = await Assert.ThrowsAsync<InvalidInputException>(() => sequence.Step(2, [1.0]));
            Assert.Equal(RnnErrorKind.WrongSize, e.Kind);
        }

        var trace = await _activities.WaitForTraceAsync(caller.TraceId, t => Has(t, RnnTracing.StepActivity) && HasClientCall(t, "/Step"));
        var step = Assert.Single(trace, a => a.OperationName == RnnTracing.StepActivity);
        Assert.Equal((ActivityStatusCode.Error, "element 2 has 1 values; the model expects 3"), (step.Status, step.StatusDescription));
        AssertTags(step,
            (RnnTracing.SequenceTag, id), (RnnTracing.NTag, 2L), (RnnTracing.CountTag, 1), (RnnTracing.ModelTag, ClusterFixture.DefaultModel),
            (RnnTracing.ModelVersionTag, 1), (RnnTracing.OutcomeTag, "refused"), (RnnTracing.ErrorTypeTag, "WrongSize"));
        AssertCrossedTheWire(step, caller, trace);

        var batchCaller = ActivityCollector.TestSource.StartActivity("test.step-many-refused")!;
        using (batchCaller)
        {
            var e = await Assert.ThrowsAsync<InvalidInputException>(() => sequence.StepMany(2, new double[4]));
            Assert.Equal(RnnErrorKind.WrongSize, e.Kind);
        }

        var batchTrace = await _activities.WaitForTraceAsync(batchCaller.TraceId, t => Has(t, RnnTracing.StepManyActivity));
        var stepMany = Assert.Single(batchTrace, a => a.OperationName == RnnTracing.StepManyActivity);
        Assert.Equal(ActivityStatusCode.Error, stepMany.Status);
        AssertTags(stepMany,
            (RnnTracing.SequenceTag, id), (RnnTracing.FirstNTag, 2L), (RnnTracing.CountTag, null), (RnnTracing.OutcomeTag, "refused"),
            (RnnTracing.ErrorTypeTag, "WrongSize"));
        Assert.DoesNotContain(batchTrace, a => a.OperationName == RnnTracing.PublishActivity || a.OperationName == RnnTracing.CheckpointActivity);
    }
}
