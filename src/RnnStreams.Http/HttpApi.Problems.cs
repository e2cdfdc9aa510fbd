using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace RnnStreams.Http;

/// <summary>
/// Refusals as <c>application/problem+json</c> carrying the error kind and its fields. A call that fails because the
/// cluster cannot be reached — a silo unavailable or declared dead, a rejected message, a timeout, a lost gateway
/// connection, an Orleans runtime error — is 503 with kind <c>Unavailable</c> and <c>Retry-After</c>, answered at once
/// while the host knows it is cut off (<see cref="IClusterAvailability"/>) and after at most
/// <see cref="HttpApiOptions.CallTimeout"/> otherwise; anything else unexpected is a 500 with kind <c>Internal</c>, never
/// an empty body.
/// </summary>
public static partial class HttpApi
{
    /// <summary>The problem kind of a request refused because the cluster cannot be reached (a string: not an <see cref="RnnErrorKind"/>).</summary>
    public const string UnavailableKind = "Unavailable";

    /// <summary>Marks an endpoint that streams for as long as the caller listens: no <see cref="HttpApiOptions.CallTimeout"/>.</summary>
    private static readonly object LongRunning = new LongRunningEndpoint();

    private static async ValueTask<object?> TranslateErrorsAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var availability = http.RequestServices.GetService<IClusterAvailability>();
        if (availability?.Unavailable is { } already)
        {
            return Unavailable(http, already.Detail, already.RetryAfter);
        }

        var timeout = http.RequestServices.GetRequiredService<IOptions<HttpApiOptions>>().Value.CallTimeout;
        var lost = availability?.CutOff ?? CancellationToken.None;
        try
        {
            var call = next(context);
            if (call.IsCompleted || timeout <= TimeSpan.Zero || http.GetEndpoint()?.Metadata.GetMetadata<LongRunningEndpoint>() is not null)
            {
                return await call;
            }

            return await call.AsTask().WaitAsync(timeout, lost);
        }
        catch (RnnStreamsException e)
        {
            if (e.Kind == RnnErrorKind.Storage)
            {
                // Storage failing: the silo probes it every second (RnnStreams:StorageRetryInterval's default).
                http.Response.Headers.RetryAfter = "1";
            }

            return Problem(e);
        }
        catch (OperationCanceledException) when (lost.IsCancellationRequested && availability?.Unavailable is { } cutOff)
        {
            // The host found itself cut off while this request waited: answered now, as the next ones will be.
            return Unavailable(http, cutOff.Detail + "; the element may still be applied: send it again (same n) to get its answer", cutOff.RetryAfter);
        }
        catch (TimeoutException) when (!http.RequestAborted.IsCancellationRequested)
        {
            return Unavailable(http, $"the cluster did not answer within {timeout.TotalSeconds:0.#} s; the element may still be applied: send it again (same n) to get its answer", TimeSpan.FromSeconds(1));
        }
        catch (Exception e) when (IsUnavailable(e) && !http.RequestAborted.IsCancellationRequested)
        {
            return Unavailable(http, $"the cluster cannot be reached now ({e.GetType().Name}: {e.Message})", TimeSpan.FromSeconds(1));
        }
        catch (Exception e) when (e is not BadHttpRequestException && !http.RequestAborted.IsCancellationRequested)
        {
            // ASP.NET Core answers its own BadHttpRequestException (a body over the limit: 413) with its status.
            http.RequestServices.GetService<ILoggerFactory>()?.CreateLogger("RnnStreams.Http").LogError(e, "Unexpected failure of {Method} {Path}", http.Request.Method, http.Request.Path);
            return Results.Problem(statusCode: StatusCodes.Status500InternalServerError, title: "Internal", detail: $"{e.GetType().Name}: {e.Message}",
                type: "https://rnnstreams.dev/errors/Internal", extensions: new Dictionary<string, object?> { ["kind"] = "Internal" });
        }
    }

    /// <summary>Whether a failed grain call means the cluster could not be reached (<see cref="RnnProblem.IsUnavailable"/>).</summary>
    public static bool IsUnavailable(Exception e) => RnnProblem.IsUnavailable(e);

    /// <summary>503 <c>Unavailable</c> with <c>Retry-After</c> in whole seconds (at least 1).</summary>
    private static IResult Unavailable(HttpContext context, string detail, TimeSpan retryAfter)
    {
        var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
        context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        return Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: UnavailableKind, detail: detail,
            type: $"https://rnnstreams.dev/errors/{UnavailableKind}", extensions: new Dictionary<string, object?> { ["kind"] = UnavailableKind, ["retryAfterSeconds"] = seconds });
    }

    /// <summary>The HTTP status of each error kind (<see cref="RnnProblem.StatusOf"/>).</summary>
    public static int StatusOf(RnnErrorKind kind) => RnnProblem.StatusOf(kind);

    private static IResult Problem(RnnStreamsException e) =>
        Results.Problem(statusCode: StatusOf(e.Kind), title: e.Kind.ToString(), detail: e.Message, type: RnnProblem.TypeOf(e.Kind.ToString()), extensions: RnnProblem.FieldsOf(e));

    private static Task WriteProblem(HttpContext context, int status, string title, string detail, IDictionary<string, object?>? extensions)
    {
        var all = new Dictionary<string, object?>(extensions ?? new Dictionary<string, object?>()) { ["kind"] = title };
        return Results.Problem(statusCode: status, title: title, detail: detail, type: $"https://rnnstreams.dev/errors/{title}", extensions: all).ExecuteAsync(context);
    }

    private sealed class LongRunningEndpoint;
}
