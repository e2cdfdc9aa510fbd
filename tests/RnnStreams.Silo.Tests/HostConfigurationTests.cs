using System.Net;
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
    public async Task UnusableSetting_StopsTheSilo_WithOneLineNamingIt(string key, string value)
    {
        var result = await SiloProcess.RunToExitAsync([key, value], TimeSpan.FromMinutes(1));
        Assert.True(result.ExitCode == 2, result.ToString());
        var error = result.StandardError.Trim();
        Assert.StartsWith("error: ", error);
        Assert.Contains(value, error);
        Assert.DoesNotContain("   at ", error);
    }
}
