using System.Globalization;

namespace RnnStreams.Client;

/// <summary>Positional words and <c>--name value</c> / <c>--flag</c> options.</summary>
internal sealed class Arguments
{
    private readonly Dictionary<string, string?> _options = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    private Arguments(List<string> words) => Words = words;

    public IReadOnlyList<string> Words { get; }

    public static Arguments Parse(string[] args, IReadOnlySet<string> flags)
    {
        var words = new List<string>();
        var parsed = new Arguments(words);
        for (var i = 0; i < args.Length; i++)
        {
            var a = args[i];
            if (a.StartsWith("--", StringComparison.Ordinal) && a.Length > 2)
            {
                var name = a[2..];
                string? value = null;
                var eq = name.IndexOf('=');
                if (eq >= 0)
                {
                    value = name[(eq + 1)..];
                    name = name[..eq];
                }
                else if (!flags.Contains(name))
                {
                    if (i + 1 >= args.Length)
                    {
                        throw new CliException($"option --{name} needs a value", 2);
                    }

                    value = args[++i];
                }

                parsed._options[name] = value;
            }
            else
            {
                words.Add(a);
            }
        }

        return parsed;
    }

    /// <summary>Options any command may carry (read later by the connection).</summary>
    public void MarkGlobal(params string[] names) => _used.UnionWith(names);

    public bool Flag(string name)
    {
        _used.Add(name);
        return _options.ContainsKey(name);
    }

    public string? Optional(string name)
    {
        _used.Add(name);
        return _options.TryGetValue(name, out var value) ? value : null;
    }

    public string Required(string name, string what) =>
        Optional(name) ?? throw new CliException($"missing --{name} ({what})", 2);

    public int Int(string name, int fallback, int min = 1, int max = int.MaxValue)
    {
        var text = Optional(name);
        if (text is null)
        {
            return fallback;
        }

        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            throw new CliException($"--{name} must be a whole number from {min} to {max}, got '{text}'", 2);
        }

        return value;
    }

    public int? OptionalInt(string name, int min = 1)
    {
        var text = Optional(name);
        return text is null ? null : Int(name, 0, min);
    }

    /// <summary>Refuses options that no command part read, so a typo never passes silently.</summary>
    public void RejectUnknown()
    {
        var unknown = _options.Keys.Where(k => !_used.Contains(k)).ToList();
        if (unknown.Count > 0)
        {
            throw new CliException($"unknown option --{unknown[0]}; see --help", 2);
        }
    }
}
