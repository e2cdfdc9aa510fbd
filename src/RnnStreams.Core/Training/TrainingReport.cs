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
    /// <summary>The epochs chosen on the inner validation part of the training values, per member of the ensemble; null when not chosen.</summary>
    public IReadOnlyList<int>? SelectedEpochs { get; init; }
}
