using System.Net;
using System.Text.Json;
using RnnStreams.TestSupport;

namespace RnnStreams.Silo.Tests;

/// <summary>The silo host follows ASP.NET Core's and Orleans' configuration conventions (README, "The silo").</summary>
public sealed class HostConfigurationTests
{
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };

    [Fact]
    public async Task AspNetCoreUrls_PlacesTheApi_AndTheManagementPortServesNoApi()
    {
        await using var silo = await SiloProcess.StartAsync(apiUrlFromEnvironment: true);
        Assert.Equal(HttpStatusCode.OK, (await _http.GetAsync(new Uri(silo.Http, "/v1/models"))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync(new Uri(silo.Management, "/v1/models"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _http.GetAsync(new Uri(silo.Management, "/ready"))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _http.GetAsync(new Uri(silo.Management, "/dashboard/"))).StatusCode); // off by default
        Assert.Equal(HttpStatusCode.NotFound, (await _http.PostAsync(new Uri(silo.Management, "/debug/heap"), content: null)).StatusCode); // off by default
    }

    [Fact]
    public async Task HeapEndpoint_On_AnswersTheManagedHeap_OnTheManagementPortOnly()
    {
        await using var silo = await SiloProcess.StartAsync(["--Management:HeapEndpoint", "true"]);
        using var answer = await _http.PostAsync(new Uri(silo.Management, "/debug/heap"), content: null);
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        using var body = JsonDocument.Parse(await answer.Content.ReadAsStringAsync());
        Assert.True(body.RootElement.GetProperty("heapBytes").GetInt64() > 0, body.RootElement.ToString());
        Assert.Equal(HttpStatusCode.NotFound, (await _http.PostAsync(new Uri(silo.Http, "/debug/heap"), content: null)).StatusCode); // never on the API's port
    }

    [Fact]
    public async Task Environment_LoadsItsAppSettingsFile()
    {
        // appsettings.Development.json turns the dashboard on.
        await using var silo = await SiloProcess.StartAsync(environment: new Dictionary<string, string> { ["ASPNETCORE_ENVIRONMENT"] = "Development" });
        var dashboard = await _http.GetAsync(new Uri(silo.Management, "/dashboard/"));
        Assert.Equal(HttpStatusCode.OK, dashboard.StatusCode);
        Assert.Contains("<html", await dashboard.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task ApiAndManagementOnOnePort_StopsTheSilo_WithAMessage()
    {
        var port = Repository.FreePort();
        var result = await SiloProcess.RunToExitAsync(["--urls", $"http://127.0.0.1:{port}", "--Management:Urls", $"http://127.0.0.1:{port}"], TimeSpan.FromMinutes(1));
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains($"share port {port}", result.StandardOutput + result.StandardError);
    }

    [Theory]
    [InlineData("--Management:Urls", "not a url")]
    [InlineData("--Kubernetes:Enabled", "maybe")]
    [InlineData("--Http:Enabled", "sometimes")]
    [InlineData("--Management:HeapEndpoint", "maybe")]
    public async Task UnusableSetting_StopsTheSilo_WithOneLineNamingIt(string key, string value)
    {
        var result = await SiloProcess.RunToExitAsync([key, value], TimeSpan.FromMinutes(1));
        Assert.True(result.ExitCode == 2, result.ToString());
        var error = result.StandardError.Trim();
        Assert.StartsWith("error: ", error);
        Assert.Contains(value, error);
        Assert.DoesNotContain("   at ", error);
    }

    [Theory]
    [InlineData("00:00:30", "grain collection quantum")] // shorter than Orleans' 1-minute quantum: Orleans refused it at start
    [InlineData("00:01:00", "grain collection quantum")]
    [InlineData("0", "grain collection quantum")]
    [InlineData("-1", "grain collection quantum")]     // TimeSpan reads "-1" as minus one day
    [InlineData("30s", "[d.]hh:mm:ss")]                // not a TimeSpan: the configuration binder refused it at start
    [InlineData("soon", "[d.]hh:mm:ss")]
    public async Task IdleDeactivationFromTheEnvironment_Refused_StopsTheSilo_WithOneLine(string value, string reason)
    {
        var result = await SiloProcess.RunToExitAsync([], TimeSpan.FromMinutes(1),
            new Dictionary<string, string> { ["RnnStreams__IdleDeactivation"] = value });
        Assert.True(result.ExitCode == 2, result.ToString());
        var error = result.StandardError.Trim();
        Assert.StartsWith("error: ", error);
        Assert.Contains("RnnStreams:IdleDeactivation", error);
        Assert.Contains(reason, error);
        Assert.DoesNotContain("\n", error);
        Assert.DoesNotContain("   at ", result.StandardOutput + result.StandardError);
    }

    [Theory]
    [InlineData("RnnStreams__KeepOutputs", "many")]
    [InlineData("RnnStreams__ExpireAfter", "-00:01:00")]
    [InlineData("RnnStreams__PublishOutputs", "Sometimes")]
    [InlineData("RnnStreams__BatchWindow", "-00:00:00.001")]
    [InlineData("RnnStreams__BatchWindow", "00:00:02")]
    [InlineData("RnnStreams__BatchMinWeightBytes", "-1")]
    public async Task RnnStreamsSettingFromTheEnvironment_Refused_StopsTheSilo_WithOneLine(string variable, string value)
    {
        var result = await SiloProcess.RunToExitAsync([], TimeSpan.FromMinutes(1), new Dictionary<string, string> { [variable] = value });
        Assert.True(result.ExitCode == 2, result.ToString());
        var error = result.StandardError.Trim();
        Assert.StartsWith("error: ", error);
        Assert.Contains(variable.Replace("__", ":", StringComparison.Ordinal), error);
        Assert.DoesNotContain("\n", error);
        Assert.DoesNotContain("   at ", result.StandardOutput + result.StandardError);
    }
}
