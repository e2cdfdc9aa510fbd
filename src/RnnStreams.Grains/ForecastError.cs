namespace RnnStreams.Grains;

/// <summary>
/// How far a sequence's forecasts are from what came next. For element t (t ≥ 2),
/// e_t = (1/D) Σ_i |x_t[i] − y_(t−1)[i]| when the model's output size O equals its input size D (a forecaster of its whole
/// input), and e_t = |x_t[0] − y_(t−1)[0]| when O = 1 (a forecaster of its first input); otherwise (a classifier) there is
/// none. A sequence's <em>recent</em> error is the exponentially weighted mean r_t = r_(t−1) + (e_t − r_(t−1)) / 4
/// (r = e at the first comparison), about its last 7 elements.
/// </summary>
/// <remarks>NaN or ∞ cannot arise from an applied element: inputs and outputs are finite or the element is refused.</remarks>
public static class ForecastError
{
    /// <summary>The weight of a new error in the recent mean.</summary>
    public const double Weight = 0.25;

    /// <summary>Whether a model of these sizes forecasts its input, so that e_t is defined.</summary>
    public static bool Applies(int inputSize, int outputSize) => outputSize == inputSize || outputSize == 1;

    /// <summary>e_t for input <paramref name="x"/> (D numbers) and the previous output <paramref name="previousY"/> (O numbers).</summary>
    public static double Of(ReadOnlySpan<double> x, ReadOnlySpan<double> previousY)
    {
        if (previousY.Length == 1 || x.Length != previousY.Length)
        {
            return Math.Abs(x[0] - previousY[0]);
        }

        var sum = 0.0;
        for (var i = 0; i < x.Length; i++)
        {
            sum += Math.Abs(x[i] - previousY[i]);
        }

        return sum / x.Length;
    }

    /// <summary>The recent mean after one more error: <paramref name="error"/> itself when <paramref name="recent"/> is NaN (none yet).</summary>
    public static double Smooth(double recent, double error) => double.IsNaN(recent) ? error : recent + ((error - recent) * Weight);
}
