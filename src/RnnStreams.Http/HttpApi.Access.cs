using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace RnnStreams.Http;

/// <summary>Who may call (API keys, loopback without keys), how often (each caller's rate limit) and how much they may send (body limits).</summary>
public static partial class HttpApi
{
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

            if (!context.RequestServices.GetRequiredService<CallerRateLimiter>().TryAcquire(remote, out var wait))
            {
                await RefuseRateAsync(context, wait);
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
                if (!context.RequestServices.GetRequiredService<CallerRateLimiter>().TryAcquire(name, out var wait))
                {
                    await RefuseRateAsync(context, wait);
                    return;
                }

                await next();
                return;
            }
        }

        context.Response.Headers.WWWAuthenticate = HttpApiOptions.KeyHeader;
        await WriteProblem(context, StatusCodes.Status401Unauthorized, "Unauthorized", "the API key is not valid", null);
    }

    private static Task RefuseRateAsync(HttpContext context, TimeSpan wait)
    {
        context.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return WriteProblem(context, StatusCodes.Status429TooManyRequests, "RateLimited", "too many requests for this caller; slow down and retry", null);
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
}
