namespace RnnStreams.Core.Training;

/// <summary>One series of a fleet: its name (the sequence or device), its values and optionally their times.</summary>
public sealed record FleetSeries(string Name, IReadOnlyList<double> Values, IReadOnlyList<DateTime>? Times = null);

/// <summary>A global model and its report on each series' held-out tail.</summary>
public sealed record FleetReport(RnnModel Model, IReadOnlyList<(string Name, TrainingReport Report)> Series, IReadOnlyList<int> SelectedEpochs);

public static partial class Trainer
{
    /// <summary>
    /// One forecaster for a whole fleet (DeepAR's recipe without its sampling): every series' rows train one network, each
    /// series in units of its own scale (<see cref="Forecaster.SeriesScale"/>: measured from its first window, as a served
    /// sequence measures it), standardised together; the last <see cref="TrainingOptions.ValidationFraction"/> of every
    /// series is held out, and its report is each series' own. The targets are the seasonal difference and its change (a
    /// seasonal profile is a property of one series).
    /// </summary>
    public static FleetReport TrainFleet(IReadOnlyList<FleetSeries> fleet, TrainingOptions options, Action<int, double>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(fleet);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (fleet.Count == 0)
        {
            throw new ArgumentException("a fleet needs at least one series", nameof(fleet));
        }

        foreach (var series in fleet)
        {
            if (series.Values.Any(v => !double.IsFinite(v)))
            {
                throw new ArgumentException($"{series.Name}: every value must be finite", nameof(fleet));
            }

            if (series.Times is not null && series.Times.Count != series.Values.Count)
            {
                throw new ArgumentException($"{series.Name}: {series.Times.Count} times for {series.Values.Count} values", nameof(fleet));
            }
        }

        var calendarOfTimes = SeriesShape.CalendarOf(fleet[0].Times);
        foreach (var series in fleet.Skip(1))
        {
            // One network reads one calendar: a series of another frequency (or with times where the first has none) would
            // be read in the first series' seasons.
            if (SeriesShape.CalendarOf(series.Times) != calendarOfTimes)
            {
                throw new ArgumentException(
                    $"{series.Name}: {Frequency(SeriesShape.CalendarOf(series.Times))}, but {fleet[0].Name} is {Frequency(calendarOfTimes)}: one model serves a fleet of one frequency",
                    nameof(fleet));
            }
        }

        var season = options.SeasonFor(calendarOfTimes);
        var trains = fleet.Select(s => s.Values.Count - (int)Math.Round(s.Values.Count * options.ValidationFraction)).ToArray();
        var log = options.Log ?? (fleet.All(s => s.Values.All(v => v > 0))
            && fleet.Select((s, i) => SeriesShape.SuitsLog(s.Values, trains[i], season)).Count(suits => suits) * 2 >= fleet.Count);
        if (log && fleet.Any(s => s.Values.Any(v => v <= 0)))
        {
            throw new ArgumentException("a log transform needs every value above 0", nameof(fleet));
        }

        var calendar = !options.Calendar ? CalendarKind.None
            : calendarOfTimes is { } kind && Forecaster.CycleLength(kind) == season ? kind
            : CalendarKind.Position;
        var firstPhase = Forecaster.CycleLength(calendar) > 0 && fleet[0].Times is { } first ? PhaseOf(calendar, first[0]) : 0;
        ForecastTarget[] targets = [.. options.Targets.Where(t => t != ForecastTarget.Profile)];
        if (targets.Length == 0)
        {
            throw new ArgumentException("a fleet model forecasts the seasonal difference or its change: a seasonal profile belongs to one series", nameof(options));
        }

        Forecaster Spec(double spreadScale) => new(
            season, log, targets, options.SeasonalLags, calendar, firstPhase,
            options.Intervals ? ForecastDistribution.Gaussian : ForecastDistribution.None, spreadScale, seriesScale: true);

        var forecaster = Spec(1);
        var counter = new Forecaster(season, false, [ForecastTarget.Seasonal], false, calendar, firstPhase, ForecastDistribution.None);
        var raw = fleet.Select((s, i) =>
        {
            var z = s.Values.Select(v => log ? Math.Log(v) : v).ToArray();
            try
            {
                return Raw(forecaster, z, Phases(counter, s.Times, z.Length), trains[i], options);
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"{s.Name}: {e.Message.Split(" (Parameter")[0]}", nameof(fleet));
            }
        }).ToArray();
        var rows = Standardize(raw);

        var members = new List<Network>();
        var epochs = new List<int>();
        var calibrations = new List<double>();
        var segments = rows.Select(r => (r.Inputs, r.Targets)).ToArray();
        for (var m = 0; m < options.Ensemble; m++)
        {
            var member = options with { Seed = options.Seed + m };
            var (memberEpochs, calibration) = options.SelectEpochs ? SelectEpochs(rows, forecaster, member, m == 0 ? progress : null) : (options.Epochs, 1);
            calibrations.Add(calibration);
            var network = NewNetwork(forecaster, member);
            Fit(network, segments, member with { Epochs = memberEpochs }, options.SelectEpochs || m > 0 ? null : progress);
            members.Add(network);
            epochs.Add(memberEpochs);
        }

        var merged = members.Count == 1 ? members[0] : Network.Average(members);
        var model = new RnnModel(merged.ToModel(options.Name, rows[0].Scaling(options.Intervals)), Spec(Math.Sqrt(calibrations.Average(k => k * k))));
        var reports = fleet.Select((s, i) => (s.Name, Evaluate(model, s.Values, trains[i], times: s.Times))).ToArray();
        return new FleetReport(model, reports, epochs);
    }

    private static string Frequency(CalendarKind? calendar) => calendar switch
    {
        CalendarKind.Month => "monthly",
        CalendarKind.Weekday => "daily",
        CalendarKind.Hour => "hourly",
        _ => "without regular times",
    };
}
