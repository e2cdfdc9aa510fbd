using System.Text;
using RnnStreams.Core.Formats;

namespace RnnStreams.Client;

/// <summary>
/// The CSV the client prints: a header <c>n,y_0,…,y_{O-1}</c> (with <c>lower,upper</c> after them for a forecaster's
/// intervals), then one line per element (empty interval cells while the forecaster warms up).
/// </summary>
internal static class Output
{
    public static void WriteHeader(TextWriter writer, int outputSize, bool intervals = false)
    {
        var header = new StringBuilder("n");
        for (var i = 0; i < outputSize; i++)
        {
            header.Append(",y_").Append(i);
        }

        writer.WriteLine(header.Append(intervals ? ",lower,upper" : string.Empty).ToString());
    }

    public static void WriteRow(TextWriter writer, long n, ReadOnlySpan<double> y, ForecastInterval? interval = null, bool intervals = false)
    {
        var line = new StringBuilder();
        line.Append(n);
        foreach (var value in y)
        {
            line.Append(',').Append(Csv.Format(value));
        }

        if (intervals)
        {
            line.Append(',').Append(interval is null ? string.Empty : Csv.Format(interval.Lower))
                .Append(',').Append(interval is null ? string.Empty : Csv.Format(interval.Upper));
        }

        writer.WriteLine(line.ToString());
    }
}
