using System.Diagnostics;

namespace RnnStreams.Grains;

/// <summary>
/// The silo's activity source, <c>RnnStreams</c>: one activity per <c>Step</c> (<c>rnn.step</c>), per <c>StepMany</c>
/// (<c>rnn.step_many</c>), per batch of outputs published on a sequence's stream (<c>rnn.publish</c>) and per state
/// write (<c>rnn.checkpoint</c>). With Orleans' activity propagation on (see <c>AddRnnStreams</c> and
/// <c>AddRnnStreamsClient</c>) a caller's trace continues into the grain.
/// </summary>
/// <remarks>
/// With no listener, <see cref="ActivitySource.StartActivity(string, ActivityKind)"/> returns null and no tag is
/// computed: tracing costs a step nothing when it is off. Tags are set only when the activity is recorded
/// (<see cref="Activity.IsAllDataRequested"/>); a refused or failed operation has status
/// <see cref="ActivityStatusCode.Error"/>, <c>rnn.outcome</c> <c>refused</c> or <c>failed</c>, and <c>error.type</c>
/// (the <see cref="RnnErrorKind"/> of a refusal, the exception's type otherwise).
/// </remarks>
public static class RnnTracing
{
    /// <summary>The activity source's name, to listen to (OpenTelemetry's <c>AddSource</c>).</summary>
    public const string SourceName = "RnnStreams";

    /// <summary>Activity of one <c>Step</c> call in its sequence grain.</summary>
    public const string StepActivity = "rnn.step";

    /// <summary>Activity of one <c>StepMany</c> call in its sequence grain.</summary>
    public const string StepManyActivity = "rnn.step_many";

    /// <summary>Activity of one batch of outputs published on <c>rnn-out/{sequence}</c>; a child of the step that produced its first output.</summary>
    public const string PublishActivity = "rnn.publish";

    /// <summary>Activity of one write of a sequence's state to grain storage.</summary>
    public const string CheckpointActivity = "rnn.checkpoint";

    /// <summary>Tag: the sequence id.</summary>
    public const string SequenceTag = "rnn.sequence";

    /// <summary>Tag: the element number of a <c>Step</c>, or the last element a checkpoint holds.</summary>
    public const string NTag = "rnn.n";

    /// <summary>Tag: the first element number of a <c>StepMany</c> or of a published batch.</summary>
    public const string FirstNTag = "rnn.first_n";

    /// <summary>Tag: elements in a <c>StepMany</c>, outputs in a published batch.</summary>
    public const string CountTag = "rnn.count";

    /// <summary>Tag: how many of a step's elements were repeats, answered from stored results and not applied again.</summary>
    public const string DuplicatesTag = "rnn.duplicates";

    /// <summary>Tag: the model's name.</summary>
    public const string ModelTag = "rnn.model";

    /// <summary>Tag: the model's version.</summary>
    public const string ModelVersionTag = "rnn.model.version";

    /// <summary>Tag: <c>applied</c>, <c>duplicate</c> (answered from stored results), <c>ok</c>, <c>refused</c>, <c>failed</c> or <c>stale</c>.</summary>
    public const string OutcomeTag = "rnn.outcome";

    /// <summary>Tag (OpenTelemetry's <c>error.type</c>): the refusal's <see cref="RnnErrorKind"/> or the exception's type.</summary>
    public const string ErrorTypeTag = "error.type";

    internal static readonly ActivitySource Source = new(SourceName, "1.0");

    /// <summary>Marks a write or a publish that succeeded (<c>rnn.outcome</c> <c>ok</c>).</summary>
    /// <summary>Starts <c>rnn.checkpoint</c> for a write of a sequence's state up to its last element.</summary>
    internal static Activity? StartCheckpoint(GrainId sequence, SequenceState state)
    {
        var activity = Source.StartActivity(CheckpointActivity);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(SequenceTag, sequence.Key.ToString());
            activity.SetTag(NTag, state.LastN);
            activity.SetTag(ModelTag, state.Model);
            activity.SetTag(ModelVersionTag, state.ModelVersion);
        }

        return activity;
    }

    internal static void Succeeded(Activity? activity)
    {
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(OutcomeTag, "ok");
        }
    }

    /// <summary>Marks a request refused with a typed error.</summary>
    internal static void Refused(Activity? activity, RnnStreamsException refusal)
    {
        if (activity is null)
        {
            return;
        }

        activity.SetStatus(ActivityStatusCode.Error, refusal.Message);
        if (activity.IsAllDataRequested)
        {
            activity.SetTag(OutcomeTag, "refused");
            activity.SetTag(ErrorTypeTag, refusal.Kind.ToString());
        }
    }

    /// <summary>Marks an operation that failed with an unexpected exception (storage, stream, runtime).</summary>
    internal static void Failed(Activity? activity, Exception exception, string outcome = "failed")
    {
        if (activity is null)
        {
            return;
        }

        activity.SetStatus(ActivityStatusCode.Error, exception.Message);
        if (activity.IsAllDataRequested)
        {
            activity.SetTag(OutcomeTag, outcome);
            activity.SetTag(ErrorTypeTag, exception.GetType().FullName);
        }
    }
}
