using System.Text;
using RnnStreams.Core.Formats;

namespace RnnStreams.Client;

/// <summary>The CSV the client prints: a header <c>n,y_0,…,y_{O-1}</c>, then one line per element.</summary>
internal static class Output
{
    public static void WriteHeader(TextWriter writer, int outputSize)
    {
        var header = new StringBuilder("n");
        for (var i = 0; i < outputSize; i++)
        {
            header.Append(",y_").Append(i);
        }

        writer.WriteLine(header.ToString());
    }

    public static void WriteRow(TextWriter writer, long n, ReadOnlySpan<double> y)
    {
        var line = new StringBuilder();
        line.Append(n);
        foreach (var value in y)
        {
            line.Append(',').Append(Csv.Format(value));
        }

        writer.WriteLine(line.ToString());
    }
}
