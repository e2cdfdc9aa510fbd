using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace RnnStreams.Http;

/// <summary>The <c>/v1</c> endpoints, every refusal translated into a problem (<see cref="TranslateErrorsAsync"/>).</summary>
public static partial class HttpApi
{
    private static void MapEndpoints(IEndpointRouteBuilder app, HttpApiOptions options)
    {
        var v1 = app.MapGroup("/v1").AddEndpointFilter(TranslateErrorsAsync);
        MapModelEndpoints(v1);
        MapSequenceEndpoints(v1);
        MapFleetEndpoints(v1);
        MapFleetSummaryEndpoints(v1);
        if (options.Floor)
        {
            MapFloorEndpoint(v1);
        }
    }
}
