namespace RnnStreams.Grains.Tests.Fleet;

public sealed class ForecastErrorTests
{
    [Fact]
    public void Of_OutputSizeEqualsInputSize_IsTheMeanAbsoluteDifference() =>
        Assert.Equal((0.5 + 2.0 + 0.25) / 3, ForecastError.Of([1.0, -1.0, 3.0], [1.5, 1.0, 2.75]));

    [Fact]
    public void Of_OneOutput_ComparesTheFirstInputOnly() =>
        Assert.Equal(1.5, ForecastError.Of([2.0, 100.0, -100.0], [0.5]));

    [Theory]
    [InlineData(1, 1, true)]
    [InlineData(3, 3, true)]
    [InlineData(3, 1, true)]
    [InlineData(3, 2, false)]
    [InlineData(1, 4, false)]
    public void Applies_OnlyToForecastersOfTheirInput(int inputSize, int outputSize, bool applies) =>
        Assert.Equal(applies, ForecastError.Applies(inputSize, outputSize));

    [Fact]
    public void Smooth_StartsAtTheFirstError_ThenWeighsEachNewOneAQuarter()
    {
        var r = ForecastError.Smooth(double.NaN, 4.0);
        Assert.Equal(4.0, r);
        r = ForecastError.Smooth(r, 8.0);
        Assert.Equal(5.0, r);
        r = ForecastError.Smooth(r, 1.0);
        Assert.Equal(4.0, r);
    }
}
