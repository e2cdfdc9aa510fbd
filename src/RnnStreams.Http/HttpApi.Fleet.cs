using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;

namespace RnnStreams.Http;

/// <summary><c>POST /v1/elements</c>: elements for many sequences in one request.</summary>
public static partial class HttpApi
{
    private static void MapFleetEndpoints(RouteGroupBuilder v1) =>
        v1.MapPost("/elements", StepFleetAsync)
            .WithSummary("Applies elements of many sequences (a gateway forwarding its devices); one result per element, in order, refusals per element");

    /// <summary>
    /// Elements of one sequence are applied in the order the request lists them; different sequences concurrently. A
    /// refused element does not stop the others: its result carries the problem (a later element of the same sequence
    /// then usually meets a <c>Gap</c>). The request itself is refused only when it is not one (no elements, too many).
    /// </summary>
    private static async Task<IResult> StepFleetAsync(FleetBody body, IGrainFactory grains, IOptions<HttpApiOptions> options)
    {
        var elements = body.Elements ?? [];
        if (elements.Length == 0)
        {
            throw new RnnArgumentException("elements", "a fleet request needs at least one element: {\"elements\": [{\"sequence\": \"s\", \"n\": 1, \"x\": [..]}, …]}");
        }

        if (elements.Length > options.Value.MaxBatch)
        {
            throw new RnnArgumentException("elements", $"at most {options.Value.MaxBatch} elements per request (Http:MaxBatch), got {elements.Length}");
        }

        var results = new FleetResult[elements.Length];
        var bySequence = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        for (var i = 0; i < elements.Length; i++)
        {
            var sequence = elements[i]?.Sequence;
            if (string.IsNullOrEmpty(sequence))
            {
                results[i] = Refusal(sequence ?? string.Empty, elements[i]?.N ?? 0, new RnnArgumentException("sequence", $"element {i} of the request names no sequence"));
                continue;
            }

            if (!bySequence.TryGetValue(sequence, out var indexes))
            {
                bySequence[sequence] = indexes = [];
            }

            indexes.Add(i);
        }

        await Task.WhenAll(bySequence.Select(async pair =>
        {
            var grain = grains.GetGrain<ISequenceGrain>(pair.Key);
            foreach (var i in pair.Value)
            {
                var element = elements[i];
                try
                {
                    var step = element.Time is { } time ? await grain.StepAt(element.N, element.X ?? [], time.UtcDateTime) : await grain.Step(element.N, element.X ?? []);
                    results[i] = new FleetResult(pair.Key, element.N, step.Y, step.ModelVersion, step.Duplicate, step.DurableN,
                        Interval: step.Interval, Anomaly: step.Anomaly ? true : null);
                }
                catch (RnnStreamsException e)
                {
                    results[i] = Refusal(pair.Key, element.N, e);
                }
                catch (Exception e) when (IsUnavailable(e))
                {
                    results[i] = new FleetResult(pair.Key, element.N, Problem: new Dictionary<string, object?>
                    {
                        ["type"] = RnnProblem.TypeOf(UnavailableKind),
                        ["title"] = UnavailableKind,
                        ["status"] = StatusCodes.Status503ServiceUnavailable,
                        ["detail"] = $"the cluster cannot be reached now ({e.GetType().Name}); the element may still be applied: send it again (same n)",
                        ["kind"] = UnavailableKind,
                    });
                }
            }
        }));

        var refused = results.Count(r => r.Problem is not null);
        return Results.Ok(new FleetAnswer(results, results.Length - refused, refused));
    }

    private static FleetResult Refusal(string sequence, long n, RnnStreamsException e) => new(sequence, n, Problem: RnnProblem.BodyOf(e));
}
