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

    /// <summary>
    /// Reads one numeric column of a CSV with a header row, such as <c>timestamp,value</c>: the column named
    /// <paramref name="column"/> (or given by its 1-based number), else the last one. Other columns may hold anything
    /// (dates, labels); blank lines and lines starting with <c>#</c> are skipped.
    /// </summary>
    /// <exception cref="DataFileException">The file is missing, has no such column, or a value is not a finite number.</exception>
    public static double[] ReadSeries(string path, string? column = null)
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

        var values = new List<double>();
        var index = -1;
        var width = 0;
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var cells = line.Split(',').Select(c => c.Trim()).ToArray();
            if (index < 0)
            {
                width = cells.Length;
                index = column is null ? cells.Length - 1
                    : int.TryParse(column, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number >= 1 && number <= cells.Length ? number - 1
                    : Array.IndexOf(cells, column);
                if (index < 0)
                {
                    throw new DataFileException(path, i + 1, $"no column '{column}' in the header ({string.Join(", ", cells)})");
                }

                if (!double.TryParse(cells[index], NumberStyles.Float, CultureInfo.InvariantCulture, out _))
                {
                    continue; // the header row
                }
            }

            if (cells.Length != width)
            {
                throw new DataFileException(path, i + 1, $"expected {width} columns, got {cells.Length}");
            }

            var text = cells[index];
            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                throw new DataFileException(path, i + 1, $"column {index + 1}: '{text}' is not a number");
            }

            if (!double.IsFinite(value))
            {
                throw new DataFileException(path, i + 1, $"column {index + 1}: '{text}' is not finite");
            }

            values.Add(value);
        }

        if (values.Count == 0)
        {
            throw new DataFileException(path, 0, "no data rows");
        }

        return [.. values];
    }

    /// <summary>Formats a number so that parsing it gives back the same double.</summary>
    public static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
