using System.Globalization;
using System.Text.Json;

namespace RnnStreams.Silo.Tests;

/// <summary>Reads a sequence's Server-Sent Events (<c>GET /v1/sequences/{id}/outputs</c>) in the tests.</summary>
internal static class SseEvents
{
    /// <summary>Opens the outputs of <paramref name="id"/> (after <paramref name="lastEventId"/> when given) and reads the connected comment.</summary>
    public static async Task<StreamReader> OpenAsync(HttpClient http, string id, long? lastEventId = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/sequences/{id}/outputs");
        if (lastEventId is { } last)
        {
            request.Headers.Add("Last-Event-ID", last.ToString(CultureInfo.InvariantCulture));
        }

        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        Assert.Equal(": connected", await reader.ReadLineAsync());
        return reader;
    }

    /// <summary>Up to <paramref name="count"/> events (fewer when the stream ends), within 30 s.</summary>
    public static async Task<List<(string Event, long Id, JsonElement Data)>> ReadAsync(StreamReader reader, int count)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var events = new List<(string Event, long Id, JsonElement Data)>();
        string? name = null;
        long eventId = 0;
        while (events.Count < count && await reader.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line.StartsWith("id: ", StringComparison.Ordinal))
            {
                eventId = long.Parse(line[4..], CultureInfo.InvariantCulture);
            }
            else if (line.StartsWith("event: ", StringComparison.Ordinal))
            {
                name = line[7..];
            }
            else if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                events.Add((name!, eventId, JsonDocument.Parse(line[6..]).RootElement.Clone()));
            }
        }

        return events;
    }
}
