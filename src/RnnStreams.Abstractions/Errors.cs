namespace RnnStreams;

/// <summary>The kind of a refused request; stable, for programs that branch on errors (and HTTP problem types).</summary>
[GenerateSerializer, Alias("rnn.ErrorKind")]
public enum RnnErrorKind
{
    /// <summary>A vector has the wrong number of values.</summary>
    WrongSize = 0,

    /// <summary>A value is NaN or infinite.</summary>
    NonFinite = 1,

    /// <summary>The model or model version does not exist.</summary>
    UnknownModel = 2,

    /// <summary>The sequence has not started and no default model is configured.</summary>
    NotStarted = 3,

    /// <summary>The sequence is already running on another model or initial state.</summary>
    AlreadyStarted = 4,

    /// <summary>An element number skips ahead of the next expected one.</summary>
    Gap = 5,

    /// <summary>An element number was already applied and its stored answer is no longer kept.</summary>
    Duplicate = 6,

    /// <summary>A model file or model definition is invalid.</summary>
    InvalidModel = 7,

    /// <summary>A finite input would have made the state or output NaN or infinite (overflow).</summary>
    NonFiniteResult = 8,

    /// <summary>A request argument is malformed (empty batch, bad name, …).</summary>
    InvalidArgument = 9,

    /// <summary>The latest model version's shapes do not fit the sequence's state.</summary>
    Incompatible = 10,

    /// <summary>A model version cannot be deleted while sequences use it.</summary>
    InUse = 11,

    /// <summary>The state could not be written to storage; under EveryStep the element was not applied.</summary>
    Storage = 12,

    /// <summary>Storage lost the record of a sequence that was running: it says so instead of starting again at element 1.</summary>
    StateLost = 13,

    /// <summary>A finite value the model cannot take: a log forecaster's value at or below 0.</summary>
    OutOfDomain = 14,
}

/// <summary>
/// Base of every error RnnStreams returns for a refused request. Whenever one is thrown the sequence's state, element
/// counters and stored outputs are exactly as they were before the request.
/// </summary>
[GenerateSerializer, Alias("rnn.RnnStreamsException")]
public class RnnStreamsException : Exception
{
    public RnnStreamsException(RnnErrorKind kind, string message)
        : base(message)
    {
        Kind = kind;
    }

    /// <summary>What kind of error.</summary>
    [Id(0)]
    public RnnErrorKind Kind { get; init; }
}

/// <summary>An input vector (or initial state) of the wrong size or with a non-finite value.</summary>
[GenerateSerializer, Alias("rnn.InvalidInputException")]
public sealed class InvalidInputException : RnnStreamsException
{
    public InvalidInputException(RnnErrorKind kind, string message, long n, int expected, int actual, int index)
        : base(kind, message)
    {
        N = n;
        Expected = expected;
        Actual = actual;
        Index = index;
    }

    /// <summary>The element number (0 for an initial state).</summary>
    [Id(0)]
    public long N { get; init; }

    /// <summary>The expected size.</summary>
    [Id(1)]
    public int Expected { get; init; }

    /// <summary>The size received.</summary>
    [Id(2)]
    public int Actual { get; init; }

    /// <summary>For <see cref="RnnErrorKind.NonFinite"/>: the position of the first bad value, else -1.</summary>
    [Id(3)]
    public int Index { get; init; }

    /// <summary>A wrong-sized vector.</summary>
    public static InvalidInputException WrongSize(string what, long n, int expected, int actual) =>
        new(RnnErrorKind.WrongSize, $"{what} has {actual} values; the model expects {expected}", n, expected, actual, -1);

    /// <summary>A vector with NaN or ±∞.</summary>
    public static InvalidInputException OutOfDomain(string what, long n, double value, string rule) =>
        new(RnnErrorKind.OutOfDomain, $"{what} is {value}; {rule}", n, 1, 1, 0);

    public static InvalidInputException NonFinite(string what, long n, int index, double value, int size) =>
        new(RnnErrorKind.NonFinite, $"{what} has {value} at position {index}; every value must be finite", n, size, size, index);
}

/// <summary>A model or model version that does not exist.</summary>
[GenerateSerializer, Alias("rnn.UnknownModelException")]
public sealed class UnknownModelException : RnnStreamsException
{
    public UnknownModelException(string model, int? version)
        : base(RnnErrorKind.UnknownModel, version is null ? $"model '{model}' does not exist" : $"model '{model}' has no version {version}")
    {
        Model = model;
        Version = version;
    }

    /// <summary>The model name asked for.</summary>
    [Id(0)]
    public string Model { get; init; }

    /// <summary>The version asked for, or null for the latest.</summary>
    [Id(1)]
    public int? Version { get; init; }
}

/// <summary>A sequence used before it started, when no default model is configured (or queried before its first element).</summary>
[GenerateSerializer, Alias("rnn.SequenceNotStartedException")]
public sealed class SequenceNotStartedException : RnnStreamsException
{
    public SequenceNotStartedException(string sequence, string detail)
        : base(RnnErrorKind.NotStarted, $"sequence '{sequence}' has not started: {detail}")
    {
        Sequence = sequence;
    }

    /// <summary>The sequence id.</summary>
    [Id(0)]
    public string Sequence { get; init; }
}

/// <summary>Start asked for a different model, version or initial state than the running sequence has.</summary>
[GenerateSerializer, Alias("rnn.SequenceAlreadyStartedException")]
public sealed class SequenceAlreadyStartedException : RnnStreamsException
{
    public SequenceAlreadyStartedException(string sequence, string model, int version, long lastN)
        : base(RnnErrorKind.AlreadyStarted, $"sequence '{sequence}' is running on {model} v{version} at n={lastN}; End or Reset it first")
    {
        Sequence = sequence;
        Model = model;
        ModelVersion = version;
        LastN = lastN;
    }

    /// <summary>The sequence id.</summary>
    [Id(0)]
    public string Sequence { get; init; }

    /// <summary>The model it runs on.</summary>
    [Id(1)]
    public string Model { get; init; }

    /// <summary>The version it is pinned to.</summary>
    [Id(2)]
    public int ModelVersion { get; init; }

    /// <summary>Its last applied element.</summary>
    [Id(3)]
    public long LastN { get; init; }
}

/// <summary>An element number beyond the next expected one: an element was lost on the way.</summary>
[GenerateSerializer, Alias("rnn.ElementGapException")]
public sealed class ElementGapException : RnnStreamsException
{
    public ElementGapException(string sequence, long expectedN, long receivedN, string? why = null)
        : base(RnnErrorKind.Gap, $"sequence '{sequence}' expects element {expectedN}, got {receivedN}; send {expectedN} first{(why is null ? string.Empty : $" ({why})")}")
    {
        Sequence = sequence;
        ExpectedN = expectedN;
        ReceivedN = receivedN;
    }

    /// <summary>The sequence id.</summary>
    [Id(0)]
    public string Sequence { get; init; }

    /// <summary>The next element the sequence will apply.</summary>
    [Id(1)]
    public long ExpectedN { get; init; }

    /// <summary>The number received.</summary>
    [Id(2)]
    public long ReceivedN { get; init; }
}

/// <summary>An element already applied whose stored answer has been dropped (only the most recent answers are kept).</summary>
[GenerateSerializer, Alias("rnn.DuplicateElementException")]
public sealed class DuplicateElementException : RnnStreamsException
{
    public DuplicateElementException(string sequence, long n, long lastN, long oldestKept)
        : base(RnnErrorKind.Duplicate, $"sequence '{sequence}' already applied element {n} (last is {lastN}); answers are kept from {oldestKept} on, so it is not applied again")
    {
        Sequence = sequence;
        N = n;
        LastN = lastN;
        OldestKept = oldestKept;
    }

    /// <summary>The sequence id.</summary>
    [Id(0)]
    public string Sequence { get; init; }

    /// <summary>The element number received.</summary>
    [Id(1)]
    public long N { get; init; }

    /// <summary>The last applied element.</summary>
    [Id(2)]
    public long LastN { get; init; }

    /// <summary>The oldest element whose answer is still kept.</summary>
    [Id(3)]
    public long OldestKept { get; init; }
}

/// <summary>A model that failed validation; <see cref="Field"/> names the field.</summary>
[GenerateSerializer, Alias("rnn.InvalidModelException")]
public sealed class InvalidModelException : RnnStreamsException
{
    public InvalidModelException(string field, string detail)
        : base(RnnErrorKind.InvalidModel, $"invalid model: {field}: {detail}")
    {
        Field = field;
        Detail = detail;
    }

    /// <summary>The field at fault, for example <c>layers[0].W_xh</c>.</summary>
    [Id(0)]
    public string Field { get; init; }

    /// <summary>What is wrong with it.</summary>
    [Id(1)]
    public string Detail { get; init; }
}

/// <summary>Finite inputs whose step would have overflowed the state or output to NaN or ∞; nothing was applied.</summary>
[GenerateSerializer, Alias("rnn.NonFiniteResultException")]
public sealed class NonFiniteResultException : RnnStreamsException
{
    public NonFiniteResultException(string sequence, long n)
        : base(RnnErrorKind.NonFiniteResult, $"sequence '{sequence}': element {n} would make the state or output non-finite (overflow); it was not applied")
    {
        Sequence = sequence;
        N = n;
    }

    /// <summary>The sequence id.</summary>
    [Id(0)]
    public string Sequence { get; init; }

    /// <summary>The element that overflowed.</summary>
    [Id(1)]
    public long N { get; init; }
}

/// <summary>A malformed argument (an empty batch, a bad name, …).</summary>
[GenerateSerializer, Alias("rnn.InvalidArgumentException")]
public sealed class RnnArgumentException : RnnStreamsException
{
    public RnnArgumentException(string argument, string message)
        : base(RnnErrorKind.InvalidArgument, $"{argument}: {message}")
    {
        Argument = argument;
    }

    /// <summary>The argument at fault.</summary>
    [Id(0)]
    public string Argument { get; init; }
}

/// <summary>Upgrade to a model version whose shapes do not fit the sequence's state; nothing changed.</summary>
[GenerateSerializer, Alias("rnn.IncompatibleModelException")]
public sealed class IncompatibleModelException : RnnStreamsException
{
    public IncompatibleModelException(string sequence, string model, int fromVersion, int toVersion, string detail)
        : base(RnnErrorKind.Incompatible, $"sequence '{sequence}' cannot move from {model} v{fromVersion} to v{toVersion}: {detail}; Reset starts it again on v{toVersion}")
    {
        Sequence = sequence;
        Model = model;
        FromVersion = fromVersion;
        ToVersion = toVersion;
    }

    [Id(0)]
    public string Sequence { get; init; }

    [Id(1)]
    public string Model { get; init; }

    [Id(2)]
    public int FromVersion { get; init; }

    [Id(3)]
    public int ToVersion { get; init; }
}

/// <summary>A model version that sequences still use cannot be deleted.</summary>
[GenerateSerializer, Alias("rnn.ModelVersionInUseException")]
public sealed class ModelVersionInUseException : RnnStreamsException
{
    public ModelVersionInUseException(string model, int version, long sequences)
        : base(RnnErrorKind.InUse, $"model '{model}' v{version} is used by {sequences} sequence(s); upgrade, reset or end them first")
    {
        Model = model;
        Version = version;
        Sequences = sequences;
    }

    [Id(0)]
    public string Model { get; init; }

    [Id(1)]
    public int Version { get; init; }

    [Id(2)]
    public long Sequences { get; init; }
}

/// <summary>Grain storage refused or failed a write that an acknowledgement depends on; the request was not applied.</summary>
[GenerateSerializer, Alias("rnn.StorageException")]
public sealed class RnnStorageException : RnnStreamsException
{
    public RnnStorageException(string sequence, long n, string detail)
        : this(sequence, n, $"sequence '{sequence}': element {n} was not applied because its state could not be written ({detail}); send it again", fullMessage: true)
    {
    }

    private RnnStorageException(string sequence, long n, string message, bool fullMessage)
        : base(RnnErrorKind.Storage, message)
    {
        _ = fullMessage;
        Sequence = sequence;
        N = n;
    }

    /// <summary>A request that changes no element (start, reset, upgrade, end) could not be stored: nothing changed.</summary>
    public static RnnStorageException NotChanged(string sequence, long lastN, string what, string detail) =>
        new(sequence, lastN, $"sequence '{sequence}': {what} was not done because its state could not be written ({detail}); nothing changed, send it again", fullMessage: true);

    /// <summary>The sequence's state could not be read, so it could not be activated: nothing was done.</summary>
    public static RnnStorageException Unreadable(string sequence, string detail) =>
        new(sequence, 0, $"sequence '{sequence}': its state could not be read ({detail}); nothing was done, send it again", fullMessage: true);

    [Id(0)]
    public string Sequence { get; init; }

    [Id(1)]
    public long N { get; init; }
}

/// <summary>
/// Storage lost the stored record of a running sequence (a Redis restarted without persistence, a deleted key): the
/// sequence refuses everything with this error, naming the last element it had, until it is reset or ended.
/// </summary>
[GenerateSerializer, Alias("rnn.StateLostException")]
public sealed class StateLostException : RnnStreamsException
{
    public StateLostException(string sequence, long lastN)
        : base(RnnErrorKind.StateLost, $"sequence '{sequence}': storage lost its state (it was at element {lastN}), so no element is applied; Reset starts it again from h_0 on its model, End removes it")
    {
        Sequence = sequence;
        LastN = lastN;
    }

    [Id(0)]
    public string Sequence { get; init; }

    /// <summary>The last element the sequence had applied when its record was found missing.</summary>
    [Id(1)]
    public long LastN { get; init; }
}
