namespace RnnStreams.Core;

/// <summary>The recurrent cell of every layer of a model.</summary>
public enum CellType
{
    /// <summary>Elman cell with tanh: <c>h_t = tanh(W_xh x_t + W_hh h_{t-1} + b_h)</c> (file name <c>rnn_tanh</c>).</summary>
    RnnTanh,

    /// <summary>Elman cell with ReLU: <c>h_t = max(0, W_xh x_t + W_hh h_{t-1} + b_h)</c> (file name <c>rnn_relu</c>).</summary>
    RnnRelu,

    /// <summary>
    /// PyTorch's GRU (file name <c>gru</c>), gates r, z, n stacked in that order:
    /// <c>r = σ(W_ir x + b_ir + W_hr h + b_hr)</c>, <c>z = σ(W_iz x + b_iz + W_hz h + b_hz)</c>,
    /// <c>n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))</c>, <c>h' = (1 − z) ⊙ n + z ⊙ h</c>.
    /// </summary>
    Gru,

    /// <summary>
    /// PyTorch's LSTM (file name <c>lstm</c>), gates i, f, g, o stacked in that order, with a cell state c per layer:
    /// <c>c' = σ(f) ⊙ c + σ(i) ⊙ tanh(g)</c>, <c>h' = σ(o) ⊙ tanh(c')</c>, each gate <c>W_i· x + b_i· + W_h· h + b_h·</c>.
    /// </summary>
    Lstm,
}

/// <summary>The function applied to <c>W_hy h_t + b_y</c> to give <c>y_t</c>.</summary>
public enum OutputHead
{
    /// <summary><c>y_t = W_hy h_t + b_y</c>.</summary>
    Linear,

    /// <summary><c>y_t = softmax(W_hy h_t + b_y)</c>, computed after subtracting the largest logit.</summary>
    Softmax,

    /// <summary><c>y_t = 1 / (1 + exp(-(W_hy h_t + b_y)))</c> element-wise.</summary>
    Sigmoid,
}

/// <summary>
/// The number type of a model's weights, of a sequence's state and of the arithmetic of a step (the model file's
/// <c>dtype</c>). Inputs and outputs are doubles either way: a float32 model converts x to float and y back once per step.
/// </summary>
public enum ModelPrecision
{
    /// <summary>IEEE 754 double (file name <c>float64</c>, the default): weights, state and every sum in double.</summary>
    Float64,

    /// <summary>
    /// IEEE 754 single (file name <c>float32</c>): every weight rounded to the nearest float once, when the model is built;
    /// the state, the sums, the gate functions and the head in float. Half the bytes of weights and state, twice the
    /// numbers per vector register.
    /// </summary>
    Float32,
}

/// <summary>The names the model file uses for cells, heads and precisions.</summary>
public static class ModelNames
{
    /// <summary>How many gate blocks of H rows a layer's weight matrices stack: 1 (Elman), 3 (GRU) or 4 (LSTM).</summary>
    public static int Gates(this CellType cell) => cell switch
    {
        CellType.Gru => 3,
        CellType.Lstm => 4,
        _ => 1,
    };

    /// <summary>True for the gated cells, whose layers keep PyTorch's two biases apart.</summary>
    public static bool IsGated(this CellType cell) => cell is CellType.Gru or CellType.Lstm;

    public static string ToFileName(this CellType cell) => cell switch
    {
        CellType.RnnTanh => "rnn_tanh",
        CellType.RnnRelu => "rnn_relu",
        CellType.Gru => "gru",
        CellType.Lstm => "lstm",
        _ => throw new ArgumentOutOfRangeException(nameof(cell), cell, null),
    };

    public static string ToFileName(this OutputHead head) => head switch
    {
        OutputHead.Linear => "linear",
        OutputHead.Softmax => "softmax",
        OutputHead.Sigmoid => "sigmoid",
        _ => throw new ArgumentOutOfRangeException(nameof(head), head, null),
    };

    public static string ToFileName(this ModelPrecision precision) => precision switch
    {
        ModelPrecision.Float64 => "float64",
        ModelPrecision.Float32 => "float32",
        _ => throw new ArgumentOutOfRangeException(nameof(precision), precision, null),
    };

    private static readonly string[] CalendarNames = ["none", "position", "month", "weekday", "hour"];

    private static readonly string[] DistributionNames = ["none", "gaussian"];

    private static readonly string[] TargetNames = ["seasonal", "seasonal-change", "profile"];

    public static string ToFileName(this ForecastTarget target) => TargetNames[(int)target];

    public static bool TryParseTarget(string? name, out ForecastTarget target)
    {
        var index = Array.IndexOf(TargetNames, name);
        target = (ForecastTarget)Math.Max(index, 0);
        return index >= 0;
    }

    public static string ToFileName(this CalendarKind calendar) => CalendarNames[(int)calendar];

    public static string ToFileName(this ForecastDistribution distribution) => DistributionNames[(int)distribution];

    public static bool TryParseCalendar(string? name, out CalendarKind calendar)
    {
        var index = Array.IndexOf(CalendarNames, name);
        calendar = (CalendarKind)Math.Max(index, 0);
        return index >= 0;
    }

    public static bool TryParseDistribution(string? name, out ForecastDistribution distribution)
    {
        var index = Array.IndexOf(DistributionNames, name);
        distribution = (ForecastDistribution)Math.Max(index, 0);
        return index >= 0;
    }

    public static bool TryParsePrecision(string? name, out ModelPrecision precision)
    {
        switch (name)
        {
            case "float64": precision = ModelPrecision.Float64; return true;
            case "float32": precision = ModelPrecision.Float32; return true;
            default: precision = default; return false;
        }
    }

    public static bool TryParseCell(string? name, out CellType cell)
    {
        switch (name)
        {
            case "rnn_tanh": cell = CellType.RnnTanh; return true;
            case "rnn_relu": cell = CellType.RnnRelu; return true;
            case "gru": cell = CellType.Gru; return true;
            case "lstm": cell = CellType.Lstm; return true;
            default: cell = default; return false;
        }
    }

    public static bool TryParseHead(string? name, out OutputHead head)
    {
        switch (name)
        {
            case "linear": head = OutputHead.Linear; return true;
            case "softmax": head = OutputHead.Softmax; return true;
            case "sigmoid": head = OutputHead.Sigmoid; return true;
            default: head = default; return false;
        }
    }

    /// <summary>True for a usable model or sequence name: 1–128 characters of letters, digits, <c>. _ - : /</c>.</summary>
    public static bool IsValidName(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 128)
        {
            return false;
        }

        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or ':' or '/'))
            {
                return false;
            }
        }

        return true;
    }
}
