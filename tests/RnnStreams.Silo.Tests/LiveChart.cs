using System.Globalization;
using System.Text.Json;
using Microsoft.Playwright;

namespace RnnStreams.Silo.Tests;

/// <summary>
/// The live page's SVG chart as the browser drew it: each series' vertices (element n and screen position), the scales
/// the page used, and the axis labels. Read from the DOM, not from the page's own state, so what is checked is what shows.
/// </summary>
internal sealed record LiveChart(LiveChart.Vertex[] X, LiveChart.Vertex[] Y, LiveChart.Scales Geometry, string[] TicksX, string[] TicksY, string AxisX, string AxisY)
{
    private const string Read = """
        () => {
          const series = id => {
            const path = document.getElementById(id);
            const ns = path.dataset.n ? path.dataset.n.split(",").map(Number) : [];
            const xy = [...path.getAttribute("d").matchAll(/[ML](-?[\d.]+),(-?[\d.]+)/g)].map(m => [Number(m[1]), Number(m[2])]);
            return ns.map((n, i) => ({ n, sx: xy[i][0], sy: xy[i][1] }));
          };
          const texts = selector => [...document.querySelectorAll(selector)].map(t => t.textContent);
          return JSON.stringify({
            x: series("series-x"), y: series("series-y"), geometry: window.rnnLive.geometry,
            ticksX: texts("#chart .tick-x"), ticksY: texts("#chart .tick-y"),
            axisX: document.querySelector("#chart .axis-x").textContent, axisY: document.querySelector("#chart .axis-y").textContent,
          });
        }
        """;

    public static async Task<LiveChart> ReadAsync(IPage page) =>
        JsonSerializer.Deserialize<LiveChart>(await page.EvaluateAsync<string>(Read), JsonSerializerOptions.Web)!;

    /// <summary>The value a screen height stands for.</summary>
    private double ValueAt(double sy) => Geometry.Lo + ((Geometry.Bottom - sy) / (Geometry.Bottom - Geometry.Top) * (Geometry.Hi - Geometry.Lo));

    /// <summary>
    /// Each x_n is drawn at n with its value; each y_n at n+1 — the x position of x_(n+1) where that is drawn, strictly right
    /// of x_n — with its value (to the 0.01 px the path is written with).
    /// </summary>
    public void AssertDrawn(Func<long, double> x, Func<long, double> y)
    {
        var tolerance = (Geometry.Hi - Geometry.Lo) * 1e-4;
        var xAt = X.ToDictionary(v => v.N);
        foreach (var v in X)
        {
            Assert.InRange(ValueAt(v.Sy), x(v.N) - tolerance, x(v.N) + tolerance);
        }

        var beside = 0;
        foreach (var v in Y)
        {
            Assert.InRange(ValueAt(v.Sy), y(v.N) - tolerance, y(v.N) + tolerance);
            if (xAt.TryGetValue(v.N, out var same))
            {
                Assert.True(v.Sx > same.Sx, $"y_{v.N} is drawn at x {v.Sx}, not right of x_{v.N} at {same.Sx}");
            }

            if (xAt.TryGetValue(v.N + 1, out var next))
            {
                Assert.Equal(next.Sx, v.Sx); // y_n beside x_(n+1), the value it forecasts
                beside++;
            }
        }

        Assert.Equal(Y.Length - 1, beside); // all but the newest forecast, whose x_(n+1) has not come
    }

    /// <summary>Tick labels on both axes that are numbers inside the drawn ranges, and the axes' titles.</summary>
    public void AssertReadableAxes()
    {
        Assert.True(TicksX.Length >= 3, $"x ticks: {string.Join(", ", TicksX)}");
        Assert.True(TicksY.Length >= 3, $"y ticks: {string.Join(", ", TicksY)}");
        Assert.All(TicksX, t => Assert.InRange(long.Parse(t, CultureInfo.InvariantCulture), Geometry.NLo, Geometry.NHi));
        var margin = (Geometry.Hi - Geometry.Lo) * 1e-6;
        Assert.All(TicksY, t => Assert.InRange(double.Parse(t, CultureInfo.InvariantCulture), Geometry.Lo - margin, Geometry.Hi + margin));
        Assert.Equal(TicksY.Length, TicksY.Distinct().Count());
        Assert.Equal("element n", AxisX);
        Assert.StartsWith("value", AxisY, StringComparison.Ordinal);
    }

    /// <summary>A vertex of a series: the element it belongs to and where it is drawn.</summary>
    public sealed record Vertex(long N, double Sx, double Sy);

    /// <summary>The page's scales: elements nLo…nHi across, values lo…hi up, and the plot's edges in SVG units.</summary>
    public sealed record Scales(long NLo, long NHi, double Lo, double Hi, double Left, double Right, double Top, double Bottom);
}
