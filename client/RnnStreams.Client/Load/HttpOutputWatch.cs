using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace RnnStreams.Client.Load;

/// <summary>
/// A sequence's outputs as the HTTP API serves them: Server-Sent Events from <c>GET /v1/sequences/{id}/outputs</c>. A
/// connection that drops is opened again with <c>Last-Event-ID</c>, so the silo gives the kept outputs missed meanwhile
/// and none twice; the watch ends after the <c>ended</c> or <c>expired</c> event.
/// </summary>
internal sealed class HttpOutputWatch : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly HttpClient _http;
    private readonly Uri _uri;
    private readonly Func<HttpResponseMessage, Task<Exception>> _refusal;
    private Task _loop = Task.CompletedTask;
    private long? _lastEventId;

    private HttpOutputWatch(HttpClient http, Uri uri, Func<HttpResponseMessage, Task<Exception>> refusal)
    {
        _http = http;
        _uri = uri;
        _refusal = refusal;
    }

    /// <summary>
    /// Connects (a refusal — a missing key, a bad id — is thrown from here), then reads events in the background.
    /// <paramref name="transient"/> says which failures to reconnect after; any other ends the watch through <paramref name="onFailure"/>.
    /// </summary>
    public static async Task<HttpOutputWatch> StartAsync(HttpClient http, Uri uri, Func<HttpResponseMessage, Task<Exception>> refusal,
        Func<SequenceOutput, Task> onOutput, Action<Exception> onFailure, Func<Exception, bool> transient)
    {
        var watch = new HttpOutputWatch(http, uri, refusal);
        var first = await watch.ConnectAsync();
        watch._loop = Task.Run(() => watch.RunAsync(first, onOutput, onFailure, transient));
        return watch;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }

    private async Task RunAsync(HttpResponseMessage response, Func<SequenceOutput, Task> onOutput, Action<Exception> onFailure, Func<Exception, bool> transient)
    {
        var stop = _stop.Token;
        while (true)
        {
            try
            {
                if (await ReadAsync(response, onOutput, stop))
                {
                    return; // ended or expired: nothing follows
                }
            }
            catch (Exception e) when (!stop.IsCancellationRequested && (transient(e) || e is IOException or HttpRequestException))
            {
                // The connection dropped: open it again below.
            }
            catch (Exception e) when (!stop.IsCancellationRequested)
            {
                onFailure(e);
                return;
            }
            finally
            {
                response.Dispose();
            }

            var delay = TimeSpan.FromMilliseconds(100);
            while (true)
            {
                try
                {
                    response = await ConnectAsync();
                    break;
                }
                catch (Exception e) when (!stop.IsCancellationRequested && transient(e))
                {
                    await Task.Delay(delay, stop);
                    delay = TimeSpan.FromMilliseconds(Math.Min(5000, delay.TotalMilliseconds * 2));
                }
                catch (Exception e) when (!stop.IsCancellationRequested)
                {
                    onFailure(e);
                    return;
                }
            }
        }
    }

    private async Task<HttpResponseMessage> ConnectAsync()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, _uri);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (_lastEventId is { } id)
        {
            request.Headers.Add("Last-Event-ID", id.ToString(CultureInfo.InvariantCulture));
        }

        var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, _stop.Token);
        if (!response.IsSuccessStatusCode)
        {
            using (response)
            {
                throw await _refusal(response);
            }
        }

        return response;
    }

    /// <summary>Hands each event on; true after the last one (<c>ended</c>, <c>expired</c>), false when the connection closed first.</summary>
    private async Task<bool> ReadAsync(HttpResponseMessage response, Func<SequenceOutput, Task> onOutput, CancellationToken stop)
    {
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(stop), Encoding.UTF8);
        string? kind = null;
        string? eventId = null;
        var data = new StringBuilder();
        while (await reader.ReadLineAsync(stop) is { } line)
        {
            if (line.Length > 0)
            {
                var colon = line.IndexOf(':');
                var field = colon < 0 ? line : line[..colon];
                var value = colon < 0 ? string.Empty : line[(colon + 1)..].TrimStart(' ');
                switch (field)
                {
                    case "event":
                        kind = value;
                        break;
                    case "id":
                        eventId = value;
                        break;
                    case "data":
                        data.Append(value);
                        break;
                }

                continue; // comments (": keep-alive") and unknown fields are skipped
            }

            if (data.Length > 0)
            {
                using var json = JsonDocument.Parse(data.ToString());
                var output = OutputJson.Read(json.RootElement, kind);
                if (long.TryParse(eventId, NumberStyles.None, CultureInfo.InvariantCulture, out var id))
                {
                    _lastEventId = output.Kind == OutputKind.Reset ? 0 : id;
                }

                await onOutput(output);
                if (output.Kind == OutputKind.Ended)
                {
                    return true;
                }
            }

            (kind, eventId) = (null, null);
            data.Clear();
        }

        return false;
    }
}
