using System.Net.Http.Json;
using Microsoft.Playwright;
using RnnStreams.Core;
using RnnStreams.TestSupport;

namespace RnnStreams.Silo.Tests;

/// <summary>
/// The live page in a real headless browser (Debian's chromium driven by Playwright): elements streamed through the
/// HTTP API appear in the chart with the numbers the kernel computes. Keeps a screenshot: <c>$RNN_ARTIFACTS</c> or
/// <c>artifacts/</c> beside the test assembly.
/// </summary>
[Collection(SiloCollection.Name)]
public sealed class LivePageTests(SiloFixture fixture)
{
    private static string Chromium => Environment.GetEnvironmentVariable("RNN_CHROMIUM") ?? "/usr/bin/chromium";

    [Fact]
    public async Task LivePage_DrawsStreamedInputsAndPredictions_AsTheyArrive()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: apt-get install -y chromium (tests/run.sh does)");
        using var http = new HttpClient { BaseAddress = fixture.Silo.Http };
        var id = $"live-{Guid.NewGuid():N}";
        (await http.PostAsJsonAsync($"/v1/sequences/{id}/start", new { model = "worked-example" })).EnsureSuccessStatusCode();

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
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
        var inked = await page.EvaluateAsync<int>(
            "() => { const c = document.getElementById('chart'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let k = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) k++; return k; }");
        Assert.True(inked > 2000, $"only {inked} pixels drawn");

        var artifacts = Environment.GetEnvironmentVariable("RNN_ARTIFACTS") ?? Path.Combine(AppContext.BaseDirectory, "artifacts");
        Directory.CreateDirectory(artifacts);
        var screenshot = Path.Combine(artifacts, "live-page.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = true });
        Assert.True(new FileInfo(screenshot).Length > 10_000);

        Assert.Equal(System.Net.HttpStatusCode.NoContent, (await http.DeleteAsync($"/v1/sequences/{id}")).StatusCode);
        await page.WaitForFunctionAsync("() => window.rnnLive.ended === true", null, new PageWaitForFunctionOptions { Timeout = 30_000 });
        Assert.Contains("ENDED", await page.InnerTextAsync("#status"));
    }
}
