using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace RnnStreams.Http;

/// <summary>
/// The device API: models, sequences and their outputs over HTTP, mapped onto the grains of the silo that hosts it.
/// Every refusal is <c>application/problem+json</c> carrying RnnStreams' error kind and its fields.
/// </summary>
public static partial class HttpApi
{
    /// <summary>
    /// Set in <see cref="HttpContext.Items"/> by the host for requests it trusts without a key (its management port).
    /// </summary>
    public const string TrustedCallerItem = "rnn.trusted";

    /// <summary>The live page: one self-contained HTML file (plain JS and SVG, no CDN), served at <c>/live</c>: the fleet, or one sequence with <c>?sequence=ID</c>.</summary>
    private static readonly Lazy<string> LivePage = new(() =>
    {
        using var stream = typeof(HttpApi).Assembly.GetManifestResourceStream("RnnStreams.Http.live.html")!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    });

    /// <summary><c>Http:Enabled</c>; by default on for a silo on its own and off for a clustered one (several may share a host).</summary>
    public static bool IsEnabled(IConfiguration configuration, bool clustered) =>
        configuration.GetValue<bool?>($"{HttpApiOptions.Section}:Enabled") ?? !clustered;

    /// <summary>Registers the API's services, options (section <c>Http</c>), JSON settings, problem details, OpenAPI and each caller's rate limit.</summary>
    public static IServiceCollection AddRnnStreamsHttp(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<HttpApiOptions>().Bind(configuration.GetSection(HttpApiOptions.Section));
        // A body that cannot be read (malformed JSON, a number where an array belongs, over the size limit) reaches the
        // exception handler instead of ending as a bare 400, so that the problem can say where it broke.
        services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.AddProblemDetails(o => o.CustomizeProblemDetails = c =>
        {
            if (c.Exception is BadHttpRequestException bad)
            {
                c.ProblemDetails.Detail = DescribeBadRequest(bad);
            }

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
        services.AddSingleton<CallerRateLimiter>();
        services.TryAddSingleton(sp => new SequenceReferences(sp.GetRequiredService<IGrainFactory>()));
        return services;
    }

    /// <summary>
    /// Adds the key check with each caller's rate limit, the body limits, and maps every endpoint (and the OpenAPI document at
    /// <c>/openapi/v1.json</c>). <c>/metrics</c> serves OpenTelemetry's Prometheus exporter, which the host registers
    /// (the silo's <c>AddRnnStreamsTelemetry</c>).
    /// </summary>
    public static WebApplication UseRnnStreamsHttp(this WebApplication app)
    {
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            StatusCodeSelector = e => e is BadHttpRequestException bad ? bad.StatusCode : StatusCodes.Status500InternalServerError,
            SuppressDiagnosticsCallback = c => c.Exception is BadHttpRequestException, // the caller's mistake: no error log
        });
        app.UseStatusCodePages();
        app.Use(CheckCallerAsync);
        app.Use(LimitBodyAsync);
        app.MapOpenApi("/openapi/{documentName}.json");
        app.MapGet("/live", () => Results.Text(LivePage.Value, "text/html; charset=utf-8")).ExcludeFromDescription();
        MapEndpoints(app, app.Services.GetRequiredService<IOptions<HttpApiOptions>>().Value);
        return app;
    }

    /// <summary>What was wrong with a request ASP.NET Core could not read, down to the JSON's line and byte.</summary>
    private static string DescribeBadRequest(BadHttpRequestException bad)
    {
        if (bad.InnerException is JsonException json)
        {
            var where = json.LineNumber is { } line ? $" at line {line + 1}, byte {json.BytePositionInLine + 1}" : string.Empty;
            var path = string.IsNullOrEmpty(json.Path) || json.Path == "$" ? string.Empty : $" ({json.Path})";
            var message = json.Message;
            var cut = message.IndexOf(" Path: ", StringComparison.Ordinal);
            return $"the body is not valid JSON for this endpoint{where}{path}: {(cut < 0 ? message : message[..cut]).TrimEnd('.')}";
        }

        return bad.Message;
    }

    /// <summary>SHA-256 of a key as lower-case hex: what <see cref="HttpApiOptions.ApiKeys"/> holds.</summary>
    public static string HashKey(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));
}
