namespace RnnStreams.Core.Training;

/// <summary>
/// What the network of a seasonal forecaster sees and predicts instead of the raw series. With z the series (its log
/// when <see cref="Log"/>), the target T is the seasonal difference D_t = z_t − z_{t−s} or, when
/// <see cref="FirstDifference"/>, its first difference D_t − D_{t−1}; the forecast of z_{t+1} is the base
/// (z_{t+1−s}, or z_t + z_{t+1−s} − z_{t−s}) plus the network's T_{t+1}. The inputs at t are T_t, the seasonal lags
/// T_{t+1−s} and T_{t−s} (the target one season earlier), and, when <see cref="Calendar"/>, sin and cos of the phase
/// of t + 1 in the season. Serving such a model needs the same computation per element: the last s + 1 values of z
/// (2s + 2 with the first difference) and the position in the season.
/// </summary>
public sealed record SeasonalFeatures(int Season, bool Log, bool FirstDifference, bool Calendar, bool SeasonalLags)
{
    /// <summary>Numbers per input vector.</summary>
    public int InputSize => 1 + (SeasonalLags ? 2 : 0) + (Calendar ? 2 : 0);

    /// <summary>Values of z the target T_t needs before t (s, or s + 1 with the first difference).</summary>
    private int TargetHistory => Season + (FirstDifference ? 1 : 0);

    /// <summary>The first t whose inputs are all defined.</summary>
    public int FirstStep => TargetHistory + (SeasonalLags ? Season : 0);

    /// <summary>The series as the network's units see it (its log when <see cref="Log"/>).</summary>
    public double[] Transform(IReadOnlyList<double> series) => [.. series.Select(v => Log ? Math.Log(v) : v)];

    /// <summary>A forecast of z back in the series' units.</summary>
    public double Inverse(double z) => Log ? Math.Exp(z) : z;

    /// <summary>T_t; needs t ≥ <see cref="TargetHistory"/>.</summary>
    public double Target(double[] z, int t) => FirstDifference
        ? z[t] - z[t - Season] - (z[t - 1] - z[t - 1 - Season])
        : z[t] - z[t - Season];

    /// <summary>What the forecast of z_{t+1} adds the network's T_{t+1} to.</summary>
    public double Base(double[] z, int t) => FirstDifference ? z[t] + z[t + 1 - Season] - z[t - Season] : z[t + 1 - Season];

    /// <summary>Writes the inputs at t (known once z_t is) into <paramref name="x"/>; needs t ≥ <see cref="FirstStep"/>.</summary>
    public void Inputs(double[] z, int t, Span<double> x)
    {
        var i = 0;
        x[i++] = Target(z, t);
        if (SeasonalLags)
        {
            x[i++] = Target(z, t + 1 - Season);
            x[i++] = Target(z, t - Season);
        }

        if (Calendar)
        {
            var phase = 2 * Math.PI * ((t + 1) % Season) / Season;
            x[i++] = Math.Sin(phase);
            x[i] = Math.Cos(phase);
        }
    }

    /// <summary>
    /// Whether a log transform suits the first <paramref name="count"/> values: all positive, and the swing within a
    /// season grows with the level (the slope of log(deviation of the steps within each whole season) on log(its mean)
    /// is above 1/2, i.e. closer to multiplicative than to additive).
    /// </summary>
    public static bool SuitsLog(IReadOnlyList<double> series, int count, int season)
    {
        if (season < 2 || count < 3 * season)
        {
            return false;
        }

        for (var i = 0; i < count; i++)
        {
            if (series[i] <= 0)
            {
                return false;
            }
        }

        var levels = new List<double>();
        var swings = new List<double>();
        for (var start = 0; start + season <= count; start += season)
        {
            var steps = Enumerable.Range(start + 1, season - 1).Select(i => series[i] - series[i - 1]).ToList();
            var mean = steps.Average();
            var swing = Math.Sqrt(steps.Average(d => (d - mean) * (d - mean)));
            if (swing <= 0)
            {
                return false;
            }

            levels.Add(Math.Log(Enumerable.Range(start, season).Average(i => series[i])));
            swings.Add(Math.Log(swing));
        }

        var ml = levels.Average();
        var ms = swings.Average();
        var sxx = levels.Sum(l => (l - ml) * (l - ml));
        var sxy = levels.Zip(swings).Sum(p => (p.First - ml) * (p.Second - ms));
        return sxx > 0 && sxy / sxx > 0.5;
    }
}
