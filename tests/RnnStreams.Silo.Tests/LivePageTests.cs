using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using RnnStreams.Core;
using RnnStreams.Core.Formats;
using RnnStreams.TestSupport;

namespace RnnStreams.Silo.Tests;

/// <summary>
/// The live page in a real headless browser (Debian's chromium driven by Playwright): elements streamed through the
/// HTTP API appear in the chart with the numbers the kernel computes, each forecast beside the value it forecasts; the
/// fleet view shows 100 sequences streaming and opens one's chart with its history. Keeps screenshots
/// (<c>live-page.png</c>, <c>live-fleet.png</c>, <c>live-sequence.png</c>) in <c>$RNN_ARTIFACTS</c> or <c>artifacts/</c>
/// beside the test assembly.
/// </summary>
[Collection(SiloCollection.Name)]
public sealed class LivePageTests(SiloFixture fixture)
{
    private const int Sequences = 100;
    private static readonly int[] Noisy = [7, 42, 77];
    private static readonly PageWaitForFunctionOptions Within30s = new() { Timeout = 30_000, PollingInterval = 100 };

    private static string Chromium => Environment.GetEnvironmentVariable("RNN_CHROMIUM") ?? "/usr/bin/chromium";

    private static async Task<IBrowser> LaunchAsync(IPlaywright playwright)
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: apt-get install -y chromium (tests/run.sh does)");
        return await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
    }

    private static async Task ScreenshotAsync(IPage page, string name)
    {
        var artifacts = Environment.GetEnvironmentVariable("RNN_ARTIFACTS") ?? Path.Combine(AppContext.BaseDirectory, "artifacts");
        Directory.CreateDirectory(artifacts);
        var screenshot = Path.Combine(artifacts, name);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = true });
        Assert.True(new FileInfo(screenshot).Length > 10_000);
    }

    [Fact]
    public async Task LivePage_DrawsStreamedInputsAndPredictions_AsTheyArrive()
    {
        using var http = new HttpClient { BaseAddress = fixture.Silo.Http };
        var id = $"live-{Guid.NewGuid():N}";
        (await http.PostAsJsonAsync($"/v1/sequences/{id}/start", new { model = "worked-example" })).EnsureSuccessStatusCode();

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await LaunchAsync(playwright);
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1100, Height = 700 } });
        await page.GotoAsync(new Uri(fixture.Silo.Http, $"/live?sequence={id}").ToString());
        await page.WaitForFunctionAsync("() => window.rnnLive.open === true", null, new PageWaitForFunctionOptions { Timeout = 30_000 });

        var inputs = Enumerable.Range(1, 50).Select(i => Math.Round(Math.Sin(i / 4.0) * 3, 3)).ToArray();
        (await http.PostAsJsonAsync($"/v1/sequences/{id}/batch", new { firstN = 1, inputs = inputs[..25].Select(x => new[] { x }) })).EnsureSuccessStatusCode();
        for (var n = 26; n <= 50; n++)
        {
            (await http.PostAsJsonAsync($"/v1/sequences/{id}/elements", new { n, x = new[] { inputs[n - 1] } })).EnsureSuccessStatusCode();
        }

        await page.WaitForFunctionAsync("() => window.rnnLive.points.length === 50", null, new PageWaitForFunctionOptions { Timeout = 30_000 });
        var xs = await page.EvaluateAsync<double[]>("() => window.rnnLive.points.map(p => p.x)");
        var ys = await page.EvaluateAsync<double[]>("() => window.rnnLive.points.map(p => p.y)");
        var ns = await page.EvaluateAsync<long[]>("() => window.rnnLive.points.map(p => p.n)");
        var model = ModelFile.Load(Path.Combine(Repository.Root, "silo", "RnnStreams.Silo", "models", "worked-example.json"));
        var state = new double[1];
        var y = new double[1];
        for (var t = 0; t < 50; t++)
        {
            model.Step([inputs[t]], state, y);
            Assert.Equal(t + 1, ns[t]);
            Assert.Equal(inputs[t], xs[t]);
            Assert.Equal(y[0], ys[t]);
        }

        Assert.Equal("50", await page.GetAttributeAsync("#chart", "data-points"));
        var status = await page.InnerTextAsync("#status");
        Assert.Contains("model worked-example v1", status);
        Assert.Contains("n=50", status);
        Assert.Matches(@"step→page \d+\.\d ms", status);
        var chart = await LiveChart.ReadAsync(page);
        Assert.Equal(Enumerable.Range(1, 50).Select(n => (long)n), chart.X.Select(v => v.N));
        Assert.Equal(Enumerable.Range(1, 50).Select(n => (long)n), chart.Y.Select(v => v.N));
        chart.AssertDrawn(n => inputs[n - 1], n => ys[n - 1]);
        chart.AssertReadableAxes();

        await ScreenshotAsync(page, "live-page.png");

        Assert.Equal(System.Net.HttpStatusCode.NoContent, (await http.DeleteAsync($"/v1/sequences/{id}")).StatusCode);
        await page.WaitForFunctionAsync("() => window.rnnLive.ended === true", null, new PageWaitForFunctionOptions { Timeout = 30_000 });
        Assert.Contains("ENDED", await page.InnerTextAsync("#status"));
    }

    [Fact]
    public async Task LivePage_Forecaster_ShadesEachForecastsInterval_DrawsTheNextTwelve_AndRingsAnAnomaly()
    {
        using var http = new HttpClient { BaseAddress = fixture.Silo.Http, Timeout = TimeSpan.FromSeconds(60) };
        var file = Path.Combine(Repository.Root, "silo", "RnnStreams.Silo", "models", "co2_mauna_loa.csv");
        var series = Csv.ReadSeries(file);
        var times = Csv.ReadTimes(file)!;
        var id = $"live-forecaster-{Guid.NewGuid():N}";
        (await http.PostAsJsonAsync($"/v1/sequences/{id}/start", new { model = "demo" })).EnsureSuccessStatusCode();
        (await http.PostAsJsonAsync($"/v1/sequences/{id}/batch", new
        {
            firstN = 1,
            inputs = series.Take(60).Select(v => new[] { v }),
            times = times.Take(60),
        })).EnsureSuccessStatusCode();

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await LaunchAsync(playwright);
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1100, Height = 700 } });
        await page.GotoAsync(new Uri(fixture.Silo.Http, $"/live?sequence={id}").ToString());
        await page.WaitForFunctionAsync("() => window.rnnLive.open === true && window.rnnLive.points.length === 60", null, Within30s);

        // Element 61 five ppm above the series: a step (its interval), then an anomaly event, then the forecast ahead.
        var spike = series[60] + 5;
        var answer = await http.PostAsJsonAsync($"/v1/sequences/{id}/elements", new { n = 61, x = new[] { spike }, time = times[60] });
        answer.EnsureSuccessStatusCode();
        await page.WaitForFunctionAsync("() => document.getElementById('anomaly-61') !== null && document.getElementById('ahead') !== null", null, Within30s);

        // The band covers the forecasts made once the window was full (elements 26 on), each drawn at n+1.
        var banded = (await page.GetAttributeAsync("#band", "data-n"))!.Split(',').Select(long.Parse).ToArray();
        Assert.Equal(Enumerable.Range(26, 36).Select(n => (long)n), banded);
        var points = await page.EvaluateAsync<JsonElement>("() => window.rnnLive.points.filter(p => p.n >= 25 && p.n <= 27).map(p => [p.n, p.lo ?? null, p.hi ?? null])");
        Assert.Equal(JsonValueKind.Null, points[0][1].ValueKind); // element 25: still warming up
        Assert.True(points[1][1].GetDouble() < points[1][2].GetDouble());
        var ahead = await page.EvaluateAsync<JsonElement>("() => window.rnnLive.ahead.map(p => [p.n, p.y, p.lo, p.hi])");
        Assert.Equal(12, ahead.GetArrayLength());
        Assert.Equal(61, ahead[0][0].GetInt64());
        Assert.All(ahead.EnumerateArray(), p => Assert.InRange(p[1].GetDouble(), p[2].GetDouble(), p[3].GetDouble()));
        Assert.Contains("anomalies 1", await page.InnerTextAsync("#status"));
        await ScreenshotAsync(page, "live-forecaster.png");
    }

    [Fact]
    public async Task LivePage_FleetView_Shows100StreamingSequences_AndOpensAChartWithItsHistory()
    {
        using var http = new HttpClient { BaseAddress = fixture.Silo.Http, Timeout = TimeSpan.FromSeconds(60) };
        var series = Csv.ReadSeries(Path.Combine(Repository.Root, "silo", "RnnStreams.Silo", "models", "co2_mauna_loa.csv"), "value");
        var model = ModelFile.Load(Path.Combine(Repository.Root, "silo", "RnnStreams.Silo", "models", "demo.json"));
        var run = Guid.NewGuid().ToString("N")[..8];
        var ids = Enumerable.Range(0, Sequences).Select(i => $"fleet-{run}-{i:D3}").ToArray();

        // Device i streams the CO₂ series plus i·0.01 ppm; three of them with ±40 ppm of alternating noise, which no
        // forecast follows: their recent forecast errors are the fleet's largest.
        double Input(int i, long n) => series[(int)((n - 1) % series.Length)] + (i * 0.01) + (Noisy.Contains(i) ? (n % 2 == 0 ? 40 : -40) : 0);

        foreach (var id in ids)
        {
            var started = await http.PostAsJsonAsync($"/v1/sequences/{id}/start", new { model = "demo" });
            Assert.True(started.IsSuccessStatusCode, await started.Content.ReadAsStringAsync());
        }

        using var streaming = new CancellationTokenSource();
        var sent = 0L;
        var load = Task.Run(async () =>
        {
            // One request per round carries one element of every sequence (POST /v1/elements), ten rounds a second.
            using var pace = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
            for (var n = 1L; !streaming.IsCancellationRequested; n++)
            {
                var elements = ids.Select((id, i) => new { sequence = id, n, x = new[] { Input(i, n) } }).ToArray();
                var response = await http.PostAsJsonAsync("/v1/elements", new { elements }, CancellationToken.None);
                var answer = await response.Content.ReadFromJsonAsync<JsonElement>(CancellationToken.None);
                Assert.True(response.IsSuccessStatusCode && answer.GetProperty("applied").GetInt32() == Sequences, answer.ToString());
                Interlocked.Exchange(ref sent, n);
                try
                {
                    await pace.WaitForNextTickAsync(streaming.Token);
                }
                catch (OperationCanceledException)
                {
                }
            }
        });

        double[] Outputs(int i, long count)
        {
            var state = new double[model.StateSize];
            var y = new double[1];
            var outputs = new double[count];
            for (var n = 1L; n <= count; n++)
            {
                model.Step([Input(i, n)], state, y);
                outputs[n - 1] = y[0];
            }

            return outputs;
        }

        double RecentError(int i, long n)
        {
            var y = Outputs(i, n);
            var recent = double.NaN;
            for (var t = 2L; t <= n; t++)
            {
                var e = Math.Abs(Input(i, t) - y[t - 2]);
                recent = double.IsNaN(recent) ? e : recent + ((e - recent) * 0.25);
            }

            return recent;
        }

        try
        {
            using var playwright = await Playwright.CreateAsync();
            await using var browser = await LaunchAsync(playwright);
            var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1100, Height = 900 } });
            await page.GotoAsync(new Uri(fixture.Silo.Http, "/live").ToString());

            // Once the noisy sequences lead with 30 elements or more, so that the chart opened next has a history to show.
            var noisy = Noisy.Select(i => ids[i]).ToArray();
            await page.WaitForFunctionAsync(
                """
                noisy => {
                  const s = window.rnnFleet.summary;
                  return !!s && s.activeSequences >= 100 && s.elementsPerSecond > 0 && s.top.length >= 4
                    && noisy.every(id => s.top.slice(0, 3).some(e => e.sequence === id && e.n >= 30));
                }
                """, noisy, Within30s);
            var summary = JsonDocument.Parse(await page.EvaluateAsync<string>("() => JSON.stringify(window.rnnFleet.summary)")).RootElement;
            var rows = await page.EvaluateAsync<string[][]>(
                "() => [...document.querySelectorAll('#top tbody tr')].map(r => [r.dataset.sequence, r.dataset.error, r.dataset.n, ...[...r.cells].map(c => c.textContent)])");

            Assert.True(ParseShown(await page.InnerTextAsync("#active")) >= Sequences);
            Assert.True(ParseShown(await page.InnerTextAsync("#rate")) > 0);
            Assert.Matches(@"^\d+\.\d\d \(\d+\.\d\d\) ms$", await page.InnerTextAsync("#p99"));
            var top = summary.GetProperty("top").EnumerateArray().ToArray();
            Assert.Equal(top.Length, rows.Length);
            for (var r = 0; r < rows.Length; r++)
            {
                var entry = top[r];
                var error = entry.GetProperty("error").GetDouble();
                Assert.Equal(entry.GetProperty("sequence").GetString(), rows[r][0]);
                Assert.Equal(error, double.Parse(rows[r][1], CultureInfo.InvariantCulture));
                Assert.Equal((r + 1).ToString(CultureInfo.InvariantCulture), rows[r][3]);
                Assert.Equal(entry.GetProperty("sequence").GetString(), rows[r][4]);
                Assert.Equal(error.ToString("G4", CultureInfo.InvariantCulture), Normalize(rows[r][5]));
                Assert.True(r == 0 || error <= top[r - 1].GetProperty("error").GetDouble(), "the table is not largest first");
            }

            // The errors shown are the kernel's: the recent mean of |x_n − y_(n−1)| up to the element each was reported at.
            foreach (var entry in top.Take(3))
            {
                var i = Array.IndexOf(ids, entry.GetProperty("sequence").GetString());
                Assert.Equal(RecentError(i, entry.GetProperty("n").GetInt64()), entry.GetProperty("error").GetDouble());
            }

            await ScreenshotAsync(page, "live-fleet.png");

            await page.Locator("#top tbody tr:first-child a").ClickAsync();
            await page.WaitForFunctionAsync("() => window.rnnLive.historyLoaded && window.rnnLive.points.length > 20", null, Within30s);
            var id = await page.EvaluateAsync<string>("() => window.rnnLive.id");
            Assert.Contains(id, noisy);
            Assert.Equal($"?sequence={id}", new Uri(page.Url).Query);
            var device = Array.IndexOf(ids, id);
            var historyFirstN = await page.EvaluateAsync<long>("() => window.rnnLive.historyFirstN");
            var historyCount = await page.EvaluateAsync<long>("() => window.rnnLive.historyCount");
            Assert.True(historyCount > 20, $"only {historyCount} elements of history");
            Assert.Equal(Math.Max(1, historyFirstN + historyCount - 128), historyFirstN); // all the kept history (KeepHistory 128), from element 1 up to it

            // The history came at once and the live events after it; stop the load, then every element sent is drawn.
            await streaming.CancelAsync();
            await load;
            await page.WaitForFunctionAsync("last => window.rnnLive.lastN === last", Interlocked.Read(ref sent), Within30s);
            var chart = await LiveChart.ReadAsync(page);
            var points = JsonDocument.Parse(await page.EvaluateAsync<string>("() => JSON.stringify(window.rnnLive.points)")).RootElement.EnumerateArray()
                .Select(p => (N: p.GetProperty("n").GetInt64(), X: p.GetProperty("x").GetDouble(), Y: p.GetProperty("y").GetDouble())).ToArray();
            var lastN = points[^1].N;
            Assert.Equal(Interlocked.Read(ref sent), lastN);
            var outputs = Outputs(device, lastN);
            Assert.Equal(Enumerable.Range((int)points[0].N, points.Length).Select(n => (long)n), points.Select(p => p.N)); // one point per element, no hole
            Assert.Equal(historyFirstN, points[0].N);
            Assert.All(points, p => Assert.Equal((Input(device, p.N), outputs[p.N - 1]), (p.X, p.Y)));
            Assert.Equal(points.Select(p => p.N).TakeLast(300), chart.X.Select(v => v.N));
            chart.AssertDrawn(n => Input(device, n), n => outputs[n - 1]);
            chart.AssertReadableAxes();
            Assert.Contains("model demo v1", await page.InnerTextAsync("#status"));

            await ScreenshotAsync(page, "live-sequence.png");
        }
        finally
        {
            await streaming.CancelAsync();
            await load;
            foreach (var id in ids)
            {
                await http.DeleteAsync($"/v1/sequences/{id}");
            }
        }

        static double ParseShown(string text) => double.Parse(text.Replace(",", string.Empty, StringComparison.Ordinal), CultureInfo.InvariantCulture);

        // JavaScript's toPrecision(4) writes 12.30 and 0.001230 where .NET's G4 writes 12.3 and 0.00123.
        static string Normalize(string shown) => shown.Contains('.', StringComparison.Ordinal) && !shown.Contains('e', StringComparison.Ordinal)
            ? shown.TrimEnd('0').TrimEnd('.')
            : shown;
    }
}
