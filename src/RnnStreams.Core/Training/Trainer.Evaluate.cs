namespace RnnStreams.Core.Training;

public static partial class Trainer
{
    /// <summary>
    /// Runs <paramref name="model"/> over the whole series from a fresh state, as a sequence is served (a forecaster takes
    /// raw values and their times), and scores its forecasts of the values from <paramref name="firstScored"/> on, y_t
    /// forecasting the value <paramref name="horizon"/> steps after x_t (1 for a forecaster), beside the naive, seasonal
    /// naive and drift forecasts of the same values.
    /// </summary>
    public static TrainingReport Evaluate(
        RnnModel model,
        IReadOnlyList<double> series,
        int firstScored,
        int horizon = 1,
        int season = 12,
        IReadOnlyList<DateTime>? times = null,
        IReadOnlyList<double>? losses = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(series);
        if (model.Forecaster is { } forecaster)
        {
            horizon = 1;
            season = forecaster.Season;
        }

        var state = new double[model.StateSize];
        var y = new double[model.OutputSize];
        List<double> errors = [], naive = [], seasonal = [], drift = [], inside80 = [], inside95 = [], crps = [], flagged = [];
        List<double> seasonAhead = [], seasonAheadNaive = [], seasonAheadInside = [];
        var threshold = MathNet.Numerics.Distributions.Normal.InvCDF(0, 1, 0.995);
        for (var t = 0; t + horizon < series.Count; t++)
        {
            // An anomaly check as a served sequence makes it: the value against the forecast made for it, at 99 %.
            var surprise = t >= firstScored && model.HasIntervals ? model.Surprise(state, series[t]) : double.NaN;
            if (!double.IsNaN(surprise))
            {
                flagged.Add(Math.Abs(surprise) > threshold ? 1 : 0);
            }

            model.Step([series[t]], times is null ? 0 : times[t].Ticks, state, y);
            var target = t + horizon;
            if (target < firstScored)
            {
                continue;
            }

            // A season ahead from here, the model rolled forward on its own forecasts (as Forecast serves it).
            if (model.Forecaster is not null && t + season < series.Count)
            {
                var path = new double[season];
                path[0] = y[0];
                if (model.TryRollForward(state, path) < 0)
                {
                    seasonAhead.Add(path[^1] - series[t + season]);
                    seasonAheadNaive.Add(series[t] - series[t + season]);
                    var (lower, upper) = (new double[season], new double[season]);
                    if (model.TrySampleIntervals(state, SeasonAheadPaths, 0.8, t, lower, upper))
                    {
                        seasonAheadInside.Add(series[t + season] >= lower[^1] && series[t + season] <= upper[^1] ? 1 : 0);
                    }
                }
            }

            errors.Add(y[0] - series[target]);
            if (model.HasIntervals && model.TryInterval(state, 0.8, out var low80, out var high80) && model.TryInterval(state, 0.95, out var low95, out var high95))
            {
                inside80.Add(series[target] >= low80 && series[target] <= high80 ? 1 : 0);
                inside95.Add(series[target] >= low95 && series[target] <= high95 ? 1 : 0);
                crps.Add(Crps(model, state, series[target]));
            }

            naive.Add(series[t] - series[target]);
            if (target - season >= 0)
            {
                seasonal.Add(series[target - season] - series[target]);
            }

            if (t > 0)
            {
                drift.Add(series[t] + (horizon * (series[t] - series[0]) / t) - series[target]);
            }
        }

        return new TrainingReport(model, losses ?? [], firstScored, errors.Count, Rmse(errors), Mae(errors), Rmse(naive), Mae(naive),
            Rmse(seasonal), Mae(seasonal), Rmse(drift), Mae(drift))
        {
            Coverage80 = Mean(inside80),
            Coverage95 = Mean(inside95),
            Crps = Mean(crps),
            FalseAlarms = Mean(flagged),
            SeasonAhead = seasonAhead.Count == 0 ? null : new SeasonAheadScore(season, seasonAhead.Count, Rmse(seasonAhead), Rmse(seasonAheadNaive), Mean(seasonAheadInside)),
        };
    }

    /// <summary>Futures sampled for the season-ahead intervals of the report (fewer than a served forecast's: one per origin).</summary>
    private const int SeasonAheadPaths = 100;

    private static double Mean(List<double> values) => values.Count == 0 ? double.NaN : values.Average();

    /// <summary>CRPS = 2 ∫ pinball_q dq over q in (0, 1), by the midpoint rule on the 99 quantiles 1 %…99 %.</summary>
    private static double Crps(RnnModel model, double[] state, double actual)
    {
        double sum = 0;
        for (var i = 1; i <= 99; i++)
        {
            var q = i / 100.0;
            model.TryQuantile(state, q, out var quantile);
            sum += ((actual < quantile ? 1 : 0) - q) * (quantile - actual);
        }

        return 2 * sum / 99;
    }
}
