using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace RnnStreams.Mqtt;

/// <summary>
/// An input message: one element (<c>{"n": 1, "x": [..]}</c>, as <c>POST /v1/sequences/{id}/elements</c>) or several
/// (<c>{"firstN": k, "inputs": [[..], ..]}</c>, as <c>POST /v1/sequences/{id}/batch</c>), with the element's optional
/// <c>"time"</c> (ISO 8601) or the batch's <c>"times"</c>, which a forecaster's calendar reads.
/// </summary>
/// <param name="FirstN">The first element's number.</param>
/// <param name="Count">How many elements.</param>
/// <param name="Inputs">Their x_t one after the other (Count × D numbers).</param>
/// <param name="Width">D as the message gives it (the first row's length).</param>
public sealed record MqttInput(long FirstN, int Count, double[] Inputs, int Width)
{
    /// <summary>Each element's time (UTC), from <c>time</c> or <c>times</c>; null when the message has none.</summary>
    public DateTime[]? Times { get; init; }
}

/// <summary>Reads input messages and writes output and error messages as UTF-8 JSON.</summary>
public static class MqttPayloads
{
    /// <summary>At most this many elements per message (as the HTTP batch endpoint's default limit).</summary>
    public const int MaxElements = 4096;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals, // "NaN" reaches the sequence, which refuses it by name
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // 'x' and "x" as they are: not for HTML
    };

    /// <summary>Parses an input message.</summary>
    /// <exception cref="RnnArgumentException">Not one of the two forms, or not JSON (the message says where it broke).</exception>
    /// <exception cref="InvalidInputException">Rows of different lengths.</exception>
    public static MqttInput ParseInput(ReadOnlySequence<byte> payload)
    {
        Body? body;
        try
        {
            var reader = new Utf8JsonReader(payload);
            body = JsonSerializer.Deserialize<Body>(ref reader, Json);
        }
        catch (JsonException e)
        {
            var where = e.LineNumber is { } line ? $" at line {line + 1}, byte {e.BytePositionInLine + 1}{(string.IsNullOrEmpty(e.Path) || e.Path == "$" ? string.Empty : $" ({e.Path})")}" : string.Empty;
            throw new RnnArgumentException("payload", $"not a valid input message{where}: {FirstSentence(e.Message)}; expected {{\"n\": 1, \"x\": [numbers]}} or {{\"firstN\": 1, \"inputs\": [[numbers], ...]}}");
        }

        if (body is null)
        {
            throw new RnnArgumentException("payload", "an empty message; expected {\"n\": 1, \"x\": [numbers]} or {\"firstN\": 1, \"inputs\": [[numbers], ...]}");
        }

        if (body.X is not null && body.Inputs is null)
        {
            if (body.N is not { } n)
            {
                throw new RnnArgumentException("n", "an element needs its number n (from 1)");
            }

            return new MqttInput(n, 1, body.X, body.X.Length) { Times = body.Time is { } time ? [time.UtcDateTime] : null };
        }

        if (body.Inputs is { } rows && body.X is null)
        {
            var firstN = body.FirstN ?? throw new RnnArgumentException("firstN", "a batch needs the number of its first element, firstN");
            if (rows.Length == 0)
            {
                throw new RnnArgumentException("inputs", "a batch needs at least one element");
            }

            if (rows.Length > MaxElements)
            {
                throw new RnnArgumentException("inputs", $"at most {MaxElements} elements per message, got {rows.Length}");
            }

            var width = rows[0]?.Length ?? 0;
            var inputs = new double[rows.Length * width];
            for (var i = 0; i < rows.Length; i++)
            {
                if (rows[i] is null || rows[i].Length != width)
                {
                    throw new InvalidInputException(RnnErrorKind.WrongSize, $"element {firstN + i} has {rows[i]?.Length ?? 0} values; the message's first has {width}", firstN + i, width, rows[i]?.Length ?? 0, -1);
                }

                rows[i].CopyTo(inputs, i * width);
            }

            if (body.Times is { } times && times.Length != rows.Length)
            {
                throw new RnnArgumentException("times", $"{times.Length} times for {rows.Length} elements; give one per element, or none");
            }

            return new MqttInput(firstN, rows.Length, inputs, width) { Times = body.Times?.Select(t => t.UtcDateTime).ToArray() };
        }

        throw new RnnArgumentException("payload", "expected either {\"n\": 1, \"x\": [numbers]} or {\"firstN\": 1, \"inputs\": [[numbers], ...]}");
    }

    /// <summary>
    /// An output or event as published on <c>{prefix}/{sequence}/out</c>: <c>sequence</c>, <c>n</c>, <c>y</c>,
    /// <c>modelVersion</c>, <c>kind</c> (step, anomaly, reset, upgraded, error, ended, expired), <c>x</c>, <c>sentAt</c>
    /// (ISO 8601), <c>reason</c> for events, <c>interval</c> (a forecaster's: <c>level</c>, <c>lower</c>, <c>upper</c>) and an
    /// anomaly's <c>surprise</c>; <c>duplicate: true</c> when it is sent again for an element delivered twice.
    /// </summary>
    public static byte[] Output(SequenceOutput output, bool duplicate = false)
    {
        var kind = output is { Kind: OutputKind.Ended, Reason: "expired" } ? "expired" : JsonNamingPolicy.CamelCase.ConvertName(output.Kind.ToString());
        var message = new OutputMessage(
            output.Sequence,
            output.N,
            output.Y,
            output.ModelVersion,
            kind,
            output.X,
            output.SentAt > 0 ? new DateTime(output.SentAt, DateTimeKind.Utc) : null,
            output.Reason,
            duplicate ? true : null,
            output.Interval,
            output.Surprise);
        return JsonSerializer.SerializeToUtf8Bytes(message, Json);
    }

    /// <summary>A refusal as published on <c>{prefix}/{sequence}/error</c>: the HTTP API's problem body, plus the sequence and n.</summary>
    public static byte[] Error(RnnStreamsException e, string sequence, long n)
    {
        var body = RnnProblem.BodyOf(e);
        body.TryAdd("sequence", sequence);
        if (n > 0)
        {
            body.TryAdd("n", n); // unknown when the payload could not be read
        }

        return JsonSerializer.SerializeToUtf8Bytes(body, Json);
    }

    private static string FirstSentence(string message)
    {
        var end = message.IndexOf(". ", StringComparison.Ordinal);
        return end < 0 ? message.TrimEnd('.') : message[..end];
    }

    private sealed record Body(long? N, double[]? X, long? FirstN, double[][]? Inputs, DateTimeOffset? Time, DateTimeOffset[]? Times);

    private sealed record OutputMessage(string Sequence, long N, double[] Y, int ModelVersion, string Kind, double[]? X, DateTime? SentAt, string? Reason, bool? Duplicate,
        ForecastInterval? Interval, double? Surprise);
}
