using System.Globalization;

namespace RnnStreams.Core.Formats;

/// <summary>
/// Reads sequences as CSV: one row per element, the same number of numeric columns in every row, an optional header
/// row (a first row that is not all numbers), blank lines and lines starting with <c>#</c> ignored. Numbers use the
/// invariant culture; NaN and infinities are refused.
/// </summary>
public static class Csv
{
    /// <summary>Reads every row of a file.</summary>
    /// <param name="path">The file.</param>
    /// <param name="columns">The number of columns each row must have, or null to take the first row's.</param>
    /// <exception cref="DataFileException">The file is missing, empty, ragged, or holds something that is not a finite number.</exception>
    public static double[][] ReadFile(string path, int? columns = null)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new DataFileException(path, 0, $"cannot read: {e.Message}");
        }

        return Parse(lines, path, columns);
    }

    /// <summary>Parses rows from lines of text (see <see cref="ReadFile"/>).</summary>
    public static double[][] Parse(IReadOnlyList<string> lines, string source, int? columns = null)
    {
        var rows = new List<double[]>();
        var first = true;
        for (var i = 0; i < lines.Count; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var cells = line.Split(',');
            if (first)
            {
                first = false;
                if (!cells.All(c => double.TryParse(c.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out _)))
                {
                    continue; // a header row
                }
            }

            if (columns is null)
            {
                columns = cells.Length;
            }
            else if (cells.Length != columns)
            {
                throw new DataFileException(source, i + 1, $"expected {columns} columns, got {cells.Length}");
            }

            var row = new double[cells.Length];
            for (var c = 0; c < cells.Length; c++)
            {
                var text = cells[c].Trim();
                if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
                {
                    throw new DataFileException(source, i + 1, $"column {c + 1}: '{text}' is not a number");
                }

                if (!double.IsFinite(value))
                {
                    throw new DataFileException(source, i + 1, $"column {c + 1}: '{text}' is not finite");
                }

                row[c] = value;
            }

            rows.Add(row);
        }

        if (rows.Count == 0)
        {
            throw new DataFileException(source, 0, "no data rows");
        }

        return [.. rows];
    }

    /// <summary>Formats a number so that parsing it gives back the same double.</summary>
    public static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
