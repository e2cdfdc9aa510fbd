using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace RnnStreams.Client;

/// <summary>
/// The kinds of option the commands declare, each with its description, its default (shown in help) and the check of its
/// value at parse time, so that every command refuses a bad value with the same words and exit code 2.
/// </summary>
internal static class CliOptions
{
    /// <summary>A whole number from <paramref name="min"/> to <paramref name="max"/>, <paramref name="fallback"/> when absent.</summary>
    public static Option<int> Int(string name, string description, int fallback, int min = 1, int max = int.MaxValue) =>
        new(name)
        {
            Description = description,
            HelpName = "N",
            DefaultValueFactory = _ => fallback,
            CustomParser = result => ParseInt(result, name, min, max) ?? fallback,
        };

    /// <summary>A whole number from <paramref name="min"/> to <paramref name="max"/>, null when absent.</summary>
    public static Option<int?> OptionalInt(string name, string description, int min = 1, int max = int.MaxValue) =>
        new(name)
        {
            Description = description,
            HelpName = "N",
            CustomParser = result => ParseInt(result, name, min, max),
        };

    /// <summary>A finite number that <paramref name="valid"/> accepts (<paramref name="rule"/> says which), <paramref name="fallback"/> when absent.</summary>
    public static Option<double> Double(string name, string description, double fallback, Func<double, bool> valid, string rule) =>
        new(name)
        {
            Description = description,
            HelpName = "X",
            DefaultValueFactory = _ => fallback,
            CustomParser = result => ParseDouble(result, name, valid, rule) ?? fallback,
        };

    /// <summary>The option's number when it is finite and <paramref name="valid"/>; else an error naming the rule, and null.</summary>
    private static double? ParseDouble(System.CommandLine.Parsing.ArgumentResult result, string name, Func<double, bool> valid, string rule)
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : string.Empty;
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value) && valid(value))
        {
            return value;
        }

        result.AddError($"{name} must be {rule}, got '{text}'");
        return null;
    }

    /// <summary>A number with no fixed default (null when not given: the command picks one).</summary>
    public static Option<double?> OptionalDouble(string name, string description, Func<double, bool> valid, string rule) =>
        new(name)
        {
            Description = description,
            HelpName = "X",
            CustomParser = result => ParseDouble(result, name, valid, rule),
        };

    /// <summary>A text value (a path, a name, an address); <paramref name="fallback"/> is shown as the default when given.</summary>
    public static Option<string> Text(string name, string description, string helpName, string? fallback = null, bool required = false)
    {
        var option = new Option<string>(name) { Description = description, HelpName = helpName, Required = required };
        if (fallback is not null)
        {
            option.DefaultValueFactory = _ => fallback;
        }

        return option;
    }

    /// <summary>One of <paramref name="values"/> (offered as completions); the command checks the value and says what each means.</summary>
    public static Option<string> Choice(string name, string description, string? fallback, params string[] values)
    {
        var option = Text(name, description, string.Join('|', values), fallback);
        option.CompletionSources.Add(values);
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<string>() is { } value && !values.Contains(value, StringComparer.Ordinal))
            {
                result.AddError($"{name} is {string.Join(", ", values[..^1])} or {values[^1]}, got '{value}'");
            }
        });
        return option;
    }

    /// <summary>An on/off switch: present means on.</summary>
    public static Option<bool> Flag(string name, string description) => new(name) { Description = description };

    private static int? ParseInt(ArgumentResult result, string name, int min, int max)
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : string.Empty;
        if (int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max)
        {
            return value;
        }

        result.AddError($"{name} must be a whole number from {min} to {max}, got '{text}'");
        return null;
    }
}
