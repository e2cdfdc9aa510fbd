using System.Diagnostics;

namespace RnnStreams.Grains.Tests;

/// <summary>
/// Listens to RnnStreams' and Orleans' activity sources (and the tests' own) for as long as it lives, records every
/// finished activity by trace, and lets a test wait for a condition on one trace. Listeners are process-wide: the
/// activities of tests running beside this one are recorded too, under their own traces.
/// </summary>
internal sealed class ActivityCollector : IDisposable
{
    private const string TestSourceName = "RnnStreams.Grains.Tests";

    /// <summary>The tests' own source, for the parent activity a test starts.</summary>
    public static readonly ActivitySource TestSource = new(TestSourceName);

    private readonly ActivityListener _listener;
    private readonly Dictionary<ActivityTraceId, List<Activity>> _stopped = [];
    private readonly List<(ActivityTraceId Trace, Func<IReadOnlyList<Activity>, bool> Condition, TaskCompletionSource Done)> _waiters = [];

    public ActivityCollector()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == RnnTracing.SourceName || source.Name == TestSourceName || source.Name.StartsWith("Microsoft.Orleans.", StringComparison.Ordinal),
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = Add,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    /// <summary>The finished activities of one trace.</summary>
    public IReadOnlyList<Activity> Trace(ActivityTraceId trace)
    {
        lock (_stopped)
        {
            return _stopped.TryGetValue(trace, out var list) ? [.. list] : [];
        }
    }

    /// <summary>Completes with the trace's finished activities once <paramref name="condition"/> holds for them; fails after the timeout.</summary>
    public async Task<IReadOnlyList<Activity>> WaitForTraceAsync(ActivityTraceId trace, Func<IReadOnlyList<Activity>, bool> condition, int timeoutSeconds = 30)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_stopped)
        {
            if (condition(_stopped.TryGetValue(trace, out var list) ? list : []))
            {
                return [.. list ?? []];
            }

            _waiters.Add((trace, condition, done));
        }

        var finished = await Task.WhenAny(done.Task, Task.Delay(TimeSpan.FromSeconds(timeoutSeconds)));
        var seen = Trace(trace);
        Assert.True(finished == done.Task, $"condition not met within {timeoutSeconds} s; trace {trace} has {seen.Count} finished activities: " +
            string.Join(", ", seen.Select(a => $"{a.Source.Name}/{a.OperationName}")));
        return seen;
    }

    public void Dispose() => _listener.Dispose();

    private void Add(Activity activity)
    {
        lock (_stopped)
        {
            if (!_stopped.TryGetValue(activity.TraceId, out var list))
            {
                _stopped[activity.TraceId] = list = [];
            }

            list.Add(activity);
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Trace == activity.TraceId && _waiters[i].Condition(list))
                {
                    _waiters[i].Done.TrySetResult();
                    _waiters.RemoveAt(i);
                }
            }
        }
    }
}
