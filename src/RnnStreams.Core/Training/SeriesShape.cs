namespace RnnStreams.Core.Training;

/// <summary>What the trainer reads off a series before it trains: whether a log suits it, and its calendar.</summary>
public static class SeriesShape
{
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

    /// <summary>
    /// The calendar of a series from its times: monthly steps (28–31 days) read the month of the year, daily steps the
    /// day of the week, hourly steps the hour of the day; anything else (or no times) counts positions. Null when the
    /// median step is none of these.
    /// </summary>
    public static CalendarKind? CalendarOf(IReadOnlyList<DateTime>? times)
    {
        if (times is null || times.Count < 3)
        {
            return null;
        }

        var steps = Enumerable.Range(1, times.Count - 1).Select(i => (times[i] - times[i - 1]).TotalHours).Order().ToList();
        var median = steps[steps.Count / 2];
        return median switch
        {
            >= 28 * 24 and <= 31 * 24 => CalendarKind.Month,
            >= 23.5 and <= 24.5 => CalendarKind.Weekday,
            >= 0.99 and <= 1.01 => CalendarKind.Hour,
            _ => null,
        };
    }

    /// <summary>
    /// A seasonal profile by classical decomposition of <paramref name="z"/>: the centred moving average of one season
    /// (2×s for an even s) is the trend, and the mean of z less the trend at each position in the season (its
    /// <paramref name="phases"/>) is the profile, centred on 0.
    /// </summary>
    public static double[] SeasonalProfile(ReadOnlySpan<double> z, IReadOnlyList<int> phases, int season)
    {
        var half = season / 2;
        var sums = new double[season];
        var counts = new int[season];
        for (var t = half; t + half < z.Length; t++)
        {
            double trend;
            if (season % 2 == 0)
            {
                trend = (z[t - half] / 2) + (z[t + half] / 2);
                for (var j = t - half + 1; j < t + half; j++)
                {
                    trend += z[j];
                }

                trend /= season;
            }
            else
            {
                trend = 0;
                for (var j = t - half; j <= t + half; j++)
                {
                    trend += z[j];
                }

                trend /= season;
            }

            sums[phases[t]] += z[t] - trend;
            counts[phases[t]]++;
        }

        var profile = new double[season];
        for (var k = 0; k < season; k++)
        {
            profile[k] = counts[k] > 0 ? sums[k] / counts[k] : 0;
        }

        var mean = profile.Average();
        for (var k = 0; k < season; k++)
        {
            profile[k] -= mean;
        }

        return profile;
    }
}
