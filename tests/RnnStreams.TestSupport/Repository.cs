using System.Net;
using System.Net.Sockets;

namespace RnnStreams.TestSupport;

/// <summary>Where things are in the repository, from a test's output folder.</summary>
public static class Repository
{
    /// <summary>The folder holding RnnStreams.sln.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>Debug or Release: the configuration the tests were built with (the built silo and client share it).</summary>
    public static string Configuration { get; } = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;

    /// <summary>The built silo host.</summary>
    public static string SiloDll => Built("silo/RnnStreams.Silo", "RnnStreams.Silo.dll");

    /// <summary>The built client.</summary>
    public static string ClientDll => Built("client/RnnStreams.Client", "RnnStreams.Client.dll");

    /// <summary>A TCP port free on loopback right now.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string Built(string project, string dll)
    {
        var path = Path.Combine(Root, project, "bin", Configuration, "net10.0", dll);
        return File.Exists(path) ? path : throw new FileNotFoundException($"{path} is not built; build the solution first", path);
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "RnnStreams.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("RnnStreams.sln not found above " + AppContext.BaseDirectory);
    }
}
