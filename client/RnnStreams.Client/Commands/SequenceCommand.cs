using System.Globalization;
using RnnStreams.Core.Formats;

namespace RnnStreams.Client.Commands;

/// <summary><c>sequence show|reset|upgrade|end --sequence ID</c>: where a sequence stands, and its lifecycle.</summary>
internal static class SequenceCommand
{
    public static async Task<int> Run(Arguments args, TextWriter stdout)
    {
        var verb = args.Words.Count > 1 ? args.Words[1] : throw new CliException("sequence needs show, reset, upgrade or end", 2);
        var id = args.Required("sequence", "a sequence id");
        args.RejectUnknown();
        if (verb is not ("show" or "reset" or "upgrade" or "end"))
        {
            throw new CliException($"unknown sequence command '{verb}'; use show, reset, upgrade or end", 2);
        }

        await using var connection = await Connection.OpenAsync(args);
        var grain = connection.Client.GetGrain<ISequenceGrain>(id);
        switch (verb)
        {
            case "show":
                Print(stdout, await grain.Snapshot());
                break;
            case "reset":
                Print(stdout, await grain.Reset());
                break;
            case "upgrade":
                Print(stdout, await grain.Upgrade());
                break;
            default:
                await grain.End();
                stdout.WriteLine($"ended {id}");
                break;
        }

        return 0;
    }

    /// <summary>One <c>key=value</c> line, then one CSV row of h per layer, then (LSTM) one of c per layer.</summary>
    internal static void Print(TextWriter stdout, SequenceSnapshot s)
    {
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"sequence={s.Sequence} model={s.Model} version={s.ModelVersion} last_n={s.LastN} last_durable_n={s.LastDurableN} durability={s.Durability} updated_at={s.UpdatedAt:O}"));
        foreach (var layer in s.Hidden.Concat(s.Cell ?? []))
        {
            stdout.WriteLine(string.Join(',', layer.Select(Csv.Format)));
        }
    }
}
