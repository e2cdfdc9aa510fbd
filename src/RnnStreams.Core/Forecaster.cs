using MathNet.Numerics.Distributions;

namespace RnnStreams.Core;

/// <summary>Where a forecaster's calendar inputs come from.</summary>
public enum CalendarKind
{
    /// <summary>No calendar inputs.</summary>
    None,

    /// <summary>The position in the season, counted from the element numbers (elements are consecutive periods).</summary>
    Position,

    /// <summary>The month of the year of the element's time (season 12), counted on when an element has no time.</summary>
    Month,

    /// <summary>The day of the week of the element's time (season 7).</summary>
    Weekday,

    /// <summary>The hour of the day of the element's time (season 24).</summary>
    Hour,
}

/// <summary>What a forecaster's network forecasts for one of its targets, z being the series or its log.</summary>
public enum ForecastTarget
{
    /// <summary>The seasonal difference z_t − z_{t−s}: its forecast is added to the value one season earlier.</summary>
    Seasonal,

    /// <summary>The change of the seasonal difference: its forecast is added to z_t + z_{t+1−s} − z_{t−s}.</summary>
    SeasonalChange,

    /// <summary>The change of z less a seasonal profile (<see cref="Forecaster.Profile"/>): added to z_t − p(t) + p(t + 1).</summary>
    Profile,
}

/// <summary>What a forecaster's network gives besides its point forecast.</summary>
public enum ForecastDistribution
{
    /// <summary>A point forecast only.</summary>
    None,

    /// <summary>A Gaussian of the target: the network gives its mean and (through softplus) its standard deviation.</summary>
    Gaussian,
}

/// <summary>
/// Turns a network into a forecaster of one raw series, served as it was trained. With z the series (its log when
/// <see cref="Log"/>), the network forecasts one or more <see cref="Targets"/> of z at once — the seasonal difference,
/// its change, the change less a seasonal profile — each from its own inputs: its value at t and, with
/// <see cref="SeasonalLags"/>, its values one season before the one forecast (T_{t+1−s}, T_{t−s}); with a
/// <see cref="Calendar"/> the sin and cos of the next element's position in the season follow. Each target's forecast
/// added to its base is a forecast of z_{t+1}; the forecast is their mean, turned back into the series' units (exp for a
/// log model): a combination of forecasters in one network.
/// </summary>
/// <remarks>
/// A sequence served by a forecaster keeps, after its network's state, <see cref="StateSize"/> more numbers: the count of
/// values, the last position in the season, the last <see cref="Window"/> values of z (oldest first), and the last
/// forecast's distribution (its centre and standard deviation in z, and whether the network made it). Until the window is
/// full (<see cref="FirstStep"/> values) the network is not stepped and the forecast is seasonal naive (the last value
/// before a whole season has been seen), with no interval — exactly as training ran it. With a Gaussian
/// <see cref="Distribution"/> the network gives each target's mean and spread; the forecast's distribution in z is the
/// normal whose variance is the targets' mean variance plus the variance of their forecasts (their mixture's), times
/// <see cref="SpreadScale"/>².
/// </remarks>
public sealed class Forecaster
{
    private const int CountSlot = 0;
    private const int PhaseSlot = 1;
    private const int RingStart = 2;
    private const int MaxSeason = 1000;

    private readonly ForecastTarget[] _targets;
    private readonly double[]? _profile;

    /// <summary>Builds and validates a forecaster's description.</summary>
    /// <exception cref="ModelValidationException">A field is out of range; the message names it.</exception>
    public Forecaster(
        int season, bool log, IReadOnlyList<ForecastTarget> targets, bool seasonalLags, CalendarKind calendar, int firstPhase, ForecastDistribution distribution,
        double spreadScale = 1, double[]? profile = null, bool seriesScale = false)
    {
        ArgumentNullException.ThrowIfNull(targets);
        if (season is < 2 or > MaxSeason)
        {
            throw new ModelValidationException("forecaster.season", $"must be between 2 and {MaxSeason}, got {season}");
        }

        if (targets.Count == 0 || targets.Any(t => !Enum.IsDefined(t)) || targets.Distinct().Count() != targets.Count)
        {
            throw new ModelValidationException("forecaster.targets", "expected one or more distinct targets of seasonal, seasonal-change and profile");
        }

        if (targets.Contains(ForecastTarget.Profile) != profile is not null)
        {
            throw new ModelValidationException("forecaster.profile", profile is null ? "the profile target needs the seasonal profile" : "a profile is given but no target uses it");
        }

        if (profile is not null)
        {
            if (profile.Length != season)
            {
                throw new ModelValidationException("forecaster.profile", $"expected {season} numbers (one per position in the season), got {profile.Length}");
            }

            if (Array.FindIndex(profile, v => !double.IsFinite(v)) is var bad and >= 0)
            {
                throw new ModelValidationException($"forecaster.profile[{bad}]", $"{profile[bad]} is not finite");
            }
        }

        if (!double.IsFinite(spreadScale) || spreadScale <= 0)
        {
            throw new ModelValidationException("forecaster.spreadScale", $"must be a finite number above 0, got {spreadScale}");
        }

        if (!Enum.IsDefined(calendar))
        {
            throw new ModelValidationException("forecaster.calendar", $"unknown calendar {calendar}");
        }

        if (!Enum.IsDefined(distribution))
        {
            throw new ModelValidationException("forecaster.distribution", $"unknown distribution {distribution}");
        }

        var cycle = CycleLength(calendar);
        if (cycle > 0 && cycle != season)
        {
            throw new ModelValidationException("forecaster.calendar", $"a {calendar.ToFileName()} calendar has a season of {cycle}, not {season}");
        }

        if (firstPhase < 0 || firstPhase >= season)
        {
            throw new ModelValidationException("forecaster.firstPhase", $"must be between 0 and {season - 1} (a position in the season), got {firstPhase}");
        }

        Season = season;
        Log = log;
        _targets = [.. targets];
        SeasonalLags = seasonalLags;
        Calendar = calendar;
        FirstPhase = firstPhase;
        Distribution = distribution;
        SpreadScale = spreadScale;
        _profile = profile?.ToArray();
        SeriesScale = seriesScale;
    }

    /// <summary>
    /// A global model's per-series scale: each sequence measures its own scale k once its window is full (the root mean
    /// square of the first differences of z in it, <see cref="ScaleOf"/>), divides its targets' inputs by k and multiplies
    /// the forecasts (and spreads) by k — so one network serves series of any size and noise.
    /// </summary>
    public bool SeriesScale { get; }

    /// <summary>A series' scale from the values of z in a full window: the root mean square of their first differences (at least 1e-9).</summary>
    public static double ScaleOf(ReadOnlySpan<double> z)
    {
        double sum = 0;
        for (var i = 1; i < z.Length; i++)
        {
            sum += (z[i] - z[i - 1]) * (z[i] - z[i - 1]);
        }

        return Math.Max(Math.Sqrt(sum / Math.Max(1, z.Length - 1)), 1e-9);
    }

    /// <summary>s, the season's length in elements.</summary>
    public int Season { get; }

    /// <summary>z is log(value): every value must be above 0.</summary>
    public bool Log { get; }

    /// <summary>What the network forecasts: one output (and a spread) per target, in this order.</summary>
    public IReadOnlyList<ForecastTarget> Targets => _targets;

    /// <summary>Each target's values one season before the forecast one are inputs.</summary>
    public bool SeasonalLags { get; }

    /// <summary>Where the sin/cos calendar inputs come from (<see cref="CalendarKind.None"/>: no such inputs).</summary>
    public CalendarKind Calendar { get; }

    /// <summary>The position in the season of a sequence's first element when it has no time (the training data's first).</summary>
    public int FirstPhase { get; }

    /// <summary>Whether the network also gives the spread of its forecasts.</summary>
    public ForecastDistribution Distribution { get; }

    /// <summary>
    /// Multiplies the forecast's spread: the calibration training measured on the part of the training values it held out
    /// (the root mean square of the standardised errors there), so that intervals cover what they say on unseen values.
    /// </summary>
    public double SpreadScale { get; }

    /// <summary>The seasonal profile of the <see cref="ForecastTarget.Profile"/> target (s numbers in z's units, one per position), or empty.</summary>
    public ReadOnlySpan<double> Profile => _profile;

    /// <summary>The inputs per target: its value at t, and with lags its two values one season earlier.</summary>
    private int InputsPerTarget => 1 + (SeasonalLags ? 2 : 0);

    /// <summary>The outputs per target: its mean, and a Gaussian's spread.</summary>
    private int OutputsPerTarget => Distribution == ForecastDistribution.Gaussian ? 2 : 1;

    /// <summary>The numbers the network reads per element.</summary>
    public int NetworkInputSize => (_targets.Length * InputsPerTarget) + (Calendar == CalendarKind.None ? 0 : 2);

    /// <summary>The numbers the network gives per element: each target's mean, and with a Gaussian its spread after it.</summary>
    public int NetworkOutputSize => _targets.Length * OutputsPerTarget;

    /// <summary>The first t (0-based) whose inputs are all defined: the network is stepped from the value at t on.</summary>
    public int FirstStep => _targets.Max(Reach) + (SeasonalLags ? Season : 0);

    /// <summary>The values of z the inputs at t read: z_{t−FirstStep} … z_t.</summary>
    public int Window => FirstStep + 1;

    /// <summary>The numbers a sequence keeps after its network's state.</summary>
    public int StateSize => RingStart + Window + 5;

    private int MeanSlot => RingStart + Window;

    private int SigmaSlot => MeanSlot + 1;

    private int BaseSlot => MeanSlot + 2;

    private int ValidSlot => MeanSlot + 3;

    private int ScaleSlot => MeanSlot + 4;

    /// <summary>How far back a target's value at t reads: z_{t−reach} … z_t.</summary>
    private int Reach(ForecastTarget target) => target switch
    {
        ForecastTarget.Seasonal => Season,
        ForecastTarget.SeasonalChange => Season + 1,
        _ => 1,
    };

    /// <summary>True when <paramref name="value"/> can be served: finite, and above 0 for a log model.</summary>
    public bool Accepts(double value) => double.IsFinite(value) && (!Log || value > 0);

    /// <summary>z of a value.</summary>
    public double Transform(double value) => Log ? Math.Log(value) : value;

    /// <summary>A value of z back in the series' units.</summary>
    public double Inverse(double z) => Log ? Math.Exp(z) : z;

    /// <summary>
    /// A target's value at the end of <paramref name="z"/> (its last value is z_t, at position <paramref name="phase"/> in
    /// the season).
    /// </summary>
    public double Target(ForecastTarget target, ReadOnlySpan<double> z, int phase)
    {
        var t = z.Length - 1;
        switch (target)
        {
            case ForecastTarget.Profile:
                var profile = _profile!;
                return z[t] - profile[phase] - (z[t - 1] - profile[(phase + Season - 1) % Season]);
            case ForecastTarget.SeasonalChange:
                return z[t] - z[t - Season] - (z[t - 1] - z[t - 1 - Season]);
            default:
                return z[t] - z[t - Season];
        }
    }

    /// <summary>What the forecast of z_{t+1} adds a target's forecast to, z_t being the last of <paramref name="z"/> (at <paramref name="phase"/>).</summary>
    public double Base(ForecastTarget target, ReadOnlySpan<double> z, int phase)
    {
        var t = z.Length - 1;
        return target switch
        {
            ForecastTarget.Profile => z[t] - _profile![phase] + _profile[(phase + 1) % Season],
            ForecastTarget.SeasonalChange => z[t] + z[t + 1 - Season] - z[t - Season],
            _ => z[t + 1 - Season],
        };
    }

    /// <summary>
    /// The network's inputs at t into <paramref name="x"/> (<see cref="NetworkInputSize"/> numbers): <paramref name="z"/> is
    /// the <see cref="Window"/> values z_{t−FirstStep} … z_t, <paramref name="phase"/> the position of t in the season.
    /// </summary>
    public void Inputs(ReadOnlySpan<double> z, int phase, Span<double> x, double scale = 1)
    {
        var i = 0;
        foreach (var target in _targets)
        {
            x[i++] = Target(target, z, phase) / scale;
            if (SeasonalLags)
            {
                x[i++] = Target(target, z[..^(Season - 1)], (phase + 1) % Season) / scale; // t + 1 − s is at the position of t + 1
                x[i++] = Target(target, z[..^Season], phase) / scale;
            }
        }

        if (Calendar != CalendarKind.None)
        {
            var angle = 2 * Math.PI * ((phase + 1) % Season) / Season;
            x[i++] = Math.Sin(angle);
            x[i] = Math.Cos(angle);
        }
    }

    /// <summary>
    /// The forecast of z_{t+1} from the network's outputs (unscaled: each target's mean in its units, then a Gaussian's raw
    /// spread): the mean of the targets' forecasts, and its standard deviation in z (0 without a distribution) — the
    /// targets' mean variance plus their forecasts' variance, times <see cref="SpreadScale"/>. <paramref name="spreadUnits"/>
    /// gives each target's deviation (its spread comes out of the network standardised).
    /// </summary>
    public (double Centre, double Sigma) Combine(ReadOnlySpan<double> z, int phase, ReadOnlySpan<double> outputs, ReadOnlySpan<double> spreadUnits)
    {
        var count = _targets.Length;
        var per = OutputsPerTarget;
        double sum = 0, squares = 0, variance = 0;
        for (var c = 0; c < count; c++)
        {
            var centre = Base(_targets[c], z, phase) + outputs[c * per];
            sum += centre;
            squares += centre * centre;
            if (per == 2)
            {
                var sigma = Softplus(outputs[(c * per) + 1]) * spreadUnits[c];
                variance += sigma * sigma;
            }
        }

        var mean = sum / count;
        if (per == 1)
        {
            return (mean, 0);
        }

        var spreadOfCentres = Math.Max((squares / count) - (mean * mean), 0);
        return (mean, Math.Sqrt((variance / count) + spreadOfCentres) * SpreadScale);
    }

    /// <summary>
    /// The position in the season of an element: from its time (UTC ticks; 0 for none) when the calendar reads times,
    /// else the one after <paramref name="previous"/>, or <see cref="FirstPhase"/> for a sequence's first element.
    /// </summary>
    public int Phase(long timeTicks, int previous, bool first)
    {
        if (timeTicks > 0 && Calendar is CalendarKind.Month or CalendarKind.Weekday or CalendarKind.Hour)
        {
            var time = new DateTime(timeTicks, DateTimeKind.Utc);
            return Calendar switch
            {
                CalendarKind.Month => time.Month - 1,
                CalendarKind.Weekday => (int)time.DayOfWeek,
                _ => time.Hour,
            };
        }

        return first ? FirstPhase : (previous + 1) % Season;
    }

    /// <summary>
    /// One element into a sequence's state and its forecast of the next value into <paramref name="y"/>[0]: pushes the
    /// value, and once the window is full steps <paramref name="network"/> on the inputs. Allocates nothing.
    /// </summary>
    internal void Step(RnnModel network, double value, long timeTicks, Span<double> state, Span<double> y)
    {
        var own = state[network.StateSize..];
        var count = (long)own[CountSlot] + 1;
        var ring = own.Slice(RingStart, Window);
        ring[1..].CopyTo(ring);
        ring[^1] = Transform(value);
        var phase = Phase(timeTicks, (int)own[PhaseSlot], count == 1);
        own[CountSlot] = count;
        own[PhaseSlot] = phase;
        if (count < Window)
        {
            // Warming up: seasonal naive once a season is known, else the last value.
            y[0] = count >= Season ? Inverse(ring[^Season]) : value;
            own[MeanSlot] = own[SigmaSlot] = own[BaseSlot] = own[ValidSlot] = 0;
            return;
        }

        Span<double> inputs = stackalloc double[NetworkInputSize];
        Span<double> outputs = stackalloc double[NetworkOutputSize];
        Span<double> units = stackalloc double[_targets.Length];
        if (count == Window)
        {
            own[ScaleSlot] = SeriesScale ? ScaleOf(ring) : 1;
        }

        var scale = own[ScaleSlot];
        Inputs(ring, phase, inputs, scale);
        network.Step(inputs, state[..network.StateSize], outputs);
        SpreadUnits(network, units);
        for (var c = 0; c < units.Length; c++)
        {
            // A global model forecasts in the series' units: its scale back in z's.
            outputs[c * OutputsPerTarget] *= scale;
            units[c] *= scale;
        }

        var (centre, sigma) = Combine(ring, phase, outputs, units);
        own[MeanSlot] = centre;
        own[SigmaSlot] = sigma;
        own[BaseSlot] = 0;
        own[ValidSlot] = 1;
        y[0] = Inverse(centre);
    }

    /// <summary>
    /// The <paramref name="probability"/> quantile (0 &lt; p &lt; 1) of the next value as the last forecast held in
    /// <paramref name="state"/> gives it: the target's Gaussian quantile added to the base and turned back into the series'
    /// units (a monotone map, so quantiles map exactly). False while warming up or for a model without a distribution.
    /// </summary>
    public bool TryQuantile(ReadOnlySpan<double> state, int networkStateSize, double probability, out double value)
    {
        var own = state[networkStateSize..];
        value = double.NaN;
        if (Distribution == ForecastDistribution.None || own[ValidSlot] != 1 || probability is <= 0 or >= 1 || double.IsNaN(probability))
        {
            return false;
        }

        value = ValueAt(state, networkStateSize, Normal.InvCDF(0, 1, probability));
        return true;
    }

    /// <summary>
    /// The next value whose target lies <paramref name="score"/> standard deviations from the mean of the last forecast held
    /// in <paramref name="state"/> (which must be valid and have a distribution): a sample of it for a standard normal score.
    /// </summary>
    internal double ValueAt(ReadOnlySpan<double> state, int networkStateSize, double score)
    {
        var own = state[networkStateSize..];
        return Inverse(own[BaseSlot] + own[MeanSlot] + (own[SigmaSlot] * score));
    }

    /// <summary>The central interval at <paramref name="level"/> (0.8 for 80 %): the quantiles (1 ∓ level) / 2.</summary>
    public bool TryInterval(ReadOnlySpan<double> state, int networkStateSize, double level, out double lower, out double upper)
    {
        upper = double.NaN;
        return TryQuantile(state, networkStateSize, (1 - level) / 2, out lower) & TryQuantile(state, networkStateSize, (1 + level) / 2, out upper);
    }

    /// <summary>
    /// How far <paramref name="value"/>, arriving next, lies from the last forecast held in <paramref name="state"/>: its
    /// target's distance from the mean in standard deviations (NaN while warming up, without a distribution, or for a value
    /// the model cannot take).
    /// </summary>
    public double Surprise(ReadOnlySpan<double> state, int networkStateSize, double value)
    {
        var own = state[networkStateSize..];
        if (Distribution == ForecastDistribution.None || own[ValidSlot] != 1 || !Accepts(value) || own[SigmaSlot] <= 0)
        {
            return double.NaN;
        }

        return (Transform(value) - own[BaseSlot] - own[MeanSlot]) / own[SigmaSlot];
    }

    /// <summary>Each target's deviation, by which its spread is scaled: a Gaussian's spread comes out of the network standardised.</summary>
    private void SpreadUnits(RnnModel network, Span<double> units)
    {
        for (var c = 0; c < units.Length; c++)
        {
            units[c] = network.Scaling is { } scaling ? scaling.OutputStd[c * OutputsPerTarget] : 1;
        }
    }

    /// <summary>log(1 + e^v), computed without overflow; the network's spread is this of its second output.</summary>
    public static double Softplus(double v) => v > 30 ? v : Math.Log(1 + Math.Exp(v));

    /// <summary>The season a calendar's cycle fixes (0 for none or position).</summary>
    public static int CycleLength(CalendarKind calendar) => calendar switch
    {
        CalendarKind.Month => 12,
        CalendarKind.Weekday => 7,
        CalendarKind.Hour => 24,
        _ => 0,
    };
}
