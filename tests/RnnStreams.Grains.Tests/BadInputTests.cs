using RnnStreams.Core;

namespace RnnStreams.Grains.Tests;

/// <summary>Every refused request gets a typed error and leaves h_t, the counters and stored answers exactly as they were.</summary>
[Collection(ClusterCollection.Name)]
public class BadInputTests(ClusterFixture fixture)
{
    private readonly IClusterClient _client = fixture.Client;

    /// <summary>A default-model sequence with 10 applied elements, and what the 11th should give.</summary>
    private async Task<(ISequenceGrain Sequence, SequenceSnapshot Before, double[][] Inputs, double[][] Expected)> RunningAsync()
    {
        var sequence = _client.GetGrain<ISequenceGrain>(Models.Key("bad"));
        var inputs = Models.Inputs(7, 12, 3);
        var expected = Models.Offline(fixture.Default, inputs);
        await sequence.StepMany(1, [.. inputs.Take(10).SelectMany(x => x)]);
        return (sequence, await sequence.Snapshot(), inputs, expected);
    }

    private static async Task AssertUnchangedAndUsable(ISequenceGrain sequence, SequenceSnapshot before, double[][] inputs, double[][] expected)
    {
        var after = await sequence.Snapshot();
        Assert.Equal(before.Hidden, after.Hidden);
        Assert.Equal((before.LastN, before.LastDurableN, before.UpdatedAt, before.ModelVersion), (after.LastN, after.LastDurableN, after.UpdatedAt, after.ModelVersion));
        Assert.Equal(expected[10], (await sequence.Step(11, inputs[10])).Y);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(0)]
    public async Task Step_ThrowsForWrongSize(int size)
    {
        var (sequence, before, inputs, expected) = await RunningAsync();
        var e = await Assert.ThrowsAsync<InvalidInputException>(() => sequence.Step(11, new double[size]));
        Assert.Equal((RnnErrorKind.WrongSize, 3, size, 11L), (e.Kind, e.Expected, e.Actual, e.N));
        Assert.Equal($"element 11 has {size} values; the model expects 3", e.Message);
        await AssertUnchangedAndUsable(sequence, before, inputs, expected);
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NegativeInfinity)]
    public async Task Step_ThrowsForNonFinite(double bad)
    {
        var (sequence, before, inputs, expected) = await RunningAsync();
        var e = await Assert.ThrowsAsync<InvalidInputException>(() => sequence.Step(11, [0.5, bad, 1]));
        Assert.Equal((RnnErrorKind.NonFinite, 1), (e.Kind, e.Index));
        await AssertUnchangedAndUsable(sequence, before, inputs, expected);
    }

    [Fact]
    public async Task StepMany_ThrowsForNonFiniteAnywhere_AndAppliesNothing()
    {
        var (sequence, before, inputs, expected) = await RunningAsync();
        double[] batch = [.. inputs[10], .. inputs[11], 1, 2, double.NaN];
        var e = await Assert.ThrowsAsync<InvalidInputException>(() => sequence.StepMany(11, batch));
        Assert.Equal((RnnErrorKind.NonFinite, 13L, 2), (e.Kind, e.N, e.Index));
        await Assert.ThrowsAsync<InvalidInputException>(() => sequence.StepMany(11, [1, 2, 3, 4]));
        await Assert.ThrowsAsync<RnnArgumentException>(() => sequence.StepMany(11, []));
        await AssertUnchangedAndUsable(sequence, before, inputs, expected);
    }

    [Fact]
    public async Task Step_ThrowsForGap_NamingExpectedN()
    {
        var (sequence, before, inputs, expected) = await RunningAsync();
        var e = await Assert.ThrowsAsync<ElementGapException>(() => sequence.Step(13, inputs[10]));
        Assert.Equal((RnnErrorKind.Gap, 11L, 13L), (e.Kind, e.ExpectedN, e.ReceivedN));
        await Assert.ThrowsAsync<ElementGapException>(() => sequence.StepMany(12, [.. inputs[10]]));
        await AssertUnchangedAndUsable(sequence, before, inputs, expected);
    }

    [Fact]
    public async Task Step_Duplicate_ReturnsStoredAnswerWithoutApplying()
    {
        var (sequence, before, inputs, expected) = await RunningAsync();

        var again = await sequence.Step(10, [9, 9, 9]); // a duplicate is answered from the stored result, whatever x says
        Assert.True(again.Duplicate);
        Assert.Equal(expected[9], again.Y);

        var batch = await sequence.StepMany(8, [.. inputs.Skip(7).Take(3).SelectMany(x => x)]);
        Assert.Equal(3, batch.Duplicates);
        Assert.Equal(expected.Skip(7).Take(3).SelectMany(y => y).ToArray(), batch.Outputs);
        await AssertUnchangedAndUsable(sequence, before, inputs, expected);
    }

    [Fact]
    public async Task StepMany_OverlappingBatch_AppliesOnlyTheNewElements()
    {
        var (sequence, _, inputs, expected) = await RunningAsync();
        var batch = await sequence.StepMany(9, [.. inputs.Skip(8).Take(4).SelectMany(x => x)]);
        Assert.Equal((9L, 4, 2), (batch.FirstN, batch.Count, batch.Duplicates));
        Assert.Equal(expected.Skip(8).Take(4).SelectMany(y => y).ToArray(), batch.Outputs);
        Assert.Equal(12, (await sequence.Snapshot()).LastN);
    }

    [Fact]
    public async Task Step_ThrowsForDuplicateOlderThanKeptAnswers()
    {
        var (sequence, before, inputs, expected) = await RunningAsync();
        var e = await Assert.ThrowsAsync<DuplicateElementException>(() => sequence.Step(2, inputs[1]));
        Assert.Equal((RnnErrorKind.Duplicate, 2L, 10L, 10L - ClusterFixture.KeepOutputs + 1), (e.Kind, e.N, e.LastN, e.OldestKept));
        await Assert.ThrowsAsync<RnnArgumentException>(() => sequence.Step(0, inputs[0]));
        await Assert.ThrowsAsync<RnnArgumentException>(() => sequence.Step(-5, inputs[0]));
        await AssertUnchangedAndUsable(sequence, before, inputs, expected);
    }

    [Fact]
    public async Task Step_ThrowsForOverflow_AndAppliesNothing()
    {
        var name = Models.Key("relu");
        var relu = new RnnModel(name, CellType.RnnRelu, OutputHead.Linear, 1, 1, 1, [new RnnLayer(1, 1, [1e10], [1], [0])], [1], [0]);
        await _client.GetGrain<IModelGrain>(name).Publish(ModelFile.ToJson(relu));
        var sequence = _client.GetGrain<ISequenceGrain>(Models.Key("overflow"));
        await sequence.Start(new StartRequest(name));
        await sequence.Step(1, [1]);
        var before = await sequence.Snapshot();

        var e = await Assert.ThrowsAsync<NonFiniteResultException>(() => sequence.Step(2, [1e300]));
        Assert.Equal((RnnErrorKind.NonFiniteResult, 2L), (e.Kind, e.N));
        var after = await sequence.Snapshot();
        Assert.Equal(before.Hidden, after.Hidden);
        Assert.Equal(1, after.LastN);
        Assert.Equal(new[] { 2e10 }, (await sequence.Step(2, [1])).Y);
    }

    [Fact]
    public async Task Start_ThrowsForUnknownModelOrVersion_AndStaysUnstarted()
    {
        var sequence = _client.GetGrain<ISequenceGrain>(Models.Key("unknown"));
        var e = await Assert.ThrowsAsync<UnknownModelException>(() => sequence.Start(new StartRequest("no-such-model")));
        Assert.Equal((RnnErrorKind.UnknownModel, "no-such-model", (int?)null), (e.Kind, e.Model, e.Version));
        var v = await Assert.ThrowsAsync<UnknownModelException>(() => sequence.Start(new StartRequest(ClusterFixture.DefaultModel, 42)));
        Assert.Equal("model 'default-model' has no version 42", v.Message);
        await Assert.ThrowsAsync<SequenceNotStartedException>(() => sequence.Snapshot());
    }

    [Fact]
    public async Task Start_ThrowsForBadInitialState_AndStaysUnstarted()
    {
        var sequence = _client.GetGrain<ISequenceGrain>(Models.Key("bad-h0"));
        var rows = await Assert.ThrowsAsync<InvalidInputException>(() => sequence.Start(new StartRequest(ClusterFixture.DefaultModel, null, [new double[9], new double[9]])));
        Assert.Equal((RnnErrorKind.WrongSize, 1, 2), (rows.Kind, rows.Expected, rows.Actual));
        var width = await Assert.ThrowsAsync<InvalidInputException>(() => sequence.Start(new StartRequest(ClusterFixture.DefaultModel, null, [new double[8]])));
        Assert.Equal((RnnErrorKind.WrongSize, 9, 8), (width.Kind, width.Expected, width.Actual));
        var h0 = new double[9];
        h0[4] = double.NaN;
        var nan = await Assert.ThrowsAsync<InvalidInputException>(() => sequence.Start(new StartRequest(ClusterFixture.DefaultModel, null, [h0])));
        Assert.Equal((RnnErrorKind.NonFinite, 4), (nan.Kind, nan.Index));
        await Assert.ThrowsAsync<SequenceNotStartedException>(() => sequence.Snapshot());
    }

    [Fact]
    public async Task Start_ThrowsForACellStateOnANonLstmModel_OrABadOne_AndStaysUnstarted()
    {
        var sequence = _client.GetGrain<ISequenceGrain>(Models.Key("bad-c0"));
        var notLstm = await Assert.ThrowsAsync<InvalidInputException>(() => sequence.Start(new StartRequest(ClusterFixture.DefaultModel, null, null, [new double[9]])));
        Assert.Equal(RnnErrorKind.WrongSize, notLstm.Kind);
        Assert.Contains("only for lstm models", notLstm.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<SequenceNotStartedException>(() => sequence.Snapshot());

        var name = Models.Key("lstm");
        await _client.GetGrain<IModelGrain>(name).Publish(ModelFile.ToJson(Models.Random(7, 2, 3, 1, 1, CellType.Lstm, name: name)));
        var rows = await Assert.ThrowsAsync<InvalidInputException>(() => sequence.Start(new StartRequest(name, null, null, [new double[3], new double[3]])));
        Assert.Equal((RnnErrorKind.WrongSize, 1, 2), (rows.Kind, rows.Expected, rows.Actual));
        var c0 = new double[3];
        c0[2] = double.PositiveInfinity;
        var infinite = await Assert.ThrowsAsync<InvalidInputException>(() => sequence.Start(new StartRequest(name, null, [new double[3]], [c0])));
        Assert.Equal((RnnErrorKind.NonFinite, 2), (infinite.Kind, infinite.Index));
        await Assert.ThrowsAsync<SequenceNotStartedException>(() => sequence.Snapshot());

        var started = await sequence.Start(new StartRequest(name));
        Assert.Equal([[0.0, 0, 0]], started.Cell);
    }

    [Fact]
    public async Task Step_ThrowsForBadFirstElement_WithoutStarting()
    {
        var sequence = _client.GetGrain<ISequenceGrain>(Models.Key("never"));
        await Assert.ThrowsAsync<ElementGapException>(() => sequence.Step(2, [1, 2, 3]));
        await Assert.ThrowsAsync<InvalidInputException>(() => sequence.Step(1, [1, 2]));
        await Assert.ThrowsAsync<SequenceNotStartedException>(() => sequence.Snapshot());
        await Assert.ThrowsAsync<SequenceNotStartedException>(() => sequence.Reset());
    }
}
