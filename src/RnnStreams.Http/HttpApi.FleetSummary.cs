using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace RnnStreams.Http;

/// <summary><c>GET /v1/fleet</c>: the whole fleet at a glance, as the live page's fleet view polls it.</summary>
public static partial class HttpApi
{
    private static void MapFleetSummaryEndpoints(RouteGroupBuilder v1) =>
        v1.MapGet("/fleet", async (IGrainFactory grains) => Results.Ok(await grains.GetGrain<IFleetGrain>(0).Summary()))
            .WithSummary("The fleet now: silos, active sequences, elements/s, step p50/p99, refusals per kind, the sequences with the largest recent forecast error");
}
