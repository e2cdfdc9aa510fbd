using System.Diagnostics;

namespace RnnStreams.Grains;

public sealed partial class SequenceGrain
{
    /// <summary>
    /// Starts <c>rnn.step</c> or <c>rnn.step_many</c> as a child of the caller's activity (Orleans' propagation makes the
    /// incoming call current). Null, at no cost, when nothing listens to <see cref="RnnTracing.SourceName"/>.
    /// </summary>
    private Activity? StartStepActivity(string name, string nTag, long n)
    {
        var activity = RnnTracing.Source.StartActivity(name);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(RnnTracing.SequenceTag, Id);
            activity.SetTag(nTag, n);
        }

        return activity;
    }

    /// <summary>Tags a step that was answered: the model it ran on, its elements and whether they were all repeats.</summary>
    private void Stepped(Activity? activity, int version, int count, int duplicates)
    {
        if (activity is not { IsAllDataRequested: true })
        {
            return;
        }

        TagModel(activity, version);
        activity.SetTag(RnnTracing.CountTag, count);
        activity.SetTag(RnnTracing.DuplicatesTag, duplicates);
        activity.SetTag(RnnTracing.OutcomeTag, duplicates == count ? "duplicate" : "applied");
    }

    /// <summary>Tags a refused step: the kind of refusal, and the model and element count where they are known.</summary>
    private void Refused(Activity? activity, RnnStreamsException refusal, int? count)
    {
        RnnTracing.Refused(activity, refusal);
        if (activity is not { IsAllDataRequested: true })
        {
            return;
        }

        if (S.Model is not null)
        {
            TagModel(activity, S.ModelVersion);
        }

        if (count is { } c)
        {
            activity.SetTag(RnnTracing.CountTag, c);
        }
    }

    private void TagModel(Activity activity, int version)
    {
        activity.SetTag(RnnTracing.ModelTag, S.Model);
        activity.SetTag(RnnTracing.ModelVersionTag, version);
    }
}
