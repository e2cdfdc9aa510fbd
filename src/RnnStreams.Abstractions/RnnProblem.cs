using System.Reflection;
using System.Text.Json;

namespace RnnStreams;

/// <summary>
/// A refusal as the fields of an RFC 9457 problem (<c>application/problem+json</c>): what the HTTP API answers and what
/// the MQTT ingress publishes on a sequence's error topic, the same body both ways.
/// </summary>
public static class RnnProblem
{
    /// <summary>
    /// Whether a failed grain call means the cluster could not be reached rather than that the request was wrong:
    /// Orleans' own failures (<see cref="OrleansException"/> and its kinds: <see cref="SiloUnavailableException"/>,
    /// <see cref="OrleansMessageRejectionException"/>, a broken gateway or silo connection, a gateway too busy), a
    /// timeout, or a call Orleans cancelled because its connection dropped. The caller may send the request again.
    /// </summary>
    public static bool IsUnavailable(Exception e) => e switch
    {
        RnnStreamsException => false,
        OrleansException or TimeoutException or OperationCanceledException => true,
        AggregateException { InnerExceptions: [var inner] } => IsUnavailable(inner),
        _ => false,
    };

    /// <summary>The problem type URI of a kind (or of any other title).</summary>
    public static string TypeOf(string kind) => $"https://rnnstreams.dev/errors/{kind}";

    /// <summary>The HTTP status of each error kind.</summary>
    public static int StatusOf(RnnErrorKind kind) => kind switch
    {
        RnnErrorKind.UnknownModel or RnnErrorKind.NotStarted => 404,
        RnnErrorKind.AlreadyStarted or RnnErrorKind.Gap or RnnErrorKind.Duplicate or RnnErrorKind.Incompatible or RnnErrorKind.InUse => 409,
        RnnErrorKind.InvalidModel or RnnErrorKind.NonFiniteResult => 422,
        RnnErrorKind.Storage => 503,
        RnnErrorKind.StateLost => 410,
        _ => 400,
    };

    /// <summary>
    /// The problem's extension members for an error: <c>kind</c> and every public property its type declares
    /// (<c>sequence</c>, <c>expectedN</c>, …), camel-cased.
    /// </summary>
    public static Dictionary<string, object?> FieldsOf(RnnStreamsException e)
    {
        var fields = new Dictionary<string, object?> { ["kind"] = e.Kind.ToString() };
        for (var type = e.GetType(); type is not null && type != typeof(RnnStreamsException); type = type.BaseType)
        {
            foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly))
            {
                fields[JsonNamingPolicy.CamelCase.ConvertName(property.Name)] = property.GetValue(e);
            }
        }

        return fields;
    }

    /// <summary>The whole problem body: <c>type</c>, <c>title</c>, <c>status</c>, <c>detail</c> and <see cref="FieldsOf"/>.</summary>
    public static Dictionary<string, object?> BodyOf(RnnStreamsException e)
    {
        var body = new Dictionary<string, object?>
        {
            ["type"] = TypeOf(e.Kind.ToString()),
            ["title"] = e.Kind.ToString(),
            ["status"] = StatusOf(e.Kind),
            ["detail"] = e.Message,
        };
        foreach (var (key, value) in FieldsOf(e))
        {
            body[key] = value;
        }

        return body;
    }
}
