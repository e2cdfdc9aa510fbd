using Microsoft.Extensions.Logging;
using Orleans.Streams;
using Orleans.Streams.Core;

namespace RnnStreams.Grains;

public sealed partial class SequenceGrain
{
    /// <summary>Called by the implicit subscription to <c>rnn-in/{sequence}</c>.</summary>
    public async Task OnSubscribed(IStreamSubscriptionHandleFactory handleFactory)
    {
        var handle = handleFactory.Create<SequenceInput>();
        await handle.ResumeAsync(this);
    }

    /// <summary>
    /// An element from the input stream. A refusal cannot be returned to a stream producer, so it is published on
    /// <c>rnn-out/{sequence}</c> as an <see cref="OutputKind.Error"/> event. Duplicates, however old, are dropped
    /// silently: their outputs were published when they were applied.
    /// </summary>
    public async Task OnNextAsync(SequenceInput item, StreamSequenceToken? token = null)
    {
        try
        {
            await Step(item.N, item.X);
        }
        catch (DuplicateElementException)
        {
        }
        catch (RnnStreamsException e)
        {
            LogStreamInputRefused(_services.Logger, Id, item.N, e.Message);
            await PublishAsync(new SequenceOutput(Id, item.N, [], S.ModelVersion, OutputKind.Error, e.Message));
        }
    }

    public Task OnCompletedAsync() => Task.CompletedTask;

    public Task OnErrorAsync(Exception ex) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Sequence {Sequence} refused input element {N} from its stream: {Reason}")]
    private static partial void LogStreamInputRefused(ILogger logger, string sequence, long n, string reason);
}
