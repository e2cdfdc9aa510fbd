using RnnStreams.Core.Formats;

namespace RnnStreams.Core.Tests.Formats;

public class CsvTests
{
    [Fact]
    public void Parse_WithHeaderAndComments_ReadsRows()
    {
        var rows = Csv.Parse(["a,b", "# comment", "1,2", "", " 3.5 , -4e-3 "], "x.csv");
        Assert.Equal([[1, 2], [3.5, -0.004]], rows);
    }

    [Fact]
    public void Parse_WithoutHeader_ReadsFirstRow()
    {
        Assert.Equal([[1], [2]], Csv.Parse(["1", "2"], "x.csv"));
    }

    [Theory]
    [InlineData(new[] { "1,2", "3" }, "x.csv:2: expected 2 columns, got 1")]
    [InlineData(new[] { "1,2", "3,abc" }, "x.csv:2: column 2: 'abc' is not a number")]
    [InlineData(new[] { "1,2", "3,NaN" }, "x.csv:2: column 2: 'NaN' is not finite")]
    [InlineData(new[] { "1,2", "Infinity,1" }, "x.csv:2: column 1: 'Infinity' is not finite")]
    [InlineData(new[] { "h" }, "x.csv: no data rows")]
    [InlineData(new string[0], "x.csv: no data rows")]
    public void Parse_ThrowsWithLine(string[] lines, string message)
    {
        Assert.Equal(message, Assert.Throws<DataFileException>(() => Csv.Parse(lines, "x.csv")).Message);
    }

    [Fact]
    public void Parse_ExpectedColumns_AreEnforced()
    {
        Assert.Equal("x.csv:1: expected 3 columns, got 2", Assert.Throws<DataFileException>(() => Csv.Parse(["1,2"], "x.csv", 3)).Message);
    }

    [Fact]
    public void Format_RoundTrips()
    {
        var value = 0.1 + 0.2;
        Assert.Equal(value, double.Parse(Csv.Format(value), System.Globalization.CultureInfo.InvariantCulture));
    }

    private static string Write(params string[] lines)
    {
        var path = Path.Combine(Path.GetTempPath(), $"rnn-csv-{Guid.NewGuid():N}.csv");
        File.WriteAllLines(path, lines);
        return path;
    }

    [Fact]
    public void ReadFleet_GroupsALongCsvBySeries_InTheirFirstOrder_WithEachSeriesTimes()
    {
        var path = Write("timestamp,device,temp,value", "# a comment", "2020-01-01,b,1,10", "2020-01-01,a,2,20", "2020-02-01,b,3,11", "", "2020-03-01,b,4,12", "2020-02-01,a,5,21");
        try
        {
            Assert.Equal(1, Csv.SeriesColumn(path)); // found by its name
            Assert.Equal(1, Csv.SeriesColumn(path, "device"));
            Assert.Equal(2, Csv.SeriesColumn(path, "3"));
            var fleet = Csv.ReadFleet(path, 1);
            Assert.Equal(["b", "a"], fleet.Select(s => s.Name));
            Assert.Equal([10, 11, 12], fleet[0].Values);
            Assert.Equal([20, 21], fleet[1].Values);
            Assert.Equal([new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc), new DateTime(2020, 2, 1, 0, 0, 0, DateTimeKind.Utc)], fleet[1].Times);
            var temps = Csv.ReadFleet(path, 1, "temp"); // another column's values
            Assert.Equal([1, 3, 4], temps[0].Values);
            Assert.Equal([2, 5], temps[1].Values);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(new[] { "timestamp,value", "2020-01-01,1" }, null, null)] // one series: no series column
    [InlineData(new[] { "1,2", "3,4" }, null, null)] // no header
    [InlineData(new[] { "Sequence,value", "s,1" }, null, 0)] // any case
    [InlineData(new[] { "id,sequence,device,value", "a,b,c,1" }, null, 1)] // sequence before device
    public void SeriesColumn_IsFoundByName_OrAbsent(string[] lines, string? column, int? expected)
    {
        var path = Write(lines);
        try
        {
            Assert.Equal(expected, Csv.SeriesColumn(path, column));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(new[] { "device,timestamp,value", "a,2020-02-01,1", "a,2020-01-01,2" }, ":3: a: time 2020-01-01 is not after its previous element's")]
    [InlineData(new[] { "device,timestamp,value", "a,2020-01-01,1", "b,2020-01-01,2", "a,2020-01-01,2" }, ":4: a: time 2020-01-01 is not after")]
    [InlineData(new[] { "device,timestamp,value", "a,2020-01-01,1", ",2020-02-01,2" }, ":3: column 1 (device): a row without its series' name")]
    [InlineData(new[] { "device,timestamp,value", "a,2020-01-01,x" }, ":2: column 3 (value): 'x' is not a number")]
    [InlineData(new[] { "device,timestamp,value", "a,2020-01-01,1", "a,2020-02-01" }, ":3: expected 3 columns, got 2")]
    [InlineData(new[] { "timestamp,value,device", "2020-01-01,1,a" }, ":1: the values' column is the series column (device); name the values with --column")]
    public void ReadFleet_BadFile_IsRefusedNamingTheLine(string[] lines, string message)
    {
        var path = Write(lines);
        try
        {
            var e = Assert.Throws<DataFileException>(() => Csv.ReadFleet(path, Csv.SeriesColumn(path)!.Value));
            Assert.Contains(message, e.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void SeriesColumn_Unknown_IsRefused()
    {
        var path = Write("device,value", "a,1");
        try
        {
            Assert.Contains("no column 'sensor' in the header (device, value)", Assert.Throws<DataFileException>(() => Csv.SeriesColumn(path, "sensor")).Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
