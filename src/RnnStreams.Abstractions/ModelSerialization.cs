using RnnStreams.Core;
using Orleans.Serialization.Cloning;

namespace RnnStreams;

/// <summary>The wire form of an <see cref="RnnModel"/>: flat row-major arrays, one per weight.</summary>
[GenerateSerializer, Alias("rnn.RnnModel")]
public struct RnnModelSurrogate
{
    [Id(0)] public string Name;
    [Id(1)] public CellType Cell;
    [Id(2)] public OutputHead Output;
    [Id(3)] public int InputSize;
    [Id(4)] public int HiddenSize;
    [Id(5)] public int OutputSize;
    [Id(6)] public double[][] LayerWxh;
    [Id(7)] public double[][] LayerWhh;
    [Id(8)] public double[][] LayerBh;
    [Id(9)] public double[] Why;
    [Id(10)] public double[] By;
    [Id(11)] public double[][]? LayerBhh;
    [Id(12)] public double[][]? Scaling;
    [Id(13)] public bool Residual;
    [Id(14)] public ModelPrecision Precision; // 0, Float64, in payloads written before it
    [Id(15)] public ForecasterSurrogate? Forecaster; // the sizes and weights above are then its network's
}

/// <summary>The wire form of a <see cref="Core.Forecaster"/>.</summary>
[GenerateSerializer, Alias("rnn.Forecaster")]
public struct ForecasterSurrogate
{
    [Id(0)] public int Season;
    [Id(1)] public bool Log;
    [Id(2)] public ForecastTarget[] Targets;
    [Id(3)] public bool SeasonalLags;
    [Id(4)] public CalendarKind Calendar;
    [Id(5)] public int FirstPhase;
    [Id(6)] public ForecastDistribution Distribution;
    [Id(7)] public double SpreadScale;
    [Id(8)] public double[]? Profile;
    [Id(9)] public bool SeriesScale;
}

/// <summary>Converts <see cref="RnnModel"/> to and from its wire form; the receiving side validates it again.</summary>
[RegisterConverter]
public sealed class RnnModelConverter : IConverter<RnnModel, RnnModelSurrogate>
{
    public RnnModel ConvertFromSurrogate(in RnnModelSurrogate surrogate)
    {
        var layers = new RnnLayer[surrogate.LayerWxh.Length];
        for (var k = 0; k < layers.Length; k++)
        {
            var input = k == 0 ? surrogate.InputSize : surrogate.HiddenSize;
            layers[k] = surrogate.Cell.IsGated()
                ? new RnnLayer(surrogate.Cell, input, surrogate.HiddenSize, surrogate.LayerWxh[k], surrogate.LayerWhh[k], surrogate.LayerBh[k], surrogate.LayerBhh?[k] ?? [], $"layers[{k}]", surrogate.Precision)
                : new RnnLayer(input, surrogate.HiddenSize, surrogate.LayerWxh[k], surrogate.LayerWhh[k], surrogate.LayerBh[k], $"layers[{k}]", surrogate.Precision);
        }

        var scaling = surrogate.Scaling is { Length: 4 } s ? new Scaling(s[0], s[1], s[2], s[3], surrogate.Residual) : null;
        var network = new RnnModel(surrogate.Name, surrogate.Cell, surrogate.Output, surrogate.InputSize, surrogate.HiddenSize,
            surrogate.OutputSize, layers, surrogate.Why, surrogate.By, scaling);
        return surrogate.Forecaster is { } f
            ? new RnnModel(network, new Forecaster(f.Season, f.Log, f.Targets, f.SeasonalLags, f.Calendar, f.FirstPhase, f.Distribution, f.SpreadScale, f.Profile, f.SeriesScale))
            : network;
    }

    public RnnModelSurrogate ConvertToSurrogate(in RnnModel value) => Surrogate(value.Network, value.Forecaster);

    private static RnnModelSurrogate Surrogate(RnnModel value, Forecaster? forecaster) => new()
    {
        Name = value.Name,
        Cell = value.Cell,
        Output = value.Output,
        InputSize = value.InputSize,
        HiddenSize = value.HiddenSize,
        OutputSize = value.OutputSize,
        LayerWxh = [.. value.Layers.Select(l => l.Wxh.ToArray())],
        LayerWhh = [.. value.Layers.Select(l => l.Whh.ToArray())],
        LayerBh = [.. value.Layers.Select(l => l.Bh.ToArray())],
        LayerBhh = value.Cell.IsGated() ? [.. value.Layers.Select(l => l.Bhh.ToArray())] : null,
        Why = value.Why.ToArray(),
        Scaling = value.Scaling is { } s ? [s.InputMean.ToArray(), s.InputStd.ToArray(), s.OutputMean.ToArray(), s.OutputStd.ToArray()] : null,
        Residual = value.Scaling?.Residual ?? false,
        By = value.By.ToArray(),
        Precision = value.Precision,
        Forecaster = forecaster is null ? null : new ForecasterSurrogate
        {
            Season = forecaster.Season,
            Log = forecaster.Log,
            Targets = [.. forecaster.Targets],
            SeasonalLags = forecaster.SeasonalLags,
            Calendar = forecaster.Calendar,
            FirstPhase = forecaster.FirstPhase,
            Distribution = forecaster.Distribution,
            SpreadScale = forecaster.SpreadScale,
            Profile = forecaster.Profile.IsEmpty ? null : forecaster.Profile.ToArray(),
            SeriesScale = forecaster.SeriesScale,
        },
    };
}

/// <summary><see cref="RnnModel"/> is immutable: calls inside a silo share the instance instead of copying it.</summary>
[RegisterCopier]
public sealed class RnnModelCopier : IDeepCopier<RnnModel>
{
    public RnnModel? DeepCopy(RnnModel? input, CopyContext context) => input;
}
