namespace RnnStreams.Core.Training;

/// <summary>
/// Validation errors on the held-out tail of the trained model and of the forecasts it is compared with: the last value
/// (naive), the value one season earlier (seasonal naive), and the last value plus the series' mean step so far (drift).
/// </summary>
public sealed record TrainingReport(
    RnnModel Model,
    IReadOnlyList<double> EpochLosses,
    int TrainCount,
    int ValidationCount,
    double Rmse,
    double Mae,
    double NaiveRmse,
    double NaiveMae,
    double SeasonalRmse,
    double SeasonalMae,
    double DriftRmse,
    double DriftMae)
{
    /// <summary>The share of held-out values inside their forecast's 80 % interval; NaN without intervals.</summary>
    public double Coverage80 { get; init; } = double.NaN;

    /// <summary>The share of held-out values inside their forecast's 95 % interval; NaN without intervals.</summary>
    public double Coverage95 { get; init; } = double.NaN;

    /// <summary>
    /// The continuous ranked probability score of the forecasts of the held-out values (in the series' units; lower is
    /// better, and equals the absolute error for a point forecast), from the pinball losses of the 1 %…99 % quantiles; NaN
    /// without intervals.
    /// </summary>
    public double Crps { get; init; } = double.NaN;

    /// <summary>
    /// The share of held-out values flagged as anomalies — outside the 99 % interval of the forecast made for them — as a
    /// served sequence would flag them; on a clean series, the false-alarm rate (1 % when the intervals are calibrated).
    /// NaN without intervals.
    /// </summary>
    public double FalseAlarms { get; init; } = double.NaN;

    /// <summary>A forecaster's forecasts one season ahead from each held-out origin (rolled forward on its own forecasts); null for other models.</summary>
    public SeasonAheadScore? SeasonAhead { get; init; }

    /// <summary>The epochs chosen on the inner validation part of the training values, per member of the ensemble; null when not chosen.</summary>
    public IReadOnlyList<int>? SelectedEpochs { get; init; }
}

/// <summary>
/// Forecasts <paramref name="Horizon"/> steps ahead (a season) from each held-out origin: the model rolled forward on its
/// own forecasts, against the seasonal naive forecast (the value a season before the one forecast, i.e. the origin's).
/// </summary>
/// <param name="Horizon">Steps ahead.</param>
/// <param name="Count">Origins scored.</param>
/// <param name="Rmse">The model's RMSE.</param>
/// <param name="SeasonalNaiveRmse">The seasonal naive forecast's.</param>
/// <param name="Coverage80">The share inside the 80 % interval from sampled futures; NaN without intervals.</param>
public sealed record SeasonAheadScore(int Horizon, int Count, double Rmse, double SeasonalNaiveRmse, double Coverage80);
