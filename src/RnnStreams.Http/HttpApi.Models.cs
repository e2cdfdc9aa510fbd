using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace RnnStreams.Http;

/// <summary>The model endpoints: <c>/v1/models</c>.</summary>
public static partial class HttpApi
{
    private static void MapModelEndpoints(RouteGroupBuilder v1)
    {
        v1.MapGet("/models", async (IGrainFactory grains) =>
        {
            var names = await grains.GetGrain<IModelCatalogGrain>(0).List();
            var all = new List<ModelVersionInfo>();
            foreach (var name in names)
            {
                all.AddRange(await grains.GetGrain<IModelGrain>(name).ListVersions());
            }

            return Results.Ok(all);
        }).WithSummary("Every model and version");

        v1.MapGet("/models/{name}/versions", async (string name, IGrainFactory grains) =>
            Results.Ok(await grains.GetGrain<IModelGrain>(name).ListVersions())).WithSummary("A model's versions");

        v1.MapGet("/models/{name}", async (string name, int? version, IGrainFactory grains) =>
            Results.Text(await grains.GetGrain<IModelGrain>(name).GetJson(version), "application/json")).WithSummary("A model version as a model file (default: the latest)");

        v1.MapPost("/models/{name}", async (string name, HttpRequest request, IGrainFactory grains) =>
        {
            using var reader = new StreamReader(request.Body, Encoding.UTF8);
            var json = await reader.ReadToEndAsync();
            RnnStreams.Core.RnnModel model;
            try
            {
                model = RnnStreams.Core.ModelFile.Parse(json, name).WithName(name);
            }
            catch (RnnStreams.Core.ModelValidationException e)
            {
                throw new InvalidModelException(name, e.Message);
            }

            var info = await grains.GetGrain<IModelGrain>(name).Publish(RnnStreams.Core.ModelFile.ToJson(model));
            return Results.Created($"/v1/models/{name}?version={info.Version}", info);
        }).WithSummary("Publishes a model file (JSON body) as the model's next version");
    }
}
