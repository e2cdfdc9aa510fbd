using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace RnnStreams.Http;

/// <summary>
/// <c>POST /v1/floor/{id}/elements</c> (only with <c>Http:Floor</c>): the element endpoint's twin that makes no grain
/// call. It reads and binds the same body through the same middleware (key check, rate limiter, body limit, problem
/// filter) and writes an answer of the same shape, so that its rate is what this host's HTTP stack alone allows — the
/// floor against which <c>bench</c> reads <c>http_steps_per_s</c>, and which an operator can load with <c>wrk</c>.
/// </summary>
public static partial class HttpApi
{
    private static readonly double[] FloorOutput = [0.0];

    private static void MapFloorEndpoint(RouteGroupBuilder v1)
    {
        v1.MapPost("/floor/{id}/elements", (string id, ElementBody body) =>
            Results.Ok(new StepResult(body.N, FloorOutput, ModelVersion: 1, Duplicate: false, DurableN: body.N)))
            .ExcludeFromDescription();
    }
}
