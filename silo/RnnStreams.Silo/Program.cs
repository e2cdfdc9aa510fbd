using Microsoft.AspNetCore.Builder;
using RnnStreams.Silo;

// The silo: an ASP.NET Core host running Orleans. Every choice comes from configuration (appsettings.json, the
// environment, the command line); README "The silo" lists the keys.
if (args is ["probe", var url])
{
    return await Probe.RunAsync(url); // the container healthcheck: the runtime image has no curl
}

WebApplication app;
try
{
    app = SiloApplication.Build(args);
}
catch (Exception e) when (e is InvalidOperationException or FormatException or ArgumentException)
{
    // A setting the silo cannot use: one line naming it, not a stack trace.
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}

await app.RunAsync();
return Environment.ExitCode; // 0, or MembershipFence.ExitCode when the silo stopped itself
