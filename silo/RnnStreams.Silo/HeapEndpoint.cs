using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;

namespace RnnStreams.Silo;

/// <summary>
/// <c>POST /debug/heap</c> on the management port, only when <c>Management:HeapEndpoint</c> is true (default off): a
/// forced, blocking, compacting full collection, then the managed heap's size as <c>{"heapBytes": N}</c>. <c>bench</c>
/// turns it on in the silo it starts, to read the memory a sequence takes in the silo's own process. Each call pauses
/// the silo for a full collection, so it is off unless asked for and never served on the API's ports.
/// </summary>
internal static class HeapEndpoint
{
    /// <summary>The configuration key that turns the endpoint on.</summary>
    public const string EnabledKey = "Management:HeapEndpoint";

    /// <summary>The endpoint's path.</summary>
    public const string Path = "/debug/heap";

    /// <summary>Whether <see cref="EnabledKey"/> is true; a value that is not a boolean stops the silo, naming the key.</summary>
    public static bool IsEnabled(IConfiguration configuration) => configuration.GetValue(EnabledKey, false);

    /// <summary>Maps <see cref="Path"/>: answered on the management ports, 404 on any other.</summary>
    public static IEndpointConventionBuilder Map(WebApplication app) =>
        app.MapPost(Path, (HttpContext context, SiloEndpoints.ManagementPorts ports) =>
                ports.Contains(context.Connection.LocalPort) ? Results.Ok(new HeapAnswer(CollectAndMeasure())) : Results.NotFound())
            .ExcludeFromDescription();

    private static long CollectAndMeasure()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    /// <summary>The answer: managed heap bytes after a full compacting collection.</summary>
    internal sealed record HeapAnswer(long HeapBytes);
}
