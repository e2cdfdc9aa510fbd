using System.Globalization;

namespace RnnStreams.Core.Formats;

/// <summary>
/// Reads sequences as CSV: one row per element, the same number of numeric columns in every row, an optional header
/// row (a first row that is not all numbers), blank lines and lines starting with <c>#</c> ignored. Numbers use the
/// invariant culture; NaN and infinities are refused.
/// </summary>
public static partial class Csv
{
    /// <summary>Reads every row of a file.</summary>
    /// <param name="path">The file.</param>
    /// <param name="columns">The number of columns each row must have, or null to take the first row's.</param>
    /// <exception cref="DataFileException">The file is missing, empty, ragged, or holds something that is not a finite number.</exception>
    public static double[][] ReadFile(string path, int? columns = null) => Parse(ReadLines(path), path, columns);

    /// <summary>Parses rows from lines of text (see <see cref="ReadFile"/>): every column of every row.</summary>
    public static double[][] Parse(IReadOnlyList<string> lines, string source, int? columns = null) =>
        ParseColumns(lines, source, null, lastOnly: false, allColumns: true, columns);

    /// <summary>
    /// Reads one numeric column of a CSV with a header row, such as <c>timestamp,value</c>: the column named
    /// <paramref name="column"/> (or given by its 1-based number), else the last one (see <see cref="ReadColumns"/>).
    /// </summary>
    /// <exception cref="DataFileException">The file is missing, has no such column, or a value is not a finite number.</exception>
    public static double[] ReadSeries(string path, string? column = null) =>
        [.. ReadColumns(path, column is null ? null : [column], lastOnly: column is null).Select(row => row[0])];

    /// <summary>
    /// The one CSV reader of the commands that read elements (<c>predict</c>, <c>stream</c>, <c>train</c>): one row per
    /// element, an optional header row (a first row that is not all numbers), blank lines and <c>#</c> lines skipped.
    /// The columns read are <paramref name="columns"/> (header names or 1-based numbers, in that order), else every
    /// column whose first data row holds a number — so <c>timestamp,value</c> reads as one column of values — or, with
    /// <paramref name="lastOnly"/>, the last column.
    /// </summary>
    /// <exception cref="DataFileException">
    /// The file is missing or empty, names no such column, is ragged, or a column read holds something that is not a
    /// finite number.
    /// </exception>
    public static double[][] ReadColumns(string path, IReadOnlyList<string>? columns = null, bool lastOnly = false) =>
        ParseColumns(ReadLines(path), path, columns, lastOnly, allColumns: false, expectedColumns: null);

    /// <summary>
    /// The times of a series' rows: the first column when every data row's first cell is a date or date-time (ISO 8601,
    /// read as UTC), else null — a series without times. The rows are those <see cref="ReadColumns"/> reads.
    /// </summary>
    /// <exception cref="DataFileException">The file cannot be read.</exception>
    public static DateTime[]? ReadTimes(string path)
    {
        var times = new List<DateTime>();
        var first = true;
        foreach (var (_, cells) in Rows(ReadLines(path)))
        {
            if (IsTime(cells[0], out var time))
            {
                times.Add(time);
            }
            else if (!first)
            {
                return null;
            }

            first = false; // a header row is the only row allowed without a time
        }

        return times.Count > 0 ? [.. times] : null;
    }

    private static string[] ReadLines(string path)
    {
        try
        {
            return File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new DataFileException(path, 0, $"cannot read: {e.Message}");
        }
    }

    /// <summary>
    /// The one parser: a header row when the first row is not all numbers, the columns <paramref name="columns"/> name,
    /// else all of them (<paramref name="allColumns"/>), the last (<paramref name="lastOnly"/>) or those holding numbers.
    /// </summary>
    private static double[][] ParseColumns(IReadOnlyList<string> lines, string path, IReadOnlyList<string>? columns, bool lastOnly, bool allColumns, int? expectedColumns)
    {
        var rows = new List<double[]>();
        string[]? header = null;
        int[]? selected = null;
        var width = -1;
        foreach (var (line, cells) in Rows(lines))
        {
            if (width < 0)
            {
                width = cells.Length;
                if (!cells.All(IsNumber))
                {
                    header = cells;
                    continue;
                }
            }

            if (expectedColumns is { } expected && cells.Length != expected)
            {
                throw new DataFileException(path, line, $"expected {expected} columns, got {cells.Length}");
            }

            if (cells.Length != width)
            {
                throw new DataFileException(path, line, $"expected {width} columns, got {cells.Length}");
            }

            selected ??= allColumns ? [.. Enumerable.Range(0, width)] : Select(path, line, header, cells, columns, lastOnly);
            var row = new double[selected.Length];
            for (var k = 0; k < selected.Length; k++)
            {
                var c = selected[k];
                if (!double.TryParse(cells[c], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
                {
                    throw new DataFileException(path, line, $"column {Name(header, c)}: '{cells[c]}' is not a number");
                }

                if (!double.IsFinite(value))
                {
                    throw new DataFileException(path, line, $"column {Name(header, c)}: '{cells[c]}' is not finite");
                }

                row[k] = value;
            }

            rows.Add(row);
        }

        if (rows.Count == 0)
        {
            throw new DataFileException(path, 0, "no data rows");
        }

        return [.. rows];
    }

    private static bool IsNumber(string text) => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out _);

    private static string Name(string[]? header, int column) => header is null ? (column + 1).ToString(CultureInfo.InvariantCulture) : $"{column + 1} ({header[column]})";

    private static int[] Select(string path, int line, string[]? header, string[] firstRow, IReadOnlyList<string>? columns, bool lastOnly)
    {
        if (columns is { Count: > 0 })
        {
            return [.. columns.Select(column =>
            {
                if (int.TryParse(column, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number >= 1 && number <= firstRow.Length)
                {
                    return number - 1;
                }

                var index = header is null ? -1 : Array.IndexOf(header, column);
                return index >= 0
                    ? index
                    : throw new DataFileException(path, line, header is null
                        ? $"no column '{column}': the file has no header row; give columns by number, 1–{firstRow.Length}"
                        : $"no column '{column}' in the header ({string.Join(", ", header)})");
            })];
        }

        if (lastOnly)
        {
            return [firstRow.Length - 1];
        }

        var numeric = Enumerable.Range(0, firstRow.Length).Where(c => IsNumber(firstRow[c])).ToArray();
        return numeric.Length > 0 ? numeric : throw new DataFileException(path, line, "no column holds numbers");
    }

    /// <summary>Formats a number so that parsing it gives back the same double.</summary>
    public static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
