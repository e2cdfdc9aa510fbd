using System.Net;

namespace RnnStreams.Silo.Tests;

/// <summary>
/// A tiny OTLP/HTTP receiver on a free loopback port: answers every POST (<c>/v1/traces</c>, <c>/v1/metrics</c>, …) with
/// 200 and keeps its path and protobuf body, so a test can wait for what a process exported.
/// </summary>
internal sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly List<(string Path, byte[] Body)> _requests = [];
    private readonly List<(Func<IReadOnlyList<(string Path, byte[] Body)>, bool> Condition, TaskCompletionSource Done)> _waiters = [];
    private readonly Task _loop;

    private OtlpReceiver(int port)
    {
        Endpoint = new Uri($"http://127.0.0.1:{port}");
        _listener.Prefixes.Add($"{Endpoint}");
        _listener.Start();
        _loop = Task.Run(ServeAsync);
    }

    /// <summary>The base address to give as <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>.</summary>
    public Uri Endpoint { get; }

    public static OtlpReceiver Start() => new(TestSupport.Repository.FreePort());

    /// <summary>The requests received so far.</summary>
    public IReadOnlyList<(string Path, byte[] Body)> Requests
    {
        get
        {
            lock (_requests)
            {
                return [.. _requests];
            }
        }
    }

    /// <summary>Completes once <paramref name="condition"/> holds for the requests received; fails after the timeout.</summary>
    public async Task<IReadOnlyList<(string Path, byte[] Body)>> WaitUntilAsync(Func<IReadOnlyList<(string Path, byte[] Body)>, bool> condition, TimeSpan timeout, Func<string> describe)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_requests)
        {
            if (condition(_requests))
            {
                return [.. _requests];
            }

            _waiters.Add((condition, done));
        }

        var finished = await Task.WhenAny(done.Task, Task.Delay(timeout));
        var requests = Requests;
        Assert.True(finished == done.Task,
            $"not received within {timeout}: {requests.Count} requests ({string.Join(", ", requests.Select(r => $"{r.Path} {r.Body.Length} B"))}); {describe()}");
        return requests;
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Close();
        try
        {
            await _loop;
        }
        catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
        {
        }
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return; // stopped
            }

            using var body = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(body);
            context.Response.StatusCode = 200;
            context.Response.ContentType = "application/x-protobuf"; // an empty Export*ServiceResponse
            context.Response.Close();
            Add(context.Request.Url?.AbsolutePath ?? "", body.ToArray());
        }
    }

    private void Add(string path, byte[] body)
    {
        lock (_requests)
        {
            _requests.Add((path, body));
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Condition(_requests))
                {
                    _waiters[i].Done.TrySetResult();
                    _waiters.RemoveAt(i);
                }
            }
        }
    }
}
