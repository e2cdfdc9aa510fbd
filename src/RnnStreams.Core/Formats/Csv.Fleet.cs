using System.Globalization;
using RnnStreams.Core.Training;

namespace RnnStreams.Core.Formats;

public static partial class Csv
{
    /// <summary>The header names a long CSV's series column goes by when none is given: <c>sequence</c>, then <c>device</c>.</summary>
    public static readonly IReadOnlyList<string> SeriesColumnNames = ["sequence", "device"];

    /// <summary>
    /// The series column of a long CSV (one row per element of any series): the header cell named <paramref name="column"/>
    /// (or numbered, from 1), else the first named one of <see cref="SeriesColumnNames"/> (any case); null when the file has
    /// no header or no such column — a CSV of one series.
    /// </summary>
    /// <exception cref="DataFileException">The file cannot be read, or <paramref name="column"/> names no column of its header.</exception>
    public static int? SeriesColumn(string path, string? column = null)
    {
        var (header, line) = Header(ReadLines(path));
        if (column is not null)
        {
            if (header is null)
            {
                throw new DataFileException(path, line, $"no column '{column}': a long CSV needs a header row naming its series column");
            }

            if (int.TryParse(column, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number >= 1 && number <= header.Length)
            {
                return number - 1;
            }

            var index = Array.IndexOf(header, column);
            return index >= 0 ? index : throw new DataFileException(path, line, $"no column '{column}' in the header ({string.Join(", ", header)})");
        }

        foreach (var name in SeriesColumnNames)
        {
            var index = header is null ? -1 : Array.FindIndex(header, h => string.Equals(h, name, StringComparison.OrdinalIgnoreCase));
            if (index >= 0)
            {
                return index;
            }
        }

        return null;
    }

    /// <summary>
    /// Reads a long CSV of many series, such as <c>device,timestamp,value</c>: the series column (index
    /// <paramref name="seriesColumn"/>, see <see cref="SeriesColumn"/>) names each row's series, the series in the order they
    /// first appear; the values are <paramref name="column"/> (a header name or 1-based number) or the last column; the
    /// times are the first other column whose every cell is a date (ISO 8601, UTC), and within a series they must increase.
    /// </summary>
    /// <exception cref="DataFileException">
    /// A row is ragged, a value is not a finite number, a series' name is empty, or a series' times repeat or go back (the
    /// line at fault is named).
    /// </exception>
    public static IReadOnlyList<FleetSeries> ReadFleet(string path, int seriesColumn, string? column = null)
    {
        var lines = ReadLines(path);
        var (header, headerLine) = Header(lines);
        if (header is null || seriesColumn < 0 || seriesColumn >= header.Length)
        {
            throw new DataFileException(path, 0, "a long CSV needs a header row and a series column");
        }

        var valueColumn = column ?? header.Length.ToString(CultureInfo.InvariantCulture);
        if (Select(path, headerLine, header, header, [valueColumn], lastOnly: false)[0] == seriesColumn)
        {
            throw new DataFileException(path, headerLine, $"the values' column is the series column ({header[seriesColumn]}); name the values with --column");
        }

        var values = ParseColumns(lines, path, [valueColumn], lastOnly: false, allColumns: false, expectedColumns: null);
        var rows = DataRows(lines).ToArray();
        var timeColumn = Enumerable.Range(0, header.Length).Cast<int?>()
            .FirstOrDefault(c => c != seriesColumn && rows.All(r => IsTime(r.Cells[c!.Value], out _)));
        var groups = new Dictionary<string, (List<double> Values, List<DateTime> Times)>(StringComparer.Ordinal);
        var order = new List<string>();
        for (var i = 0; i < rows.Length; i++)
        {
            var (line, cells) = rows[i];
            var name = cells[seriesColumn];
            if (name.Length == 0)
            {
                throw new DataFileException(path, line, $"column {Name(header, seriesColumn)}: a row without its series' name");
            }

            if (!groups.TryGetValue(name, out var group))
            {
                group = ([], []);
                groups.Add(name, group);
                order.Add(name);
            }

            if (timeColumn is { } tc)
            {
                IsTime(cells[tc], out var time);
                if (group.Times.Count > 0 && time <= group.Times[^1])
                {
                    throw new DataFileException(path, line,
                        $"{name}: time {cells[tc]} is not after its previous element's ({group.Times[^1]:O}); a series' rows must be in time order, each time once");
                }

                group.Times.Add(time);
            }

            group.Values.Add(values[i][0]);
        }

        return [.. order.Select(name => new FleetSeries(name, [.. groups[name].Values], timeColumn is null ? null : [.. groups[name].Times]))];
    }

    /// <summary>The header row (a first row that is not all numbers) and its 1-based line, or null.</summary>
    private static (string[]? Header, int Line) Header(IReadOnlyList<string> lines)
    {
        foreach (var (line, cells) in Rows(lines))
        {
            return (cells.All(IsNumber) ? null : cells, line);
        }

        return (null, 0);
    }

    /// <summary>The data rows (the header, blank and <c>#</c> lines skipped) as trimmed cells, with their 1-based lines.</summary>
    private static IEnumerable<(int Line, string[] Cells)> DataRows(IReadOnlyList<string> lines)
    {
        var first = true;
        foreach (var row in Rows(lines))
        {
            if (first && !row.Cells.All(IsNumber))
            {
                first = false;
                continue;
            }

            first = false;
            yield return row;
        }
    }

    private static IEnumerable<(int Line, string[] Cells)> Rows(IReadOnlyList<string> lines)
    {
        for (var i = 0; i < lines.Count; i++)
        {
            var line = lines[i].Trim();
            if (line.Length > 0 && line[0] != '#')
            {
                yield return (i + 1, [.. line.Split(',').Select(c => c.Trim())]);
            }
        }
    }

    private static bool IsTime(string cell, out DateTime time) =>
        DateTime.TryParse(cell, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out time) && !IsNumber(cell);
}
