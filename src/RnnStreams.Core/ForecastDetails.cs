using MathNet.Numerics.Distributions;

namespace RnnStreams.Core;

/// <summary>
/// What a forecaster with intervals says about each of k elements it steps besides its point forecast (filled by
/// <see cref="RnnModel.TryAdvance(ReadOnlySpan{double}, ReadOnlySpan{long}, Span{double}, Span{double}, ForecastDetails?)"/>):
/// the interval of each forecast at <see cref="Level"/>, and how far each arriving element lies from the forecast made
/// for it — an anomaly when outside that forecast's interval at <see cref="AnomalyLevel"/>. NaN where there is none
/// (warming up, or the model has no intervals).
/// </summary>
public sealed class ForecastDetails
{
    /// <summary>Room for <paramref name="count"/> elements.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A level is not strictly between 0 and 1.</exception>
    public ForecastDetails(int count, double level, double anomalyLevel)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (level is <= 0 or >= 1 || double.IsNaN(level))
        {
            throw new ArgumentOutOfRangeException(nameof(level), level, "an interval's level is between 0 and 1");
        }

        if (anomalyLevel is <= 0 or >= 1 || double.IsNaN(anomalyLevel))
        {
            throw new ArgumentOutOfRangeException(nameof(anomalyLevel), anomalyLevel, "an anomaly level is between 0 and 1");
        }

        Level = level;
        AnomalyLevel = anomalyLevel;
        AnomalyThreshold = Normal.InvCDF(0, 1, 0.5 + (anomalyLevel / 2));
        Lower = Fill(count);
        Upper = Fill(count);
        Surprise = Fill(count);
        AnomalyLower = Fill(count);
        AnomalyUpper = Fill(count);
    }

    /// <summary>The level of <see cref="Lower"/> and <see cref="Upper"/> (0.8 for 80 %).</summary>
    public double Level { get; }

    /// <summary>An arriving element outside its forecast's interval at this level is an anomaly.</summary>
    public double AnomalyLevel { get; }

    /// <summary>The distance, in standard deviations of the target, beyond which an element is an anomaly.</summary>
    public double AnomalyThreshold { get; }

    /// <summary>The lower end of each element's forecast (of the next value) interval.</summary>
    public double[] Lower { get; }

    /// <summary>The upper end of each element's forecast interval.</summary>
    public double[] Upper { get; }

    /// <summary>How many standard deviations (of the target) each element lies from the forecast made for it.</summary>
    public double[] Surprise { get; }

    /// <summary>The lower end of the interval at <see cref="AnomalyLevel"/> of the forecast made for each element.</summary>
    public double[] AnomalyLower { get; }

    /// <summary>The upper end of that interval.</summary>
    public double[] AnomalyUpper { get; }

    /// <summary>Whether element i fell outside the interval at <see cref="AnomalyLevel"/> of the forecast made for it.</summary>
    public bool IsAnomaly(int i) => Math.Abs(Surprise[i]) > AnomalyThreshold;

    private static double[] Fill(int count)
    {
        var values = new double[count];
        Array.Fill(values, double.NaN);
        return values;
    }
}
