namespace RnnStreams;

/// <summary>
/// One live sequence (key: its id, such as a device id). It holds h_t of every layer and advances it one element at a
/// time, in element-number order: n = last+1 is applied; n ≤ last is a duplicate answered with its stored result and
/// never applied twice; n &gt; last+1 is refused with <see cref="ElementGapException"/>. Every applied element's
/// output is published on the stream <c>rnn-out/{sequence}</c>. Any refused request leaves the state unchanged.
/// </summary>
public interface ISequenceGrain : IGrainWithStringKey
{
    /// <summary>
    /// Starts the sequence on a model (latest version unless one is given) with h_0 = 0 or the given initial state.
    /// Starting again with the same model and no new state is a no-op that returns where the sequence stands.
    /// </summary>
    Task<SequenceSnapshot> Start(StartRequest request);

    /// <summary>Applies element <paramref name="n"/> (from 1) and returns y_t. Starts on the default model if not started.</summary>
    Task<StepResult> Step(long n, double[] x);

    /// <summary>
    /// Applies elements <c>firstN … firstN+k-1</c> given as one flat array of k×D numbers, all or nothing, and returns
    /// their outputs as one batch. Leading elements already applied are answered from stored results.
    /// </summary>
    Task<StepBatchResult> StepMany(long firstN, double[] inputs);

    /// <summary>
    /// <see cref="Step"/> with the element's time (UTC; <c>default</c> for none), which a forecaster's calendar inputs read
    /// (the month, weekday or hour); other models ignore it.
    /// </summary>
    Task<StepResult> StepAt(long n, double[] x, DateTime time);

    /// <summary><see cref="StepMany"/> with each element's time (k times, UTC; <c>default</c> for none), as <see cref="StepAt"/>.</summary>
    /// <exception cref="RnnArgumentException">The number of times is not the number of elements.</exception>
    Task<StepBatchResult> StepManyAt(long firstN, double[] inputs, DateTime[] times);

    /// <summary>
    /// Starts again on the model's latest version, from the initial state given at start (zeros when there was none or
    /// its shape no longer fits); the next element is 1.
    /// </summary>
    Task<SequenceSnapshot> Reset();

    /// <summary>
    /// Moves the sequence to its model's latest version, keeping h_t and the element count, when the shapes agree
    /// (input, state and output sizes); refuses with <see cref="IncompatibleModelException"/> otherwise.
    /// </summary>
    Task<SequenceSnapshot> Upgrade();

    /// <summary>Ends the sequence: publishes an <see cref="OutputKind.Ended"/> event (reason <c>ended</c>) and deletes its stored state.</summary>
    Task End();

    /// <summary>
    /// Declares that a subscriber listens to <c>rnn-out/{sequence}</c> for <paramref name="lease"/> (renew before it ends).
    /// Needed only when the silo publishes outputs <c>WhenWatched</c>; harmless otherwise. Works before the sequence
    /// starts. Returns the number of the last applied element (0 before the first), so a watcher knows where its
    /// outputs begin.
    /// </summary>
    Task<long> Watch(TimeSpan lease);

    /// <summary>
    /// The outputs still kept (the last <c>RnnStreams:KeepOutputs</c>) of the elements after <paramref name="afterN"/>:
    /// what a subscriber that lost its connection after element afterN is given again before it goes on live.
    /// </summary>
    /// <exception cref="SequenceNotStartedException">The sequence has not started.</exception>
    Task<RecentOutputs> Recent(long afterN);

    /// <summary>
    /// x_t[0] and y_t[0] of the last elements this activation applied (<c>RnnStreams:KeepHistory</c>), and the sequence's
    /// recent forecast error: what a chart draws at once before it goes on live.
    /// </summary>
    /// <exception cref="SequenceNotStartedException">The sequence has not started.</exception>
    Task<SequenceHistory> History();

    /// <summary>
    /// Forecasts the sequence's next <paramref name="steps"/> inputs from where it stands, changing nothing (not its state,
    /// element count or outputs): row 1 is y_n of the last applied element n (the model's forecast of x_(n+1)); each
    /// further row feeds the previous one back as the next input and steps a copy of the state. More than one step needs
    /// a model whose output is its whole input (O = D).
    /// </summary>
    /// <param name="steps">How many inputs ahead, 1 … <see cref="RnnConstants.MaxForecastSteps"/>.</param>
    /// <exception cref="SequenceNotStartedException">The sequence has not started.</exception>
    /// <exception cref="RnnArgumentException">steps is out of range, no element has been applied yet, or steps &gt; 1 with O ≠ D.</exception>
    /// <exception cref="NonFiniteResultException">Rolling forward overflowed (the state is unchanged).</exception>
    Task<SequenceForecast> Forecast(int steps);

    /// <summary>Model, version, h of every layer, last applied and last durable element.</summary>
    /// <exception cref="SequenceNotStartedException">The sequence has not started.</exception>
    Task<SequenceSnapshot> Snapshot();
}
