using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;

namespace RnnStreams.Http;

/// <summary>The sequence endpoints: <c>/v1/sequences/{id}/…</c>.</summary>
public static partial class HttpApi
{
    private static void MapSequenceEndpoints(RouteGroupBuilder v1)
    {
        v1.MapPost("/sequences/{id}/start", async (string id, StartBody body, IGrainFactory grains) =>
            Results.Ok(await grains.GetGrain<ISequenceGrain>(id).Start(new StartRequest(body.Model ?? string.Empty, body.Version, body.H0, body.C0))))
            .WithSummary("Starts a sequence on a model (version, h_0 and an LSTM's c_0 optional)");

        v1.MapPost("/sequences/{id}/elements", async (string id, ElementBody body, SequenceReferences sequences) =>
            Results.Ok(body.Time is { } time ? await sequences.Get(id).StepAt(body.N, body.X ?? [], time.UtcDateTime) : await sequences.Get(id).Step(body.N, body.X ?? [])))
            .WithSummary("Applies element n (x_t); a recent duplicate answers with its stored y and duplicate = true");

        v1.MapPost("/sequences/{id}/batch", async (string id, BatchBody body, IGrainFactory grains, IOptions<HttpApiOptions> options) =>
        {
            var rows = body.Inputs ?? [];
            if (rows.Length > options.Value.MaxBatch)
            {
                throw new RnnArgumentException("inputs", $"at most {options.Value.MaxBatch} elements per batch, got {rows.Length}");
            }

            var width = rows.Length == 0 ? 0 : rows[0]?.Length ?? 0;
            for (var i = 0; i < rows.Length; i++)
            {
                if (rows[i] is null || rows[i].Length != width)
                {
                    throw new InvalidInputException(RnnErrorKind.WrongSize, $"element {body.FirstN + i} has {rows[i]?.Length ?? 0} values; the batch's first has {width}", body.FirstN + i, width, rows[i]?.Length ?? 0, -1);
                }
            }

            var grain = grains.GetGrain<ISequenceGrain>(id);
            var result = body.Times is { } times
                ? await grain.StepManyAt(body.FirstN, [.. rows.SelectMany(r => r)], [.. times.Select(t => t.UtcDateTime)])
                : await grain.StepMany(body.FirstN, [.. rows.SelectMany(r => r)]);
            return Results.Ok(BatchAnswer.Of(result, Rows(result.Outputs, result.Count, result.OutputSize)));
        }).WithSummary("Applies elements firstN, firstN+1, … (one row of D numbers each) as one batch");

        v1.MapGet("/sequences/{id}", async (string id, IGrainFactory grains) => Results.Ok(await grains.GetGrain<ISequenceGrain>(id).Snapshot()))
            .WithSummary("Where a sequence stands: model, version, h (and c), last n, last durable n");
        v1.MapPost("/sequences/{id}/reset", async (string id, IGrainFactory grains) => Results.Ok(await grains.GetGrain<ISequenceGrain>(id).Reset()))
            .WithSummary("Back to h_0 on the model's latest version");
        v1.MapPost("/sequences/{id}/upgrade", async (string id, IGrainFactory grains) => Results.Ok(await grains.GetGrain<ISequenceGrain>(id).Upgrade()))
            .WithSummary("Moves the sequence to its model's latest compatible version, keeping its state");
        v1.MapDelete("/sequences/{id}", async (string id, IGrainFactory grains) =>
        {
            await grains.GetGrain<ISequenceGrain>(id).End();
            return Results.NoContent();
        }).WithSummary("Ends the sequence (its state is deleted; subscribers get the ended event)");

        v1.MapGet("/sequences/{id}/history", async (string id, IGrainFactory grains) => Results.Ok(await grains.GetGrain<ISequenceGrain>(id).History()))
            .WithSummary("x_t[0] and y_t[0] of the sequence's last elements (RnnStreams:KeepHistory, kept in memory by its activation) and its recent forecast error");
        v1.MapGet("/sequences/{id}/forecast", async (string id, int? steps, IGrainFactory grains) =>
        {
            var forecast = await grains.GetGrain<ISequenceGrain>(id).Forecast(steps ?? 1);
            return Results.Ok(ForecastAnswer.Of(forecast, Rows(forecast.Y, forecast.Steps, forecast.OutputSize)));
        }).WithSummary("The next steps inputs (default 1, at most 10,000) forecast from the sequence's live state, rolling its model forward on a copy of h: row 1 is y_n of the last element; a forecaster's rows carry intervals from sampled futures; the sequence does not change");
        v1.MapGet("/sequences/{id}/outputs", StreamOutputsAsync).WithMetadata(LongRunning)
            .WithSummary("The sequence's outputs as Server-Sent Events, in order; the ended or expired event comes last");
    }

    /// <summary><paramref name="count"/> rows of <paramref name="width"/> numbers from one flat array, as the JSON answers write them.</summary>
    private static double[][] Rows(double[] flat, int count, int width)
    {
        var rows = new double[count][];
        for (var i = 0; i < count; i++)
        {
            rows[i] = flat.AsSpan(i * width, width).ToArray();
        }

        return rows;
    }
}
