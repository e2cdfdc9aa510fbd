namespace RnnStreams.Core;

/// <summary>A model (or model file) that cannot be used, with the field at fault and what was expected.</summary>
public sealed class ModelValidationException : Exception
{
    public ModelValidationException(string field, string message)
        : base($"{field}: {message}")
    {
        Field = field;
        Detail = message;
    }

    /// <summary>The path of the offending field, for example <c>layers[0].W_xh</c>.</summary>
    public string Field { get; }

    /// <summary>What is wrong with it, without the field name.</summary>
    public string Detail { get; }
}
