using System.Globalization;
using System.Text.Json;

namespace RnnStreams.Client.Load;

/// <summary>
/// An output or event as the HTTP API (Server-Sent Events) and the MQTT out topic write it —
/// <c>{sequence, n, y, modelVersion, kind, reason?, sentAt?, x?}</c> — read back into the grain path's record, so the
/// commands print the same lines whichever way the outputs came.
/// </summary>
internal static class OutputJson
{
    /// <summary>Reads one output; <paramref name="kind"/> overrides the body's own (the SSE event name).</summary>
    /// <remarks><c>expired</c> is <see cref="OutputKind.Ended"/> with the reason <c>expired</c>, as on the output stream;
    /// an SSE <c>gap</c> (outputs no longer kept when resuming) is an <see cref="OutputKind.Error"/> naming them.</remarks>
    public static SequenceOutput Read(JsonElement root, string? kind = null)
    {
        kind ??= Text(root, "kind") ?? "step";
        var sequence = Text(root, "sequence") ?? string.Empty;
        if (kind == "gap")
        {
            return new SequenceOutput(sequence, root.GetProperty("to").GetInt64(), [], 0, OutputKind.Error, Text(root, "reason"));
        }

        var outputKind = kind switch
        {
            "step" => OutputKind.Step,
            "reset" => OutputKind.Reset,
            "upgraded" => OutputKind.Upgraded,
            "error" => OutputKind.Error,
            "anomaly" => OutputKind.Anomaly,
            "ended" or "expired" => OutputKind.Ended,
            _ => throw new JsonException($"unknown output kind '{kind}'"),
        };
        var sentAt = Text(root, "sentAt") is { } text && DateTime.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var at)
            ? at.Ticks
            : 0;
        return new SequenceOutput(
            sequence,
            root.TryGetProperty("n", out var n) ? n.GetInt64() : 0,
            Numbers(root, "y") ?? [],
            root.TryGetProperty("modelVersion", out var version) && version.ValueKind == JsonValueKind.Number ? version.GetInt32() : 0,
            outputKind,
            kind == "expired" ? "expired" : Text(root, "reason"),
            sentAt,
            Numbers(root, "x"),
            Interval(root),
            root.TryGetProperty("surprise", out var surprise) && surprise.ValueKind == JsonValueKind.Number ? surprise.GetDouble() : null);
    }

    private static ForecastInterval? Interval(JsonElement root) =>
        root.TryGetProperty("interval", out var interval) && interval.ValueKind == JsonValueKind.Object
            ? new ForecastInterval(interval.GetProperty("level").GetDouble(), interval.GetProperty("lower").GetDouble(), interval.GetProperty("upper").GetDouble())
            : null;

    private static string? Text(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static double[]? Numbers(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Array ? [.. value.EnumerateArray().Select(v => v.GetDouble())] : null;
}
