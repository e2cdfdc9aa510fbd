using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;
using Microsoft.Extensions.Options;
using RnnStreams.Core;

namespace RnnStreams.Grains;

/// <summary>
/// Steps the elements of different sequences of one model (and version) on this silo together, one
/// <see cref="RnnModel.TryStepBatch(ReadOnlySpan{double}, Span{double}, Span{double}, Span{bool})"/> round at a time, so that a big model's weights are read from memory once per
/// round instead of once per sequence.
/// </summary>
/// <remarks>
/// <para>
/// Nothing waits to fill a batch. An element that finds its model's queue idle starts a round on the thread pool's
/// global queue, behind the grain turns already waiting to run, whose elements join it; elements that arrive while a
/// round runs form the next round, queued in the same way once the round ends, so the batcher holds a thread for one
/// round at a time and the grain turns that round released run before the next one starts. Under load the rounds grow
/// by themselves; alone, an element pays nothing. A round takes at most as many sequences as fit in
/// <see cref="RnnStreamsOptions.BatchWindow"/> at the measured cost of one sequence-step, so an element never waits
/// behind more than one round of about that long (and the work queued ahead of it).
/// </para>
/// <para>
/// Each sequence hands over at most one request at a time (a grain turn awaits it) and keeps its own
/// <see cref="Request"/>, reused for every element: the path allocates nothing per element. A request of k elements
/// (StepMany) takes part in k consecutive rounds on a working copy of its state (rented from the shared array pool and
/// returned when it is done), copied back only when all k applied: as
/// <see cref="RnnModel.TryAdvance(ReadOnlySpan{double}, Span{double}, Span{double})"/>, all or nothing. A single element
/// is stepped from and into the sequence's own state, which a failed round does not touch, so a sequence between
/// elements holds no second copy of its state. A non-finite input or result fails only its own sequence.
/// </para>
/// </remarks>
public sealed class StepBatcher(IOptions<RnnStreamsOptions> options)
{
    /// <summary>Rounds take at least this many sequences when enough wait (the kernel's tile is four sequences).</summary>
    private const int MinRound = 4;

    /// <summary>Rounds take at most this many sequences, whatever the window: the last round-size bucket.</summary>
    private static readonly int MaxRound = RnnConstants.BatcherRoundSizeBuckets[^1];

    private readonly long _windowTicks = (long)(options.Value.BatchWindow.TotalSeconds * Stopwatch.Frequency);
    private readonly long _minWeightBytes = options.Value.BatchMinWeightBytes;
    private readonly ConditionalWeakTable<RnnModel, ModelQueue> _queues = [];
    private readonly long[] _rounds = new long[SizeBuckets.Length];

    /// <summary>Upper bounds of the round-size buckets <see cref="RoundSizes"/> counts: <see cref="RnnConstants.BatcherRoundSizeBuckets"/>.</summary>
    public static readonly int[] SizeBuckets = RnnConstants.BatcherRoundSizeBuckets;

    /// <summary>Whether elements of <paramref name="model"/> go through the batcher (it is on, and the model is big enough to gain).</summary>
    public bool Batches(RnnModel model) => _windowTicks > 0 && model.Forecaster is null && WeightBytes(model) >= _minWeightBytes;

    /// <summary>Rounds stepped so far, by size: entry i counts rounds of more than <c>SizeBuckets[i-1]</c> and at most <c>SizeBuckets[i]</c> sequences.</summary>
    public long[] RoundSizes()
    {
        var counts = new long[_rounds.Length];
        for (var i = 0; i < counts.Length; i++)
        {
            counts[i] = Interlocked.Read(ref _rounds[i]);
        }

        return counts;
    }

    /// <summary>
    /// Advances <paramref name="request"/>'s sequence by its elements (<c>xs</c>: k×D), writing k×O outputs. Completes
    /// with -1 when all applied (its state changed), else with the index of the first element whose input or result was
    /// not finite (its state unchanged). The request must not be handed over again before this completes.
    /// </summary>
    public ValueTask<int> AdvanceAsync(RnnModel model, Request request, ReadOnlyMemory<double> xs, double[] state, Memory<double> ys)
    {
        request.Prepare(model, xs, state, ys);
        return Enqueue(model, request);
    }

    /// <summary>The same for a float32 model, whose state is floats.</summary>
    public ValueTask<int> AdvanceAsync(RnnModel model, Request request, ReadOnlyMemory<double> xs, float[] state, Memory<double> ys)
    {
        request.Prepare(model, xs, state, ys);
        return Enqueue(model, request);
    }

    private ValueTask<int> Enqueue(RnnModel model, Request request)
    {
        if (!_queues.TryGetValue(model, out var queue))
        {
            queue = _queues.GetValue(model, m => new ModelQueue(this, m));
        }

        bool run;
        lock (queue)
        {
            queue.Waiting.Add(request);
            run = !queue.Running;
            queue.Running = true;
        }

        if (run)
        {
            // Idle: the round starts on the thread pool's global queue, behind the grain turns already waiting to run, so
            // the elements they carry join it instead of each stepping alone; no timer, no waiting beyond that.
            Schedule(queue);
        }

        return new ValueTask<int>(request, request.Version);
    }

    /// <summary>
    /// Steps one round, then, if elements still wait, queues the next round behind the work that arrived meanwhile
    /// instead of stepping it at once: the grain turns released by this round and the calls arriving during it run first
    /// and their elements join the next round, and the batcher never holds a thread pool thread for more than a round.
    /// </summary>
    private void RunRounds(ModelQueue queue)
    {
        RunRound(queue);
        lock (queue)
        {
            if (queue.Waiting.Count == 0 && queue.Active.Count == 0)
            {
                queue.Running = false;
                return;
            }
        }

        Schedule(queue);
    }

    /// <summary>Queues the model's next round on the thread pool's global queue (the queue is its own work item: nothing allocated).</summary>
    private static void Schedule(ModelQueue queue) => ThreadPool.UnsafeQueueUserWorkItem(queue, preferLocal: false);

    /// <summary>One round: up to the window's worth of sequences, each advanced by its next element.</summary>
    private void RunRound(ModelQueue queue)
    {
        var active = queue.Active;
        lock (queue)
        {
            active.AddRange(queue.Waiting);
            queue.Waiting.Clear();
        }

        var model = queue.Model;
        var size = Math.Min(active.Count, RoundLimit(queue));
        var d = model.InputSize;
        var s = model.StateSize;
        var o = model.OutputSize;
        queue.Ensure(size);
        var float32 = model.Precision == ModelPrecision.Float32;
        var xs = queue.Xs.AsSpan(0, size * d);
        var states = queue.States.AsSpan(0, float32 ? 0 : size * s);
        var states32 = queue.States32.AsSpan(0, float32 ? size * s : 0);
        var ys = queue.Ys.AsSpan(0, size * o);
        var failed = queue.Failed.AsSpan(0, size);
        for (var b = 0; b < size; b++)
        {
            var r = active[b];
            r.Inputs.Span.Slice(r.Next * d, d).CopyTo(xs.Slice(b * d, d));
            if (float32)
            {
                r.Work32.AsSpan(0, s).CopyTo(states32.Slice(b * s, s));
            }
            else
            {
                r.Work.AsSpan(0, s).CopyTo(states.Slice(b * s, s));
            }
        }

        var started = Stopwatch.GetTimestamp();
        try
        {
            _ = float32 ? model.TryStepBatch(xs, states32, ys, failed) : model.TryStepBatch(xs, states, ys, failed);
        }
        catch (Exception e)
        {
            // Not expected (the sizes were checked by the grains); never leave a sequence waiting for ever.
            foreach (var r in active)
            {
                r.Fail(e);
            }

            active.Clear();
            return;
        }

        queue.Observe(Stopwatch.GetTimestamp() - started, size);
        Interlocked.Increment(ref _rounds[Bucket(size)]);
        RnnMetrics.Round(size);

        // Scatter, and retire the requests that finished (all elements applied, or one failed); the others keep their
        // place at the front, so the next round steps them before anyone who arrived after them.
        var kept = 0;
        for (var b = 0; b < active.Count; b++)
        {
            var r = active[b];
            if (b >= size)
            {
                active[kept++] = r;
                continue;
            }

            if (failed[b])
            {
                r.Finish(r.Next);
                continue;
            }

            if (float32)
            {
                states32.Slice(b * s, s).CopyTo(r.Work32);
            }
            else
            {
                states.Slice(b * s, s).CopyTo(r.Work);
            }

            ys.Slice(b * o, o).CopyTo(r.Outputs.Span.Slice(r.Next * o, o));
            if (++r.Next == r.Count)
            {
                r.Commit(s);
                r.Finish(-1);
            }
            else
            {
                active[kept++] = r;
            }
        }

        active.RemoveRange(kept, active.Count - kept);
    }

    private int RoundLimit(ModelQueue queue)
    {
        var perSequence = queue.TicksPerSequence;
        return perSequence <= 0 ? MinRound : (int)Math.Clamp(_windowTicks / perSequence, MinRound, MaxRound);
    }

    private static int Bucket(int size)
    {
        var i = 0;
        while (SizeBuckets[i] < size)
        {
            i++;
        }

        return i;
    }

    /// <summary>The bytes of weights one step reads: every layer's input and recurrent matrices.</summary>
    private static long WeightBytes(RnnModel model)
    {
        var gates = model.Cell.Gates();
        var h = (long)model.HiddenSize;
        var inputs = model.InputSize + ((model.Layers.Count - 1) * h);
        return gates * h * (inputs + (model.Layers.Count * h)) * (model.Precision == ModelPrecision.Float32 ? sizeof(float) : sizeof(double));
    }

    /// <summary>The elements of one model waiting or in progress, and the round's buffers.</summary>
    private sealed class ModelQueue(StepBatcher batcher, RnnModel model) : IThreadPoolWorkItem
    {
        public readonly RnnModel Model = model;
        public readonly List<Request> Waiting = [];
        public readonly List<Request> Active = [];
        public bool Running;
        public double[] Xs = [];
        public double[] States = [];
        public float[] States32 = [];
        public double[] Ys = [];
        public bool[] Failed = [];

        /// <summary>Measured cost of one sequence-step in a round (exponentially averaged), in stopwatch ticks; 0 before the first.</summary>
        public long TicksPerSequence;

        void IThreadPoolWorkItem.Execute() => batcher.RunRounds(this);

        public void Ensure(int size)
        {
            if (Failed.Length >= size)
            {
                return;
            }

            var capacity = Math.Max(size, 2 * Failed.Length);
            Xs = new double[capacity * Model.InputSize];
            if (Model.Precision == ModelPrecision.Float32)
            {
                States32 = new float[capacity * Model.StateSize];
            }
            else
            {
                States = new double[capacity * Model.StateSize];
            }

            Ys = new double[capacity * Model.OutputSize];
            Failed = new bool[capacity];
        }

        public void Observe(long ticks, int size)
        {
            var per = ticks / size;
            TicksPerSequence = TicksPerSequence == 0 ? per : ((7 * TicksPerSequence) + per) / 8;
        }
    }

    /// <summary>
    /// One sequence's place in the batcher, reused for each of its elements (one at a time): what to step, its working
    /// state, and the awaitable its grain waits on.
    /// </summary>
    public sealed class Request : IValueTaskSource<int>
    {
        private ManualResetValueTaskSourceCore<int> _core = new() { RunContinuationsAsynchronously = true };

        internal ReadOnlyMemory<double> Inputs;
        internal Memory<double> Outputs;
        internal double[]? State;
        internal float[]? State32;

        /// <summary>
        /// The state the rounds step: the sequence's own for one element (a failed round leaves it untouched), a copy
        /// rented from the shared pool for k elements (copied back only when all k applied, returned when done), so an
        /// idle sequence holds no second state.
        /// </summary>
        internal double[] Work = [];
        internal float[] Work32 = [];
        internal int Count;
        internal int Next;

        internal short Version => _core.Version;

        internal void Prepare(RnnModel model, ReadOnlyMemory<double> xs, double[] state, Memory<double> ys)
        {
            Begin(model, xs, ys);
            State = state;
            Work = Count == 1 ? state : Rent(state, model.StateSize);
        }

        internal void Prepare(RnnModel model, ReadOnlyMemory<double> xs, float[] state, Memory<double> ys)
        {
            Begin(model, xs, ys);
            State32 = state;
            Work32 = Count == 1 ? state : Rent(state, model.StateSize);
        }

        /// <summary>A pooled copy of the sequence's state (at least <paramref name="size"/> long).</summary>
        private static T[] Rent<T>(T[] state, int size)
        {
            var work = System.Buffers.ArrayPool<T>.Shared.Rent(size);
            state.AsSpan(0, size).CopyTo(work);
            return work;
        }

        private void Begin(RnnModel model, ReadOnlyMemory<double> xs, Memory<double> ys)
        {
            _core.Reset();
            Inputs = xs;
            Outputs = ys;
            Count = xs.Length / model.InputSize;
            Next = 0;
        }

        /// <summary>All elements applied: the working state becomes the sequence's.</summary>
        internal void Commit(int size)
        {
            if (State32 is { } floats)
            {
                if (!ReferenceEquals(Work32, floats))
                {
                    Work32.AsSpan(0, size).CopyTo(floats);
                }
            }
            else if (!ReferenceEquals(Work, State))
            {
                Work.AsSpan(0, size).CopyTo(State);
            }
        }

        internal void Finish(int failedAt)
        {
            Release();
            _core.SetResult(failedAt);
        }

        internal void Fail(Exception e)
        {
            Release();
            _core.SetException(e);
        }

        private void Release()
        {
            if (State is not null && !ReferenceEquals(Work, State))
            {
                System.Buffers.ArrayPool<double>.Shared.Return(Work);
            }

            if (State32 is not null && !ReferenceEquals(Work32, State32))
            {
                System.Buffers.ArrayPool<float>.Shared.Return(Work32);
            }

            Inputs = default;
            Outputs = default;
            State = null;
            State32 = null;
            Work = [];
            Work32 = [];
        }

        int IValueTaskSource<int>.GetResult(short token) => _core.GetResult(token);

        ValueTaskSourceStatus IValueTaskSource<int>.GetStatus(short token) => _core.GetStatus(token);

        void IValueTaskSource<int>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
    }
}
