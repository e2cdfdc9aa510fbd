namespace RnnStreams.Core.Training;

/// <summary>How <see cref="Trainer"/> trains a forecaster of one series.</summary>
public sealed record TrainingOptions
{
    public CellType Cell { get; init; } = CellType.Gru;

    public int Hidden { get; init; } = 32;

    public int Layers { get; init; } = 1;

    /// <summary>Steps per truncated-backpropagation window (the state is carried from window to window).</summary>
    public int Window { get; init; } = 24;

    /// <summary>y_t forecasts the value <c>Horizon</c> steps after x_t.</summary>
    public int Horizon { get; init; } = 1;

    public int Epochs { get; init; } = 100;

    /// <summary>Adam's step size.</summary>
    public double? LearningRate { get; init; }

    /// <summary>
    /// Adam's step size in use: <see cref="LearningRate"/>, else 0.003 for a seasonal forecaster (its small data sets want
    /// small steps: its epochs are chosen early) and 0.01 for a model of the raw series.
    /// </summary>
    public double StepSize => LearningRate ?? (Seasonal ? 0.003 : 0.01);

    /// <summary>The share of the series, at its end, held out for validation (never trained on).</summary>
    public double ValidationFraction { get; init; } = 0.2;

    /// <summary>
    /// The season's length: a seasonal forecaster's period, and the seasonal-naive forecast's the report compares with.
    /// Null: the calendar's (12 for monthly times, 7 for daily, 24 for hourly), else 12.
    /// </summary>
    public int? Season { get; init; }

    /// <summary>The network predicts the change from the current value (the model adds x_t back): default on. Not seasonal.</summary>
    public bool Residual { get; init; } = true;

    /// <summary>Gradients are scaled down to this global norm when longer (0: never).</summary>
    public double ClipNorm { get; init; } = 1.0;

    public int Seed { get; init; } = 1;

    /// <summary>
    /// The network forecasts the seasonal difference from seasonal inputs (<see cref="Forecaster"/>) instead of
    /// the raw series: default on (needs <see cref="Horizon"/> 1).
    /// </summary>
    public bool Seasonal { get; init; } = true;

    /// <summary>Seasonal: the log of the series when true, the series when false, chosen from the training part when null.</summary>
    public bool? Log { get; init; }

    /// <summary>
    /// Seasonal: what the network forecasts, one output per target, the forecast being the mean of theirs (a combination,
    /// measured more robust than any one target or a choice among them). Default: all three.
    /// </summary>
    public IReadOnlyList<ForecastTarget> Targets { get; init; } = [ForecastTarget.Seasonal, ForecastTarget.SeasonalChange, ForecastTarget.Profile];

    /// <summary>
    /// Seasonal: sin and cos of the position in the season are inputs — the month, weekday or hour of each value's time when
    /// the series has times at such steps, else its position counted from the first value.
    /// </summary>
    public bool Calendar { get; init; } = true;

    /// <summary>
    /// Seasonal: <see cref="Epochs"/> is the most, and the number trained is chosen on the last part of the training values
    /// (the <see cref="ValidationFraction"/> share of them): default on.
    /// </summary>
    public bool SelectEpochs { get; init; } = true;

    /// <summary>Seasonal: networks trained from this many seeds (Seed, Seed + 1, …), averaged into one model (K·H hidden units).</summary>
    public int Ensemble { get; init; } = 5;

    /// <summary>Seasonal: the target one season earlier (T_{t+1−s}, T_{t−s}) is an input.</summary>
    public bool SeasonalLags { get; init; } = true;

    /// <summary>
    /// Seasonal: the network gives a Gaussian of its target (mean and spread, trained by likelihood), so each forecast
    /// carries an interval; default on.
    /// </summary>
    public bool Intervals { get; init; } = true;

    public string Name { get; init; } = "trained";

    /// <summary>Checks every option, naming the bad one.</summary>
    public void Validate()
    {
        Require(Hidden >= 1, "hidden", "at least 1");
        Require(Layers >= 1, "layers", "at least 1");
        Require(Window >= 1, "window", "at least 1");
        Require(Horizon >= 1, "horizon", "at least 1");
        Require(Epochs >= 1, "epochs", "at least 1");
        Require(LearningRate is null || (LearningRate > 0 && double.IsFinite(LearningRate.Value)), "learning-rate", "a number above 0");
        Require(ValidationFraction > 0 && ValidationFraction < 1, "validation", "a fraction between 0 and 1");
        Require(Season is null or >= 1, "season", "at least 1");
        Require(ClipNorm >= 0 && double.IsFinite(ClipNorm), "clip", "0 or more");
        Require(ModelNames.IsValidName(Name), "name", "a model name (letters, digits, . _ - : /)");
        Require(!Seasonal || Horizon == 1, "horizon", "1 for a seasonal forecaster (--seasonal off forecasts further)");
        Require(Ensemble >= 1, "ensemble", "at least 1");
        Require(Targets is { Count: > 0 } && Targets.Distinct().Count() == Targets.Count, "targets", "one or more distinct targets");
        Require(!Seasonal || Season is null or >= 2, "season", "at least 2 for a seasonal forecaster");
    }

    /// <summary>The season's length for a series whose times read as <paramref name="calendar"/> (null: no such times).</summary>
    public int SeasonFor(CalendarKind? calendar) =>
        Season ?? (calendar is { } kind && Forecaster.CycleLength(kind) > 0 ? Forecaster.CycleLength(kind) : 12);

    private static void Require(bool ok, string option, string what)
    {
        if (!ok)
        {
            throw new ArgumentException($"--{option} must be {what}", option);
        }
    }
}
