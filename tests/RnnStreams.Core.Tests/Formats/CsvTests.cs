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
}
