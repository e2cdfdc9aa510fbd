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

    /// <summary>The epochs chosen on the inner validation part of the training values, per member of the ensemble; null when not chosen.</summary>
    public IReadOnlyList<int>? SelectedEpochs { get; init; }
}
