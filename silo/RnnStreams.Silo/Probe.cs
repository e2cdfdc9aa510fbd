namespace RnnStreams.Silo;

/// <summary>
/// <c>RnnStreams.Silo.dll probe URL</c>: GET the URL, print the status and body, exit 0 on a 2xx answer and 1
/// otherwise. Container healthchecks use it: the runtime image has no curl.
/// </summary>
internal static class Probe
{
    public static async Task<int> RunAsync(string url)
    {
        using var probe = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            using var answer = await probe.GetAsync(url);
            Console.WriteLine($"{(int)answer.StatusCode} {await answer.Content.ReadAsStringAsync()}");
            return answer.IsSuccessStatusCode ? 0 : 1;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or UriFormatException or InvalidOperationException)
        {
            Console.WriteLine(e.Message);
            return 1;
        }
    }
}
