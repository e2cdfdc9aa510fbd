using System.Reflection;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;

namespace RnnStreams.Http;

/// <summary>Refusals as <c>application/problem+json</c> carrying the error kind and its fields.</summary>
public static partial class HttpApi
{
    private static async ValueTask<object?> TranslateErrorsAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        try
        {
            return await next(context);
        }
        catch (RnnStreamsException e)
        {
            return Problem(e);
        }
    }

    /// <summary>The HTTP status of each error kind.</summary>
    public static int StatusOf(RnnErrorKind kind) => kind switch
    {
        RnnErrorKind.UnknownModel or RnnErrorKind.NotStarted => StatusCodes.Status404NotFound,
        RnnErrorKind.AlreadyStarted or RnnErrorKind.Gap or RnnErrorKind.Duplicate or RnnErrorKind.Incompatible or RnnErrorKind.InUse => StatusCodes.Status409Conflict,
        RnnErrorKind.InvalidModel or RnnErrorKind.NonFiniteResult => StatusCodes.Status422UnprocessableEntity,
        RnnErrorKind.Storage => StatusCodes.Status503ServiceUnavailable,
        RnnErrorKind.StateLost => StatusCodes.Status410Gone,
        _ => StatusCodes.Status400BadRequest,
    };

    private static IResult Problem(RnnStreamsException e)
    {
        var extensions = new Dictionary<string, object?> { ["kind"] = e.Kind.ToString() };
        for (var type = e.GetType(); type is not null && type != typeof(RnnStreamsException); type = type.BaseType)
        {
            foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly))
            {
                extensions[JsonNamingPolicy.CamelCase.ConvertName(property.Name)] = property.GetValue(e);
            }
        }

        return Results.Problem(statusCode: StatusOf(e.Kind), title: e.Kind.ToString(), detail: e.Message, type: $"https://rnnstreams.dev/errors/{e.Kind}", extensions: extensions);
    }

    private static Task WriteProblem(HttpContext context, int status, string title, string detail, IDictionary<string, object?>? extensions)
    {
        var all = new Dictionary<string, object?>(extensions ?? new Dictionary<string, object?>()) { ["kind"] = title };
        return Results.Problem(statusCode: status, title: title, detail: detail, type: $"https://rnnstreams.dev/errors/{title}", extensions: all).ExecuteAsync(context);
    }
}
