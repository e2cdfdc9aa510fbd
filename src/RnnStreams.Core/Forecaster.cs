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
/// <see cref="Log"/>), the network's target T is the seasonal difference <c>z_t − z_{t−s}</c> or, with
/// <see cref="FirstDifference"/>, its change <c>(z_t − z_{t−s}) − (z_{t−1} − z_{t−1−s})</c>. Its inputs at t are T_t,
/// with <see cref="SeasonalLags"/> the targets one season before the one forecast (T_{t+1−s}, T_{t−s}), and with a
/// <see cref="Calendar"/> the sin and cos of the next element's position in the season. The forecast of the next value
/// is <c>inverse(base + T̂)</c>, base being z_{t+1−s} (or z_t + z_{t+1−s} − z_{t−s}), inverse exp for a log model.
/// </summary>
/// <remarks>
/// A sequence served by a forecaster keeps, after its network's state, <see cref="StateSize"/> more numbers: the count of
/// values, the last position in the season, the last <see cref="Window"/> values of z (oldest first), and the last
/// forecast's distribution (target mean, standard deviation, base, and whether the network made it). Until the window is
/// full (<see cref="FirstStep"/> values) the network is not stepped and the forecast is seasonal naive (the last value
/// before a whole season has been seen), with no interval — exactly as training ran it.
/// </remarks>
public sealed class Forecaster
{
    private const int CountSlot = 0;
    private const int PhaseSlot = 1;
    private const int RingStart = 2;
    private const int MaxSeason = 1000;

    /// <summary>Builds and validates a forecaster's description.</summary>
    /// <exception cref="ModelValidationException">A field is out of range; the message names it.</exception>
    public Forecaster(
        int season, bool log, bool firstDifference, bool seasonalLags, CalendarKind calendar, int firstPhase, ForecastDistribution distribution,
        double spreadScale = 1, double[]? profile = null)
    {
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

            if (firstDifference)
            {
                throw new ModelValidationException("forecaster.firstDifference", "a forecaster with a seasonal profile forecasts the change of the deseasonalised series already");
            }
        }

        if (!double.IsFinite(spreadScale) || spreadScale <= 0)
        {
            throw new ModelValidationException("forecaster.spreadScale", $"must be a finite number above 0, got {spreadScale}");
        }

        if (season is < 2 or > MaxSeason)
        {
            throw new ModelValidationException("forecaster.season", $"must be between 2 and {MaxSeason}, got {season}");
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
        FirstDifference = firstDifference;
        SeasonalLags = seasonalLags;
        Calendar = calendar;
        FirstPhase = firstPhase;
        Distribution = distribution;
        SpreadScale = spreadScale;
        _profile = profile?.ToArray();
    }

    private readonly double[]? _profile;

    /// <summary>
    /// The seasonal profile (s numbers, one per position in the season, in z's units), or empty: with a profile the target
    /// is the change of the deseasonalised series d_t = z_t − profile[position of t], T_t = d_t − d_{t−1}, and the base of
    /// the forecast of z_{t+1} is d_t + profile[position of t + 1].
    /// </summary>
    public ReadOnlySpan<double> Profile => _profile;

    /// <summary>s, the season's length in elements.</summary>
    public int Season { get; }

    /// <summary>z is log(value): every value must be above 0.</summary>
    public bool Log { get; }

    /// <summary>The target is the change of the seasonal difference.</summary>
    public bool FirstDifference { get; }

    /// <summary>The targets one season before the forecast one are inputs.</summary>
    public bool SeasonalLags { get; }

    /// <summary>Where the sin/cos calendar inputs come from (<see cref="CalendarKind.None"/>: no such inputs).</summary>
    public CalendarKind Calendar { get; }

    /// <summary>The position in the season of a sequence's first element when it has no time (the training data's first).</summary>
    public int FirstPhase { get; }

    /// <summary>Whether the network also gives the spread of its forecast.</summary>
    public ForecastDistribution Distribution { get; }

    /// <summary>
    /// Multiplies a Gaussian's spread: the calibration training measured on the part of the training values it held out
    /// (the root mean square of the standardised errors there), so that intervals cover what they say on unseen values.
    /// </summary>
    public double SpreadScale { get; }

    /// <summary>The numbers the network reads per element.</summary>
    public int NetworkInputSize => 1 + (SeasonalLags ? 2 : 0) + (Calendar == CalendarKind.None ? 0 : 2);

    /// <summary>The numbers the network gives per element: the target's mean, and a Gaussian's spread.</summary>
    public int NetworkOutputSize => Distribution == ForecastDistribution.Gaussian ? 2 : 1;

    /// <summary>The first t (0-based) whose inputs are all defined: the network is stepped from the value at t on.</summary>
    public int FirstStep => (_profile is null ? Season + (FirstDifference ? 1 : 0) : 1) + (SeasonalLags ? Season : 0);

    /// <summary>The values of z the inputs at t read: z_{t−FirstStep} … z_t.</summary>
    public int Window => FirstStep + 1;

    /// <summary>The numbers a sequence keeps after its network's state.</summary>
    public int StateSize => RingStart + Window + 4;

    private int MeanSlot => RingStart + Window;

    private int SigmaSlot => MeanSlot + 1;

    private int BaseSlot => MeanSlot + 2;

    private int ValidSlot => MeanSlot + 3;

    /// <summary>True when <paramref name="value"/> can be served: finite, and above 0 for a log model.</summary>
    public bool Accepts(double value) => double.IsFinite(value) && (!Log || value > 0);

    /// <summary>z of a value.</summary>
    public double Transform(double value) => Log ? Math.Log(value) : value;

    /// <summary>A value of z back in the series' units.</summary>
    public double Inverse(double z) => Log ? Math.Exp(z) : z;

    /// <summary>
    /// T at the end of <paramref name="z"/> (its last value is z_t, at position <paramref name="phase"/> in the season);
    /// needs s + 1 values (s + 2 with the first difference, 2 with a profile).
    /// </summary>
    public double Target(ReadOnlySpan<double> z, int phase)
    {
        var t = z.Length - 1;
        if (_profile is { } profile)
        {
            return z[t] - profile[phase] - (z[t - 1] - profile[(phase + Season - 1) % Season]);
        }

        var seasonal = z[t] - z[t - Season];
        return FirstDifference ? seasonal - (z[t - 1] - z[t - 1 - Season]) : seasonal;
    }

    /// <summary>What the forecast of z_{t+1} adds the network's target to, z_t being the last of <paramref name="z"/> (at <paramref name="phase"/>).</summary>
    public double Base(ReadOnlySpan<double> z, int phase)
    {
        var t = z.Length - 1;
        if (_profile is { } profile)
        {
            return z[t] - profile[phase] + profile[(phase + 1) % Season];
        }

        return FirstDifference ? z[t] + z[t + 1 - Season] - z[t - Season] : z[t + 1 - Season];
    }

    /// <summary>
    /// The network's inputs at t into <paramref name="x"/> (<see cref="NetworkInputSize"/> numbers): <paramref name="z"/> is
    /// the <see cref="Window"/> values z_{t−FirstStep} … z_t, <paramref name="phase"/> the position of t in the season.
    /// </summary>
    public void Inputs(ReadOnlySpan<double> z, int phase, Span<double> x)
    {
        var i = 0;
        x[i++] = Target(z, phase);
        if (SeasonalLags)
        {
            x[i++] = Target(z[..^(Season - 1)], (phase + 1) % Season); // t + 1 − s is at the position of t + 1
            x[i++] = Target(z[..^Season], phase);
        }

        if (Calendar != CalendarKind.None)
        {
            var angle = 2 * Math.PI * ((phase + 1) % Season) / Season;
            x[i++] = Math.Sin(angle);
            x[i] = Math.Cos(angle);
        }
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
        Inputs(ring, phase, inputs);
        network.Step(inputs, state[..network.StateSize], outputs);
        var mean = outputs[0];
        var sigma = Distribution == ForecastDistribution.Gaussian ? Softplus(outputs[1]) * TargetScale(network) * SpreadScale : 0;
        var baseValue = Base(ring, phase);
        own[MeanSlot] = mean;
        own[SigmaSlot] = sigma;
        own[BaseSlot] = baseValue;
        own[ValidSlot] = 1;
        y[0] = Inverse(baseValue + mean);
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

    /// <summary>The target's scale: a Gaussian's spread comes out of the network standardised.</summary>
    private static double TargetScale(RnnModel network) => network.Scaling is { } scaling ? scaling.OutputStd[0] : 1;

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
