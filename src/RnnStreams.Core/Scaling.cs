using System.Numerics;

namespace RnnStreams.Core;

/// <summary>
/// What a model does to raw numbers around its network, so that a model trained on standardised data serves raw data:
/// <c>x' = (x − inputMean) / inputStd</c> before the first layer, and <c>y = y'·outputStd + outputMean</c> after the head,
/// plus x itself when <see cref="Residual"/> (the network then predicts the change from the current input). Immutable.
/// </summary>
public sealed class Scaling
{
    private readonly double[] _inputMean;
    private readonly double[] _inputStd;
    private readonly double[] _outputMean;
    private readonly double[] _outputStd;

    /// <summary>Builds a scaling, copying the arrays.</summary>
    /// <exception cref="ModelValidationException">A number is not finite or a standard deviation is not positive.</exception>
    public Scaling(ReadOnlySpan<double> inputMean, ReadOnlySpan<double> inputStd, ReadOnlySpan<double> outputMean, ReadOnlySpan<double> outputStd, bool residual)
    {
        Check(inputMean, "scaling.inputMean", positive: false);
        Check(inputStd, "scaling.inputStd", positive: true);
        Check(outputMean, "scaling.outputMean", positive: false);
        Check(outputStd, "scaling.outputStd", positive: true);
        if (inputMean.Length != inputStd.Length)
        {
            throw new ModelValidationException("scaling.inputStd", $"expected {inputMean.Length} numbers (as inputMean), got {inputStd.Length}");
        }

        if (outputMean.Length != outputStd.Length)
        {
            throw new ModelValidationException("scaling.outputStd", $"expected {outputMean.Length} numbers (as outputMean), got {outputStd.Length}");
        }

        _inputMean = inputMean.ToArray();
        _inputStd = inputStd.ToArray();
        _outputMean = outputMean.ToArray();
        _outputStd = outputStd.ToArray();
        Residual = residual;
    }

    /// <summary>Subtracted from each input number (D numbers).</summary>
    public ReadOnlySpan<double> InputMean => _inputMean;

    /// <summary>Each input number is divided by this after the mean is subtracted (D numbers, all &gt; 0).</summary>
    public ReadOnlySpan<double> InputStd => _inputStd;

    /// <summary>Added to each output after multiplying by <see cref="OutputStd"/> (O numbers).</summary>
    public ReadOnlySpan<double> OutputMean => _outputMean;

    /// <summary>Multiplies each network output (O numbers, all &gt; 0).</summary>
    public ReadOnlySpan<double> OutputStd => _outputStd;

    /// <summary>True when y_t also adds x_t (raw): the network predicts a change (needs O = D).</summary>
    public bool Residual { get; }

    /// <summary>Writes the standardised input.</summary>
    public void ScaleInput(ReadOnlySpan<double> x, Span<double> scaled) => ScaleInput<double>(x, scaled);

    /// <summary>Writes the standardised input, computed in double and then rounded to T once (a float32 model's input).</summary>
    internal void ScaleInput<T>(ReadOnlySpan<double> x, Span<T> scaled)
        where T : INumberBase<T>
    {
        for (var i = 0; i < x.Length; i++)
        {
            scaled[i] = T.CreateTruncating((x[i] - _inputMean[i]) / _inputStd[i]);
        }
    }

    /// <summary>Turns the network's output into raw units in place.</summary>
    public void UnscaleOutput(ReadOnlySpan<double> x, Span<double> y)
    {
        for (var o = 0; o < y.Length; o++)
        {
            y[o] = (y[o] * _outputStd[o]) + _outputMean[o] + (Residual ? x[o] : 0);
        }
    }

    private static void Check(ReadOnlySpan<double> values, string field, bool positive)
    {
        if (values.Length == 0)
        {
            throw new ModelValidationException(field, "expected at least one number");
        }

        for (var i = 0; i < values.Length; i++)
        {
            if (!double.IsFinite(values[i]) || (positive && values[i] <= 0))
            {
                throw new ModelValidationException($"{field}[{i}]", $"{values[i]} is not {(positive ? "a finite number above 0" : "finite")}");
            }
        }
    }
}
