using System.Globalization;
using System.Text.RegularExpressions;

namespace RnnStreams.Grains;

/// <summary>When a sequence's state is written to grain storage.</summary>
public enum DurabilityMode
{
    /// <summary>Every applied element is written before it is acknowledged or published: a crash loses nothing acknowledged.</summary>
    EveryStep,

    /// <summary>Written every k elements or t after the first unwritten element, and on deactivation: a crash rolls back to the last checkpoint.</summary>
    Checkpoint,

    /// <summary>Written only on start, reset and graceful deactivation: a crash loses everything since.</summary>
    None,
}

/// <summary>
/// A durability policy, written in configuration as <c>EveryStep</c>, <c>None</c> or <c>Checkpoint(k, t)</c> with k
/// elements and t milliseconds (either may be 0 to switch that trigger off), e.g. <c>Checkpoint(100, 1000)</c>.
/// </summary>
public sealed partial record DurabilityPolicy(DurabilityMode Mode, int EverySteps = 0, int IntervalMs = 0)
{
    /// <summary>Write before acknowledging every element.</summary>
    public static DurabilityPolicy EveryStep { get; } = new(DurabilityMode.EveryStep);

    /// <summary>Write only on start, reset and graceful deactivation.</summary>
    public static DurabilityPolicy None { get; } = new(DurabilityMode.None);

    /// <summary>The default: every 100 elements or 1 s.</summary>
    public static DurabilityPolicy Default { get; } = Checkpoint(100, 1000);

    /// <summary>Write every <paramref name="steps"/> elements or <paramref name="intervalMs"/> ms after the first unwritten one.</summary>
    public static DurabilityPolicy Checkpoint(int steps, int intervalMs)
    {
        if (steps < 0 || intervalMs < 0 || (steps == 0 && intervalMs == 0))
        {
            throw new ArgumentException($"Checkpoint({steps}, {intervalMs}): k and t must be ≥ 0 and not both 0");
        }

        return new DurabilityPolicy(DurabilityMode.Checkpoint, steps, intervalMs);
    }

    /// <summary>Parses <c>EveryStep</c>, <c>None</c> or <c>Checkpoint(k, t)</c> (case-insensitive).</summary>
    /// <exception cref="FormatException">Anything else, with what is accepted.</exception>
    public static DurabilityPolicy Parse(string text)
    {
        var trimmed = text?.Trim() ?? string.Empty;
        if (trimmed.Equals("EveryStep", StringComparison.OrdinalIgnoreCase))
        {
            return EveryStep;
        }

        if (trimmed.Equals("None", StringComparison.OrdinalIgnoreCase))
        {
            return None;
        }

        var match = CheckpointPattern().Match(trimmed);
        if (match.Success)
        {
            try
            {
                return Checkpoint(
                    int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture),
                    int.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture));
            }
            catch (Exception e) when (e is ArgumentException or OverflowException)
            {
                throw new FormatException($"durability '{text}': {e.Message}");
            }
        }

        throw new FormatException($"durability '{text}' is not EveryStep, None or Checkpoint(k, t) (k elements, t milliseconds)");
    }

    public override string ToString() => Mode switch
    {
        DurabilityMode.Checkpoint => $"Checkpoint({EverySteps}, {IntervalMs})",
        _ => Mode.ToString(),
    };

    [GeneratedRegex(@"^checkpoint\s*\(\s*(\d+)\s*,\s*(\d+)\s*(?:ms)?\s*\)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex CheckpointPattern();
}
