using System.Net;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Threading.Channels;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Streams;

namespace RnnStreams.Http;

/// <summary>
/// The device API: models, sequences and their outputs over HTTP, mapped onto the grains of the silo that hosts it.
/// Every refusal is <c>application/problem+json</c> carrying RnnStreams' error kind and its fields.
/// </summary>
public static class HttpApi
{
    /// <summary>
    /// Set in <see cref="HttpContext.Items"/> by the host for requests it trusts without a key (its management port).
    /// </summary>
    public const string TrustedCallerItem = "rnn.trusted";

    private const string ClientItem = "rnn.client";

    /// <summary>The live page: one self-contained HTML file (plain canvas, no CDN), served at <c>/live</c>.</summary>
    private static readonly Lazy<string> LivePage = new(() =>
    {
        using var stream = typeof(HttpApi).Assembly.GetManifestResourceStream("RnnStreams.Http.live.html")!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    });

    /// <summary><c>Http:Enabled</c>; by default on in the embedded configuration and off with Redis clustering (<c>ConnectionStrings:Redis</c>).</summary>
    public static bool IsEnabled(IConfiguration configuration) =>
        configuration.GetValue<bool?>($"{HttpApiOptions.Section}:Enabled") ?? string.IsNullOrWhiteSpace(configuration.GetConnectionString("Redis"));

    /// <summary>Registers the API's services, options (section <c>Http</c>), JSON settings, problem details, OpenAPI and the rate limiter.</summary>
    public static IServiceCollection AddRnnStreamsHttp(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<HttpApiOptions>().Bind(configuration.GetSection(HttpApiOptions.Section));
        services.AddProblemDetails(o => o.CustomizeProblemDetails = c =>
        {
            // Every problem carries a kind, also those ASP.NET Core writes itself (unreadable JSON, unknown routes).
            c.ProblemDetails.Extensions.TryAdd("kind", c.ProblemDetails.Status switch
            {
                StatusCodes.Status400BadRequest => "BadRequest",
                StatusCodes.Status404NotFound => "NotFound",
                StatusCodes.Status405MethodNotAllowed => "MethodNotAllowed",
                StatusCodes.Status413PayloadTooLarge => "TooLarge",
                StatusCodes.Status415UnsupportedMediaType => "UnsupportedMediaType",
                _ => "Error",
            });
        });
        services.AddOpenApi("v1");
        services.Configure<JsonOptions>(o =>
        {
            // "NaN" and "Infinity" are read, so that the sequence refuses them with a typed NonFinite error instead of
            // the request failing as unreadable JSON.
            o.SerializerOptions.NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals;
            o.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
        });
        services.AddRateLimiter(limiter =>
        {
            limiter.OnRejected = async (context, cancellation) =>
            {
                if (context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retry))
                {
                    context.HttpContext.Response.Headers.RetryAfter = ((int)Math.Ceiling(retry.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
                }

                await WriteProblem(context.HttpContext, StatusCodes.Status429TooManyRequests, "RateLimited", "too many requests for this key; slow down and retry", null);
            };
            limiter.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
            {
                var options = context.RequestServices.GetRequiredService<IOptions<HttpApiOptions>>().Value;
                var partition = context.Items[ClientItem] as string ?? context.Connection.RemoteIpAddress?.ToString() ?? "?";
                return RateLimitPartition.GetTokenBucketLimiter(partition, _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = Math.Max(1, options.Burst),
                    TokensPerPeriod = Math.Max(1, options.RequestsPerSecond / 10),
                    ReplenishmentPeriod = TimeSpan.FromMilliseconds(100),
                    QueueLimit = 0,
                    AutoReplenishment = true,
                });
            });
        });
        return services;
    }

    /// <summary>
    /// Adds the key check, the body limits, the rate limiter and maps every endpoint (and the OpenAPI document at
    /// <c>/openapi/v1.json</c>). <c>/metrics</c> serves OpenTelemetry's Prometheus exporter, which the host registers
    /// (the silo's <c>AddRnnStreamsTelemetry</c>).
    /// </summary>
    public static WebApplication UseRnnStreamsHttp(this WebApplication app)
    {
        app.UseStatusCodePages();
        app.Use(CheckCallerAsync);
        app.UseRateLimiter();
        app.Use(LimitBodyAsync);
        app.MapOpenApi("/openapi/{documentName}.json");
        app.MapGet("/live", () => Results.Text(LivePage.Value, "text/html; charset=utf-8")).ExcludeFromDescription();
        MapEndpoints(app);
        return app;
    }

    /// <summary>SHA-256 of a key as lower-case hex: what <see cref="HttpApiOptions.ApiKeys"/> holds.</summary>
    public static string HashKey(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    private static async Task CheckCallerAsync(HttpContext context, Func<Task> next)
    {
        var path = context.Request.Path;
        if (context.Items.ContainsKey(TrustedCallerItem) || path.StartsWithSegments("/healthz") || path.StartsWithSegments("/ready") || path.StartsWithSegments("/live"))
        {
            await next();
            return;
        }

        var options = context.RequestServices.GetRequiredService<IOptions<HttpApiOptions>>().Value;
        if (options.ApiKeys.Count == 0)
        {
            var remote = context.Connection.RemoteIpAddress;
            if (remote is null || !IPAddress.IsLoopback(remote))
            {
                await WriteProblem(context, StatusCodes.Status403Forbidden, "Forbidden", "no API key is configured, so only callers on this machine are served", null);
                return;
            }

            await next();
            return;
        }

        var presented = context.Request.Headers[HttpApiOptions.KeyHeader].ToString();
        if (presented.Length == 0 && HttpMethods.IsGet(context.Request.Method) && path.Value?.EndsWith("/outputs", StringComparison.Ordinal) == true)
        {
            presented = context.Request.Query["key"].ToString(); // EventSource cannot send headers
        }

        if (presented.Length == 0)
        {
            context.Response.Headers.WWWAuthenticate = HttpApiOptions.KeyHeader;
            await WriteProblem(context, StatusCodes.Status401Unauthorized, "Unauthorized", $"send an API key in the {HttpApiOptions.KeyHeader} header", null);
            return;
        }

        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(presented));
        foreach (var (name, stored) in options.ApiKeys)
        {
            if (stored.Length == 64 && CryptographicOperations.FixedTimeEquals(hash, Convert.FromHexString(stored)))
            {
                context.Items[ClientItem] = name;
                await next();
                return;
            }
        }

        context.Response.Headers.WWWAuthenticate = HttpApiOptions.KeyHeader;
        await WriteProblem(context, StatusCodes.Status401Unauthorized, "Unauthorized", "the API key is not valid", null);
    }

    private static async Task LimitBodyAsync(HttpContext context, Func<Task> next)
    {
        var options = context.RequestServices.GetRequiredService<IOptions<HttpApiOptions>>().Value;
        var limit = context.Request.Method == HttpMethods.Post && context.Request.Path.StartsWithSegments("/v1/models") ? options.MaxModelBytes : options.MaxBodyBytes;
        if (context.Request.ContentLength > limit)
        {
            await WriteProblem(context, StatusCodes.Status413PayloadTooLarge, "TooLarge", $"the body is {context.Request.ContentLength} bytes; at most {limit} are accepted here", null);
            return;
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
        {
            size.MaxRequestBodySize = limit;
        }

        await next();
    }

    private static void MapEndpoints(IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1").AddEndpointFilter(TranslateErrorsAsync);

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

        v1.MapPost("/sequences/{id}/start", async (string id, StartBody body, IGrainFactory grains) =>
            Results.Ok(await grains.GetGrain<ISequenceGrain>(id).Start(new StartRequest(body.Model ?? string.Empty, body.Version, body.H0, body.C0))))
            .WithSummary("Starts a sequence on a model (version, h_0 and an LSTM's c_0 optional)");

        v1.MapPost("/sequences/{id}/elements", async (string id, ElementBody body, IGrainFactory grains) =>
            Results.Ok(await grains.GetGrain<ISequenceGrain>(id).Step(body.N, body.X ?? [])))
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

            var result = await grains.GetGrain<ISequenceGrain>(id).StepMany(body.FirstN, [.. rows.SelectMany(r => r)]);
            var outputs = new double[result.Count][];
            for (var i = 0; i < result.Count; i++)
            {
                outputs[i] = result.Outputs.AsSpan(i * result.OutputSize, result.OutputSize).ToArray();
            }

            return Results.Ok(new BatchAnswer(result.FirstN, result.Count, outputs, result.ModelVersion, result.Duplicates, result.DurableN));
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

        v1.MapGet("/sequences/{id}/outputs", StreamOutputsAsync)
            .WithSummary("The sequence's outputs as Server-Sent Events, in order; the ended or expired event comes last");
    }

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

    /// <summary>
    /// Server-Sent Events: <c>id: n</c>, <c>event: step|reset|upgraded|error|ended|expired</c>, <c>data:</c> the output
    /// as JSON. Holds a watch lease on the sequence while connected (so silos that publish only watched outputs send
    /// them) and closes after the ended or expired event.
    /// </summary>
    private static async Task StreamOutputsAsync(string id, HttpContext context, IClusterClient client)
    {
        var channel = Channel.CreateUnbounded<SequenceOutput>(new UnboundedChannelOptions { SingleReader = true });
        var stream = client.GetStreamProvider(RnnConstants.StreamProvider).GetStream<SequenceOutput>(RnnConstants.OutputStream(id));
        var handle = await stream.SubscribeAsync((item, _) => channel.Writer.WriteAsync(item).AsTask());
        var sequence = client.GetGrain<ISequenceGrain>(id);
        var lease = TimeSpan.FromMinutes(2);
        var cancellation = context.RequestAborted;
        try
        {
            await sequence.Watch(lease);
            context.Response.ContentType = "text/event-stream";
            context.Response.Headers.CacheControl = "no-cache";
            context.Response.Headers["X-Accel-Buffering"] = "no";
            await context.Response.WriteAsync(": connected\n\n", cancellation);
            await context.Response.Body.FlushAsync(cancellation);
            var renewAt = DateTime.UtcNow + (lease / 3);
            var json = context.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
            while (!cancellation.IsCancellationRequested)
            {
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
                wait.CancelAfter(TimeSpan.FromSeconds(15));
                SequenceOutput item;
                try
                {
                    item = await channel.Reader.ReadAsync(wait.Token);
                }
                catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
                {
                    await context.Response.WriteAsync(": keep-alive\n\n", cancellation); // proxies close silent connections
                    await context.Response.Body.FlushAsync(cancellation);
                    continue;
                }
                finally
                {
                    if (DateTime.UtcNow >= renewAt)
                    {
                        renewAt = DateTime.UtcNow + (lease / 3);
                        await sequence.Watch(lease);
                    }
                }

                var kind = item is { Kind: OutputKind.Ended, Reason: "expired" } ? "expired" : JsonNamingPolicy.CamelCase.ConvertName(item.Kind.ToString());
                await context.Response.WriteAsync($"id: {item.N}\nevent: {kind}\ndata: {JsonSerializer.Serialize(item, json)}\n\n", cancellation);
                await context.Response.Body.FlushAsync(cancellation);
                if (item.Kind is OutputKind.Ended)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            // The caller went away.
        }
        finally
        {
            await handle.UnsubscribeAsync();
        }
    }
}

/// <summary><c>POST /v1/sequences/{id}/start</c>.</summary>
public sealed record StartBody(string? Model, int? Version = null, double[][]? H0 = null, double[][]? C0 = null);

/// <summary><c>POST /v1/sequences/{id}/elements</c>: element n's x_t.</summary>
public sealed record ElementBody(long N, double[]? X);

/// <summary><c>POST /v1/sequences/{id}/batch</c>: elements firstN, firstN+1, … one row each.</summary>
public sealed record BatchBody(long FirstN, double[][]? Inputs);

/// <summary>The answer to a batch: one row of outputs per element.</summary>
public sealed record BatchAnswer(long FirstN, int Count, double[][] Outputs, int ModelVersion, int Duplicates, long DurableN);
