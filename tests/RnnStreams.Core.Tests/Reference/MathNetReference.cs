using MathNet.Numerics.LinearAlgebra;

namespace RnnStreams.Core.Tests.Reference;

/// <summary>
/// The model's equations written plainly with MathNet.Numerics matrices, one allocation after another. It is the
/// yardstick the span kernel is tested and benchmarked against, never the serving path.
/// </summary>
public sealed class MathNetReference
{
    private readonly RnnModel _model;
    private readonly Matrix<double>[] _wxh;
    private readonly Matrix<double>[] _whh;
    private readonly Vector<double>[] _bh;
    private readonly Matrix<double> _why;
    private readonly Vector<double> _by;
    private readonly Vector<double>[] _h;

    /// <summary>Builds dense matrices from the model and starts from h = 0 in every layer.</summary>
    public MathNetReference(RnnModel model)
    {
        _model = model ?? throw new ArgumentNullException(nameof(model));
        var m = Matrix<double>.Build;
        var v = Vector<double>.Build;
        var layers = model.Layers;
        _wxh = new Matrix<double>[layers.Count];
        _whh = new Matrix<double>[layers.Count];
        _bh = new Vector<double>[layers.Count];
        _h = new Vector<double>[layers.Count];
        for (var k = 0; k < layers.Count; k++)
        {
            var layer = layers[k];
            _wxh[k] = m.Dense(layer.HiddenSize, layer.InputSize, (i, j) => layer.Wxh[(i * layer.InputSize) + j]);
            _whh[k] = m.Dense(layer.HiddenSize, layer.HiddenSize, (i, j) => layer.Whh[(i * layer.HiddenSize) + j]);
            _bh[k] = v.DenseOfArray(layer.Bh.ToArray());
            _h[k] = v.Dense(layer.HiddenSize);
        }

        _why = m.Dense(model.OutputSize, model.HiddenSize, (i, j) => model.Why[(i * model.HiddenSize) + j]);
        _by = v.DenseOfArray(model.By.ToArray());
    }

    /// <summary>h_t of layer k.</summary>
    public Vector<double> Hidden(int layer) => _h[layer];

    /// <summary>Sets the state of every layer (a flat array, layer 0 first).</summary>
    public void SetState(ReadOnlySpan<double> state)
    {
        var hiddenSize = _model.HiddenSize;
        for (var k = 0; k < _h.Length; k++)
        {
            _h[k] = Vector<double>.Build.DenseOfArray(state.Slice(k * hiddenSize, hiddenSize).ToArray());
        }
    }

    /// <summary>One step: returns y_t and keeps h_t.</summary>
    public Vector<double> Step(Vector<double> x)
    {
        var input = x;
        for (var k = 0; k < _h.Length; k++)
        {
            var pre = (_wxh[k] * input) + (_whh[k] * _h[k]) + _bh[k];
            _h[k] = _model.Cell == CellType.RnnTanh ? pre.PointwiseTanh() : pre.PointwiseMaximum(0.0);
            input = _h[k];
        }

        var logits = (_why * input) + _by;
        return _model.Output switch
        {
            OutputHead.Softmax => Softmax(logits),
            OutputHead.Sigmoid => logits.Map(z => 1.0 / (1.0 + Math.Exp(-z))),
            _ => logits,
        };
    }

    private static Vector<double> Softmax(Vector<double> logits)
    {
        var shifted = logits - logits.Maximum();
        var e = shifted.PointwiseExp();
        return e / e.Sum();
    }
}
